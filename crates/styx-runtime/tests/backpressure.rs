//! Backpressure: a slow sink slows the whole job down instead of letting records pile up
//! between operators. The number of records emitted by the source but not yet received
//! by the sink stays below what the bounded channels and batch buffers can hold.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{within_patience, FnSource};
use styx_runtime::emitter::BATCH_SIZE;
use styx_runtime::exchange::CHANNEL_CAPACITY;
use styx_runtime::prelude::*;

/// Passes records through one at a time (a stateful stage with its own thread).
struct PassThrough;

impl KeyedProcessFunction<u64, u64, u64> for PassThrough {
    type State = ();
    fn process(&self, value: u64, _: &mut (), ctx: &mut KeyedContext<'_, u64, u64>) {
        ctx.collect(value);
    }
}

/// Sleeps on every batch and records the largest backlog it saw.
struct SlowSink {
    emitted: Arc<AtomicU64>,
    received: u64,
    max_backlog: Arc<AtomicU64>,
}

impl Sink<u64> for SlowSink {
    fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), BoxError> {
        self.received += batch.len() as u64;
        batch.clear();
        let backlog = self.emitted.load(Ordering::SeqCst) - self.received;
        self.max_backlog.fetch_max(backlog, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(300));
        Ok(())
    }
}

#[test]
fn a_slow_sink_bounds_the_records_in_flight() {
    const TOTAL: u64 = 600_000;
    const P: usize = 2;
    let emitted = Arc::new(AtomicU64::new(0));
    let max_backlog = Arc::new(AtomicU64::new(0));
    let (e1, e2, m) = (emitted.clone(), emitted.clone(), max_backlog.clone());
    within_patience(move || {
        let env = Environment::new(P);
        env.source("fast", 1, move |_, _| {
            let emitted = e1.clone();
            let mut next = 0u64;
            Ok(Box::new(FnSource(move |out: &mut Vec<u64>| {
                let end = (next + BATCH_SIZE as u64).min(TOTAL);
                out.extend(next..end);
                emitted.fetch_add(end - next, Ordering::SeqCst);
                next = end;
                if next == TOTAL {
                    Poll::Finished
                } else {
                    Poll::Ready
                }
            })) as Box<dyn Source<u64>>)
        })
        .key_by(|v: &u64| *v % 97)
        .process(PassThrough)
        .sink("slow", 1, move |_| {
            Ok(SlowSink {
                emitted: e2.clone(),
                received: 0,
                max_backlog: m.clone(),
            })
        });
        env.execute().unwrap();
    });
    // Where records can wait: the source's batch and its exchange buffers (one per
    // instance), P channels, each instance's output buffers, and the sink's channel.
    let batches = 1 + P + P * CHANNEL_CAPACITY + 2 * P + CHANNEL_CAPACITY;
    let bound = (batches * BATCH_SIZE) as u64;
    let seen = max_backlog.load(Ordering::SeqCst);
    assert!(
        seen <= bound,
        "{seen} records in flight, more than the {bound} the channels can hold"
    );
    assert!(bound < TOTAL / 4, "the test must be able to tell");
}
