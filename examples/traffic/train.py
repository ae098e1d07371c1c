"""Trains the jam model on the job's candidates (five-minute windows of a road segment
that are slow or thin: jams, and short slowdowns, rain, quiet spells) and writes
model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/traffic/train.py

A window is a jam when the jam covers at least four fifths of it, no jam when it touches
none; the windows in between (a jam's first and last minutes) are left out, so that the
model learns what a jam looks like once it is one. Needs scikit-learn, pandas and
sklearn2pmml (with a Java runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["speed_ratio", "flow_ratio", "slow_share", "density_ratio", "cars"]
COVER = 0.8


def label(window, jams):
    """1 for a window a jam covers for at least COVER of it, 0 for one that touches no
    jam, None (left out) for one partly in a jam."""
    start, end = window["window_start"], window["window_end"]
    cover = max(((min(end, t["end"]) - max(start, t["start"])) / (end - start)
                 for t in jams), default=0.0)
    if cover >= COVER:
        return 1
    if any(t["start"] <= end - 1 and start <= t["deadline"] for t in jams):
        return None
    return 0


frame = training.candidates("traffic", "segment", range(1001, 1007), 600_000, label)
pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=5, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
