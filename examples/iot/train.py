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

import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import pandas as pd
from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

import training

FEATURES = ["warnings", "errors", "heat", "mean_heat"]


def windows(seeds, events=600_000):
    """The candidates of each seed, labelled by where each falls in a failure."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = pathlib.Path(tmp) / f"{seed}.ndjson"
            truth = pathlib.Path(tmp) / f"{seed}.truth.ndjson"
            subprocess.run(
                [training.styx(), "demo", "iot", "--seed", str(seed), "--events",
                 str(events), "--tap", "candidates", "--notifications", str(out),
                 "--truth", str(truth)],
                check=True, cwd=training.ROOT)
            failures = {}
            for line in truth.read_text().splitlines():
                t = json.loads(line)
                failures.setdefault(t["key"], []).append(t)
            for line in out.read_text().splitlines():
                c = json.loads(line)
                start, last = c["window_start"], c["window_end"] - 1
                mine = failures.get(c["machine"], [])
                full = any(start <= t["end"] <= last <= t["deadline"] for t in mine)
                touched = any(t["start"] <= last and start <= t["deadline"] for t in mine)
                if full:
                    c["label"] = 1
                elif not touched:
                    c["label"] = 0
                else:
                    continue
                rows.append(c)
    frame = pd.DataFrame(rows)
    print(f"iot: {len(frame)} windows, {int(frame['label'].sum())} of a failure")
    return frame


frame = windows(seeds=range(1001, 1007))
pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=4, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
