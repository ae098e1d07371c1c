"""Trains the fraud model on the job's candidates (card tests, impossible travel, bursts
of transfers, and their look-alikes) and writes model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/fraud/train.py

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
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

NUMBERS = ["amount", "count", "gap_s", "card_present", "ratio"]
CATEGORIES = ["pattern", "segment"]

frame = training.candidates("fraud", "account", seeds=range(1001, 1007), events=600_000)
pipeline = PMMLPipeline([
    ("features", ColumnTransformer([
        ("categories", OneHotEncoder(), CATEGORIES),
        ("numbers", "passthrough", NUMBERS),
    ])),
    ("tree", DecisionTreeClassifier(max_depth=6, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[CATEGORIES + NUMBERS], frame["label"])
print(f"training accuracy {pipeline.score(frame[CATEGORIES + NUMBERS], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
