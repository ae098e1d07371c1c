"""Trains the failure model on the job's candidates (five-minute windows of a machine
with warnings, errors or heat: failures building up, and configuration reloads, heavy
load, glitches) and writes model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/iot/train.py

A window is a failure when it holds a failure's last event (before its deadline), no
failure when it touches none; the windows of the build-up before are left out, so that
the model learns what a failure looks like once it shows in full, and tells it from heavy
load (heat without errors). Needs scikit-learn, pandas and sklearn2pmml (with a Java
runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["warnings", "errors", "heat", "mean_heat"]


def label(window, failures):
    """1 for a window that holds a failure's last event before its deadline, 0 for one
    that touches no failure, None (left out) for one partly in a failure."""
    start, last = window["window_start"], window["window_end"] - 1
    if any(start <= t["end"] <= last <= t["deadline"] for t in failures):
        return 1
    if any(t["start"] <= last and start <= t["deadline"] for t in failures):
        return None
    return 0


frame = training.candidates("iot", "machine", range(1001, 1007), 600_000, label)
pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=4, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
