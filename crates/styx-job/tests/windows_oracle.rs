//! Every window scenario produced by Apache Flink 2.3 (tests/fixtures/windows) run as a
//! job file, at parallelism 1, 2 and 4; results and late events must equal Flink's as
//! multisets of JSON objects (floats to a relative 1e-9, ints never equal to floats).

use std::path::{Path, PathBuf};

use serde_json::Value;
use styx_job::{Job, RunOptions};

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/windows");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("job.toml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 60, "window fixtures are missing");
    dirs
}

fn read_ndjson(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// Equality of the comparer: ints exactly, floats to a relative 1e-9, never int == float.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.is_f64(), y.is_f64()) {
            (true, true) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-12_f64.max(1e-9 * x.abs().max(y.abs()))
            }
            (false, false) => x == y,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The records of `expected` missing from `actual`, and those of `actual` not expected.
fn multiset_diff(expected: &[Value], actual: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let mut pool: Vec<Option<&Value>> = actual.iter().map(Some).collect();
    let mut missing = Vec::new();
    for e in expected {
        match pool.iter_mut().find(|a| a.is_some_and(|a| same(e, a))) {
            Some(slot) => *slot = None,
            None => missing.push(e.clone()),
        }
    }
    let unexpected = pool.into_iter().flatten().cloned().collect();
    (missing, unexpected)
}

fn copy_scenario(from: &Path, to: &Path) {
    for name in ["job.toml", "events.ndjson"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy scenario");
    }
}

/// Keeps the job's state on disk: `state_backend = "disk"` in a state directory.
fn use_disk_backend(job_file: &Path) {
    let text = std::fs::read_to_string(job_file).expect("job file");
    let text = text.replacen(
        "[job]\n",
        "[job]\nstate_backend = \"disk\"\nstate_dir = \"state\"\n",
        1,
    );
    std::fs::write(job_file, text).expect("job file");
}

fn check(parallelism: usize) {
    check_with(parallelism, false);
}

fn check_with(parallelism: usize, on_disk: bool) {
    let mut failures = Vec::new();
    for dir in scenarios() {
        let work = tempfile::tempdir().expect("temp dir");
        copy_scenario(&dir, work.path());
        if on_disk {
            use_disk_backend(&work.path().join("job.toml"));
            assert!(std::fs::read_to_string(work.path().join("job.toml"))
                .unwrap()
                .contains("state_backend"));
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
        for file in ["results.ndjson", "late.ndjson"] {
            let expected = read_ndjson(&dir.join("expected").join(file));
            let actual = read_ndjson(&work.path().join("out").join(file));
            let (missing, unexpected) = multiset_diff(&expected, &actual);
            if !missing.is_empty() || !unexpected.is_empty() {
                failures.push(format!(
                    "{} {file} (parallelism {parallelism}, state on disk: {on_disk}): missing {:?}, unexpected {:?}",
                    dir.file_name().unwrap().to_string_lossy(),
                    missing.iter().take(3).collect::<Vec<_>>(),
                    unexpected.iter().take(3).collect::<Vec<_>>()
                ));
            }
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
