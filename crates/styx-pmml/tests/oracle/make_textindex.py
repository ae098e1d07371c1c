"""Writes the hand-written TextIndex case (497): a RegressionModel whose derived fields
count terms in a text field every way TextIndex can (normalization tables with literal,
regular expression and recursive replacements, case sensitivity, Levenshtein distances,
best hits, binary and logarithmic weights, multi-word terms, a custom word separator),
each exposed as a transformedValue output; then run jpmml.py on the case.

Usage: python make_textindex.py FIXTURES_DIR
"""

import random
import sys

from handwritten import write_case

NAME = "497-textindex-hand-written"

INDEXES = [
    # name, attributes, term, normalization
    ("tf_cat", "", "cat", ""),
    ("tf_cat_case", 'isCaseSensitive="true"', "cat", ""),
    ("tf_cat_lev1", 'maxLevenshteinDistance="1"', "cat", ""),
    ("tf_cat_best", 'maxLevenshteinDistance="1" countHits="bestHits"', "cat", ""),
    ("bin_dog", 'localTermWeights="binary"', "dog", ""),
    ("log_the", 'localTermWeights="logarithmic"', "the", ""),
    ("tf_two_words", 'maxLevenshteinDistance="2"', "red mat", ""),
    ("tf_sep", 'wordSeparatorCharacterRE="[\\s\\-]+"', "well", ""),
    ("tf_words", 'x-wordRE="[a-z]+"', "ell", ""),
    ("tf_words_case", 'x-wordRE="[A-Za-z]+" isCaseSensitive="true"', "The", ""),
    # PMML 4.4 has no `wordRE` (JPMML's extension is `x-wordRE`): ignored.
    ("tf_words_plain", 'wordRE="[A-Za-z]+" isCaseSensitive="true"', "The", ""),
    ("tf_norm", "", "feline",
     """<TextIndexNormalization inField="string" outField="stem" regexField="regex">
          <InlineTable>
            <row><string>cats?</string><stem>feline</stem><regex>true</regex></row>
            <row><string>kitten</string><stem>feline</stem><regex>false</regex></row>
          </InlineTable>
        </TextIndexNormalization>"""),
    ("tf_norm_rec", "", "z",
     """<TextIndexNormalization recursive="true">
          <InlineTable>
            <row><string>aa</string><stem>a</stem></row>
            <row><string>\\ba\\b</string><stem>z</stem><regex>true</regex></row>
          </InlineTable>
        </TextIndexNormalization>"""),
]

WORDS = ["cat", "Cat", "CAT", "cats", "cut", "kitten", "dog", "dogs", "the", "The", "red", "mat", "rad", "mad",
         "well-known", "well", "a", "aa", "aaa", "bat", "hat", "on", "The,The", "The1", "ell", "ell.0",
         "ell-ell", "x2ell"]


def document():
    indexes = []
    outputs = []
    for name, attrs, term, norm in INDEXES:
        dtype = "double" if "logarithmic" in attrs else "integer"
        indexes.append(f"""    <DerivedField name="{name}" optype="continuous" dataType="{dtype}">
      <TextIndex textField="text" {attrs}>
        {norm}
        <Constant dataType="string">{term}</Constant>
      </TextIndex>
    </DerivedField>""")
        outputs.append(f'      <OutputField name="out_{name}" optype="continuous" dataType="{dtype}" feature="transformedValue"><FieldRef field="{name}"/></OutputField>')
    predictors = "\n".join(f'      <NumericPredictor name="{n}" coefficient="{0.5 + i / 10}"/>' for i, (n, _, _, _) in enumerate(INDEXES))
    nl = "\n"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="TextIndex: term frequencies every way (hand-written)"/>
  <DataDictionary>
    <DataField name="text" optype="categorical" dataType="string"/>
    <DataField name="y" optype="continuous" dataType="double"/>
  </DataDictionary>
  <TransformationDictionary>
{nl.join(indexes)}
  </TransformationDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema>
      <MiningField name="text" missingValueReplacement="the cat"/>
      <MiningField name="y" usageType="target"/>
    </MiningSchema>
    <Output>
      <OutputField name="predicted_y" optype="continuous" dataType="double" feature="predictedValue"/>
{nl.join(outputs)}
    </Output>
    <RegressionTable intercept="1.0">
{predictors}
    </RegressionTable>
  </RegressionModel>
</PMML>
"""


def main(fixtures):
    rng = random.Random(497)
    rows = [["Id", "text"]]
    for i in range(240):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 9))]
        seps = [rng.choice([" ", "  ", ", ", " - ", "; ", "! "]) for _ in words]
        text = "".join(w + s for w, s in zip(words, seps)).strip()
        if rng.random() < 0.15:
            text = rng.choice(["(", "\"", "'", "..."]) + text + rng.choice([")", "\"", "'", "?!"])
        if i % 37 == 5:
            text = ""
        rows.append([str(i + 1), text])
    meta = {"suite": "styx", "family": "functions",
            "source": "hand-written PMML (tests/oracle/make_textindex.py): TextIndex with normalization tables (literal, regex, recursive), case sensitivity, Levenshtein distances, bestHits, binary and logarithmic weights, a two-word term, a custom separator, words matched by x-wordRE (and a wordRE attribute, which PMML 4.4 does not have, ignored); punctuation around words; an empty text is missing and replaced",
            "notes": "every count is a transformedValue output"}
    write_case(fixtures, NAME, document(), rows, meta)


if __name__ == "__main__":
    main(sys.argv[1])
