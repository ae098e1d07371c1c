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
    let work = tempfile::tempdir().unwrap();
    let notes = work.path().join("notes");
    let (truth, stderr) = run_demo(name, &[], notes.to_str().unwrap(), work.path());
    check(name, &truth, &lines(&notes), &stderr)
}

/// Runs `styx demo NAME` with its notifications sent `to` a file or URL; the truth, and
/// what it logged.
fn run_demo(name: &str, args: &[&str], to: &str, work: &Path) -> (Vec<Value>, String) {
    let truth = work.join("truth");
    let out = Command::new(STYX)
        .args(["demo", name, "--seed", &SEED.to_string()])
        .args(args)
        .arg("--truth")
        .arg(&truth)
        .args(["--notifications", to])
        .current_dir(work)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name}: {stderr}");
    (lines(&truth), stderr)
}

/// Checks the shape of the truth and the notifications and the bars of recall and
/// precision; the report.
fn check(name: &str, truth: &[Value], notes: &[Value], stderr: &str) -> Report {
    let use_case: UseCase = name.parse().unwrap();
    assert!(
        truth.len() >= 20,
        "{name}: only {} incidents planted",
        truth.len()
    );
    for t in truth {
        assert_eq!(t["use_case"], name, "{t}");
        let (start, end, deadline) = (&t["start"], &t["end"], &t["deadline"]);
        assert!(
            start.as_i64() <= end.as_i64() && end.as_i64() < deadline.as_i64(),
            "{t}"
        );
    }
    for n in notes {
        assert_eq!(n["use_case"], name, "{n}");
        assert!(n["ts"].is_i64() && !n["key"].is_null(), "{n}");
        assert!(n["message"].as_str().is_some_and(|m| !m.is_empty()), "{n}");
    }
    let report = Report::new(truth, notes);
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

/// The fraud notifications reach a Kafka topic on the test broker, each once.
#[test]
fn fraud_notifications_go_to_a_kafka_topic() {
    let brokers = common::brokers("STYX_KAFKA_BROKERS");
    let topic = common::unique("fraud-notifications");
    styx_kafka::admin::create_topic(&brokers, &topic, 2, common::TIMEOUT).unwrap();
    let work = tempfile::tempdir().unwrap();
    let to = format!("kafka://{brokers}/{topic}");
    let (truth, stderr) = run_demo("fraud", &["--events", "200000"], &to, work.path());
    let notes = common::read_topic(
        &brokers,
        &topic,
        "",
        std::time::Duration::from_secs(5),
        |_| false,
    );
    check("fraud", &truth, &notes, &stderr);
}

/// The heart alerts page the doctor through a webhook that fails at first (503) and then
/// recovers: no alert is lost.
#[test]
fn heart_alerts_reach_a_webhook_that_fails_then_recovers() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Pager {
        requests: Arc<Mutex<u32>>,
        pages: Arc<Mutex<Vec<Value>>>,
    }
    async fn page(
        axum::extract::State(p): axum::extract::State<Pager>,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::http::StatusCode {
        let mut requests = p.requests.lock().unwrap();
        *requests += 1;
        if *requests <= 4 {
            return axum::http::StatusCode::SERVICE_UNAVAILABLE;
        }
        p.pages.lock().unwrap().push(body);
        axum::http::StatusCode::OK
    }

    let pager = Pager::default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(pager.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });

    let work = tempfile::tempdir().unwrap();
    let (truth, stderr) = run_demo("heart", &[], &url, work.path());
    assert!(
        *pager.requests.lock().unwrap() > 4,
        "the webhook was never refused"
    );
    let pages = pager.pages.lock().unwrap().clone();
    check("heart", &truth, &pages, &stderr);
}
