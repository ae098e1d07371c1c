"""Trains the heart failure risk model on the job's candidates (two-minute windows of a
patient's readings well above their resting heart rate: heart failure signs, and the
look-alikes: exertion, stress, fevers) and writes model.pmml: a logistic regression on
the deviations from the patient's baseline.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/heart/train.py

A patient's windows in the hour after an episode's deadline are left out: the patient
is recovering, and the job's one alert per hour and patient has already been sent.

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.linear_model import LogisticRegression
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["hr_rise", "hr_peak", "spo2_drop"]
AFTER_MS = 3_600_000


def label(candidate, incidents):
    """The contract's rule, leaving out the hour after an episode's deadline."""
    ts = training.event_time(candidate)
    if any(t["deadline"] < ts <= t["deadline"] + AFTER_MS for t in incidents):
        return None
    return training.matches(candidate, incidents)


frame = training.candidates("heart", "patient", range(1001, 1007), 300_000, label)
pipeline = PMMLPipeline([
    ("regression", LogisticRegression(max_iter=2000)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
