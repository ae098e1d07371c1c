#!/usr/bin/env python3
"""Generates random pattern (CEP) scenarios in the layout of fixtures/cep, deterministically by seed.

usage: make_cases.py OUT_DIR --seeds FROM TO [--avoid-cel-divergences]

Each seed gives one scenario folder OUT_DIR/<seed>-random-<n>-stages/ with
  job.toml       the job in the contract format (CEL conditions); line 1 describes the pattern
  spec.json      the same job with conditions as syntax trees (what FlinkCepOracle.java reads)
  events.ndjson  the input in arrival order
The expected/ outputs come from FlinkCepOracle.java (flink-cep 2.3), not from here.

The scenarios cover every `follows` kind (negations in the middle and at the end), every quantifier
(times N, times [a, b] from 0, times_or_more, one_or_more), optional, greedy, inner consecutive /
combinations, until, or, within with both within_between values, every after_match strategy, iterative
conditions on match.S (index, size, last element), no key / int keys / string keys, equal timestamps,
out-of-order arrival within the bound, late events, missing fields, strings where numbers are expected,
and ints mixed with doubles. About one scenario in eight breaks one of the rules Flink checks when the
pattern is built (it then writes expected/error.txt and the job must be refused).
With --avoid-cel-divergences the scenarios steer clear of int-with-double arithmetic, which CEL refuses
and styx's number rules allow on purpose (and of missing fields compared with == / !=, a difference found
and fixed): the fields value and flag are never missing, temp (which may be missing) is only ordered (<, >),
and conditions do no arithmetic. That lets differences in the pattern semantics show up instead.
Python 3 standard library only.
"""
import json
import os
import random
import sys

STAGE_NAMES = ["a", "b", "c", "d", "e", "f", "start", "mid", "end", "up", "down", "burst", "calm",
               "peak", "dip", "hit", "miss", "open", "close", "step"]
KINDS = ["a", "b", "c", "d", "e", "f"]
BASE_TS = 1_700_000_000_000


# ---------------------------------------------------------------------------------------------------------
# Conditions: each generator returns (syntax tree, CEL text)

def lit(v):
    """A literal as a tree and as CEL text (doubles always with a decimal point)."""
    if isinstance(v, str):
        return {"lit": v}, "'" + v + "'"
    if isinstance(v, bool):
        return {"lit": v}, "true" if v else "false"
    if isinstance(v, float):
        return {"lit": v}, repr(v)
    return {"lit": v}, str(v)


def var(f):
    return {"var": f}, f


def ref(stage, idx, field):
    if idx == "last":
        return ({"ref": stage, "idx": "last", "field": field},
                f"match.{stage}[size(match.{stage}) - 1].{field}")
    return {"ref": stage, "idx": idx, "field": field}, f"match.{stage}[{idx}].{field}"


def size(stage):
    return {"size": stage}, f"size(match.{stage})"


def op(o, *args):
    """A binary, n-ary (&&, ||) or unary (!) operation; compound operands are parenthesised."""
    trees = [a[0] for a in args]
    texts = []
    for t, s in args:
        simple = "op" not in t or (t["op"] in ("==", "!=", "<", "<=", ">", ">=") and o in ("&&", "||"))
        texts.append(s if simple else f"({s})")
    if o == "!":
        return {"op": "!", "args": trees}, "!" + texts[0]
    return {"op": o, "args": trees}, f" {o} ".join(texts)


AVOID_CEL = False   # --avoid-cel-divergences


class CondGen:
    """Random conditions over the event fields kind, value (mostly int), temp (mostly double) and flag."""

    def __init__(self, rnd, kinds):
        self.r = rnd
        self.kinds = kinds

    def number(self, field):
        r = self.r
        if field == "value":
            if r.random() < 0.2:
                return lit(r.randint(0, 100) + 0.5)      # int field against a double literal
            return lit(r.randint(0, 100))
        if r.random() < 0.2:
            return lit(r.randint(0, 40))                 # double field against an int literal
        return lit(round(r.uniform(0, 40), 1))

    def atom(self, refs):
        """One comparison; refs = stages whose events this condition may read through match.S."""
        r = self.r
        x = r.random()
        if x < 0.25:
            return op(r.choice(["==", "!="]), var("kind"), lit(r.choice(self.kinds)))
        if x < 0.55 or not refs:
            f = r.choice(["value", "value", "temp"])
            return op(r.choice(["<", "<=", ">", ">=", "==", "!="] if f == "value" else ["<", ">", ">=", "<="]),
                      var(f), self.number(f))
        if x < 0.62:
            return op("==", var("flag"), lit(r.choice([True, False])))
        s = r.choice(refs)
        if x < 0.72:
            return op(r.choice(["<", "<=", "==", ">", ">="][:3] if r.random() < 0.5 else ["<", ">"]),
                      size(s), lit(r.randint(0, 3)))
        f = r.choice(["value", "temp"])
        idx = r.choice([0, "last", "last", 1])
        other = ref(s, idx, f)
        y = r.random()
        if AVOID_CEL:
            return op(r.choice(["<", ">", ">=", "<="] + (["!="] if f == "value" else [])), var(f), other)
        if y < 0.6:
            lhs = var(f)
        elif y < 0.8:
            lhs = op("+", var(f), lit(r.randint(1, 20)) if f == "value" else lit(round(r.uniform(1, 9), 1)))
        elif y < 0.9:
            lhs = op("*", var(f), lit(2) if f == "value" else lit(1.5))
        else:
            lhs = op("*", var(f), lit(1.5) if f == "value" else lit(2))   # int with double arithmetic
        return op(r.choice(["<", ">", ">=", "<=", "!="]), lhs, other)

    def cond(self, kind, refs):
        """The condition of a stage: its kind test, mostly combined with one or two more atoms."""
        r = self.r
        base = op("==", var("kind"), lit(kind))
        x = r.random()
        if x < 0.45:
            return base
        if x < 0.8:
            return op("&&", base, self.atom(refs))
        if x < 0.85:
            return op("&&", base, self.atom(refs), self.atom(refs))
        if x < 0.93:
            return op("||", op("&&", base, self.atom(refs)), self.atom([]))
        return op("&&", base, op("!", self.atom(refs)))


# ---------------------------------------------------------------------------------------------------------
# Patterns

def gen_stages(r, nstages, has_within_hint):
    """Random stages that mostly respect Flink's rules (a few break them; see make_error)."""
    names = r.sample(STAGE_NAMES, nstages)
    kinds = KINDS[: r.choice([2, 3, 3, 4, 5])]
    cg = CondGen(r, kinds)
    stages = []
    for i, name in enumerate(names):
        st = {"name": name, "follows": None}
        if i > 0:
            st["follows"] = r.choices(["next", "followed_by", "followed_by_any", "not_next", "not_followed_by"],
                                      [3, 5, 2, 1.2, 1.5])[0]
        negated = st["follows"] in ("not_next", "not_followed_by")
        if negated and (i == 0 or stages[-1]["follows"] in ("not_next", "not_followed_by")) and r.random() < 0.8:
            st["follows"] = "followed_by"
            negated = False
        # quantifier
        q = {"kind": "one"}
        if not negated:
            x = r.random()
            if x < 0.15:
                q = {"kind": "times", "n": r.randint(2, 3)}
            elif x < 0.27:
                frm = r.choice([0, 1, 1, 2])
                q = {"kind": "range", "from": frm, "to": frm + r.randint(1 if frm else 1, 2)}
            elif x < 0.37:
                q = {"kind": "times_or_more", "n": r.randint(1, 3)}
            elif x < 0.55:
                q = {"kind": "one_or_more"}
        st["quant"] = q
        looping = q["kind"] in ("one_or_more", "times_or_more")
        quantified = q["kind"] != "one"
        refs = [s["name"] for s in stages if s["follows"] not in ("not_next", "not_followed_by")]
        if quantified:
            refs = refs + [name]
        if r.random() < 0.08 and stages:
            refs = refs + [stages[-1]["name"]]       # may be a negated stage (always empty)
        st["cond"], st["cond_text"] = cg.cond(r.choice(kinds), refs)
        if not negated and r.random() < 0.12:
            ors = []
            for _ in range(r.choice([1, 1, 2])):
                t, s = cg.cond(r.choice(kinds), refs)
                ors.append((t, s))
            st["or"] = [t for t, _ in ors]
            st["or_text"] = [s for _, s in ors]
        if not negated and i > 0 and r.random() < 0.18:
            st["optional"] = True
        if quantified and r.random() < 0.35:
            st["inner"] = r.choice(["consecutive", "combinations"])
        if quantified and r.random() < 0.2 and st.get("inner") != "combinations":
            st["greedy"] = True
        if looping and r.random() < 0.2:
            t, s = cg.cond(r.choice(kinds), [])
            st["until"], st["until_text"] = t, s
        stages.append(st)
    # Flink's rules that random choices may break: repair most of the time
    for i, st in enumerate(stages):
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        if nxt and nxt["follows"] in ("not_next", "not_followed_by") and st.get("optional") and r.random() < 0.9:
            del st["optional"]
        if nxt and st.get("greedy") and nxt.get("optional") and r.random() < 0.9:
            del nxt["optional"]
        if st.get("optional") and i == 0:
            del st["optional"]
    if stages[0].get("optional"):
        del stages[0]["optional"]
    return stages


def make_error(r, sc):
    """Breaks one rule Flink checks when it builds the pattern. Returns a short description."""
    stages = sc["stages"]
    choices = ["until_singleton", "greedy_singleton", "inner_singleton", "optional_before_neg",
               "quant_on_neg", "trailing_nfb_no_within", "duplicate", "skip_unknown", "times_zero",
               "range_reversed", "tom_zero", "greedy_combinations", "optional_after_greedy", "until_times",
               "optional_neg"]
    kind = r.choice(choices)
    last = [s for s in stages if s["follows"] not in ("not_next", "not_followed_by")][-1]
    one = [s for s in stages if s["quant"]["kind"] == "one" and s["follows"] not in ("not_next", "not_followed_by")]
    if kind in ("until_singleton", "greedy_singleton", "inner_singleton") and one:
        s = r.choice(one)
        if kind == "until_singleton":
            s["until"], s["until_text"] = op("==", var("kind"), lit("f"))
        elif kind == "greedy_singleton":
            s["greedy"] = True
        else:
            s["inner"] = r.choice(["consecutive", "combinations"])
        return kind
    if kind in ("optional_before_neg", "quant_on_neg", "optional_neg"):
        neg = {"name": "never", "follows": r.choice(["not_next", "not_followed_by"]), "quant": {"kind": "one"}}
        neg["cond"], neg["cond_text"] = op("==", var("kind"), lit("z"))
        pos = r.randint(1, len(stages) - 1) if len(stages) > 1 else 1
        stages.insert(pos, neg)
        if kind == "optional_before_neg":
            stages[pos - 1]["optional"] = True
            if pos - 1 == 0:
                stages[pos - 1]["optional"] = True
        elif kind == "quant_on_neg":
            neg["quant"] = r.choice([{"kind": "times", "n": 2}, {"kind": "one_or_more"}])
        else:
            neg["optional"] = True
        return kind
    if kind == "trailing_nfb_no_within":
        neg = {"name": "never", "follows": "not_followed_by", "quant": {"kind": "one"}}
        neg["cond"], neg["cond_text"] = op("==", var("kind"), lit("z"))
        stages.append(neg)
        sc["within_ms"] = None
        return kind
    if kind == "duplicate":
        dup = dict(stages[0])
        dup["follows"] = "followed_by"
        stages.append(dup)
        return kind
    if kind == "skip_unknown":
        sc["after_match"] = {"kind": r.choice(["skip_to_first", "skip_to_last"]), "stage": "nowhere"}
        return kind
    if kind == "times_zero":
        last["quant"] = {"kind": "times", "n": 0}
    elif kind == "range_reversed":
        last["quant"] = {"kind": "range", "from": 3, "to": 2}
    elif kind == "tom_zero":
        last["quant"] = {"kind": "times_or_more", "n": 0}
    elif kind == "greedy_combinations":
        last["quant"] = {"kind": "one_or_more"}
        last["inner"] = "combinations"
        last["greedy"] = True
    elif kind == "optional_after_greedy":
        s = stages[0]
        s["quant"] = {"kind": "one_or_more"}
        s["greedy"] = True
        s.pop("inner", None)
        if len(stages) > 1 and stages[1]["follows"] not in ("not_next", "not_followed_by"):
            stages[1]["optional"] = True
    elif kind == "until_times":
        last["quant"] = {"kind": "times", "n": 2}
        last["until"], last["until_text"] = op("==", var("kind"), lit("f"))
    for s in stages:
        if s["follows"] in ("not_next", "not_followed_by"):
            for k in ("optional", "greedy", "inner", "until"):
                s.pop(k, None)
            s["quant"] = {"kind": "one"}
    return kind


def fmt_duration(ms):
    if ms % 60000 == 0 and ms:
        return f"{ms // 60000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def quant_text(st):
    q = st["quant"]
    s = {"one": "", "times": f"{{{q.get('n')}}}", "range": f"{{{q.get('from')},{q.get('to')}}}",
         "times_or_more": f"{{{q.get('n')},}}", "one_or_more": "+"}[q["kind"]]
    if st.get("optional"):
        s += "?"
    flags = [f for f in ("greedy",) if st.get(f)] + ([st["inner"]] if st.get("inner") else []) \
        + (["until"] if st.get("until") else []) + (["or"] if st.get("or") else [])
    return s + (f"[{','.join(flags)}]" if flags else "")


def summary(sc):
    parts = []
    for i, st in enumerate(sc["stages"]):
        parts.append((st["follows"] + " " if i else "") + st["name"] + quant_text(st))
    s = " ".join(parts)
    if sc["within_ms"] is not None:
        s += f" within {fmt_duration(sc['within_ms'])}"
        if sc["within_type"] != "first_and_last":
            s += f" ({sc['within_type']})"
    am = sc["after_match"]
    if am["kind"] != "no_skip":
        s += "; " + am["kind"] + (f"({am['stage']})" if "stage" in am else "")
    return s


# ---------------------------------------------------------------------------------------------------------
# Events

def gen_events(r, sc, kinds, n):
    """n events over the scenario's keys; returns (events in arrival order, description)."""
    keys = sc["keys"]
    gap = sc["gap_ms"]
    ts = BASE_TS + r.randint(0, 10_000)
    evs = []
    for i in range(n):
        ts += r.choice([0, 0] + [r.randint(1, 2 * gap)] * 6)
        e = {}
        if sc["key_field"] is not None:
            e[sc["key_field"]] = r.choice(keys)
        e[sc["ts_field"]] = ts
        e["kind"] = r.choice(kinds)
        x = r.random() * (0.95 if AVOID_CEL else 1.0)
        if x < 0.84:
            e["value"] = r.randint(0, 100)
        elif x < 0.91:
            e["value"] = r.randint(0, 100) + 0.5
        elif x < 0.95:
            e["value"] = "n/a"
        # else: value missing
        y = r.random()
        if y < 0.85:
            e["temp"] = round(r.uniform(0, 40), 1)
        elif y < 0.95:
            e["temp"] = r.randint(0, 40)
        if r.random() < 0.7 or AVOID_CEL:
            e["flag"] = r.random() < 0.5
        evs.append(e)
    ooo = sc["out_of_orderness_ms"]
    tsf = sc["ts_field"]
    late = sc["late"]
    arrival = []
    for i, e in enumerate(evs):
        at = e[tsf] + (r.randint(0, ooo) if ooo else 0)
        if late and r.random() < 0.04:
            at += ooo + r.randint(1, 6) * gap      # arrives after the watermark has passed it (mostly)
        arrival.append((at, i, e))
    arrival.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in arrival]


def make(seed):
    """The scenario of one seed: (spec dict, CEL texts, events)."""
    r = random.Random(seed)
    nstages = r.choice([2, 2, 3, 3, 3, 4, 4, 5, 6])
    sc = {}
    sc["ts_field"] = r.choice(["ts", "ts", "t_ms"])
    x = r.random()
    if x < 0.15:
        sc["key_field"] = None
        sc["keys"] = [None]
    else:
        sc["key_field"] = r.choice(["user", "account", "device"])
        nk = r.randint(1, 5)
        if x < 0.55:
            sc["keys"] = r.sample([0, 1, 7, 42, -3, 1000, 12345], nk)
        else:
            sc["keys"] = r.sample(["u1", "u2", "u3", "acc-9", "X", "ü"], nk)
    sc["gap_ms"] = r.choice([1, 10, 100, 500, 1000])
    sc["out_of_orderness_ms"] = r.choice([0, 0, 0, sc["gap_ms"], 2 * sc["gap_ms"], 5 * sc["gap_ms"]])
    sc["late"] = r.random() < 0.35
    stages = gen_stages(r, nstages, True)
    sc["stages"] = stages
    sc["within_ms"] = None
    sc["within_type"] = "first_and_last"
    if r.random() < 0.6 or stages[-1]["follows"] == "not_followed_by":
        sc["within_ms"] = sc["gap_ms"] * r.choice([2, 3, 5, 8, 15, 30, 60])
        if r.random() < 0.3:
            sc["within_type"] = "previous_and_current"
    positive = [s["name"] for s in stages if s["follows"] not in ("not_next", "not_followed_by")]
    am = r.choices(["no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first", "skip_to_last"],
                   [4, 1.5, 2, 1.5, 1.5])[0]
    sc["after_match"] = {"kind": am}
    if am in ("skip_to_first", "skip_to_last"):
        sc["after_match"]["stage"] = r.choice(positive)
    err = None
    if r.random() < 0.12:
        err = make_error(r, sc)
    # Blow-up guard: patterns that enumerate many combinations get fewer events.
    wild = sum(1 for s in stages if s["follows"] == "followed_by_any" or s.get("inner") == "combinations"
               or s["quant"]["kind"] in ("one_or_more", "times_or_more"))
    nmax = 300 if wild == 0 else (120 if wild == 1 else 50)
    if sc["after_match"]["kind"] == "no_skip" and wild >= 2 and sc["within_ms"] is None:
        nmax = 30
    n = r.randint(10, nmax) if err is None else r.randint(4, 12)
    kinds = sorted({k for s in stages for k in KINDS if f"'{k}'" in s["cond_text"]} | set(KINDS[:3]))
    events = gen_events(r, sc, kinds + ["x"], n)
    return sc, events, err


# ---------------------------------------------------------------------------------------------------------
# Writing

def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def write_scenario(out_dir, name, sc, events, err, description=None):
    os.makedirs(out_dir, exist_ok=True)
    tid = "pattern"
    desc = description or ("random: " + summary(sc) + (f"; error case ({err})" if err else ""))
    keys = sc["keys"]
    keydesc = "unkeyed" if sc["key_field"] is None else \
        f"{len(keys)} {'int' if isinstance(keys[0], int) else 'string'} key(s)"
    if description is None:
        desc += f"; {keydesc}; {len(events)} events; out-of-orderness {fmt_duration(sc['out_of_orderness_ms'])}"
    L = [f"# {desc}", "[job]", f"name = {toml_str(name)}", "parallelism = 1", "",
         "[sources.events]", 'type = "file"', 'path = "events.ndjson"', 'format = "json"', "",
         "[sources.events.event_time]", f"field = {toml_str(sc['ts_field'])}",
         f"max_out_of_orderness = \"{fmt_duration(sc['out_of_orderness_ms'])}\"", 'watermarks = "per_event"', "",
         f"[transforms.{tid}]", 'type = "pattern"', 'inputs = ["events"]']
    if sc["key_field"] is not None:
        L.append(f"key = {toml_str(sc['key_field'])}")
    if sc["within_ms"] is not None:
        L.append(f"within = \"{fmt_duration(sc['within_ms'])}\"")
        L.append(f"within_between = \"{sc['within_type']}\"")
    am = sc["after_match"]
    if "stage" in am:
        L.append(f"after_match = {{ {am['kind']} = {toml_str(am['stage'])} }}")
    else:
        L.append(f"after_match = \"{am['kind']}\"")
    spec_stages = []
    for st in sc["stages"]:
        L += ["", f"[[transforms.{tid}.stages]]", f"name = {toml_str(st['name'])}"]
        if st["follows"]:
            L.append(f"follows = \"{st['follows']}\"")
        L.append(f"condition = {toml_str(st['cond_text'])}")
        q = st["quant"]
        if q["kind"] == "times":
            L.append(f"times = {q['n']}")
        elif q["kind"] == "range":
            L.append(f"times = [{q['from']}, {q['to']}]")
        elif q["kind"] == "times_or_more":
            L.append(f"times_or_more = {q['n']}")
        elif q["kind"] == "one_or_more":
            L.append("one_or_more = true")
        if st.get("optional"):
            L.append("optional = true")
        if st.get("greedy"):
            L.append("greedy = true")
        if st.get("inner"):
            L.append(f"inner = \"{st['inner']}\"")
        if st.get("until"):
            L.append(f"until = {toml_str(st['until_text'])}")
        if st.get("or"):
            L.append("or = [" + ", ".join(toml_str(t) for t in st["or_text"]) + "]")
        sp = {"name": st["name"], "follows": st["follows"], "cond": st["cond"], "quant": q}
        for k in ("optional", "greedy", "inner", "or", "until"):
            if st.get(k):
                sp[k] = st[k]
        spec_stages.append(sp)
    L += ["", "[sinks.matches]", 'type = "file"', f'inputs = ["{tid}"]', 'path = "out/matches.ndjson"', "",
          "[sinks.timed_out]", 'type = "file"', f'inputs = ["{tid}.timed_out"]', 'path = "out/timed_out.ndjson"', "",
          "[sinks.late]", 'type = "file"', f'inputs = ["{tid}.late"]', 'path = "out/late.ndjson"', ""]
    with open(os.path.join(out_dir, "job.toml"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))
    spec = {"ts_field": sc["ts_field"], "key_field": sc["key_field"],
            "out_of_orderness_ms": sc["out_of_orderness_ms"], "within_ms": sc["within_ms"],
            "within_type": sc["within_type"], "after_match": sc["after_match"], "stages": spec_stages,
            "field_types": {**({sc["key_field"]: "int" if isinstance(keys[0], int) else "string"}
                               if sc["key_field"] else {}),
                            sc["ts_field"]: "int", "kind": "string", "value": "int", "temp": "double",
                            "flag": "bool"},
            "name": name}
    with open(os.path.join(out_dir, "spec.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(out_dir, "events.ndjson"), "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n")


def main(argv):
    global AVOID_CEL
    if "--avoid-cel-divergences" in argv:
        AVOID_CEL = True
        argv = [a for a in argv if a != "--avoid-cel-divergences"]
    if len(argv) < 4 or argv[1] != "--seeds":
        print(__doc__, file=sys.stderr)
        return 2
    out, lo, hi = argv[0], int(argv[2]), int(argv[3])
    for seed in range(lo, hi):
        sc, events, err = make(seed)
        name = f"{seed:06d}-random-{len(sc['stages'])}-stages"
        write_scenario(os.path.join(out, name), name, sc, events, err)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
