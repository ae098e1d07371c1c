"""Drives `styx serve` with Openscoring's own Python client.

Usage: client.py BASE_URL CASE_DIR...

Each case folder holds `model.pmml`, `input.csv` and `expected.csv` (JPMML-Evaluator's
results). For each: deploy the document, evaluate the CSV file, the first rows one by one
and as a batch, compare every value with the expected ones, then undeploy. Exits non-zero
with the differences when anything disagrees.
"""

import csv
import io
import json
import math
import os
import sys
import tempfile

from openscoring import Openscoring


def same(expected, got):
    """A cell of expected.csv against a value the server gave."""
    if expected == "":
        return got is None or got == ""
    if isinstance(got, bool):
        return expected.lower() == str(got).lower()
    try:
        e = float(expected)
    except ValueError:
        return str(got) == expected
    try:
        g = float(got)
    except (TypeError, ValueError):
        return False
    if math.isnan(e) or math.isnan(g):
        return math.isnan(e) and math.isnan(g)
    return e == g or abs(e - g) <= 1e-9 * max(abs(e), abs(g))


def read_table(text):
    head = text.splitlines()[0] if text else ""
    delimiter = max([",", ";", "\t"], key=head.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return rows[0], rows[1:]


def check_error_case(client, case, model_id, error, problems):
    """A case JPMML refuses: the document (400 on deploy), or a row (400 on the CSV,
    naming the row and the field)."""
    if error["stage"] == "model":
        try:
            client.deployFile(model_id, os.path.join(case, "model.pmml"))
            problems.append(f"{case}: a document JPMML refuses was deployed")
        except Exception:
            pass
        return
    client.deployFile(model_id, os.path.join(case, "model.pmml"))
    try:
        client.evaluateCsvFile(model_id, os.path.join(case, "input.csv"), os.devnull)
        problems.append(f"{case}: a row JPMML refuses was scored")
    except Exception as e:
        text = str(e)
        if str(error.get("row")) not in text or error.get("field", "") not in text:
            problems.append(f"{case}: the failure names no row and field: {text}")
    client.undeploy(model_id)


def transactions(header, rows, group):
    """The records of a transactional model: the rows sharing the group column's value, in
    the order of their first rows, each other column the list of its non-empty cells (as
    Openscoring's CSV endpoint groups them)."""
    g = header.index(group)
    order, members = [], {}
    for row in rows:
        key = row[g]
        if key not in members:
            members[key] = []
            order.append(key)
        members[key].append(row)
    return [
        {name: (key if i == g else [r[i] for r in members[key] if r[i] != ""]) or None
         for i, name in enumerate(header)}
        for key in order
    ]


def check_case(client, case, problems):
    model_id = os.path.basename(case.rstrip("/")).replace("-", "_")
    with open(os.path.join(case, "case.json"), encoding="utf-8") as f:
        meta = json.load(f)
    error = meta.get("expect_error")
    group = meta.get("grouped_by")
    if isinstance(error, dict):
        return check_error_case(client, case, model_id, error, problems)
    response = client.deployFile(model_id, os.path.join(case, "model.pmml"))
    if response.id != model_id:
        problems.append(f"{case}: deployed as {response.id}")
    with open(os.path.join(case, "expected.csv"), encoding="utf-8") as f:
        exp_header, exp_rows = read_table(f.read())
    with open(os.path.join(case, "input.csv"), encoding="utf-8") as f:
        in_header, in_rows = read_table(f.read())

    # The whole file, as Openscoring's CSV endpoint.
    with tempfile.NamedTemporaryFile("r", suffix=".csv", delete=False) as out:
        out_path = out.name
    client.evaluateCsvFile(model_id, os.path.join(case, "input.csv"), out_path)
    with open(out_path, encoding="utf-8") as f:
        got_header, got_rows = read_table(f.read())
    os.unlink(out_path)
    if got_header != exp_header:
        problems.append(f"{case}: CSV header {got_header} != {exp_header}")
    elif len(got_rows) != len(exp_rows):
        problems.append(f"{case}: {len(got_rows)} CSV rows, {len(exp_rows)} expected")
    else:
        for r, (g, e) in enumerate(zip(got_rows, exp_rows), 1):
            for name, ev, gv in zip(exp_header, e, g):
                if not same(ev, gv if gv != "" else None):
                    problems.append(f"{case}: CSV row {r} {name}: {gv!r} != {ev!r}")
                    break

    # The first records one by one, and as a batch.
    if group:
        records = transactions(in_header, in_rows, group)[:5]
    else:
        records = [
            {name: (value if value != "" else None) for name, value in zip(in_header, row)}
            for row in in_rows[:5]
        ]
    first = records
    batch = client.evaluateBatch(model_id, records)
    for r, (record, expected) in enumerate(zip(records, exp_rows[: len(first)]), 1):
        single = client.evaluate(model_id, record)
        for results, how in ((single, "single"), (batch[r - 1], "batch")):
            for name, ev in zip(exp_header, expected):
                if name.lower() == "id":
                    continue
                if not same(ev, results.get(name)):
                    problems.append(f"{case}: {how} row {r} {name}: {results.get(name)!r} != {ev!r}")
    client.undeploy(model_id)
    try:
        client.evaluate(model_id, records[0] if records else {})
        problems.append(f"{case}: an undeployed model still scores")
    except Exception as e:  # the client raises with the server's message
        if "Not Found" not in str(e):
            problems.append(f"{case}: after undeploy: {e}")


def main():
    base_url, cases = sys.argv[1], sys.argv[2:]
    client = Openscoring(base_url)
    problems = []
    for case in cases:
        try:
            check_case(client, case, problems)
        except Exception as e:
            problems.append(f"{case}: {type(e).__name__}: {e}")
    for p in problems[:40]:
        print(p)
    print(f"{len(cases)} cases, {len(problems)} problems")
    sys.exit(1 if problems or not cases else 0)


if __name__ == "__main__":
    main()
