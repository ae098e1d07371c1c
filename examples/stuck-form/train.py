"""Trains the chat propensity model on the job's candidates (visits of a form that did
not get through within six minutes: customers stuck, and the look-alikes: slow visits
that pause to look something up, a mistake and a pause, customers who leave at once) and
writes model.pmml: a small gradient boosting of two-level trees.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/stuck-form/train.py

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sklearn.ensemble import GradientBoostingClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["clicks", "errors", "rejected", "fields", "revisits", "minutes", "quiet_s"]

frame = training.candidates("stuck-form", "session", seeds=range(1001, 1007), events=300_000)
pipeline = PMMLPipeline([
    ("boost", GradientBoostingClassifier(n_estimators=50, max_depth=2, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
