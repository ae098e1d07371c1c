"""Writes the hand-written NeuralNetwork cases (194, 195): activation functions no exporter
in the suite writes. 194: a regression network with a radial basis layer (neurons with
and without their own width, the layer's altitude), leaky rectifiers (JPMML's `x-leakage`
of the network and of a layer; a `leakage` attribute, which PMML 4.4 does not have,
ignored), threshold and Elliott layers. 195: a classification network with a radial basis
layer at altitude 1 and a softmax output layer. Inputs with infinities and huge numbers
(taken as they are), so that NaN reaches the rectifiers.

Usage: python make_neural.py FIXTURES_DIR   (then jpmml.py on the cases)
"""

import random
import sys

from handwritten import write_case

INPUTS = """    <NeuralInputs>
      <NeuralInput id="i0"><DerivedField optype="continuous" dataType="double"><FieldRef field="x0"/></DerivedField></NeuralInput>
      <NeuralInput id="i1"><DerivedField optype="continuous" dataType="double"><NormContinuous field="x1"><LinearNorm orig="-2" norm="0"/><LinearNorm orig="2" norm="1"/></NormContinuous></DerivedField></NeuralInput>
      <NeuralInput id="i2"><DerivedField optype="continuous" dataType="double"><FieldRef field="x2"/></DerivedField></NeuralInput>
    </NeuralInputs>"""

DICTIONARY = """    <DataField name="x0" optype="continuous" dataType="double"/>
    <DataField name="x1" optype="continuous" dataType="double"/>
    <DataField name="x2" optype="continuous" dataType="double"/>"""

SCHEMA = """      <MiningField name="x0" invalidValueTreatment="asIs"/>
      <MiningField name="x1" invalidValueTreatment="asIs"/>
      <MiningField name="x2" invalidValueTreatment="asIs"/>"""

REGRESSION = f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="NeuralNetwork: radial basis, leaky and plain rectifiers, threshold, Elliott (hand-written)"/>
  <DataDictionary>
{DICTIONARY}
    <DataField name="y" optype="continuous" dataType="double"/>
  </DataDictionary>
  <NeuralNetwork functionName="regression" activationFunction="rectifier" x-leakage="0.1" width="1.5">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
{SCHEMA}
    </MiningSchema>
{INPUTS}
    <NeuralLayer activationFunction="radialBasis" altitude="2">
      <Neuron id="r0"><Con from="i0" weight="0.5"/><Con from="i1" weight="-0.25"/><Con from="i2" weight="1"/></Neuron>
      <Neuron id="r1" width="0.75"><Con from="i0" weight="-1"/><Con from="i1" weight="0.5"/><Con from="i2" weight="0"/></Neuron>
      <Neuron id="r2" width="3"><Con from="i0" weight="2"/><Con from="i2" weight="-2"/></Neuron>
    </NeuralLayer>
    <NeuralLayer leakage="0.7">
      <Neuron id="l0" bias="-0.3"><Con from="r0" weight="1.5"/><Con from="r1" weight="-2"/><Con from="i0" weight="0.7"/></Neuron>
      <Neuron id="l1"><Con from="r2" weight="-1.25"/><Con from="i2" weight="0.4"/><Con from="i1" weight="-0.9"/></Neuron>
      <Neuron id="l2" bias="0.2"><Con from="i0" weight="-0.6"/><Con from="i2" weight="-0.8"/></Neuron>
    </NeuralLayer>
    <NeuralLayer x-leakage="0">
      <Neuron id="p0" bias="0.05"><Con from="l0" weight="1"/><Con from="l1" weight="-1"/></Neuron>
      <Neuron id="p1"><Con from="l1" weight="0.5"/><Con from="l2" weight="0.5"/></Neuron>
    </NeuralLayer>
    <NeuralLayer activationFunction="rectifier" x-leakage="0.5">
      <Neuron id="q0" bias="-0.1"><Con from="p0" weight="1"/><Con from="l2" weight="-1.5"/></Neuron>
    </NeuralLayer>
    <NeuralLayer activationFunction="threshold" threshold="0.25">
      <Neuron id="t0"><Con from="q0" weight="1"/></Neuron>
    </NeuralLayer>
    <NeuralLayer activationFunction="Elliott">
      <Neuron id="e0" bias="0.1"><Con from="q0" weight="0.8"/><Con from="p1" weight="-0.6"/><Con from="t0" weight="0.3"/></Neuron>
    </NeuralLayer>
    <NeuralLayer activationFunction="identity">
      <Neuron id="o0" bias="1"><Con from="e0" weight="2"/><Con from="q0" weight="0.5"/><Con from="p1" weight="-0.25"/></Neuron>
    </NeuralLayer>
    <NeuralOutputs>
      <NeuralOutput outputNeuron="o0"><DerivedField optype="continuous" dataType="double"><FieldRef field="y"/></DerivedField></NeuralOutput>
    </NeuralOutputs>
  </NeuralNetwork>
</PMML>
"""

CLASSIFICATION = f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="NeuralNetwork: radial basis classifier with a softmax output layer (hand-written)"/>
  <DataDictionary>
{DICTIONARY}
    <DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
  </DataDictionary>
  <NeuralNetwork functionName="classification" activationFunction="radialBasis" width="1">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
{SCHEMA}
    </MiningSchema>
    <Output>
      <OutputField name="p_a" optype="continuous" dataType="double" feature="probability" value="a"/>
      <OutputField name="p_b" optype="continuous" dataType="double" feature="probability" value="b"/>
      <OutputField name="p_c" optype="continuous" dataType="double" feature="probability" value="c"/>
    </Output>
{INPUTS}
    <NeuralLayer>
      <Neuron id="r0"><Con from="i0" weight="0"/><Con from="i1" weight="0.5"/><Con from="i2" weight="0"/></Neuron>
      <Neuron id="r1" width="2"><Con from="i0" weight="1"/><Con from="i1" weight="0.25"/><Con from="i2" weight="-1"/></Neuron>
      <Neuron id="r2" width="0.5"><Con from="i0" weight="-1"/><Con from="i1" weight="0.75"/><Con from="i2" weight="1"/></Neuron>
    </NeuralLayer>
    <NeuralLayer activationFunction="identity" normalizationMethod="softmax">
      <Neuron id="o0" bias="0.1"><Con from="r0" weight="2"/><Con from="r1" weight="-1"/></Neuron>
      <Neuron id="o1"><Con from="r1" weight="2.5"/><Con from="r2" weight="-0.5"/></Neuron>
      <Neuron id="o2" bias="-0.2"><Con from="r2" weight="3"/><Con from="r0" weight="-1"/></Neuron>
    </NeuralLayer>
    <NeuralOutputs>
      <NeuralOutput outputNeuron="o0"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="y" value="a"/></DerivedField></NeuralOutput>
      <NeuralOutput outputNeuron="o1"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="y" value="b"/></DerivedField></NeuralOutput>
      <NeuralOutput outputNeuron="o2"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="y" value="c"/></DerivedField></NeuralOutput>
    </NeuralOutputs>
  </NeuralNetwork>
</PMML>
"""

CASES = [
    ("194-neural-radial-basis-leaky-rectifier", REGRESSION,
     "a regression network with a radial basis layer (neuron widths, the layer's altitude), leaky rectifiers (the network's and a layer's x-leakage; a leakage attribute, which PMML 4.4 does not have, ignored), a rectifier of x-leakage 0, threshold and Elliott layers"),
    ("195-neural-radial-basis-classifier", CLASSIFICATION,
     "a classification network with a radial basis layer (the network's width, neuron widths) and a softmax output layer"),
]


def cell(rng):
    return rng.choice([
        str(round(rng.gauss(0, 1.5), 4)), str(round(rng.gauss(0, 1.5), 4)), str(round(rng.uniform(-3, 3), 2)),
        "", "INF", "-INF", "1e300", "-1e300", "0",
    ])


def main(fixtures):
    for k, (name, doc, what) in enumerate(CASES):
        rng = random.Random(194 + k)
        rows = [["Id", "x0", "x1", "x2"]]
        for i in range(300):
            rows.append([str(i + 1), cell(rng), cell(rng), cell(rng)])
        meta = {"suite": "styx", "family": "neural-network",
                "source": f"hand-written PMML (tests/oracle/make_neural.py): {what}; inputs with missing values, infinities and huge numbers taken as they are",
                "notes": "JPMML sums a neuron's weighted inputs in order, then adds its bias"}
        write_case(fixtures, name, doc, rows, meta)


if __name__ == "__main__":
    main(sys.argv[1])
