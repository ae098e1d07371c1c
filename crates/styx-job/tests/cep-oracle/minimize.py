#!/usr/bin/env python3
"""Shrinks a scenario where styx and flink-cep 2.3 disagree to a small one that still disagrees.

usage: minimize.py SCENARIO_DIR OUT_DIR [--parallelism P] [--styx /tmp/styx-cep] [--flink-lib DIR]
                   [--classes DIR] [--name NAME]

It keeps one FlinkCepOracle JVM (--serve) and, greedily until nothing more can go: drops chunks of events
(halves down to single ones), drops stages, simplifies stages (no or/until/optional/greedy/inner, a plain
quantifier, the first conjunct of a condition), drops within and the after-match strategy, merges the keys,
and drops event fields nobody reads. A candidate is kept when Flink's outputs (or its refusal) and styx's
still differ. OUT_DIR gets the smallest scenario with job.toml, spec.json, events.ndjson and expected/.
Python 3 standard library only.
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_cases  # noqa: E402
import run  # noqa: E402

NEGATED = ("not_next", "not_followed_by")


def to_cel(t):
    """The CEL text of a spec.json condition tree."""
    if "lit" in t:
        return make_cases.lit(t["lit"])[1]
    if "var" in t:
        return t["var"]
    if "size" in t:
        return make_cases.size(t["size"])[1]
    if "ref" in t:
        return make_cases.ref(t["ref"], t["idx"], t["field"])[1]
    return make_cases.op(t["op"], *[(a, to_cel(a)) for a in t["args"]])[1]


def to_sc(spec):
    """The generator's scenario dict for a spec (what make_cases.write_scenario writes)."""
    sc = copy.deepcopy(spec)
    sc["keys"] = [0]
    for st in sc["stages"]:
        st["cond_text"] = to_cel(st["cond"])
        if st.get("or"):
            st["or_text"] = [to_cel(c) for c in st["or"]]
        if st.get("until"):
            st["until_text"] = to_cel(st["until"])
    return sc


def collect(t, keys, out):
    """Adds to out the values under any of keys in the syntax tree t (dicts and lists)."""
    if isinstance(t, dict):
        out.update(t[k] for k in keys if k in t)
        for v in t.values():
            collect(v, keys, out)
    elif isinstance(t, list):
        for v in t:
            collect(v, keys, out)
    return out


def refs_of(t, out):
    """The stages a condition tree refers to (match.S)."""
    return collect(t, ("ref", "size"), out)


def fields_of(t, out):
    """The event fields a condition tree reads."""
    return collect(t, ("var", "field"), out)


class Checker:
    """Runs a candidate through Flink (a served JVM) and styx; says whether they still disagree."""

    def __init__(self, a, description):
        self.a = a
        self.description = description
        run.compile_oracle(a.classes, a.flink_lib)
        self.jvm = subprocess.Popen(run.java_cmd(a.classes, a.flink_lib) + ["--serve"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.tmp = tempfile.mkdtemp(prefix="cep-min-")
        self.n = 0

    def write(self, d, spec, events):
        sc = to_sc(spec)
        if spec["key_field"] is not None and events:
            sc["keys"] = [events[0].get(spec["key_field"])]
        make_cases.write_scenario(d, spec["name"], sc, events, None, description=self.description)

    def disagree(self, spec, events):
        self.n += 1
        d = os.path.join(self.tmp, f"c{self.n}")
        self.write(d, spec, events)
        self.jvm.stdin.write(d + "\n")
        self.jvm.stdin.flush()
        answer = self.jvm.stdout.readline().strip()
        try:
            if not answer.startswith("done"):
                return False                     # the oracle failed (e.g. blew up): not a usable candidate
            work = os.path.join(self.tmp, f"w{self.n}")
            shutil.copytree(d, work, ignore=shutil.ignore_patterns("expected", "spec.json"))
            p = subprocess.run([self.a.styx, "run", "--parallelism", str(self.a.parallelism), "job.toml"],
                               cwd=work, capture_output=True, text=True, timeout=120)
            flink_refuses = os.path.exists(os.path.join(d, "expected", "error.txt"))
            if flink_refuses or p.returncode != 0:
                return flink_refuses != (p.returncode != 0)
            c = subprocess.run([sys.executable, run.COMPARE, d, os.path.join(work, "out")],
                               capture_output=True, text=True)
            return c.returncode != 0
        except subprocess.TimeoutExpired:
            return False
        finally:
            shutil.rmtree(os.path.join(self.tmp, f"w{self.n}"), ignore_errors=True)

    def close(self):
        self.jvm.stdin.close()
        self.jvm.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def stage_variants(spec):
    """Smaller patterns: a stage dropped, or one stage made simpler."""
    stages = spec["stages"]
    used = set()
    for st in stages:
        for k in ("cond", "or", "until"):
            refs_of(st.get(k), used)
    am = spec["after_match"]
    for i, st in enumerate(stages):
        if st["name"] in used or am.get("stage") == st["name"] or len(stages) <= 1:
            continue
        s = copy.deepcopy(spec)
        del s["stages"][i]
        if i == 0:
            if s["stages"][0]["follows"] in NEGATED:
                continue
            s["stages"][0]["follows"] = None
        yield s
    for i, st in enumerate(stages):
        for k in ("or", "until", "optional", "greedy", "inner"):
            if k in st:
                s = copy.deepcopy(spec)
                del s["stages"][i][k]
                yield s
        if st["quant"]["kind"] != "one":
            s = copy.deepcopy(spec)
            s["stages"][i]["quant"] = {"kind": "one"}
            for k in ("until", "greedy", "inner"):
                s["stages"][i].pop(k, None)
            yield s
        if st["quant"]["kind"] in ("times_or_more", "range", "times"):
            s = copy.deepcopy(spec)
            s["stages"][i]["quant"] = {"kind": "one_or_more"}
            yield s
        if i > 0 and st["follows"] not in ("followed_by",) + NEGATED:
            s = copy.deepcopy(spec)
            s["stages"][i]["follows"] = "followed_by"
            yield s
        c = st["cond"]
        if c.get("op") in ("&&", "||"):
            for arg in c["args"]:
                s = copy.deepcopy(spec)
                s["stages"][i]["cond"] = copy.deepcopy(arg)
                yield s
    if spec["within_ms"] is not None:
        s = copy.deepcopy(spec)
        s["within_ms"] = None
        yield s
        if spec["within_type"] != "first_and_last":
            s = copy.deepcopy(spec)
            s["within_type"] = "first_and_last"
            yield s
    if am["kind"] != "no_skip":
        s = copy.deepcopy(spec)
        s["after_match"] = {"kind": "no_skip"}
        yield s
    if spec["out_of_orderness_ms"]:
        s = copy.deepcopy(spec)
        s["out_of_orderness_ms"] = 0
        yield s


def shrink_events(chk, spec, events):
    """ddmin-style: drops chunks of events, from halves down to single events."""
    n = 2
    while len(events) >= 2:
        chunk = max(1, len(events) // n)
        removed = False
        for start in range(0, len(events), chunk):
            cand = events[:start] + events[start + chunk:]
            if cand and chk.disagree(spec, cand):
                events = cand
                removed = True
                break
        if removed:
            n = max(2, n - 1)
            continue
        if chunk == 1:
            break
        n = min(len(events), n * 2)
    return events


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario")
    ap.add_argument("out")
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--styx", default="/tmp/styx-cep")
    ap.add_argument("--flink-lib", default=run.DEFAULT_LIB)
    ap.add_argument("--classes", default="/tmp/cep-oracle-classes")
    ap.add_argument("--name", default=None)
    ap.add_argument("--description", default=None)
    a = ap.parse_args(argv)
    with open(os.path.join(a.scenario, "spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    with open(os.path.join(a.scenario, "events.ndjson"), encoding="utf-8") as f:
        events = [json.loads(l) for l in f if l.strip()]
    name = a.name or os.path.basename(os.path.normpath(a.out))
    spec["name"] = name
    chk = Checker(a, a.description or f"minimised from {os.path.basename(os.path.normpath(a.scenario))}")
    try:
        if not chk.disagree(spec, events):
            print("the scenario does not disagree (any more)", file=sys.stderr)
            return 1
        while True:
            before = (json.dumps(spec), len(events))
            events = shrink_events(chk, spec, events)
            changed = True
            while changed:
                changed = False
                for s in stage_variants(spec):
                    if chk.disagree(s, events):
                        spec, changed = s, True
                        break
            # merge keys, drop fields nobody reads
            kf = spec["key_field"]
            if kf is not None and len({json.dumps(e.get(kf)) for e in events}) > 1:
                k0 = events[0].get(kf)
                cand = [{**e, kf: k0} for e in events]
                if chk.disagree(spec, cand):
                    events = cand
            read = set()
            for st in spec["stages"]:
                for k in ("cond", "or", "until"):
                    fields_of(st.get(k), read)
            for fld in sorted({k for e in events for k in e} - read - {spec["ts_field"], kf}):
                cand = [{k: v for k, v in e.items() if k != fld} for e in events]
                if chk.disagree(spec, cand):
                    events = cand
            if (json.dumps(spec), len(events)) == before:
                break
        if os.path.exists(a.out):
            shutil.rmtree(a.out)
        chk.write(a.out, spec, events)
        chk.jvm.stdin.write(a.out + "\n")
        chk.jvm.stdin.flush()
        chk.jvm.stdout.readline()
        print(f"{a.out}: {len(spec['stages'])} stages, {len(events)} events ({chk.n} checks)")
    finally:
        chk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
