//! Each use case end to end, as `styx demo NAME --notifications FILE --truth FILE` runs
//! it: its generator with a seed no model was trained on, its store set up from
//! `examples/NAME/store.sh`, its job, its notifications compared with the incidents the
//! generator planted (`usecases.md`). A use case fails below recall 0.9 or precision 0.8.

mod common;

use std::path::Path;
use std::process::Command;

use common::STYX;
use serde_json::Value;
use styx_generate::{Report, UseCase};

/// The seed of the tests; the models were trained on seeds from 1001 up.
const SEED: u64 = 42;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs use case `name` measured; its report, after checking every notification's shape.
fn measure(name: &str) -> Report {
    let use_case: UseCase = name.parse().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (truth, notes) = (work.path().join("truth"), work.path().join("notes"));
    let out = Command::new(STYX)
        .args(["demo", name, "--seed", &SEED.to_string()])
        .arg("--truth")
        .arg(&truth)
        .arg("--notifications")
        .arg(&notes)
        .current_dir(work.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: {stderr}");
    let (truth, notes) = (lines(&truth), lines(&notes));
    assert!(truth.len() >= 20, "{name}: only {} incidents planted", truth.len());
    for t in &truth {
        assert_eq!(t["use_case"], name, "{t}");
        let (start, end, deadline) = (&t["start"], &t["end"], &t["deadline"]);
        assert!(start.as_i64() <= end.as_i64() && end.as_i64() < deadline.as_i64(), "{t}");
    }
    for n in &notes {
        assert_eq!(n["use_case"], name, "{n}");
        assert!(n["ts"].is_i64() && !n["key"].is_null(), "{n}");
        assert!(n["message"].as_str().is_some_and(|m| !m.is_empty()), "{n}");
    }
    let report = Report::new(&truth, &notes);
    eprintln!("{use_case} (seed {SEED}): {report}");
    assert!(
        report.recall() >= 0.9 && report.precision() >= 0.8,
        "{name}: {report}\n{stderr}"
    );
    report
}

#[test]
fn fraud_blocks_card_tests_impossible_travel_and_bursts() {
    let report = measure("fraud");
    assert!(report.duplicates * 20 <= report.found, "{report}");
}

#[test]
fn trends_find_words_rising_against_their_own_recent_counts() {
    measure("trends");
}

#[test]
fn stuck_form_opens_a_chat_for_customers_stuck_in_a_form() {
    measure("stuck-form");
}

#[test]
fn heart_alerts_a_doctor_on_failure_signs_against_the_baseline() {
    measure("heart");
}

#[test]
fn traffic_updates_routes_around_jams() {
    measure("traffic");
}

#[test]
fn iot_alerts_the_sysadmin_of_failures_building_up() {
    measure("iot");
}

#[test]
fn combos_act_on_key_combos() {
    measure("combos");
}

#[test]
fn low_balance_sends_personalised_messages() {
    measure("low-balance");
}
