"""Trains the jam model on the job's candidates (five-minute windows of a road segment
that are slow or thin: jams, and short slowdowns, rain, quiet spells) and writes
model.pmml.

    eval "$(scripts/train-env)"; $STYX_TRAIN_PYTHON examples/traffic/train.py

A window is a jam when the jam covers at least four fifths of it, no jam when it touches
none; the windows in between (a jam's first and last minutes) are left out, so that the
model learns what a jam looks like once it is one. Needs scikit-learn, pandas and
sklearn2pmml (with a Java runtime).
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

FEATURES = ["speed_ratio", "flow_ratio", "slow_share", "density_ratio", "cars"]
COVER = 0.8


def windows(seeds, events=600_000):
    """The candidates of each seed, labelled by how much of each a jam covers."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = pathlib.Path(tmp) / f"{seed}.ndjson"
            truth = pathlib.Path(tmp) / f"{seed}.truth.ndjson"
            subprocess.run(
                [training.styx(), "demo", "traffic", "--seed", str(seed), "--events",
                 str(events), "--tap", "candidates", "--notifications", str(out),
                 "--truth", str(truth)],
                check=True, cwd=training.ROOT)
            jams = {}
            for line in truth.read_text().splitlines():
                t = json.loads(line)
                jams.setdefault(t["key"], []).append(t)
            for line in out.read_text().splitlines():
                c = json.loads(line)
                start, end = c["window_start"], c["window_end"]
                mine = jams.get(c["segment"], [])
                cover = max((min(end, t["end"]) - max(start, t["start"])) / (end - start)
                            for t in mine) if mine else 0.0
                touched = any(t["start"] <= end - 1 and start <= t["deadline"] for t in mine)
                if cover >= COVER:
                    c["label"] = 1
                elif not touched:
                    c["label"] = 0
                else:
                    continue
                rows.append(c)
    frame = pd.DataFrame(rows)
    print(f"traffic: {len(frame)} windows, {int(frame['label'].sum())} in a jam")
    return frame


frame = windows(seeds=range(1001, 1007))
pipeline = PMMLPipeline([
    ("tree", DecisionTreeClassifier(max_depth=5, min_samples_leaf=5, random_state=0)),
])
pipeline.fit(frame[FEATURES], frame["label"])
print(f"training accuracy {pipeline.score(frame[FEATURES], frame['label']):.3f}")
sklearn2pmml(pipeline, str(pathlib.Path(__file__).resolve().parent / "model.pmml"))
