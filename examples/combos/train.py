"""Trains the player model on the job's candidates (down, forward, punch within 300 ms:
players' combos, and macros pressing them frame-perfect) and writes model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/combos/train.py

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["took_ms", "gap_diff", "power_spread"]

frame = training.candidates("combos", "player", seeds=range(1001, 1005), events=200_000)
pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=4, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
