//! Every pattern scenario produced by Apache Flink 2.3's flink-cep (tests/fixtures/cep, the
//! shared suite, and tests/fixtures/cep-generated, made by tests/cep-oracle) run as a job
//! file, at parallelism 1, 2 and 3 and with the state on disk: matches, timed-out partial
//! matches and late events must equal Flink's as multisets of JSON objects; a pattern
//! Flink refuses must be refused when the job is read.

mod common;

use std::path::Path;

use common::{compare, copy_scenario, scenarios, use_disk_backend};
use styx_job::{Job, RunOptions};

const OUTPUTS: [&str; 3] = ["matches.ndjson", "timed_out.ndjson", "late.ndjson"];

fn is_error_case(scenario: &Path) -> bool {
    scenario.join("expected/error.txt").is_file()
}

fn check(parallelism: usize, on_disk: bool) {
    let mut failures = Vec::new();
    let mut all = scenarios("cep", 79);
    assert!(all.iter().filter(|s| is_error_case(s)).count() >= 18);
    all.extend(scenarios("cep-generated", 41));
    for dir in all {
        let work = tempfile::tempdir().expect("temp dir");
        copy_scenario(&dir, work.path());
        if on_disk {
            use_disk_backend(&work.path().join("job.toml"));
        }
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let job = Job::load(&work.path().join("job.toml"));
        if is_error_case(&dir) {
            if job.is_ok() {
                failures.push(format!(
                    "{name}: Flink refuses this pattern, the job loaded"
                ));
            }
            continue;
        }
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        job.run(&RunOptions {
            parallelism: Some(parallelism),
            ..RunOptions::default()
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let setting = format!("parallelism {parallelism}, state on disk: {on_disk}");
        for file in OUTPUTS {
            failures.extend(compare(&dir, &work.path().join("out"), file, &setting));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn flink_cep_scenarios_match_at_parallelism_1() {
    check(1, false);
}

#[test]
fn flink_cep_scenarios_match_at_parallelism_2() {
    check(2, false);
}

#[test]
fn flink_cep_scenarios_match_at_parallelism_3() {
    check(3, false);
}

#[test]
fn flink_cep_scenarios_match_with_state_on_disk() {
    check(2, true);
}

/// A refused pattern names the key that is wrong.
#[test]
fn refused_patterns_name_the_key() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cep/038-error-until-on-singleton");
    let work = tempfile::tempdir().expect("temp dir");
    copy_scenario(&dir, work.path());
    let error = Job::load(&work.path().join("job.toml"))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("transforms.pattern.stages[0].until"),
        "{error}"
    );
}
