#!/usr/bin/env bash
# Side by side: `styx bench window` and the same job on Apache Flink 2.3.0 (a DataStream
# job, FlinkWindowBench.java), alternating the engines; peak RSS by /usr/bin/time -v.
#
# Usage: bench/flink/run.sh [REPETITIONS] [EVENTS]     (defaults 3, 10000000; 1000 keys)
# Needs a JDK 17 and pip; Flink's jars come from the PyPI wheel apache-flink-libraries 2.3.0.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${STYX_BENCH_WORK:-$root/target/bench-flink}
reps=${1:-3}; events=${2:-10000000}; keys=1000
mkdir -p "$work/classes" "$work/results"
if [ ! -d "$work/ex/pyflink/lib" ]; then
  pip download --no-deps apache-flink-libraries==2.3.0 -d "$work/dl"
  python3 -m zipfile -e "$work"/dl/apache_flink_libraries-2.3.0-*.whl "$work/ex"
fi
lib="$work/ex/pyflink/lib"
javac -cp "$lib/*" -d "$work/classes" "$here/FlinkWindowBench.java"
styx=${STYX:-$root/target/release/styx}
[ -x "$styx" ] || (cd "$root" && cargo build --release --bin styx)
for rep in $(seq 1 "$reps"); do
  for window in tumbling:10s sliding:10s/1s; do
    for engine in styx flink; do
      args=(--events "$events" --keys "$keys" --window "$window" --out-of-orderness 1s --parallelism 1)
      if [ "$engine" = styx ]; then cmd=("$styx" bench window "${args[@]}");
      else cmd=(java -cp "$work/classes:$lib/*" FlinkWindowBench "${args[@]}"); fi
      tag="$engine-${window//[:\/]/_}-$rep"
      /usr/bin/time -v "${cmd[@]}" > "$work/results/$tag.out" 2> "$work/results/$tag.err"
      rss=$(grep "Maximum resident set size" "$work/results/$tag.err" | awk '{print $NF}')
      echo "{\"engine\":\"$engine\",\"window\":\"$window\",\"rep\":$rep,\"max_rss_kb\":$rss,\"result\":$(grep '^{' "$work/results/$tag.out" | tail -1)}"
    done
  done
done
