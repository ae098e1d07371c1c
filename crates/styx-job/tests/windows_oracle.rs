//! Every window scenario produced by Apache Flink 2.3 (tests/fixtures/windows) run as a
//! job file, at parallelism 1, 2 and 4; results and late events must equal Flink's as
//! multisets of JSON objects (floats to a relative 1e-9, ints never equal to floats).

mod common;

use common::{compare, copy_scenario, multiset_diff, scenarios, use_disk_backend};
use serde_json::Value;
use styx_job::{Job, RunOptions};

fn check(parallelism: usize) {
    check_with(parallelism, false);
}

fn check_with(parallelism: usize, on_disk: bool) {
    let mut failures = Vec::new();
    for dir in scenarios("windows", 60) {
        let work = tempfile::tempdir().expect("temp dir");
        copy_scenario(&dir, work.path());
        if on_disk {
            use_disk_backend(&work.path().join("job.toml"));
        }
        let job = Job::load(&work.path().join("job.toml")).expect("job loads");
        job.run(&RunOptions {
            parallelism: Some(parallelism),
            ..RunOptions::default()
        })
        .expect("job runs");
        if on_disk {
            let tree = work
                .path()
                .join("state")
                .join(styx_job::compile::STATE_BACKEND_DIR);
            assert!(
                tree.is_dir(),
                "the state backend's tree is in {}",
                tree.display()
            );
        }
        let setting = format!("parallelism {parallelism}, state on disk: {on_disk}");
        for file in ["results.ndjson", "late.ndjson"] {
            failures.extend(compare(&dir, &work.path().join("out"), file, &setting));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn flink_window_scenarios_match_at_parallelism_1() {
    check(1);
}

#[test]
fn flink_window_scenarios_match_at_parallelism_2() {
    check(2);
}

#[test]
fn flink_window_scenarios_match_at_parallelism_4() {
    check(4);
}

#[test]
fn flink_window_scenarios_match_with_state_on_disk() {
    check_with(2, true);
}

#[test]
fn the_comparer_tells_ints_from_floats_and_counts_duplicates() {
    let a: Vec<Value> = vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 1})];
    let b: Vec<Value> = vec![serde_json::json!({"n": 1.0}), serde_json::json!({"n": 1})];
    let (missing, unexpected) = multiset_diff(&a, &b);
    assert_eq!(missing.len(), 1);
    assert_eq!(unexpected.len(), 1);
}
