#!/usr/bin/env bash
# Side by side: Styx's job files (bench/flink/json/*.toml, run by `styx bench job`) and the same
# jobs on Apache Flink 2.3.0 (FlinkJsonBench.java: FileSource, Jackson's ObjectMapper, FileSink),
# both reading the same NDJSON file and writing JSON lines to files: tumbling and sliding windows,
# filter + map, PMML scoring (the decision tree of fixture 030-dtree-classifier-wine; JPMML-Evaluator
# 1.7.7 on the Flink side). Parallelism 1; the engines alternate, and take turns going first; peak
# RSS and CPU time (user + sys) by /usr/bin/time -v, the load with each run. One JSON line per
# run, then the medians per mode. Flink's wall_s (of env.execute()) includes starting its
# MiniCluster and warming up the JIT: at small EVENTS it mostly measures that.
#
# What Flink's windows carry through keyBy (FlinkJsonBench --records): `typed` turns each parsed
# ObjectNode into a small POJO (key, ts, value) first, serialised between the operators by Flink's
# PojoSerializer; `json` keeps the ObjectNode itself through keyBy and the window, as a job that
# keeps JSON objects would, and Flink serialises it with its generic Kryo serializer. filter + map
# and scoring are one operator chain, their records never serialised: the same job whatever the
# kind, so they run once, under the first kind given.
#
# Usage: bench/flink/run-json.sh [REPETITIONS] [EVENTS]     (defaults 3, 10000000)
#   MODES="tumbling sliding filtermap score"   the modes to run (default: all four)
#   FLINK_RECORDS="typed json"   the Flink side once per record kind (default: typed); each run line
#             has "records", the table a row per kind (flink-typed, flink-json) with styx's ratio to it
#   CHECK=1   keep the outputs and check at the end that Styx and each Flink run (each record
#             kind) gave the same results
#             (use a small EVENTS, e.g. CHECK=1 bench/flink/run-json.sh 1 200000)
# Needs a JDK 17, python3 and pip; Flink's jars come from the PyPI wheel apache-flink-libraries
# 2.3.0, JPMML-Evaluator's from jpmml-evaluator 0.16.0 (as bench/jpmml/run.sh fetches them).
# The inputs are made once per EVENTS in $STYX_BENCH_WORK/json/EVENTS (default
# target/bench-flink/json/EVENTS), with the job files, the outputs and runs.jsonl.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${STYX_BENCH_WORK:-$root/target/bench-flink}
jpmml=${STYX_BENCH_JPMML:-$(dirname "$work")/bench-jpmml}
reps=${1:-3}; events=${2:-10000000}
modes=${MODES:-tumbling sliding filtermap score}
kinds=${FLINK_RECORDS:-typed}
for k in $kinds; do
  case $k in typed|json) ;; *) echo "FLINK_RECORDS: typed or json, not $k" >&2; exit 2 ;; esac
done
read -r first_kind _ <<< "$kinds"
case=$root/crates/styx-pmml/tests/fixtures/030-dtree-classifier-wine
styx=${STYX:-$root/target/release/styx}
[ -x "$styx" ] || (cd "$root" && cargo build --release --bin styx)

# Flink's and JPMML-Evaluator's jars, fetched once.
if [ ! -d "$work/ex/pyflink/lib" ]; then
  pip download --no-deps apache-flink-libraries==2.3.0 -d "$work/dl"
  python3 -m zipfile -e "$work"/dl/apache_flink_libraries-2.3.0-*.whl "$work/ex"
fi
if [ ! -e "$jpmml/lib/.fetched" ]; then
  mkdir -p "$jpmml/lib"
  pip download --no-deps jpmml-evaluator==0.16.0 -d "$jpmml/dl"
  python3 -m zipfile -e "$jpmml"/dl/jpmml_evaluator-0.16.0-*.whl "$jpmml/whl"
  cp "$jpmml"/whl/jpmml_evaluator/dependencies/*.jar "$jpmml/lib/"
  touch "$jpmml/lib/.fetched"
fi
cp="$work/ex/pyflink/lib/*"
for jar in "$jpmml"/lib/*.jar; do  # all but SLF4J: Flink brings its own, with its logging
  case $(basename "$jar") in slf4j-*) ;; *) cp="$cp:$jar" ;; esac
done
mkdir -p "$work/classes"
javac -cp "$cp" -d "$work/classes" "$here/FlinkJsonBench.java"

# The inputs (events.ndjson, score.ndjson), made once; the job files and the model beside them.
dir=$work/json/$events
mkdir -p "$dir/results"
# (again when either is empty: an interrupted copy would otherwise be read as no events)
[ -s "$dir/events.ndjson" ] && [ -s "$dir/score.ndjson" ] ||
  python3 "$here/json/bench.py" gen "$events" "$case" "$dir"
cp "$here"/json/*.toml "$case/model.pmml" "$dir/"
runs=$dir/runs.jsonl
: > "$runs"

for rep in $(seq 1 "$reps"); do
  for mode in $modes; do
    mode_kinds=$kinds; case $mode in tumbling|sliding) ;; *) mode_kinds=$first_kind ;; esac
    # styx, then Flink once per record kind; every other repetition the other way round
    order=(styx); for k in $mode_kinds; do order+=("flink-$k"); done
    if [ $((rep % 2)) = 0 ]; then
      reversed=(); for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
      order=("${reversed[@]}")
    fi
    # Flink's FileSink adds part files to a folder, flink-KIND-MODE
    rm -rf "$dir/styx-$mode.ndjson" "$dir/flink-$mode" "$dir"/flink-*-"$mode"
    for run in "${order[@]}"; do
      if [ "$run" = styx ]; then
        engine=styx; records=
        cmd=("$styx" bench job "$dir/$mode.toml")
      else
        engine=flink; records=",\"records\":\"${run#flink-}\""
        input=events.ndjson; extra=()
        [ "$mode" = score ] && { input=score.ndjson; extra=(--model "$dir/model.pmml"); }
        cmd=(java -cp "$work/classes:$cp" FlinkJsonBench --mode "$mode" --records "${run#flink-}"
             --input "$dir/$input" --output "$dir/$run-$mode" --parallelism 1 "${extra[@]}")
      fi
      log=$dir/results/$run-$mode-$rep
      load=$(cut -d' ' -f1 /proc/loadavg)
      /usr/bin/time -v "${cmd[@]}" > "$log.out" 2> "$log.err" || { tail -20 "$log.err" >&2; exit 1; }
      rss=$(awk '/Maximum resident set size/ {print $NF}' "$log.err")
      cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log.err")
      echo "{\"engine\":\"$engine\"$records,\"mode\":\"$mode\",\"rep\":$rep,\"max_rss_kb\":$rss,\"cpu_s\":$cpu,\"load1\":$load,\"result\":$(grep '^{' "$log.out" | tail -1)}" | tee -a "$runs"
    done
    # the outputs are large at 10M events: kept only to be checked
    [ "${CHECK:-0}" = 1 ] || rm -rf "$dir/styx-$mode.ndjson" "$dir"/flink-*-"$mode"
  done
done

echo
python3 "$here/json/bench.py" table "$runs"
if [ "${CHECK:-0}" = 1 ]; then
  echo
  python3 "$here/json/bench.py" check "$dir" $modes
fi
