//! Checkpoints and savepoints: a job stopped with a savepoint and resumed from it, at the
//! same or another parallelism, gives the results of a run that was never stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use styx_runtime::checkpoint::coordinator::CheckpointConfig;
use styx_runtime::checkpoint::decode;
use styx_runtime::checkpoint::store::{Snapshot, Store};
use styx_runtime::prelude::*;

mod common;

use common::Held;

type Row = (u64, i64, u64);

/// Builds the job: sessions and tumbling windows over the counter, both collected.
fn job(
    env: &Environment,
    end: u64,
    hold: Arc<AtomicU64>,
    reached: Arc<AtomicU64>,
) -> (
    styx_runtime::stream::Collected<Row>,
    styx_runtime::stream::Collected<Row>,
) {
    // Events `0..end`: key `i % 7`, time `i * 10`.
    let items: Arc<Vec<(u64, i64)>> = Arc::new((0..end).map(|i| (i % 7, i as i64 * 10)).collect());
    let events = env
        .source("counter", 1, move |_, _| {
            Ok(Box::new(Held {
                items: items.clone(),
                next: 0,
                hold: hold.clone(),
                reached: reached.clone(),
            }) as Box<dyn Source<(u64, i64)>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &(u64, i64)| e.1)
                .with_emission(Emission::PerEvent),
        );
    let keyed = events.key_by(|e: &(u64, i64)| e.0);
    let tumbling = keyed
        .window(WindowAssigner::tumbling(Duration::from_millis(1000)))
        .aggregate(Count, |k, w, n| (*k, w.start, n))
        .results
        .collect();
    let sliding = keyed
        .window(WindowAssigner::sliding(
            Duration::from_millis(3000),
            Duration::from_millis(1000),
        ))
        .allowed_lateness(Duration::from_millis(500))
        .aggregate(Count, |k, w, n| (*k, w.start, n))
        .results
        .collect();
    (tumbling, sliding)
}

fn sorted(mut v: Vec<Row>) -> Vec<Row> {
    v.sort();
    v
}

fn run_through(parallelism: usize, end: u64) -> (Vec<Row>, Vec<Row>) {
    let env = Environment::new(parallelism);
    let (a, b) = job(
        &env,
        end,
        Arc::new(AtomicU64::new(u64::MAX)),
        Arc::new(AtomicU64::new(0)),
    );
    env.execute().unwrap();
    (sorted(a.take()), sorted(b.take()))
}

/// Runs to `stop_at`, stops with a savepoint at `p1`, resumes at `p2`.
fn run_with_savepoint(p1: usize, p2: usize, end: u64, stop_at: u64) -> (Vec<Row>, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let hold = Arc::new(AtomicU64::new(stop_at));
    let reached = Arc::new(AtomicU64::new(0));
    let env = Environment::new(p1);
    let handle = env.enable_checkpointing(CheckpointConfig {
        interval: None,
        store: store.clone(),
        retain: 3,
        restore: None,
    });
    let (a1, b1) = job(&env, end, hold.clone(), reached.clone());
    let taker = std::thread::spawn(move || {
        while reached.load(Ordering::SeqCst) < stop_at {
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.savepoint(true)
    });
    env.execute().unwrap();
    let savepoint = taker.join().unwrap().expect("savepoint");
    let snapshot = Arc::new(Snapshot::load(&savepoint).unwrap());

    let env = Environment::new(p2);
    env.enable_checkpointing(CheckpointConfig {
        interval: None,
        store,
        retain: 3,
        restore: Some(snapshot),
    });
    let (a2, b2) = job(
        &env,
        end,
        Arc::new(AtomicU64::new(u64::MAX)),
        Arc::new(AtomicU64::new(0)),
    );
    env.execute().unwrap();
    let mut a = a1.take();
    a.extend(a2.take());
    let mut b = b1.take();
    b.extend(b2.take());
    (sorted(a), sorted(b))
}

#[test]
fn stop_with_savepoint_and_resume_equals_an_uninterrupted_run() {
    let expected = run_through(1, 2000);
    assert!(!expected.0.is_empty() && !expected.1.is_empty());
    for (p1, p2) in [(1, 1), (2, 1), (2, 3), (1, 4)] {
        let got = run_with_savepoint(p1, p2, 2000, 777);
        assert_eq!(got.0, expected.0, "tumbling, parallelism {p1} -> {p2}");
        assert_eq!(got.1, expected.1, "sliding, parallelism {p1} -> {p2}");
    }
}

#[test]
fn periodic_checkpoints_are_written_and_retained() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let hold = Arc::new(AtomicU64::new(1000));
    let reached = Arc::new(AtomicU64::new(0));
    let env = Environment::new(2);
    env.enable_checkpointing(CheckpointConfig {
        interval: Some(Duration::from_millis(20)),
        store: store.clone(),
        retain: 2,
        restore: None,
    });
    let _ = job(&env, 2000, hold.clone(), reached.clone());
    let release = std::thread::spawn({
        let store = store.clone();
        move || {
            while store.list_checkpoints().is_empty()
                || store.list_checkpoints().last().unwrap().0 < 4
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            hold.store(u64::MAX, Ordering::SeqCst);
        }
    });
    env.execute().unwrap();
    release.join().unwrap();
    let all = store.list_checkpoints();
    assert!(all.len() <= 2 && !all.is_empty(), "{all:?}");
    let snap = Snapshot::load(&all.last().unwrap().1).unwrap();
    let counter = snap.splits("counter");
    assert_eq!(counter.len(), 1);
    assert_eq!(decode::<u64>(&counter[0].1).unwrap(), 1000);
}

#[test]
fn checkpoint_statistics_report_every_instance_and_the_size_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let hold = Arc::new(AtomicU64::new(1000));
    let reached = Arc::new(AtomicU64::new(0));
    let env = Environment::new(2);
    let handle = env.enable_checkpointing(CheckpointConfig {
        interval: Some(Duration::from_millis(20)),
        store: store.clone(),
        // Every checkpoint is kept: the first one is read back.
        retain: usize::MAX,
        restore: None,
    });
    let statistics = handle.statistics();
    let _ = job(&env, 2000, hold.clone(), reached.clone());
    let release = std::thread::spawn(move || {
        let first = statistics.recv().expect("a checkpoint completes");
        hold.store(u64::MAX, Ordering::SeqCst);
        first
    });
    env.execute().unwrap();
    let stats = release.join().unwrap();
    // The counter source, two instances of each window operator, and their collecting sinks.
    let mut instances: Vec<(String, usize)> = stats
        .tasks
        .iter()
        .map(|t| (t.operator.clone(), t.instance))
        .collect();
    instances.sort();
    instances.dedup();
    assert_eq!(instances.len(), stats.tasks.len());
    assert!(instances.contains(&("counter".to_string(), 0)));
    assert!(instances.contains(&("window".to_string(), 1)));
    assert!(stats.tasks.iter().all(|t| t.timing.sync <= stats.duration));
    assert!(stats.max_sync() <= stats.duration);
    let window_state: u64 = stats
        .tasks
        .iter()
        .filter(|t| t.operator.starts_with("window"))
        .map(|t| t.state_bytes)
        .sum();
    assert!(window_state > 0);
    let folder = store
        .snapshot_path(stats.id)
        .expect("the checkpoint is kept");
    let on_disk: u64 = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(stats.bytes, on_disk);
}
