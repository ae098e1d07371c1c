//! `notify` transforms: messages from templates over the event, one notification per
//! incident with `suppress`, and events whose message cannot be made as dead letters.

mod common;

use std::path::Path;

use common::read_ndjson;
use serde_json::Value;
use styx_job::{Job, RunOptions};

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

    let mut alerts = read_ndjson(&dir.path().join("alerts.ndjson"));
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

    let unsent = read_ndjson(&dir.path().join("unsent.ndjson"));
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

/// What a test webhook answered, with each body it took.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(u16, Value)>>>;

/// A webhook on loopback: answers the first `failures` requests with `status`, then 200;
/// returns its address and the bodies it took (the failed ones included).
fn webhook(failures: usize, status: u16) -> (String, Seen) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut log = log.lock().unwrap();
            let answer = if log.len() < failures { status } else { 200 };
            log.push((answer, serde_json::from_slice(&body).unwrap()));
            drop(log);
            let _ = write!(
                stream,
                "HTTP/1.1 {answer} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (address, seen)
}

fn webhook_job(url: &str, extra: &str) -> String {
    format!(
        r#"
[job]
name = "alerts"

[sources.payments]
type = "file"
path = "payments.ndjson"

[transforms.block]
type = "notify"
inputs = ["payments"]
key = "account"
message = "Block {{{{ id }}}}"

[sinks.hook]
type = "webhook"
inputs = ["block"]
url = "{url}"
backoff = "5ms"
{extra}
"#
    )
}

fn payments(dir: &Path, n: usize) {
    let lines: String = (0..n)
        .map(|i| format!("{{\"id\": \"p{i}\", \"account\": \"a{i}\"}}\n"))
        .collect();
    std::fs::write(dir.join("payments.ndjson"), lines).unwrap();
}

#[test]
fn a_webhook_that_fails_then_recovers_loses_no_notification() {
    let dir = tempfile::tempdir().unwrap();
    payments(dir.path(), 5);
    let (url, seen) = webhook(3, 503);
    std::fs::write(
        dir.path().join("job.toml"),
        webhook_job(&url, "retries = 5\ndead_letter_file = \"dead.ndjson\""),
    )
    .unwrap();
    Job::load(&dir.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();
    let seen = seen.lock().unwrap();
    let delivered: Vec<&str> = seen
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, n)| n["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        delivered,
        ["Block p0", "Block p1", "Block p2", "Block p3", "Block p4"]
    );
    assert_eq!(seen.len(), 8, "three failed tries, then five deliveries");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dead.ndjson")).unwrap(),
        ""
    );
}

#[test]
fn a_webhook_that_never_recovers_sends_them_to_the_dead_letter_file() {
    for (status, retries, tries_each) in [(500, 2, 3), (400, 2, 1)] {
        let dir = tempfile::tempdir().unwrap();
        payments(dir.path(), 4);
        let (url, seen) = webhook(usize::MAX, status);
        std::fs::write(
            dir.path().join("job.toml"),
            webhook_job(
                &url,
                &format!("retries = {retries}\ndead_letter_file = \"dead.ndjson\""),
            ),
        )
        .unwrap();
        Job::load(&dir.path().join("job.toml"))
            .unwrap()
            .run(&RunOptions::default())
            .unwrap();
        assert_eq!(seen.lock().unwrap().len(), 4 * tries_each, "{status}");
        let dead = read_ndjson(&dir.path().join("dead.ndjson"));
        assert_eq!(dead.len(), 4, "{status}: {dead:?}");
        assert_eq!(dead[0]["record"]["message"], "Block p0");
        assert_eq!(dead[0]["url"], url.as_str());
        let reason = dead[0]["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("answered {status}")), "{reason}");
    }
}

#[test]
fn without_a_dead_letter_file_an_undelivered_record_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    payments(dir.path(), 2);
    let (url, _) = webhook(usize::MAX, 500);
    std::fs::write(
        dir.path().join("job.toml"),
        webhook_job(&url, "retries = 1"),
    )
    .unwrap();
    let err = Job::load(&dir.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("sinks.hook") && err.contains("500"), "{err}");
    let refused = Job::parse(
        &dir.path().join("job.toml"),
        &webhook_job("ftp://example", "retries = 1"),
    );
    assert!(refused.is_err_and(|e| e.to_string().contains("sinks.hook.url")));
}
