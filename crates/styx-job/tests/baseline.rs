//! `baseline` transforms: each event next to its key's own recent past, periods without
//! events counted as zero.

mod common;

use common::read_ndjson;
use styx_job::{Job, RunOptions};

const JOB: &str = r#"
[job]
name = "words"
parallelism = 2

[sources.tweets]
type = "file"
path = "tweets.ndjson"
event_time = { field = "ts", max_out_of_orderness = "1s", watermarks = "per_event" }

[transforms.counts]
type = "window"
inputs = ["tweets"]
key = "word"
window = { type = "tumbling", size = "1m" }
aggregates = { tweets = "count" }

[transforms.history]
type = "baseline"
inputs = ["counts"]
key = "word"
over = "5m"
period = "1m"
aggregates = { before = "count", usual = "avg(tweets)", most = "max(tweets)", spread = "stddev(tweets)" }

[transforms.rising]
type = "filter"
inputs = ["history"]
condition = "tweets >= 3.0 * usual + 3.0"

[sinks.all]
type = "file"
inputs = ["history"]
path = "history.ndjson"

[sinks.rising]
type = "file"
inputs = ["rising"]
path = "rising.ndjson"
"#;

#[test]
fn each_window_next_to_the_windows_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let minute = 60_000i64;
    let start = 1_700_000_040_000i64 - 1_700_000_040_000i64 % minute;
    // "coffee": 4 tweets a minute for ten minutes. "eclipse": one tweet at minute 2,
    // none until minute 8, then 12 in minute 8 and 20 in minute 9.
    let mut tweets: Vec<(i64, &str)> = Vec::new();
    for m in 0..10 {
        for i in 0..4 {
            tweets.push((start + m * minute + i * 10_000, "coffee"));
        }
    }
    tweets.push((start + 2 * minute + 5, "eclipse"));
    for i in 0..12 {
        tweets.push((start + 8 * minute + i * 1000 + 7, "eclipse"));
    }
    for i in 0..20 {
        tweets.push((start + 9 * minute + i * 1000 + 7, "eclipse"));
    }
    tweets.sort();
    let lines: String = tweets
        .iter()
        .map(|(t, w)| format!("{{\"ts\": {t}, \"word\": \"{w}\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("tweets.ndjson"), lines).unwrap();
    std::fs::write(dir.path().join("job.toml"), JOB).unwrap();
    Job::load(&dir.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();

    let history = read_ndjson(&dir.path().join("history.ndjson"));
    let of = |word: &str, minute_index: i64| {
        history
            .iter()
            .find(|h| h["word"] == word && h["window_start"] == start + minute_index * minute)
            .unwrap_or_else(|| panic!("{word} {minute_index}: {history:?}"))
            .clone()
    };
    // The first window has no history: five periods of zero.
    let first = of("coffee", 0);
    assert_eq!(
        (first["before"].clone(), first["usual"].clone()),
        (0.into(), 0.0.into())
    );
    // From the sixth window on, five full periods of 4.
    let steady = of("coffee", 7);
    assert_eq!(steady["before"], 5);
    assert_eq!(steady["usual"], 4.0);
    assert_eq!(steady["most"], 4);
    assert_eq!(steady["spread"], 0.0);
    // Minute 8 of eclipse: its tweet of minute 2 is more than five minutes before.
    let rise = of("eclipse", 8);
    assert_eq!(
        (rise["before"].clone(), rise["usual"].clone()),
        (0.into(), 0.0.into())
    );
    // Minute 9: 12, then four empty minutes.
    let peak = of("eclipse", 9);
    assert_eq!(peak["before"], 1);
    assert_eq!(peak["usual"], 2.4);
    assert_eq!(peak["most"], 12);

    let rising: Vec<(String, i64)> = read_ndjson(&dir.path().join("rising.ndjson"))
        .iter()
        .map(|r| {
            (
                r["word"].as_str().unwrap().to_string(),
                (r["window_start"].as_i64().unwrap() - start) / minute,
            )
        })
        .collect();
    // Coffee's first window rises from nothing; eclipse rises twice.
    let mut sorted = rising.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("coffee".to_string(), 0),
            ("eclipse".to_string(), 8),
            ("eclipse".to_string(), 9)
        ],
        "{rising:?}"
    );
}

#[test]
fn a_baseline_needs_event_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tweets.ndjson"), "").unwrap();
    let job = JOB
        .replace(
            "event_time = { field = \"ts\", max_out_of_orderness = \"1s\", watermarks = \"per_event\" }",
            "",
        )
        .replace("type = \"tumbling\", size = \"1m\"", "type = \"count\", size = 2");
    let e = Job::parse(&dir.path().join("job.toml"), &job)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("transforms.history: a baseline needs inputs with event time"),
        "{e}"
    );
}
