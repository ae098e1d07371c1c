"""Scores conformance cases with JPMML-Evaluator 1.7.7, the engine of Openscoring.

For each case folder given (model.pmml and input.csv, optionally a case.json with the
case's metadata), this writes expected.csv with Openscoring's CSV conventions and fills in
case.json's `columns` (how compare.py compares each result column) and `oracle`. Rows
JPMML cannot evaluate are removed from input.csv and listed under `dropped_examples`,
unless case.json says `expect_error`, in which case nothing is scored.

Usage: python jpmml.py CASE_DIR...   (needs the PyPI packages jpmml_evaluator==0.16.0,
pandas, numpy and a Java runtime; scripts/oracle-env makes such a Python)
"""

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy
import pandas
from jpmml_evaluator import make_evaluator

ORACLE = "JPMML-Evaluator 1.7.7 (jpmml_evaluator 0.16.0, jpype backend, PythonEvaluatorUtil.evaluateAll)"


def sniff(text):
    head = text.splitlines()[0]
    for d in ("\t", ";", ","):
        if d in head:
            return d
    return ","


def fmt(value, data_type):
    if value is None:
        return ""
    if isinstance(value, (bool, numpy.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, numpy.integer)):
        return str(int(value))
    if isinstance(value, (float, numpy.floating)):
        if math.isnan(value):
            return ""
        if data_type == "float":
            return str(numpy.float32(value))
        if data_type in ("integer",) and float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    return str(value)


def compare_mode(data_type, op_type):
    if data_type == "float":
        return "float32"
    if data_type == "double" and op_type == "continuous":
        return "number"
    return "exact"


def score(case_dir):
    case_dir = Path(case_dir)
    meta_path = case_dir / "case.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.setdefault("name", case_dir.name)
    meta["oracle"] = ORACLE
    if meta.get("expect_error"):
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        return
    text = (case_dir / "input.csv").read_text()
    delim = sniff(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    header, data = rows[0], [r for r in rows[1:] if r]
    has_id = header[0] == "Id"
    frame = pandas.DataFrame([[None if c == "" else c for c in r] for r in data], columns=header, dtype=object)

    evaluator = make_evaluator(str(case_dir / "model.pmml"), backend="jpype").verify()
    targets = evaluator.getTargetFields()
    outputs = evaluator.getOutputFields()
    results = evaluator.evaluateAll(frame.drop(columns=["Id"]) if has_id else frame)
    errors = results["errors"] if "errors" in results.columns else pandas.Series([None] * len(frame))

    keep = [i for i in range(len(data)) if errors.iloc[i] is None or (isinstance(errors.iloc[i], float) and math.isnan(errors.iloc[i])) or errors.iloc[i] in ("None", "nan")]
    dropped = [{"row": i + 1, "error": str(errors.iloc[i])} for i in range(len(data)) if i not in set(keep)]
    if dropped:
        meta["dropped_error_rows"] = len(dropped)
        meta["dropped_examples"] = dropped[:5]
        with open(case_dir / "input.csv", "w", newline="") as f:
            w = csv.writer(f, delimiter=delim, lineterminator="\n")
            w.writerow(header)
            for i in keep:
                w.writerow(data[i])

    columns = []
    names = []
    for t in targets:
        # A model without a target field has JPMML's nameless default target, which
        # Openscoring names `_target`.
        name = t.getName()
        names.append((name if name not in (None, "None") else "_target", name if name != "None" else None, t.getDataType(), t.getOpType(), "target"))
    for o in outputs:
        names.append((o.getName(), o.getName(), o.getDataType(), o.getOpType(), "output"))
    # The nameless target's column is not labelled by a string.
    position = {(c if isinstance(c, str) else None): j for j, c in enumerate(results.columns)}
    out_header = (["Id"] if has_id else []) + [n for n, _, _, _, _ in names]
    with open(case_dir / "expected.csv", "w", newline="") as f:
        w = csv.writer(f, delimiter=delim, lineterminator="\n")
        w.writerow(out_header)
        for i in keep:
            line = [data[i][0]] if has_id else []
            for _, key, dt, _, _ in names:
                line.append(fmt(results.iloc[i, position[key]], dt))
            w.writerow(line)
    meta["rows"] = len(keep)
    meta["has_id"] = has_id
    meta["columns"] = [
        {"name": n, "field": k, "dataType": dt, "opType": ot,
         "compare": compare_mode(dt, ot) if dt else "exact"}
        for n, _, dt, ot, k in names
    ]
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{case_dir.name}: {len(keep)} rows, {len(dropped)} dropped", file=sys.stderr)


if __name__ == "__main__":
    for d in sys.argv[1:]:
        score(d)
