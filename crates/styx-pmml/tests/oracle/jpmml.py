"""Scores conformance cases with JPMML-Evaluator 1.7.7, the engine of Openscoring.

For each case folder given (model.pmml and input.csv, optionally a case.json with the
case's metadata), this writes expected.csv with Openscoring's CSV conventions and fills in
case.json's `columns` (how compare.py compares each result column) and `oracle`. Rows
JPMML cannot evaluate are removed from input.csv and listed under `dropped_examples`,
unless case.json says `expect_error`, in which case nothing is scored.

Usage: python jpmml.py CASE_DIR...   (needs the PyPI packages jpmml_evaluator==0.16.0,
pandas, numpy and a Java runtime; scripts/train-env makes such a Python)
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
    if isinstance(value, (list, tuple)):
        # A collection (a multi-valued output, an antecedent...): Java's List text, as
        # Openscoring's CSV writer gives it, with the elements written as single values.
        return "[" + ", ".join("null" if v is None else fmt(v, data_type) for v in value) + "]"
    if isinstance(value, (bool, numpy.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, numpy.integer)):
        return str(int(value))
    if isinstance(value, (float, numpy.floating)):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
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


def field_meta(field):
    """Name, data type and op type of a target or output field; None for a type the
    document leaves to the value (association rule outputs without dataType)."""
    def text(x):
        return None if x is None else str(x.value())
    return str(field.getName()), text(field.getDataType()), text(field.getOpType())


def java_fields(fields):
    return [field_meta(f) for f in fields]


def group_rows(frame, group):
    """The records of a transactional model (one with a group field), as JPMML's
    EvaluatorUtil.groupRows and Openscoring's CSV endpoint make them: the rows sharing the
    group column's value (a missing value too) in the order of their first rows, each
    other column the list of its non-missing cells. Returns the records and their rows."""
    order, members = [], {}
    for i in range(len(frame)):
        key = frame[group].iloc[i] if group in frame.columns else None
        if key not in members:
            members[key] = []
            order.append(key)
        members[key].append(i)
    records = []
    for key in order:
        rec = {}
        for c in frame.columns:
            if c == group:
                rec[c] = key
            else:
                rec[c] = [frame[c].iloc[i] for i in members[key] if frame[c].iloc[i] is not None]
        records.append(rec)
    return pandas.DataFrame(records, columns=list(frame.columns), dtype=object), [members[k] for k in order]


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
    java = evaluator.javaEvaluator
    targets = java_fields(java.getTargetFields())
    # Openscoring keeps final results only (OutputFilters.KEEP_FINAL_RESULTS).
    outputs = java_fields([f for f in java.getOutputFields() if f.isFinalResult()])
    groups = [[i] for i in range(len(data))]
    group_fields = java_fields(java.getGroupFields()) if hasattr(java, "getGroupFields") else []
    if len(group_fields) == 1:
        frame, groups = group_rows(frame, group_fields[0][0])
        meta["grouped_by"] = group_fields[0][0]
        meta["records"] = len(groups)
    results = evaluator.evaluateAll(frame.drop(columns=["Id"]) if has_id else frame)
    errors = results["errors"] if "errors" in results.columns else pandas.Series([None] * len(frame))

    ok = [g for g in range(len(groups)) if errors.iloc[g] is None or (isinstance(errors.iloc[g], float) and math.isnan(errors.iloc[g])) or errors.iloc[g] in ("None", "nan")]
    keep = sorted(i for g in ok for i in groups[g])
    dropped = [{"row": i + 1, "error": str(errors.iloc[g])} for g in range(len(groups)) if g not in set(ok) for i in groups[g]]
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
    for name, dt, ot in targets:
        # A model without a target field has JPMML's nameless default target, which
        # Openscoring names `_target`.
        names.append((name if name not in (None, "None") else "_target", name if name != "None" else None, dt, ot, "target"))
    for name, dt, ot in outputs:
        names.append((name, name, dt, ot, "output"))
    # The nameless target's column is not labelled by a string.
    position = {(c if isinstance(c, str) else None): j for j, c in enumerate(results.columns)}
    out_header = (["Id"] if has_id else []) + [n for n, _, _, _, _ in names]
    with open(case_dir / "expected.csv", "w", newline="") as f:
        w = csv.writer(f, delimiter=delim, lineterminator="\n")
        w.writerow(out_header)
        for g in ok:
            line = [data[groups[g][0]][0]] if has_id else []
            values = [results.iloc[g, position[key]] for _, key, _, _, _ in names]
            plain = not any(isinstance(v, list) for v in frame.iloc[g].values)
            if plain and any(isinstance(v, float) and math.isnan(v) for v in values):
                # A table column holds a missing result as NaN too: ask for the record
                # alone, whose results keep None (missing) apart from NaN (a result).
                record = {k: v for k, v in frame.iloc[g].items() if k != "Id"}
                single = evaluator.evaluate(record)
                values = [single.get(key) for _, key, _, _, _ in names]
            elif not plain:
                # A transaction cannot be evaluated alone through the bridge: take NaN as
                # missing (no association output is NaN).
                values = [None if isinstance(v, float) and math.isnan(v) else v for v in values]
            for (_, _, dt, _, _), v in zip(names, values):
                line.append(fmt(v, dt))
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
    failed = 0
    for d in sys.argv[1:]:
        try:
            score(d)
        except Exception as e:
            failed += 1
            print(f"{Path(d).name}: not scored: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
    sys.exit(1 if failed else 0)
