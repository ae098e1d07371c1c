//! Failures: an operator that fails makes `execute` return an error naming it, without
//! hanging; the job's other instances stop without finishing their work.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{within_patience, FnSource};
use styx_runtime::prelude::*;

struct FailingSink;

impl Sink<u64> for FailingSink {
    fn write(&mut self, _: &mut Vec<u64>) -> Result<(), BoxError> {
        Err("the disk is full".into())
    }
}

#[test]
fn a_sink_error_fails_the_job_and_names_the_sink() {
    let err = within_patience(|| {
        let env = Environment::new(1);
        env.from_iter(0..10_000u64)
            .map(|i| i + 1)
            .sink("archive", 1, |_| Ok(FailingSink));
        env.execute().expect_err("the sink fails")
    });
    assert_eq!(err.operator, "archive");
    let text = err.to_string();
    assert!(
        text.contains("archive") && text.contains("the disk is full"),
        "{text}"
    );
}

#[test]
fn a_sink_that_cannot_be_opened_fails_the_job() {
    let err = within_patience(|| {
        let env = Environment::new(2);
        env.from_iter(0..10u64)
            .sink("nowhere", 2, |_| -> Result<FailingSink, BoxError> {
                Err("no such directory".into())
            });
        env.execute().expect_err("the sink cannot be opened")
    });
    assert!(err.operator.starts_with("nowhere"), "{}", err.operator);
    assert!(err.to_string().contains("no such directory"));
}

#[test]
fn a_panic_in_a_map_fails_the_job_and_names_the_operator_it_ran_in() {
    let err = within_patience(|| {
        let env = Environment::new(2);
        env.from_iter(0..10_000u64)
            .map(|i| {
                if i == 5000 {
                    panic!("bad record {i}");
                }
                i
            })
            .key_by(|i: &u64| *i % 10)
            .count_window(10, Count, |_, n| n)
            .collect();
        env.execute().expect_err("the map panics")
    });
    // The map is chained into the source's thread.
    assert_eq!(err.operator, "collection");
    assert!(err.to_string().contains("bad record 5000"), "{err}");
}

#[test]
fn a_panic_in_a_window_function_fails_the_job_and_names_the_window() {
    let err = within_patience(|| {
        let env = Environment::new(2);
        env.from_iter((0..1000i64).map(|i| (i % 4, i)))
            .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
                Duration::ZERO,
                |r: &(i64, i64)| r.1,
            ))
            .key_by(|r: &(i64, i64)| r.0)
            .window(WindowAssigner::tumbling(Duration::from_millis(100)))
            .aggregate(Count, |k, _, n| {
                assert!(*k != 3, "key 3 is not allowed");
                n
            })
            .results
            .collect();
        env.execute().expect_err("the window panics")
    });
    assert!(err.operator.starts_with("window"), "{}", err.operator);
    assert!(err.to_string().contains("key 3 is not allowed"), "{err}");
}

/// Notes when it is dropped: the thread that ran it has stopped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn an_endless_source_stops_when_the_job_fails() {
    let stopped = Arc::new(AtomicBool::new(false));
    let s = stopped.clone();
    let err = within_patience(move || {
        let env = Environment::new(2);
        env.source("endless", 2, move |_, _| {
            let flag = DropFlag(s.clone());
            let mut i = 0u64;
            Ok(Box::new(FnSource(move |out: &mut Vec<u64>| {
                let _ = &flag;
                out.extend(i..i + 100);
                i += 100;
                Poll::Ready
            })) as Box<dyn Source<u64>>)
        })
        .key_by(|i: &u64| *i % 7)
        .count_window(5, Count, |_, n| n)
        .sink("fails", 1, |_| Ok(FailingSinkAfter(3)));
        env.execute().expect_err("the sink fails")
    });
    assert_eq!(err.operator, "fails");
    assert!(
        stopped.load(Ordering::SeqCst),
        "the source was still running when execute returned"
    );
}

/// Fails on its `n`th batch.
struct FailingSinkAfter(u32);

impl Sink<u64> for FailingSinkAfter {
    fn write(&mut self, batch: &mut Vec<u64>) -> Result<(), BoxError> {
        batch.clear();
        self.0 = self.0.saturating_sub(1);
        if self.0 == 0 {
            return Err("failed on purpose".into());
        }
        Ok(())
    }
}

#[test]
fn a_failed_upstream_does_not_make_windows_fire_as_if_the_input_had_ended() {
    // The only watermark would be the end of input's: when the source fails half-way, no
    // window may fire.
    let (err, results) = within_patience(|| {
        let env = Environment::new(2);
        let results = env
            .from_iter((0..10_000i64).map(|i| (i % 4, i)))
            .map(|r| {
                assert!(r.1 != 5000, "bad record");
                r
            })
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &(i64, i64)| r.1)
                    .with_emission(Emission::Periodic(Duration::from_secs(3600))),
            )
            .key_by(|r: &(i64, i64)| r.0)
            .window(WindowAssigner::tumbling(Duration::from_millis(100)))
            .aggregate(Count, |_, _, n| n)
            .results
            .collect();
        let err = env.execute().expect_err("the map panics");
        (err, results.take())
    });
    assert!(err.to_string().contains("bad record"), "{err}");
    assert!(results.is_empty(), "{} windows fired", results.len());
}
