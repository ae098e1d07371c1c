"""Trains the trends relevance model on the job's candidates (words tweeted far more
than usual in a minute: trends, and their look-alikes, one user's spam and a common
word's everyday swell) and writes model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/trends/train.py

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import pandas as pd
from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

NUMBERS = ["tweets", "users", "top_user", "usual", "spread", "most", "active", "ratio",
           "lift", "z", "user_share", "rise", "momentum", "surprise"]

# The last minutes of a run hold trends still rising, whose incidents end after the run
# and so are not in its truth: their candidates are left out rather than taught as none.
TAIL_MS = 10 * 60_000

frames = []
for seed in range(1001, 1013):
    frame = training.candidates("trends", "word", seeds=[seed], events=600_000)
    frames.append(frame[frame["window_start"] <= frame["window_start"].max() - TAIL_MS])
frame = pd.concat(frames, ignore_index=True)
print(f"trends: {len(frame)} candidates kept, {int(frame['label'].sum())} positive")

pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=5, min_samples_leaf=20, random_state=0)),
])
pipeline.fit(frame[NUMBERS], frame["label"])
print(f"training accuracy {pipeline.score(frame[NUMBERS], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
