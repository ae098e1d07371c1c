"""Trains the heart failure risk model on the job's candidates (two-minute windows of a
patient's readings well above their resting heart rate: heart failure signs, and the
look-alikes: exertion, stress, fevers) and writes model.pmml: a logistic regression on
the deviations from the patient's baseline.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/heart/train.py

A patient's windows in the hour after an episode's deadline are left out: the patient
is recovering, and the job's one alert per hour and patient has already been sent.

Needs scikit-learn, pandas and sklearn2pmml (with a Java runtime).
"""

import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["hr_rise", "hr_peak", "spo2_drop"]
AFTER_MS = 3_600_000


def candidates(seeds, events):
    """The candidates of each seed, labelled as training.candidates labels them, without
    those of the hour after an episode's deadline."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = pathlib.Path(tmp) / f"{seed}.ndjson"
            truth = pathlib.Path(tmp) / f"{seed}.truth.ndjson"
            subprocess.run(
                [training.styx(), "demo", "heart", "--seed", str(seed), "--events",
                 str(events), "--tap", "candidates", "--notifications", str(out),
                 "--truth", str(truth)],
                check=True, cwd=training.ROOT)
            incidents = {}
            for line in truth.read_text().splitlines():
                t = json.loads(line)
                incidents.setdefault(t["key"], []).append(t)
            for line in out.read_text().splitlines():
                c = json.loads(line)
                ts = training.event_time(c)
                of = incidents.get(c["patient"], [])
                if any(t["deadline"] < ts <= t["deadline"] + AFTER_MS for t in of):
                    continue
                c["label"] = int(any(t["start"] <= ts <= t["deadline"] for t in of))
                rows.append(c)
    frame = pd.DataFrame(rows)
    print(f"heart: {len(frame)} candidates, {int(frame['label'].sum())} positive")
    return frame


frame = candidates(seeds=range(1001, 1007), events=300_000)
pipeline = PMMLPipeline([
    ("regression", LogisticRegression(max_iter=2000)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
