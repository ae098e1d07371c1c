#!/usr/bin/env python3
"""Differential run: random pattern scenarios through flink-cep 2.3 (FlinkCepOracle.java) and through styx.

usage: run.py WORK_DIR --seeds FROM TO [--styx /tmp/styx-cep] [--flink-lib DIR] [--jobs 2]
              [--skip-generate] [--skip-flink] [--avoid-cel-divergences]

1. make_cases.py writes the scenarios of seeds FROM..TO-1 into WORK_DIR/cases/
2. FlinkCepOracle (compiled into WORK_DIR/classes) writes each scenario's expected/ (one JVM for all)
3. compare.py (fixtures/cep) runs `styx run` at parallelism 1 and at parallelism 2 on a temp copy of each
4. WORK_DIR/report-FROM-TO.txt lists the scenarios where styx differs from Flink (and where the oracle
   failed). Each failing scenario is run once more through the oracle with -Doracle.cel=styx (styx's CEL
   dialect: int with double arithmetic is allowed) into WORK_DIR/dialect/: when styx agrees with that, the
   difference is only int-with-double arithmetic, where styx differs from CEL on purpose, and the report
   says "CEL dialect only"; otherwise it says "PATTERN SEMANTICS".

Exit status 0 when every scenario agrees at both parallelisms. Python 3 standard library only.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Flink's jars, as bench/flink/run-cep.sh fetches them.
DEFAULT_LIB = os.path.join(HERE, "../../../../target/bench-flink/ex/pyflink/lib")
COMPARE = os.path.join(HERE, "../fixtures/cep/compare.py")


def compile_oracle(classes, lib):
    """Compiles FlinkCepOracle.java into classes/ (with a quiet log4j2 configuration) when it changed."""
    os.makedirs(classes, exist_ok=True)
    src = os.path.join(HERE, "FlinkCepOracle.java")
    cls = os.path.join(classes, "FlinkCepOracle.class")
    if not os.path.exists(cls) or os.path.getmtime(cls) < os.path.getmtime(src):
        subprocess.run(["javac", "-d", classes, "-cp", f"{lib}/*", src], check=True)
    with open(os.path.join(HERE, "log4j2.properties")) as f, open(os.path.join(classes, "log4j2.properties"), "w") as g:
        g.write(f.read())


def java_cmd(classes, lib):
    return ["java", "-Xmx2g", "-cp", f"{lib}/*:{classes}", "FlinkCepOracle"]


def run_flink(dirs, classes, lib):
    """Runs the oracle on dirs (one JVM); returns the dirs where it failed."""
    if dirs:
        subprocess.run(java_cmd(classes, lib) + dirs, stderr=subprocess.DEVNULL)
    return [d for d in dirs if os.path.exists(os.path.join(d, "oracle-failure.txt"))
            or not os.path.isdir(os.path.join(d, "expected"))]


def classify(work, cases, names, classes, lib, styx, parallelism, jobs):
    """Re-runs failing scenarios with styx's CEL dialect; returns the names that still differ."""
    root = os.path.join(work, f"dialect-p{parallelism}")
    if os.path.isdir(root):
        subprocess.run(["rm", "-rf", root], check=True)
    os.makedirs(root)
    dirs = []
    for n in names:
        d = os.path.join(root, n)
        subprocess.run(["cp", "-r", os.path.join(cases, n), d], check=True)
        subprocess.run(["rm", "-rf", os.path.join(d, "expected")], check=True)
        dirs.append(d)
    if dirs:
        subprocess.run(["java", "-Doracle.cel=styx"] + java_cmd(classes, lib)[1:] + dirs, stderr=subprocess.DEVNULL)
    fails, _ = run_styx(root, styx, parallelism, jobs)
    return set(fails)


def run_styx(suite_dir, styx, parallelism, jobs):
    """compare.py suite mode; returns {scenario: report lines} for the failing ones."""
    cmd = [sys.executable, COMPARE, "--suite", suite_dir, "--run",
           f"{styx} run --parallelism {parallelism} {{job}}", "--jobs", str(jobs), "--timeout", "120"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    fails, cur = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r"^(ok|FAIL) +(\S+)", line)
        if m:
            cur = m.group(2) if m.group(1) == "FAIL" else None
            if cur:
                fails[cur] = []
        elif cur and line.startswith("     "):
            fails[cur].append(line.strip())
    return fails, p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "compare.py printed nothing"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work")
    ap.add_argument("--seeds", nargs=2, type=int, required=True)
    ap.add_argument("--styx", default="/tmp/styx-cep")
    ap.add_argument("--flink-lib", default=DEFAULT_LIB)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--skip-flink", action="store_true")
    ap.add_argument("--avoid-cel-divergences", action="store_true",
                    help="passed on to make_cases.py: no int-with-double arithmetic (styx differs from CEL there on purpose)")
    a = ap.parse_args(argv)
    cases = os.path.join(a.work, "cases")
    classes = os.path.join(a.work, "classes")
    if not a.skip_generate:
        subprocess.run([sys.executable, os.path.join(HERE, "make_cases.py"), cases, "--seeds",
                        str(a.seeds[0]), str(a.seeds[1])]
                       + (["--avoid-cel-divergences"] if a.avoid_cel_divergences else []), check=True)
    names = sorted(d for d in os.listdir(cases)
                   if a.seeds[0] <= int(d.split("-")[0]) < a.seeds[1])
    dirs = [os.path.join(cases, d) for d in names]
    failed = []
    if not a.skip_flink:
        compile_oracle(classes, a.flink_lib)
        failed = run_flink(dirs, classes, a.flink_lib)
    # Only scenarios with a Flink result take part; compare.py runs every folder of a suite dir.
    suite = os.path.join(a.work, f"suite-{a.seeds[0]}-{a.seeds[1]}")
    os.makedirs(suite, exist_ok=True)
    for d in dirs:
        link = os.path.join(suite, os.path.basename(d))
        if d not in failed and not os.path.lexists(link):
            os.symlink(os.path.abspath(d), link)
    out = [f"seeds {a.seeds[0]}..{a.seeds[1] - 1}: {len(dirs)} scenarios, {len(failed)} oracle failures"]
    out += [f"  oracle failed: {os.path.basename(d)}" for d in failed]
    bad = 0
    for par in (1, 2):
        fails, total = run_styx(suite, a.styx, par, a.jobs)
        bad += len(fails)
        still = classify(a.work, cases, sorted(fails), classes, a.flink_lib, a.styx, par, a.jobs)
        out.append(f"P={par}: {total}; {len(still)} differ beyond the CEL dialect")
        for name, rep in fails.items():
            kind = "PATTERN SEMANTICS" if name in still else "CEL dialect only"
            out.append(f"  FAIL P={par} {name} [{kind}]: {head_line(os.path.join(cases, name))}")
            out += [f"       {l}" for l in rep[:6]]
    text = "\n".join(out)
    print(text)
    with open(os.path.join(a.work, f"report-{a.seeds[0]}-{a.seeds[1]}.txt"), "w") as f:
        f.write(text + "\n")
    return 0 if bad == 0 and not failed else 1


def head_line(d):
    with open(os.path.join(d, "job.toml"), encoding="utf-8") as f:
        return f.readline().strip("# \n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
