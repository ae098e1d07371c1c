#!/usr/bin/env python3
"""Helpers of bench/flink/run-json.sh.

  bench.py gen N CASE_DIR DIR   writes DIR/events.ndjson (N events: 1000 keys, ts about 1 ms apart
                                with up to 800 ms disorder, a value, a user and a tag) and
                                DIR/score.ndjson (N events: the rows of CASE_DIR/input.csv in turn,
                                with a key and a ts added; an empty cell is null); seed 42
  bench.py check DIR [MODE...]  compares the outputs of both engines in DIR (default: all four
                                modes): window results, the filter+map outputs (key, ts, double),
                                the score results of every record
  bench.py table RUNS.jsonl     prints the medians per mode and engine
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


def check_windows(d, mode):
    """Same windows, each with the same start and count and totals within 1e-6 of each other."""
    s = {(o["key"], o["window_end"]): (o["window_start"], o["n"], o["total"]) for o in lines(f"{d}/styx-{mode}.ndjson")}
    f = {(o["key"], o["window_end"]): (o["window_start"], o["n"], o["total"]) for o in lines(f"{d}/flink-{mode}")}
    bad = [k for k in s.keys() | f.keys()
           if k not in s or k not in f or s[k][:2] != f[k][:2] or not close(s[k][2], f[k][2])]
    print(f"{mode}: styx {len(s)} windows, flink {len(f)} windows, {len(bad)} differ"
          + (f", e.g. {bad[0]}: styx {s.get(bad[0])} flink {f.get(bad[0])}" if bad else ""))
    return not bad and len(s) > 0


def check_filtermap(d, mode):
    """The same outputs, compared by (key, ts, double)."""
    s = sorted((o["key"], o["ts"], o["double"]) for o in lines(f"{d}/styx-{mode}.ndjson"))
    f = sorted((o["key"], o["ts"], o["double"]) for o in lines(f"{d}/flink-{mode}"))
    same = len(s) == len(f) and all(a[:2] == b[:2] and close(a[2], b[2]) for a, b in zip(s, f))
    print(f"{mode}: styx {len(s)} outputs, flink {len(f)} outputs, (key, ts, double) {'the same' if same else 'DIFFER'}")
    return same and len(s) > 0


def check_score(d, mode):
    """Every record (by its ts) with the same fields; shows the results of the first three."""
    s = {o["ts"]: o for o in lines(f"{d}/styx-{mode}.ndjson")}
    f = {o["ts"]: o for o in lines(f"{d}/flink-{mode}")}
    fields = sorted(set().union(*(o.keys() for o in f.values())))
    bad = [t for t in s.keys() | f.keys()
           if t not in s or t not in f or not all(close(s[t].get(k), f[t].get(k)) for k in fields)]
    print(f"{mode}: styx {len(s)} records, flink {len(f)} records, {len(bad)} differ")
    with open(f"{d}/score.ndjson") as first:
        results = [k for k in fields if k not in json.loads(first.readline())]
    for t in sorted(f)[:3] + bad[:3]:
        for e, out in (("styx", s), ("flink", f)):
            print(f"  ts {t} {e:5} " + json.dumps({k: out.get(t, {}).get(k) for k in results}))
    return not bad and len(s) > 0


CHECKS = {"tumbling": check_windows, "sliding": check_windows, "filtermap": check_filtermap, "score": check_score}


def check(d, modes):
    ok = all([CHECKS[m](d, m) for m in modes])
    print("same results" if ok else "RESULTS DIFFER")
    return ok


def table(path):
    runs = [json.loads(line) for line in open(path) if line.startswith("{")]
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    print(f"{'mode':10} {'styx ev/s':>12} {'flink ev/s':>12} {'ratio':>6} {'styx cpu s':>10} {'flink cpu s':>11}"
          f" {'styx MB':>8} {'flink MB':>8}")
    for mode in dict.fromkeys(r["mode"] for r in runs):
        m = {e: [r for r in runs if r["mode"] == mode and r["engine"] == e] for e in ("styx", "flink")}
        rate = {e: med([r["result"]["events_per_s"] for r in m[e]]) for e in m}
        cpu = {e: med([r["cpu_s"] for r in m[e]]) for e in m}
        rss = {e: med([r["max_rss_kb"] / 1024 for r in m[e]]) for e in m}
        print(f"{mode:10} {rate['styx']:12,.0f} {rate['flink']:12,.0f} {rate['styx'] / rate['flink']:6.2f}"
              f" {cpu['styx']:10.2f} {cpu['flink']:11.2f} {rss['styx']:8.0f} {rss['flink']:8.0f}")


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
