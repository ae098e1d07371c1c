"""Writes the hand-written conformance cases of medians of trees (325-326).

scikit-learn's AdaBoost regressor is the only exporter of a weighted median, and no
exporter writes `multipleModelMethod="median"`, so these documents are written here by
hand: regression trees whose splits test the MiningModel's derived fields (a scaler and a
NormContinuous in float) and a string field, every missingValueStrategy, and the
missingPredictionTreatment choices. Each case gets model.pmml, input.csv (seeded random
rows with missing and invalid cells) and case.json; then run jpmml.py on it:

    python make_medians.py
    python jpmml.py ../fixtures/325-* ; python jpmml.py ../fixtures/326-*
"""

import random

from make_grm import write_case

SPEC = [("x1", "num", (0.0, 12.0, 3)), ("x2", "num", (-20.0, 120.0, 2)),
        ("region", "cat", ["north", "south", "east", "west"])]

DD = """  <DataDictionary>
    <DataField name="y" optype="continuous" dataType="double"/>
    <DataField name="x1" optype="continuous" dataType="double"/>
    <DataField name="x2" optype="continuous" dataType="double"/>
    <DataField name="region" optype="categorical" dataType="string">
      <Value value="north"/>
      <Value value="south"/>
      <Value value="east"/>
      <Value value="west"/>
    </DataField>
  </DataDictionary>
"""

SCHEMA = """    <MiningSchema>
      <MiningField name="y" usageType="target"/>
      <MiningField name="x1" missingValueReplacement="5.0" invalidValueTreatment="asMissing"/>
      <MiningField name="x2" invalidValueTreatment="asMissing"/>
      <MiningField name="region" invalidValueTreatment="asMissing"/>
    </MiningSchema>
    <LocalTransformations>
      <DerivedField name="z1" optype="continuous" dataType="double">
        <Apply function="/">
          <Apply function="-">
            <FieldRef field="x1"/>
            <Constant dataType="double">4.5</Constant>
          </Apply>
          <Constant dataType="double">2.25</Constant>
        </Apply>
      </DerivedField>
      <DerivedField name="z2" optype="continuous" dataType="float">
        <NormContinuous field="x2">
          <LinearNorm orig="0" norm="0"/>
          <LinearNorm orig="100" norm="1"/>
        </NormContinuous>
      </DerivedField>
    </LocalTransformations>
"""

STRATEGIES = ["none", "nullPrediction", "lastPrediction", "defaultChild", "nullPrediction", "none", "defaultChild"]


def tree(rng, k, strategy):
    """A regression tree of depth two over z1, z2 and region."""
    s = [round(rng.uniform(-50, 150), 4) for _ in range(7)]
    t1 = round(rng.uniform(-1.5, 2.5), 3)
    t2 = round(rng.uniform(0.0, 1.0), 3)
    regions = " ".join(rng.sample(["north", "south", "east", "west"], 2))
    default = strategy == "defaultChild"
    d = lambda child: f' defaultChild="{child}"' if default else ""
    return f"""      <Segment id="{k}">
        <True/>
        <TreeModel functionName="regression" missingValueStrategy="{strategy}" noTrueChildStrategy="{'returnLastPrediction' if k % 2 else 'returnNullPrediction'}">
          <MiningSchema>
            <MiningField name="z1"/>
            <MiningField name="z2"/>
            <MiningField name="region"/>
          </MiningSchema>
          <Node id="{k}-root" score="{s[0]}"{d(f'{k}-a')}>
            <True/>
            <Node id="{k}-a" score="{s[1]}"{d(f'{k}-a1')}>
              <SimplePredicate field="z1" operator="lessOrEqual" value="{t1}"/>
              <Node id="{k}-a1" score="{s[2]}">
                <SimplePredicate field="z2" operator="lessThan" value="{t2}"/>
              </Node>
              <Node id="{k}-a2" score="{s[3]}">
                <SimplePredicate field="z2" operator="greaterOrEqual" value="{t2}"/>
              </Node>
            </Node>
            <Node id="{k}-b" score="{s[4]}"{d(f'{k}-b2')}>
              <SimplePredicate field="z1" operator="greaterThan" value="{t1}"/>
              <Node id="{k}-b1" score="{s[5]}">
                <SimpleSetPredicate field="region" booleanOperator="isIn">
                  <Array type="string">{regions}</Array>
                </SimpleSetPredicate>
              </Node>
              <Node id="{k}-b2" score="{s[6]}">
                <SimplePredicate field="region" operator="isNotMissing"/>
              </Node>
            </Node>
          </Node>
        </TreeModel>
      </Segment>
"""


def median_case(number, slug, description, method, treatment, weights, seed):
    """Writes a case: seven trees (drawn from `seed`), rows of SPEC (also from `seed`)."""
    rng = random.Random(seed * 7919)
    threshold = ' missingThreshold="0.4"' if treatment == "continue" else ""
    segments = ""
    for k, strategy in enumerate(STRATEGIES, start=1):
        seg = tree(rng, k, strategy)
        if weights:
            seg = seg.replace(f'<Segment id="{k}">', f'<Segment id="{k}" weight="{round(rng.uniform(0.2, 3.0), 3)}">')
        segments += seg
    pmml = DD + '  <MiningModel functionName="regression">\n' + SCHEMA + \
        f'    <Segmentation multipleModelMethod="{method}" missingPredictionTreatment="{treatment}"{threshold}>\n' + \
        segments + "    </Segmentation>\n  </MiningModel>\n"
    write_case(number, slug, description, pmml, SPEC, 300, {"family": "mining"}, seed, script="make_medians.py")


if __name__ == "__main__":
    median_case(325, "median-trees-derived-fields", "median of seven regression trees over derived fields (a scaler, a float NormContinuous) and a string set, every missingValueStrategy, skipSegment",
               "median", "skipSegment", False, 325)
    median_case(326, "weighted-median-trees-continue", "weightedMedian of seven weighted regression trees over derived fields, every missingValueStrategy, continue with a missingThreshold",
               "weightedMedian", "continue", True, 326)
