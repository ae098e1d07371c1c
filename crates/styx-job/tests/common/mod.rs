//! What the tests share: reading NDJSON, and, for the oracle tests, comparing outputs as the fixtures'
//! comparers do (multisets of JSON objects; ints exactly, floats to a relative 1e-9, an
//! int never equal to a float).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The scenario folders (those with a `job.toml`) under `tests/fixtures/<suite>`; fails
/// when there are fewer than `at_least`, so that missing fixtures fail the test.
pub fn scenarios(suite: &str, at_least: usize) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(suite);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("job.toml").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= at_least,
        "{suite} fixtures are missing: {} of {at_least}",
        dirs.len()
    );
    dirs
}

/// The JSON values of an NDJSON file, one per non-blank line.
pub fn read_ndjson(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// Equality of the comparer: ints exactly, floats to a relative 1e-9, never int == float.
pub fn same(a: &Value, b: &Value) -> bool {
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
pub fn multiset_diff(expected: &[Value], actual: &[Value]) -> (Vec<Value>, Vec<Value>) {
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

/// Copies a scenario's job file and events into `to`.
pub fn copy_scenario(from: &Path, to: &Path) {
    for name in ["job.toml", "events.ndjson"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy scenario");
    }
}

/// Keeps the job's state on disk: `state_backend = "disk"` in a state directory.
pub fn use_disk_backend(job_file: &Path) {
    let text = std::fs::read_to_string(job_file).expect("job file");
    let text = text.replacen(
        "[job]\n",
        "[job]\nstate_backend = \"disk\"\nstate_dir = \"state\"\n",
        1,
    );
    assert!(text.contains("state_backend"), "{}", job_file.display());
    std::fs::write(job_file, text).expect("job file");
}

/// A report line for a difference of output `file` of `scenario`, or nothing.
pub fn compare(scenario: &Path, out: &Path, file: &str, setting: &str) -> Option<String> {
    let expected = read_ndjson(&scenario.join("expected").join(file));
    let actual = read_ndjson(&out.join(file));
    let (missing, unexpected) = multiset_diff(&expected, &actual);
    (!missing.is_empty() || !unexpected.is_empty()).then(|| {
        format!(
            "{} {file} ({setting}): missing {:?}, unexpected {:?}",
            scenario.file_name().unwrap().to_string_lossy(),
            missing.iter().take(3).collect::<Vec<_>>(),
            unexpected.iter().take(3).collect::<Vec<_>>()
        )
    })
}
