"""Writes a hand-written oracle case: its folder under the fixtures with model.pmml,
input.csv and case.json (the case's metadata; jpmml.py adds the oracle's part)."""

import csv
import json
from pathlib import Path


def write_case(fixtures, name, model, rows, meta):
    """Writes case `name` under `fixtures`: the PMML text `model`, the input `rows` (a
    header row first) and `meta`, to which the case's name is added first."""
    d = Path(fixtures) / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.pmml").write_text(model)
    with open(d / "input.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    (d / "case.json").write_text(json.dumps({"name": name, **meta}, indent=1) + "\n")
