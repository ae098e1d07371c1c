"""Writes the hand-written NaiveBayesModel case (191): every kind of BayesInput JPMML
evaluates (PairCounts of a string field, PairCounts of the bins a Discretize makes of a
number, Gaussian and Poisson TargetValueStats), with counts and distributions that name
only some categories, counts of zero, and densities below the threshold; inputs with
missing values, values no PairCounts has, values outside every bin, NaN and infinities.

Usage: python make_bayes.py FIXTURES_DIR   (then jpmml.py on the case)
"""

import random
import sys

from handwritten import write_case

NAME = "191-naive-bayes-hand-written"

DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="NaiveBayesModel: every kind of BayesInput (hand-written)"/>
  <DataDictionary>
    <DataField name="color" optype="categorical" dataType="string"/>
    <DataField name="age" optype="continuous" dataType="double"/>
    <DataField name="x" optype="continuous" dataType="double"/>
    <DataField name="visits" optype="continuous" dataType="integer"/>
    <DataField name="label" optype="categorical" dataType="string">
      <Value value="low"/><Value value="mid"/><Value value="high"/>
    </DataField>
  </DataDictionary>
  <NaiveBayesModel functionName="classification" threshold="0.001">
    <MiningSchema>
      <MiningField name="label" usageType="target"/>
      <MiningField name="color"/>
      <MiningField name="age"/>
      <MiningField name="x" invalidValueTreatment="asIs"/>
      <MiningField name="visits"/>
    </MiningSchema>
    <Output>
      <OutputField name="p_low" optype="continuous" dataType="double" feature="probability" value="low"/>
      <OutputField name="p_mid" optype="continuous" dataType="double" feature="probability" value="mid"/>
      <OutputField name="p_high" optype="continuous" dataType="double" feature="probability" value="high"/>
    </Output>
    <BayesInputs>
      <BayesInput fieldName="color">
        <PairCounts value="red">
          <TargetValueCounts>
            <TargetValueCount value="low" count="20"/>
            <TargetValueCount value="mid" count="0"/>
            <TargetValueCount value="high" count="7"/>
          </TargetValueCounts>
        </PairCounts>
        <PairCounts value="blue">
          <TargetValueCounts>
            <TargetValueCount value="low" count="3"/>
            <TargetValueCount value="high" count="30"/>
          </TargetValueCounts>
        </PairCounts>
        <PairCounts value="green">
          <TargetValueCounts>
            <TargetValueCount value="low" count="0.02"/>
            <TargetValueCount value="mid" count="25"/>
            <TargetValueCount value="high" count="1"/>
          </TargetValueCounts>
        </PairCounts>
      </BayesInput>
      <BayesInput fieldName="age">
        <DerivedField name="age_band" optype="categorical" dataType="string">
          <Discretize field="age" defaultValue="other" mapMissingTo="unknown">
            <DiscretizeBin binValue="young"><Interval closure="openOpen" rightMargin="30"/></DiscretizeBin>
            <DiscretizeBin binValue="middle"><Interval closure="closedOpen" leftMargin="30" rightMargin="60"/></DiscretizeBin>
            <DiscretizeBin binValue="old"><Interval closure="closedClosed" leftMargin="60" rightMargin="100"/></DiscretizeBin>
          </Discretize>
        </DerivedField>
        <PairCounts value="young">
          <TargetValueCounts>
            <TargetValueCount value="low" count="12"/>
            <TargetValueCount value="mid" count="5"/>
            <TargetValueCount value="high" count="2"/>
          </TargetValueCounts>
        </PairCounts>
        <PairCounts value="middle">
          <TargetValueCounts>
            <TargetValueCount value="low" count="6"/>
            <TargetValueCount value="mid" count="14"/>
            <TargetValueCount value="high" count="9"/>
          </TargetValueCounts>
        </PairCounts>
        <PairCounts value="old">
          <TargetValueCounts>
            <TargetValueCount value="mid" count="4"/>
            <TargetValueCount value="high" count="26"/>
          </TargetValueCounts>
        </PairCounts>
        <PairCounts value="other">
          <TargetValueCounts>
            <TargetValueCount value="low" count="1"/>
            <TargetValueCount value="mid" count="1"/>
            <TargetValueCount value="high" count="0"/>
          </TargetValueCounts>
        </PairCounts>
      </BayesInput>
      <BayesInput fieldName="x">
        <TargetValueStats>
          <TargetValueStat value="low"><GaussianDistribution mean="-1.5" variance="0.8"/></TargetValueStat>
          <TargetValueStat value="high"><GaussianDistribution mean="2.25" variance="3.5"/></TargetValueStat>
        </TargetValueStats>
      </BayesInput>
      <BayesInput fieldName="visits">
        <TargetValueStats>
          <TargetValueStat value="low"><PoissonDistribution mean="1.5"/></TargetValueStat>
          <TargetValueStat value="mid"><PoissonDistribution mean="4"/></TargetValueStat>
          <TargetValueStat value="high"><PoissonDistribution mean="9.5"/></TargetValueStat>
        </TargetValueStats>
      </BayesInput>
    </BayesInputs>
    <BayesOutput fieldName="label">
      <TargetValueCounts>
        <TargetValueCount value="low" count="23.02"/>
        <TargetValueCount value="mid" count="25"/>
        <TargetValueCount value="high" count="38"/>
      </TargetValueCounts>
    </BayesOutput>
  </NaiveBayesModel>
</PMML>
"""


def main(fixtures):
    rng = random.Random(191)
    rows = [["Id", "color", "age", "x", "visits"]]
    for i in range(300):
        color = rng.choice(["red", "blue", "green", "purple", ""])
        age = rng.choice([
            str(round(rng.uniform(-10, 120), 1)), "30", "60", "100", "0", "", "NaN", "INF",
            str(round(rng.uniform(15, 80), 2)),
        ])
        x = rng.choice([
            str(round(rng.gauss(0, 3), 3)), str(round(rng.gauss(0, 30), 1)), "", "NaN", "INF",
            "-INF", "1e300", str(round(rng.gauss(2, 1), 4)),
        ])
        visits = rng.choice([str(rng.randint(0, 20)), str(rng.randint(0, 5)), "", "40"])
        rows.append([str(i + 1), color, age, x, visits])
    meta = {"suite": "styx", "family": "naive-bayes",
            "source": "hand-written PMML (tests/oracle/make_bayes.py): a NaiveBayesModel with PairCounts of a string field (counts naming some categories, counts of zero), PairCounts of the bins a Discretize makes of a number (a default bin, a bin for missing values), Gaussian statistics of two of the three categories and Poisson statistics of all; missing values, values no PairCounts has, values outside every bin, NaN (invalid for age, taken as it is for x), infinities and huge numbers",
            "notes": "probabilities of every category as outputs"}
    write_case(fixtures, NAME, DOCUMENT, rows, meta)


if __name__ == "__main__":
    main(sys.argv[1])
