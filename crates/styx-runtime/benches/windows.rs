//! Throughput of the window operators: whole jobs on the engine (source, bounded
//! out-of-orderness watermarks, key_by, window, incremental count-and-sum, a sink that
//! adds up), over the events of the `styx bench window` contract.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use styx_runtime::prelude::*;

#[derive(Clone, Copy)]
struct Ev {
    key: u64,
    ts: i64,
    value: u64,
}

/// Event `i` of the benchmark contract.
fn event(i: u64, keys: u64) -> Ev {
    Ev {
        key: i.wrapping_mul(2_654_435_761) % keys,
        ts: (1_700_000_000_000u64 + i / 10 - i.wrapping_mul(40_503) % 500) as i64,
        value: i & 1023,
    }
}

struct CountSum;

impl AggregateFunction<Ev> for CountSum {
    type Acc = (u64, u64);
    type Out = (u64, u64);
    fn create(&self) -> (u64, u64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (u64, u64), e: &Ev) {
        acc.0 += 1;
        acc.1 += e.value;
    }
    fn merge(&self, acc: &mut (u64, u64), other: &(u64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    fn result(&self, acc: &(u64, u64)) -> (u64, u64) {
        *acc
    }
}

struct Tally(Arc<AtomicU64>);

impl Sink<(u64, u64)> for Tally {
    fn write(&mut self, batch: &mut Vec<(u64, u64)>) -> Result<(), BoxError> {
        let n: u64 = batch.drain(..).map(|r| r.0).sum();
        self.0.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }
}

/// Runs the job over `n` events and returns the sum of the window counts.
fn run(n: u64, keys: u64, assigner: WindowAssigner, parallelism: usize) -> u64 {
    let env = Environment::new(parallelism);
    let counted = Arc::new(AtomicU64::new(0));
    let sink_counted = counted.clone();
    env.from_iter((0..n).map(move |i| event(i, keys)))
        .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
            Duration::from_secs(1),
            |e: &Ev| e.ts,
        ))
        .key_by(|e: &Ev| e.key)
        .window(assigner)
        .parallelism(parallelism)
        .aggregate(CountSum, |_, _, r| r)
        .results
        .sink("tally", 1, move |_| Ok(Tally(sink_counted.clone())));
    env.execute().expect("the job runs");
    counted.load(Ordering::Relaxed)
}

fn windows(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let mut group = c.benchmark_group("window");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N));
    let cases = [
        (
            "tumbling-10s",
            WindowAssigner::tumbling(Duration::from_secs(10)),
        ),
        (
            "sliding-10s-1s",
            WindowAssigner::sliding(Duration::from_secs(10), Duration::from_secs(1)),
        ),
        (
            "sliding-10s-3s",
            WindowAssigner::sliding(Duration::from_secs(10), Duration::from_secs(3)),
        ),
        (
            "session-100ms",
            WindowAssigner::session(Duration::from_millis(100)),
        ),
    ];
    for (name, assigner) in cases {
        for p in [1, 2] {
            group.bench_with_input(BenchmarkId::new(name, p), &p, |b, &p| {
                b.iter(|| run(N, 1000, assigner, p))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
