#!/usr/bin/env bash
# Side by side: `styx bench score` and JPMML-Evaluator 1.7.7 on the same model and input,
# single-threaded, alternating the engines (two passes, each starting with the other one).
#
# Usage: bench/jpmml/run.sh PLAN.tsv OUT.tsv
#   PLAN.tsv: one line per case: FIXTURE_DIR<TAB>RECORDS (FIXTURE_DIR holds model.pmml and
#   input.csv, e.g. crates/styx-pmml/tests/fixtures/010-logreg-binary-breast-cancer).
#   OUT.tsv gets: pass engine case records records_per_s load1.
# Needs a JDK (javac, java) and pip; the JPMML jars come from the PyPI wheel
# jpmml-evaluator 0.16.0, which ships JPMML-Evaluator 1.7.7.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${STYX_BENCH_WORK:-$root/target/bench-jpmml}
mkdir -p "$work/lib" "$work/classes"
if [ ! -e "$work/lib/.fetched" ]; then
  pip download --no-deps jpmml-evaluator==0.16.0 -d "$work/dl"
  python3 -m zipfile -e "$work"/dl/jpmml_evaluator-0.16.0-*.whl "$work/whl"
  cp "$work"/whl/jpmml_evaluator/dependencies/*.jar "$work/lib/"
  touch "$work/lib/.fetched"
fi
javac -d "$work/classes" -cp "$work/lib/*" "$here/JpmmlBench.java"
styx=${STYX:-$root/target/release/styx}
[ -x "$styx" ] || (cd "$root" && cargo build --release --bin styx)
plan=$1; out=$2
rate() { grep -oE '"records_per_s": ?[0-9.eE+-]+' | grep -oE '[0-9.eE+-]+$'; }
jp() { java -cp "$work/classes:$work/lib/*" JpmmlBench --model "$1/model.pmml" --input "$1/input.csv" --records "$2" | tail -1 | rate; }
sx() { "$styx" bench score --model "$1/model.pmml" --input "$1/input.csv" --records "$2" | tail -1 | rate; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(basename "$3")" "$4" "$5" "$(cut -d' ' -f1 /proc/loadavg)" >> "$out"; }
for pass in 1 2; do
  while IFS=$'\t' read -r case n _; do
    [ -z "$case" ] && continue
    if [ "$pass" = 1 ]; then
      row $pass jpmml "$case" "$n" "$(jp "$case" "$n")"; row $pass styx "$case" "$n" "$(sx "$case" "$n")"
    else
      row $pass styx "$case" "$n" "$(sx "$case" "$n")"; row $pass jpmml "$case" "$n" "$(jp "$case" "$n")"
    fi
  done < "$plan"
done
