//! The example jobs of `examples/` run on a bounded stream of their generator (the
//! source's `rate` replaced by a `count`) and find the incidents the generator plants.

mod common;

use std::path::Path;
use std::process::Command;

use common::STYX;
use serde_json::Value;

/// Runs example `name` on `count` generated events; the lines it printed, as JSON.
fn run_example(name: &str, count: u64) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let text = std::fs::read_to_string(root.join(format!("{name}.toml"))).unwrap();
    let bounded: String = text
        .lines()
        .map(|l| {
            if l.starts_with("rate = ") {
                format!("count = {count}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(bounded, text, "{name}: the generator source has a rate");
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.toml");
    std::fs::write(&job, bounded).unwrap();
    let out = Command::new(STYX)
        .args(["run", job.to_str().unwrap()])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

fn int(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

#[test]
fn payment_fraud_blocks_large_payments_after_card_tests() {
    let alerts = run_example("payment-fraud", 200_000);
    assert!(alerts.len() >= 20, "{} alerts", alerts.len());
    for a in &alerts {
        assert_eq!(a["action"], "block transfer");
        assert!(a["amount"].as_f64().unwrap() >= 1000.0, "{a}");
        assert!(int(a, "test_payments") >= 1, "{a}");
        assert!(int(a, "match_end") - int(a, "match_start") < 600_000, "{a}");
    }
}

#[test]
fn game_combo_finds_down_forward_punch_within_300ms() {
    let moves = run_example("game-combo", 200_000);
    assert!(moves.len() >= 200, "{} moves", moves.len());
    assert!(moves.iter().all(|m| (0..300).contains(&int(m, "took_ms"))));
}

#[test]
fn stuck_form_opens_chats_for_rejected_sessions() {
    let chats = run_example("stuck-form", 200_000);
    assert!(chats.len() >= 20, "{} chats", chats.len());
    for c in &chats {
        assert_eq!(c["action"], "open chat");
        assert_eq!(c["page"], "/checkout/payment");
        assert_eq!(int(c, "rejected_submits"), 3);
    }
}

#[test]
fn heart_rate_alerts_on_rising_readings() {
    let alerts = run_example("heart-rate", 200_000);
    assert!(alerts.len() >= 20, "{} alerts", alerts.len());
    for a in &alerts {
        assert!(int(a, "from_hr") > 100, "{a}");
        assert!(int(a, "to_hr") > int(a, "from_hr"), "{a}");
    }
}

/// `styx bench job` runs a job file to its end and says how many events it read, how
/// fast, with how much CPU and memory (it measures; it asserts no speed).
#[test]
fn bench_job_measures_a_job_file() {
    let work = tempfile::tempdir().unwrap();
    let lines: String = (0..1000)
        .map(|n| {
            format!(
                "{{\"key\":\"k{}\",\"ts\":{},\"value\":{n}}}\n",
                n % 7,
                n * 10
            )
        })
        .collect();
    std::fs::write(work.path().join("events.ndjson"), lines).unwrap();
    let job = work.path().join("job.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"bench\"\n[sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n\
         event_time = { field = \"ts\" }\n\
         [transforms.w]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
         window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\" }\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"w\"]\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    let out = Command::new(STYX)
        .args(["bench", "job", job.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["events"], 1000, "{last}");
    for key in ["wall_s", "events_per_s", "cpu_s", "peak_rss_bytes"] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    // The job ran: every event counted once in the windows it wrote.
    let results = std::fs::read_to_string(work.path().join("out.ndjson")).unwrap();
    let counted: u64 = results
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 1000);
}
