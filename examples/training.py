"""What the use cases' train.py scripts share: the events a model judges, labelled with
the incidents the generator planted.

A use case's job names the component whose output its model scores (`candidates`).
`styx demo NAME --tap candidates` writes that output for a seed, and `--truth` the
incidents planted in the same events; a candidate is positive when it matches an
incident as `usecases.md` matches notifications (same key, start <= ts <= deadline),
unless the use case labels its candidates its own way. The training seeds are not the
seeds of the tests.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parent.parent


def styx():
    """The styx binary: $STYX, else the checkout's release or ci build, else PATH."""
    if os.environ.get("STYX"):
        return os.environ["STYX"]
    for profile in ("release", "ci"):
        path = ROOT / "target" / profile / "styx"
        if path.exists():
            return str(path)
    found = shutil.which("styx")
    if not found:
        raise SystemExit("no styx binary: build it (cargo build --release) or set STYX")
    return found


def event_time(candidate):
    """The event time a notification made from this candidate would carry."""
    for field in ("match_end", "ts"):
        if isinstance(candidate.get(field), int):
            return candidate[field]
    if isinstance(candidate.get("window_end"), int):
        return candidate["window_end"] - 1
    raise ValueError(f"a candidate without event time: {candidate}")


def matches(candidate, incidents):
    """The contract's rule: 1 when the candidate's time falls between the start and the
    deadline of one of its key's incidents."""
    ts = event_time(candidate)
    return int(any(t["start"] <= ts <= t["deadline"] for t in incidents))


def candidates(use_case, key, seeds, events, label=matches, tap="candidates"):
    """The candidates of `use_case` for each seed, with a `label` column:
    `label(candidate, incidents of its key)` gives 1, 0, or None to leave it out."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = pathlib.Path(tmp) / f"{seed}.ndjson"
            truth = pathlib.Path(tmp) / f"{seed}.truth.ndjson"
            subprocess.run(
                [styx(), "demo", use_case, "--seed", str(seed), "--events", str(events),
                 "--tap", tap, "--notifications", str(out), "--truth", str(truth)],
                check=True, cwd=ROOT)
            incidents = {}
            for line in truth.read_text().splitlines():
                t = json.loads(line)
                incidents.setdefault(str(t["key"]), []).append(t)
            for line in out.read_text().splitlines():
                c = json.loads(line)
                c["label"] = label(c, incidents.get(str(c[key]), []))
                if c["label"] is not None:
                    rows.append(c)
    frame = pd.DataFrame(rows)
    print(f"{use_case}: {len(frame)} candidates, {int(frame['label'].sum())} positive")
    return frame
