"""Trains the low-balance relevance model on the job's candidates (balances that fell
under their holder's threshold and stayed there: clear shortfalls, and dips just under
it) and writes model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/low-balance/train.py

Holders who opted out are the rules' business, not the model's: they are left out.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

NUMBERS = ["shortfall", "threshold", "amount", "has_savings"]
CATEGORIES = ["segment", "category"]

frame = training.candidates("low-balance", "card", seeds=range(1001, 1005), events=300_000)
frame = frame[frame["opted_in"]]
pipeline = PMMLPipeline([
    ("features", ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
        ("numbers", "passthrough", NUMBERS),
    ])),
    ("tree", DecisionTreeClassifier(max_depth=4, min_samples_leaf=10, random_state=0)),
])
pipeline.fit(frame[CATEGORIES + NUMBERS], frame["label"])
print(f"training accuracy {pipeline.score(frame[CATEGORIES + NUMBERS], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
