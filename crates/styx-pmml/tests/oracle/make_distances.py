"""Writes the hand-written distance cases (196-198) and similarity cases (199, 218-220):
ClusteringModels and a NearestNeighborModel with what exporters seldom write:
`MissingValueWeights`, field comparisons `gaussSim`, `delta` and `equal` (on a field and as
the measure's), field weights, the `chebychev` and `minkowski` measures, the similarity
measures of binary fields (`simpleMatching`, `jaccard`, `tanimoto`, `binarySimilarity`),
inputs with missing values.

Usage: python make_distances.py FIXTURES_DIR   (then jpmml.py on the cases)
"""

import random
import sys

from handwritten import write_case

FIELDS = ["a", "b", "c", "d"]

DICTIONARY = "\n".join(f'    <DataField name="{f}" optype="continuous" dataType="double"/>' for f in FIELDS)
SCHEMA = "\n".join(f'      <MiningField name="{f}"/>' for f in FIELDS)


def clustering(label, measure, compare, fields, missing_weights, clusters):
    weights = f'    <MissingValueWeights><Array type="real" n="4">{missing_weights}</Array></MissingValueWeights>\n' if missing_weights else ""
    cls = "\n".join(f'    <Cluster id="{i + 1}" name="k{i + 1}"><Array type="real" n="4">{c}</Array></Cluster>' for i, c in enumerate(clusters))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="ClusteringModel: {label}, field comparisons and weights (hand-written)"/>
  <DataDictionary>
{DICTIONARY}
  </DataDictionary>
  <ClusteringModel functionName="clustering" modelClass="centerBased" numberOfClusters="{len(clusters)}">
    <MiningSchema>
{SCHEMA}
    </MiningSchema>
    <Output>
      <OutputField name="cluster" optype="categorical" dataType="string" feature="predictedValue"/>
      <OutputField name="affinity_1" optype="continuous" dataType="double" feature="affinity" value="1"/>
      <OutputField name="affinity_2" optype="continuous" dataType="double" feature="affinity" value="2"/>
      <OutputField name="affinity_3" optype="continuous" dataType="double" feature="affinity" value="3"/>
    </Output>
    <ComparisonMeasure kind="distance"{compare}>{measure}</ComparisonMeasure>
{fields}
{weights}{cls}
  </ClusteringModel>
</PMML>
"""


CLUSTERS = ["0 0 0 0", "1.5 -1 2 0.5", "-2 2 0.5 1"]

CASES = [
    ("196-clustering-compare-functions-missing-weights",
     clustering("euclidean", "<euclidean/>", "", """    <ClusteringField field="a" compareFunction="gaussSim" similarityScale="1.5"/>
    <ClusteringField field="b" fieldWeight="2.5"/>
    <ClusteringField field="c" compareFunction="delta" fieldWeight="0.5"/>
    <ClusteringField field="d" compareFunction="equal"/>""", "1 0.5 2 0.25", CLUSTERS),
     "euclidean distance with gaussSim, delta and equal field comparisons, field weights and MissingValueWeights"),
    ("197-clustering-chebychev-measure-delta",
     clustering("chebychev", "<chebychev/>", ' compareFunction="delta"', """    <ClusteringField field="a" compareFunction="absDiff" fieldWeight="3"/>
    <ClusteringField field="b"/>
    <ClusteringField field="c" compareFunction="absDiff"/>
    <ClusteringField field="d" fieldWeight="0.5"/>""", None, CLUSTERS),
     "chebychev distance, the measure's compareFunction delta, field weights, missing values (no MissingValueWeights)"),
]

KNN = f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="NearestNeighborModel: minkowski, field weights and comparisons, missing values (hand-written)"/>
  <DataDictionary>
{DICTIONARY}
    <DataField name="y" optype="continuous" dataType="double"/>
  </DataDictionary>
  <NearestNeighborModel functionName="regression" numberOfNeighbors="3" continuousScoringMethod="average">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
{SCHEMA}
    </MiningSchema>
    <TrainingInstances>
      <InstanceFields>
{chr(10).join(f'        <InstanceField field="{f}" column="{f}"/>' for f in FIELDS + ["y"])}
      </InstanceFields>
      <InlineTable>
%ROWS%
      </InlineTable>
    </TrainingInstances>
    <ComparisonMeasure kind="distance"><minkowski p-parameter="3"/></ComparisonMeasure>
    <KNNInputs>
      <KNNInput field="a" fieldWeight="2"/>
      <KNNInput field="b" compareFunction="equal"/>
      <KNNInput field="c" fieldWeight="0.25"/>
      <KNNInput field="d" compareFunction="delta"/>
    </KNNInputs>
  </NearestNeighborModel>
</PMML>
"""


SIMILARITIES = [
    ("199-clustering-simple-matching", "<simpleMatching/>"),
    ("218-clustering-jaccard", "<jaccard/>"),
    ("219-clustering-tanimoto", "<tanimoto/>"),
    ("220-clustering-binary-similarity",
     '<binarySimilarity c00-parameter="0.5" c01-parameter="0" c10-parameter="0.25" c11-parameter="1" '
     'd00-parameter="1" d01-parameter="2" d10-parameter="1.5" d11-parameter="1"/>'),
]

BINARY_CLUSTERS = ["0 0 0 0", "1 1 0 0", "1 0 1 1", "0 1 1 0"]


def similarity(measure):
    fields = "\n".join(f'    <ClusteringField field="{f}"/>' for f in FIELDS)
    cls = "\n".join(f'    <Cluster id="{i + 1}"><Array type="int" n="4">{c}</Array></Cluster>' for i, c in enumerate(BINARY_CLUSTERS))
    outputs = "\n".join(f'      <OutputField name="affinity_{i + 1}" optype="continuous" dataType="double" feature="affinity" value="{i + 1}"/>' for i in range(len(BINARY_CLUSTERS)))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="ClusteringModel: a similarity measure of binary fields (hand-written)"/>
  <DataDictionary>
{DICTIONARY}
  </DataDictionary>
  <ClusteringModel functionName="clustering" modelClass="centerBased" numberOfClusters="{len(BINARY_CLUSTERS)}">
    <MiningSchema>
{SCHEMA}
    </MiningSchema>
    <Output>
      <OutputField name="cluster" optype="categorical" dataType="string" feature="predictedValue"/>
{outputs}
    </Output>
    <ComparisonMeasure kind="similarity">{measure}</ComparisonMeasure>
{fields}
{cls}
  </ClusteringModel>
</PMML>
"""


def binary_cell(rng):
    return rng.choice(["0", "1", "0", "1", "1.0", "true", "false", "", "2"])


def cell(rng):
    return rng.choice([str(round(rng.gauss(0, 1.5), 3)), str(round(rng.gauss(0, 1.5), 3)),
                       str(rng.randint(-2, 2)), "0", "1.5", "", ""])


def write(fixtures, name, doc, what, seed, make_cell=None):
    rng = random.Random(seed)
    rows = [["Id"] + FIELDS]
    for i in range(300):
        rows.append([str(i + 1)] + [(make_cell or cell)(rng) for _ in FIELDS])
    meta = {"suite": "styx", "family": "distances",
            "source": f"hand-written PMML (tests/oracle/make_distances.py): {what}; inputs with missing values"}
    write_case(fixtures, name, doc, rows, meta)


def main(fixtures):
    out = fixtures
    for k, (name, doc, what) in enumerate(CASES):
        write(out, name, doc, what, 196 + k)
    rng = random.Random(198)
    rows = []
    for _ in range(40):
        vals = [rng.choice([str(round(rng.gauss(0, 1.5), 2)), str(rng.randint(-2, 2))]) for _ in FIELDS]
        y = str(round(rng.uniform(0, 10), 2))
        rows.append("        <row>" + "".join(f"<{f}>{v}</{f}>" for f, v in zip(FIELDS + ["y"], vals + [y])) + "</row>")
    write(out, "198-knn-minkowski-compare-functions", KNN.replace("%ROWS%", "\n".join(rows)),
          "a k-nearest-neighbours regression with the minkowski distance (p 3), field weights, equal and delta comparisons", 1198)
    for k, (name, measure) in enumerate(SIMILARITIES):
        write(out, name, similarity(measure), f"a clustering model of binary fields with the similarity measure {measure}; inputs 0, 1, true, false, missing and 2", 199 + k, binary_cell)


if __name__ == "__main__":
    main(sys.argv[1])
