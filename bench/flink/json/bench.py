#!/usr/bin/env python3
"""Helpers of bench/flink/run-json.sh.

  bench.py gen N CASE_DIR DIR   writes DIR/events.ndjson (N events: 1000 keys, ts about 1 ms apart
                                with up to 800 ms disorder, a value, a user and a tag) and
                                DIR/score.ndjson (N events: the rows of CASE_DIR/input.csv in turn,
                                with a key and a ts added; an empty cell is null); seed 42
  bench.py check DIR [MODE...]  compares Styx's output of each mode in DIR (default: all four
                                modes), styx-MODE.ndjson, with each of Flink's, flink-KIND-MODE (a
                                folder per record kind, typed or json): window results, the
                                filter+map outputs (key, ts, double), the score results of every record
  bench.py table RUNS.jsonl     prints the medians per mode and engine (Flink: per record kind),
                                with Styx's events/s over each
"""
import csv
import glob
import json
import os
import random
import re
import statistics
import sys

START = 1_700_000_000_000


def gen(n, case_dir, out):
    r = random.Random(42)
    with open(os.path.join(out, "events.ndjson.tmp"), "w") as f:
        buf = []
        for i in range(n):
            buf.append('{"key":"k%d","ts":%d,"value":%.2f,"user":"u%d","tag":"t%d"}\n' % (
                r.randrange(1000), START + i - r.randrange(801), r.random() * 100,
                r.randrange(10000), r.randrange(10)))
            if len(buf) == 100_000:
                f.write("".join(buf)); buf = []
        f.write("".join(buf))
    number = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
    with open(os.path.join(case_dir, "input.csv"), newline="") as f:
        text = f.read()
    rows = list(csv.reader(text.splitlines(), delimiter=";" if text.count(";") > text.count(",") else ","))
    header, rows = rows[0], rows[1:]
    # each row's fields as JSON once: numbers as the CSV spells them, other text quoted, empty null
    cells = [",".join("%s:%s" % (json.dumps(h), "null" if v == "" else v if number.match(v) else json.dumps(v))
                      for h, v in zip(header, row)) for row in rows]
    with open(os.path.join(out, "score.ndjson.tmp"), "w") as f:
        for i in range(n):
            f.write('{"key":"k%d","ts":%d,%s}\n' % (i % 1000, START + i, cells[i % len(cells)]))
    for name in ("events", "score"):
        os.replace(os.path.join(out, name + ".ndjson.tmp"), os.path.join(out, name + ".ndjson"))


def lines(path):
    """The JSON objects of a file, or of every file in a folder (Flink's part files)."""
    files = sorted(glob.glob(os.path.join(path, "**", "*"), recursive=True)) if os.path.isdir(path) else [path]
    for p in files:
        if os.path.isfile(p) and not os.path.basename(p).startswith("."):
            with open(p) as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-300)
    return a == b


def check_windows(d, mode, flink):
    """Same windows, each with the same start and count and totals within 1e-6 of each other."""
    s = {(o["key"], o["window_end"]): (o["window_start"], o["n"], o["total"]) for o in lines(f"{d}/styx-{mode}.ndjson")}
    f = {(o["key"], o["window_end"]): (o["window_start"], o["n"], o["total"]) for o in lines(f"{d}/{flink}-{mode}")}
    bad = [k for k in s.keys() | f.keys()
           if k not in s or k not in f or s[k][:2] != f[k][:2] or not close(s[k][2], f[k][2])]
    print(f"{mode}: styx {len(s)} windows, {flink} {len(f)} windows, {len(bad)} differ"
          + (f", e.g. {bad[0]}: styx {s.get(bad[0])} {flink} {f.get(bad[0])}" if bad else ""))
    return not bad and len(s) > 0


def check_filtermap(d, mode, flink):
    """The same outputs, compared by (key, ts, double)."""
    s = sorted((o["key"], o["ts"], o["double"]) for o in lines(f"{d}/styx-{mode}.ndjson"))
    f = sorted((o["key"], o["ts"], o["double"]) for o in lines(f"{d}/{flink}-{mode}"))
    same = len(s) == len(f) and all(a[:2] == b[:2] and close(a[2], b[2]) for a, b in zip(s, f))
    print(f"{mode}: styx {len(s)} outputs, {flink} {len(f)} outputs, (key, ts, double) {'the same' if same else 'DIFFER'}")
    return same and len(s) > 0


def check_score(d, mode, flink):
    """Every record (by its ts) with the same fields; shows the results of the first three."""
    s = {o["ts"]: o for o in lines(f"{d}/styx-{mode}.ndjson")}
    f = {o["ts"]: o for o in lines(f"{d}/{flink}-{mode}")}
    fields = sorted(set().union(*(o.keys() for o in f.values())))
    bad = [t for t in s.keys() | f.keys()
           if t not in s or t not in f or not all(close(s[t].get(k), f[t].get(k)) for k in fields)]
    print(f"{mode}: styx {len(s)} records, {flink} {len(f)} records, {len(bad)} differ")
    with open(f"{d}/score.ndjson") as first:
        results = [k for k in fields if k not in json.loads(first.readline())]
    for t in sorted(f)[:3] + bad[:3]:
        for e, out in (("styx", s), (flink, f)):
            print(f"  ts {t} {e:11} " + json.dumps({k: out.get(t, {}).get(k) for k in results}))
    return not bad and len(s) > 0


CHECKS = {"tumbling": check_windows, "sliding": check_windows, "filtermap": check_filtermap, "score": check_score}


def check(d, modes):
    ok = True
    for m in modes:
        # Flink's outputs, a folder per record kind: flink-typed-MODE, flink-json-MODE
        kinds = sorted((os.path.basename(p)[:-len(m) - 1] for p in glob.glob(f"{d}/flink-*-{m}") if os.path.isdir(p)),
                       key=lambda k: (k != "flink-typed", k))
        if not kinds:
            print(f"{m}: no output of Flink (flink-KIND-{m})")
            ok = False
        for flink in kinds:
            ok = CHECKS[m](d, m, flink) and ok
    print("same results" if ok else "RESULTS DIFFER")
    return ok


def table(path):
    """A row per mode and engine, Flink's per record kind (flink-typed, flink-json); "styx x" is
    Styx's events/s over that row's."""
    runs = [json.loads(line) for line in open(path) if line.startswith("{")]
    empty = [f"{r['engine']} {r['mode']}" for r in runs if not r["result"].get("events")]
    if empty:
        sys.exit("runs that read no events (is the input empty?): " + ", ".join(empty))
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    label = lambda r: r["engine"] + ("-" + r["records"] if "records" in r else "")
    print(f"{'mode':10} {'engine':12} {'events/s':>12} {'styx x':>7} {'cpu s':>8} {'MB':>6} {'runs':>4}")
    for mode in dict.fromkeys(r["mode"] for r in runs):
        of_mode = [r for r in runs if r["mode"] == mode]
        rate = lambda e: med([r["result"]["events_per_s"] for r in of_mode if label(r) == e])
        for e in sorted(dict.fromkeys(map(label, of_mode)), key=lambda e: (e != "styx", e != "flink-typed", e)):
            m = [r for r in of_mode if label(r) == e]
            print(f"{mode:10} {e:12} {rate(e):12,.0f} {rate('styx') / rate(e):7.2f}"
                  f" {med([r['cpu_s'] for r in m]):8.2f} {med([r['max_rss_kb'] / 1024 for r in m]):6.0f} {len(m):4}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif cmd == "check":
        sys.exit(0 if check(sys.argv[2], sys.argv[3:] or list(CHECKS)) else 1)
    elif cmd == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
