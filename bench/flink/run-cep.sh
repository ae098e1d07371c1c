#!/usr/bin/env bash
# Side by side: `styx bench cep` and the same pattern job on Apache Flink 2.3.0's flink-cep
# (a DataStream job, FlinkCepBench.java), alternating the engines; peak RSS by /usr/bin/time -v.
#
# Usage: bench/flink/run-cep.sh [REPETITIONS] [EVENTS]     (defaults 3, 10000000; 100 keys)
# Needs a JDK 17 and pip; Flink's jars, flink-cep-2.3.0.jar among them (pyflink/lib), come
# from the PyPI wheel apache-flink-libraries 2.3.0. Needs a built styx ($STYX, default
# target/release/styx): this script does not build it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${STYX_BENCH_WORK:-$root/target/bench-flink}
reps=${1:-3}; events=${2:-10000000}; keys=100
styx=${STYX:-$root/target/release/styx}
if [ ! -x "$styx" ]; then
  echo "no styx binary at $styx: build it first (cargo build --release --bin styx) or set STYX" >&2
  exit 1
fi
mkdir -p "$work/classes" "$work/results"
if [ ! -d "$work/ex/pyflink/lib" ]; then
  pip download --no-deps apache-flink-libraries==2.3.0 -d "$work/dl"
  python3 -m zipfile -e "$work"/dl/apache_flink_libraries-2.3.0-*.whl "$work/ex"
fi
lib="$work/ex/pyflink/lib"
[ -f "$lib/flink-cep-2.3.0.jar" ] || { echo "flink-cep-2.3.0.jar missing from $lib" >&2; exit 1; }
javac -cp "$lib/*" -d "$work/classes" "$here/FlinkCepBench.java"
for rep in $(seq 1 "$reps"); do
  for engine in styx flink; do
    args=(--events "$events" --keys "$keys" --parallelism 1)
    if [ "$engine" = styx ]; then cmd=("$styx" bench cep "${args[@]}");
    else cmd=(java -cp "$work/classes:$lib/*" FlinkCepBench "${args[@]}"); fi
    tag="$engine-cep-$rep"
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v "${cmd[@]}" > "$work/results/$tag.out" 2> "$work/results/$tag.err"
    rss=$(grep "Maximum resident set size" "$work/results/$tag.err" | awk '{print $NF}')
    echo "{\"engine\":\"$engine\",\"bench\":\"cep\",\"rep\":$rep,\"max_rss_kb\":$rss,\"load1\":$load,\"result\":$(grep '^{' "$work/results/$tag.out" | tail -1)}"
  done
done
