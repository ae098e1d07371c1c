//! `notify` transforms: messages from templates over the event, one notification per
//! incident with `suppress`, and events whose message cannot be made as dead letters.

use std::path::Path;

use serde_json::Value;
use styx_job::{Job, RunOptions};

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const JOB: &str = r#"
[job]
name = "fraud"
parallelism = 2

[sources.payments]
type = "file"
path = "payments.ndjson"
event_time = { field = "ts", max_out_of_orderness = "1s", watermarks = "per_event" }

[transforms.large]
type = "filter"
inputs = ["payments"]
condition = "amount > 1000"

[transforms.block]
type = "notify"
inputs = ["large"]
key = "account"
message = "Block payment {{ id }} of {{ amount }} EUR on account {{ account }}"
suppress = "10m"
fields = ["id", "amount"]
dead_letter = "unsent"

[sinks.alerts]
type = "file"
inputs = ["block"]
path = "alerts.ndjson"

[sinks.unsent]
type = "file"
inputs = ["unsent"]
path = "unsent.ndjson"
"#;

#[test]
fn one_notification_per_incident_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let minute = 60_000;
    // Account a: large payments at 0, 2 and 5 minutes (one incident), then at 30 minutes
    // (a second one). Account b: one at 1 minute. Small payments everywhere.
    let payments = [
        ("p1", "a", 0, 5000),
        ("p2", "b", minute, 2500),
        ("p3", "a", 2 * minute, 9000),
        ("p4", "a", 3 * minute, 20),
        ("p5", "a", 5 * minute, 7000),
        ("p6", "c", 6 * minute, 10),
        ("p7", "a", 30 * minute, 1500),
    ];
    let mut lines: String = payments
        .iter()
        .map(|(id, account, t, amount)| {
            format!(
                "{{\"id\": \"{id}\", \"account\": \"{account}\", \"ts\": {}, \"amount\": {amount}}}\n",
                1_700_000_000_000i64 + t
            )
        })
        .collect();
    // A large payment without an id: its message cannot be made.
    lines.push_str("{\"account\": \"d\", \"ts\": 1700002000000, \"amount\": 4000}\n");
    std::fs::write(dir.path().join("payments.ndjson"), lines).unwrap();
    std::fs::write(dir.path().join("job.toml"), JOB).unwrap();
    Job::load(&dir.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();

    let mut alerts = ndjson(&dir.path().join("alerts.ndjson"));
    alerts.sort_by_key(|a| a["ts"].as_i64());
    let sent: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["key"].as_str().unwrap(), a["id"].as_str().unwrap()))
        .collect();
    assert_eq!(sent, [("a", "p1"), ("b", "p2"), ("a", "p7")], "{alerts:#?}");
    assert_eq!(
        alerts[0]["message"],
        "Block payment p1 of 5000 EUR on account a"
    );
    assert_eq!(alerts[0]["use_case"], "fraud");
    assert_eq!(alerts[0]["ts"], 1_700_000_000_000i64);
    assert_eq!(alerts[0]["amount"], 5000);

    let unsent = ndjson(&dir.path().join("unsent.ndjson"));
    assert_eq!(unsent.len(), 1, "{unsent:?}");
    assert_eq!(unsent[0]["transform"], "transforms.block");
    assert!(
        unsent[0]["reason"].as_str().unwrap().contains("undefined"),
        "{unsent:?}"
    );
    assert_eq!(unsent[0]["event"]["account"], "d");
}

#[test]
fn refused_tables_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("payments.ndjson"), "").unwrap();
    for (change, key) in [
        (
            (
                "message = \"Block payment {{ id }}",
                "message = \"Block payment {{ id ",
            ),
            "transforms.block.message",
        ),
        (
            ("suppress = \"10m\"", "suppress = \"0s\""),
            "transforms.block.suppress",
        ),
        (("key = \"account\"", "key = \"\""), "transforms.block.key"),
    ] {
        let job = JOB.replacen(change.0, change.1, 1);
        assert_ne!(job, JOB);
        let err = match Job::parse(&dir.path().join("job.toml"), &job) {
            Ok(_) => panic!("{key}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key), "{key}: {err}");
    }
}
