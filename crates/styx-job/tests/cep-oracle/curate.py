#!/usr/bin/env python3
"""Picks a small set of agreeing scenarios that together cover every feature, and writes them to cases/.

usage: curate.py CASES_DIR REPORT... --out OUT_DIR [--count 40] [--first 101]

CASES_DIR holds scenarios with expected/ (run.py's WORK/cases); the REPORT files (run.py's reports) name the
ones where styx differs, which are left out. A greedy set cover over the features (follows kinds,
quantifiers, options, within types, after_match kinds, keys, timing, condition errors, timed-out / late /
error outcomes) picks scenarios, smaller ones first among equals, until COUNT are picked. They are copied to
OUT_DIR/NNN-<name>/ (numbered from FIRST) with expected/, and OUT_DIR/index.tsv lists scenario, seed,
features, events, matches, timed_out, late and the description. Python 3 standard library only.
"""
import argparse
import json
import os
import re
import shutil
import sys


def lines(p):
    if not os.path.exists(p):
        return 0
    with open(p, encoding="utf-8") as f:
        return sum(1 for l in f if l.strip())


def walk(t, fn):
    if isinstance(t, dict):
        fn(t)
        for v in t.values():
            walk(v, fn)
    elif isinstance(t, list):
        for v in t:
            walk(v, fn)


def features(d):
    """The feature tags of one scenario folder."""
    with open(os.path.join(d, "spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    with open(os.path.join(d, "events.ndjson"), encoding="utf-8") as f:
        events = [json.loads(l) for l in f if l.strip()]
    exp = os.path.join(d, "expected")
    fs = set()
    if os.path.exists(os.path.join(exp, "error.txt")):
        fs.add("error")
        return fs
    st = spec["stages"]
    for i, s in enumerate(st):
        if s["follows"]:
            fs.add("follows:" + s["follows"])
            if s["follows"] in ("not_next", "not_followed_by"):
                fs.add(s["follows"] + ("_at_end" if i == len(st) - 1 else "_middle"))
        q = s["quant"]
        if q["kind"] != "one":
            fs.add("quant:" + q["kind"] + (":from0" if q.get("from") == 0 else ""))
        for k in ("optional", "greedy", "until", "or"):
            if s.get(k):
                fs.add(k)
        if s.get("inner"):
            fs.add("inner:" + s["inner"])

        def iterative(t):
            if "ref" in t or "size" in t:
                fs.add("iterative")
                if t.get("idx") == "last":
                    fs.add("iterative:last")

        walk(s, iterative)
    if spec["within_ms"] is not None:
        fs.add("within:" + spec["within_type"])
    am = spec["after_match"]
    fs.add("skip:" + am["kind"])
    kf = spec["key_field"]
    if kf is None:
        fs.add("unkeyed")
    else:
        fs.add("int_keys" if isinstance(events[0].get(kf), int) else "string_keys")
    tsf = spec["ts_field"]
    ts = [e[tsf] for e in events]
    if len(set(ts)) < len(ts):
        fs.add("equal_timestamps")
    if any(b < a for a, b in zip(ts, ts[1:])):
        fs.add("out_of_order")
    if any("value" not in e for e in events) or any("temp" not in e for e in events):
        fs.add("missing_fields")
    if any(isinstance(e.get("value"), str) for e in events):
        fs.add("type_errors")
    if any(isinstance(e.get("value"), float) for e in events) or any(isinstance(e.get("temp"), int) for e in events):
        fs.add("mixed_int_double")
    if lines(os.path.join(exp, "timed_out.ndjson")):
        fs.add("timed_out")
    if lines(os.path.join(exp, "late.ndjson")):
        fs.add("late")
    if lines(os.path.join(exp, "matches.ndjson")):
        fs.add("matches")
    return fs


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases")
    ap.add_argument("reports", nargs="*")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--first", type=int, default=101)
    a = ap.parse_args(argv)
    bad = set()
    for r in a.reports:
        with open(r, encoding="utf-8") as f:
            bad |= set(re.findall(r"FAIL P=\d ([0-9]+-[a-z0-9-]+)", f.read()))
    cand = {}
    for n in sorted(os.listdir(a.cases)):
        d = os.path.join(a.cases, n)
        if n in bad or not os.path.isdir(os.path.join(d, "expected")) or os.path.exists(os.path.join(d, "oracle-failure.txt")):
            continue
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fl in os.walk(d) for f in fl)
        if size > 150_000:
            continue
        fs = features(d)
        if "error" not in fs and not {"matches", "timed_out"} & fs:
            continue                   # nothing came out: a weak test
        cand[n] = (fs, size)
    picked, covered = [], set()
    errors = 0
    while len(picked) < a.count and cand:
        def gain(n):
            fs, size = cand[n]
            new = len(fs - covered)
            # rarer outcomes count more; keep error cases to a few
            bonus = 2 * len({"timed_out", "late", "matches"} & fs - covered)
            if "error" in fs and errors >= 4:
                return (-1, 0)
            return (new + bonus + (0.5 if "matches" in fs else 0), -size)
        best = max(cand, key=gain)
        if gain(best)[0] <= 0.5:
            covered = set()            # everything covered once: start a second round
            best = max(cand, key=gain)
        fs, _ = cand.pop(best)
        errors += "error" in fs
        covered |= fs
        picked.append(best)
    os.makedirs(a.out, exist_ok=True)
    rows = ["scenario\tseed\tfeatures\tevents\tmatches\ttimed_out\tlate\tdescription"]
    for i, n in enumerate(sorted(picked)):
        src = os.path.join(a.cases, n)
        seed = int(n.split("-")[0])
        name = f"{a.first + i:03d}-{n.split('-', 1)[1]}"
        dest = os.path.join(a.out, name)
        with open(os.path.join(src, "job.toml"), encoding="utf-8") as f:
            desc = f.readline().strip("# \n")
        subprocess_adopt(src, dest, desc)
        exp = os.path.join(dest, "expected")
        rows.append("\t".join([name, str(seed), ",".join(sorted(features(dest))),
                               str(lines(os.path.join(dest, "events.ndjson"))),
                               str(lines(os.path.join(exp, "matches.ndjson"))),
                               str(lines(os.path.join(exp, "timed_out.ndjson"))),
                               str(lines(os.path.join(exp, "late.ndjson"))), desc]))
    with open(os.path.join(a.out, "index.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    allf = set().union(*(features(os.path.join(a.cases, n)) for n in picked))
    print(f"{len(picked)} scenarios, {len(allf)} features: {' '.join(sorted(allf))}")
    return 0


def subprocess_adopt(src, dest, desc):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import adopt
    adopt.main([src, dest, desc])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
