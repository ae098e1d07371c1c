//! The metrics of a job run: records in, out and dropped per operator of the job file
//! equal what the job really read, handed on and wrote.

use std::collections::BTreeMap;
use std::path::Path;

use styx_job::metrics::{JobMetrics, OperatorSnapshot};
use styx_job::{Job, RunOptions};

fn lines(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

#[test]
fn counts_per_operator_equal_the_records_the_job_handled() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    let mut kept = 0;
    for i in 0..500i64 {
        // Out of order by up to 400 ms: some are late for the window (no lateness).
        let ts = 1_000_000 + i * 50 - if i % 37 == 0 { 1_500 } else { 0 };
        let value = (i * 7) % 23;
        if value > 5 {
            kept += 1;
        }
        input.push_str(&format!(
            "{{\"key\": \"k{}\", \"ts\": {ts}, \"value\": {value}}}\n",
            i % 4
        ));
        if i % 100 == 0 {
            input.push_str("{not json\n");
        }
    }
    // Events whose condition fails (no `value`), with no dead-letter output: counted.
    input.push_str("{\"key\": \"k1\", \"ts\": 1030000}\n");
    std::fs::write(dir.path().join("in.ndjson"), input).unwrap();
    std::fs::write(
        dir.path().join("job.toml"),
        r#"
[job]
name = "metered"

[sources.events]
type = "file"
path = "in.ndjson"
dead_letter = "unreadable"
event_time = { field = "ts", max_out_of_orderness = "100ms", watermarks = "per_event" }

[transforms.big]
type = "filter"
inputs = ["events"]
condition = "value > 5"

[transforms.counts]
type = "window"
inputs = ["big"]
key = "key"
window = { type = "tumbling", size = "1s" }
aggregates = { n = "count" }

[sinks.out]
type = "file"
inputs = ["counts"]
path = "out.ndjson"

[sinks.late]
type = "file"
inputs = ["counts.late"]
path = "late.ndjson"

[sinks.bad]
type = "file"
inputs = ["unreadable"]
path = "bad.ndjson"
"#,
    )
    .unwrap();
    let metrics = JobMetrics::new();
    Job::load(&dir.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions {
            metrics: Some(metrics.clone()),
            ..RunOptions::default()
        })
        .unwrap();
    let ops: BTreeMap<String, OperatorSnapshot> = metrics
        .operators()
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let (out, late, bad) = (
        lines(&dir.path().join("out.ndjson")),
        lines(&dir.path().join("late.ndjson")),
        lines(&dir.path().join("bad.ndjson")),
    );
    assert_eq!(bad, 5);
    assert!(late > 0, "the input has late events");

    let events = &ops["events"];
    assert_eq!(events.kind, "source");
    assert_eq!(events.records_out, 501);
    assert_eq!(events.dropped.get("dead_letter"), Some(&5));
    assert_eq!(events.records_in, 506);
    // The input ended: the watermark went to the end of time.
    assert_eq!(events.watermark, Some(i64::MAX));
    assert_eq!(
        events.newest_event_time,
        Some(1_030_000),
        "the last event's"
    );
    assert_eq!(events.watermark_lag(), None, "no lag once the input ended");

    let big = &ops["big"];
    assert_eq!((big.records_in, big.records_out), (501, kept));
    assert_eq!(big.dropped.get("failed"), Some(&1));
    assert_eq!(big.inputs, ["events"]);

    let counts = &ops["counts"];
    assert_eq!((counts.records_in, counts.records_out), (kept, out));
    assert_eq!(counts.dropped.get("late"), Some(&late));
    assert_eq!(counts.type_name, "window");

    for (sink, written, input) in [
        ("out", out, "counts"),
        ("late", late, "counts"),
        ("bad", bad, "events"),
    ] {
        let s = &ops[sink];
        assert_eq!(
            (s.kind, s.records_in, s.records_out),
            ("sink", written, written),
            "{sink}"
        );
        assert_eq!(s.inputs, [input], "{sink}");
    }
    // The order of the graph: sources, transforms in dataflow order, sinks.
    let order: Vec<&str> = metrics.operators().iter().map(|o| o.kind).collect();
    assert_eq!(
        order,
        ["source", "transform", "transform", "sink", "sink", "sink"]
    );
}
