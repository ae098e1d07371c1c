//! Job files: what they do, and the errors a bad one gets.

use std::path::Path;

use serde_json::{json, Value};
use styx_job::{Job, JobError, RunOptions};

const EVENTS: &str = r#"{"user":"a","ts":1000,"amount":5}
{"user":"b","ts":2000,"amount":50}
{"user":"a","ts":3000,"amount":500}
{"user":"a","ts":12000,"amount":7}
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn read(dir: &Path, name: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(name))
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn job(body: &str) -> (tempfile::TempDir, Result<Job, JobError>) {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "events.ndjson", EVENTS);
    let text = format!("[job]\nname = \"t\"\n\n{body}");
    write(dir.path(), "job.toml", &text);
    let job = Job::load(&dir.path().join("job.toml"));
    (dir, job)
}

const SOURCE: &str = r#"
[sources.events]
type = "file"
path = "events.ndjson"
event_time = { field = "ts", max_out_of_orderness = "0s", watermarks = "per_event" }
"#;

fn error_text(body: &str) -> String {
    match job(body).1 {
        Ok(_) => panic!("the job should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn filter_map_and_window_compose() {
    let (dir, job) = job(&format!(
        r#"{SOURCE}
[transforms.big]
type = "filter"
inputs = ["events"]
condition = "amount >= 50"

[transforms.tagged]
type = "map"
inputs = ["big"]
fields = {{ level = "amount > 100 ? 'high' : 'mid'", cents = "amount * 100" }}
remove = ["user"]

[transforms.per_level]
type = "window"
inputs = ["tagged"]
key = "level"
window = {{ type = "tumbling", size = "10s" }}
aggregates = {{ n = "count", total = "sum(cents)" }}

[sinks.tagged]
type = "file"
inputs = ["tagged"]
path = "out/tagged.ndjson"

[sinks.counts]
type = "file"
inputs = ["per_level"]
path = "out/counts.ndjson"
"#
    ));
    job.expect("valid job")
        .run(&RunOptions::default())
        .expect("runs");
    assert_eq!(
        read(dir.path(), "out/tagged.ndjson"),
        vec![
            json!({"ts": 2000, "amount": 50, "level": "mid", "cents": 5000}),
            json!({"ts": 3000, "amount": 500, "level": "high", "cents": 50000}),
        ]
    );
    let mut counts = read(dir.path(), "out/counts.ndjson");
    counts.sort_by_key(|v| v["level"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        counts,
        vec![
            json!({"level": "high", "window_start": 0, "window_end": 10000, "n": 1, "total": 50000}),
            json!({"level": "mid", "window_start": 0, "window_end": 10000, "n": 1, "total": 5000}),
        ]
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = error_text(&format!(
        "{SOURCE}\n[sinks.out]\ntype = \"stdout\"\ninputs = [\"events\"]\ncolour = \"red\"\n"
    ));
    assert!(
        e.contains("job.toml") && e.contains("unknown field `colour`"),
        "{e}"
    );
}

#[test]
fn bad_durations_are_named() {
    let e = error_text(&SOURCE.replace("\"0s\"", "\"soon\""));
    assert!(e.contains("invalid duration \"soon\""), "{e}");
}

#[test]
fn missing_input_files_are_named() {
    let e = error_text(&SOURCE.replace("events.ndjson", "absent.ndjson"));
    assert!(
        e.contains("sources.events.path") && e.contains("absent.ndjson"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let e = error_text(&format!(
        r#"{SOURCE}
[transforms.f]
type = "filter"
inputs = ["nowhere"]
condition = "amount >"

[transforms.w]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "sliding", size = "10s", slide = "0s" }}
aggregates = {{ m = "median(amount)" }}

[sinks.out]
type = "stdout"
inputs = ["w.late", "ghost"]
"#
    ));
    for needle in [
        "transforms.f.inputs: \"nowhere\" does not match",
        "transforms.f.condition: invalid expression",
        "transforms.w.window.slide: must be at least 1ms",
        "transforms.w.aggregates.m: unknown aggregate",
        "sinks.out.inputs: \"ghost\" does not match",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in {e}");
    }
}

#[test]
fn cycles_are_refused() {
    let e = error_text(
        r#"
[sources.s]
type = "stdin"

[transforms.a]
type = "filter"
inputs = ["s", "b"]
condition = "true"

[transforms.b]
type = "filter"
inputs = ["a"]
condition = "true"
"#,
    );
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn event_time_windows_need_event_time() {
    let e = error_text(
        r#"
[sources.s]
type = "stdin"

[transforms.w]
type = "window"
inputs = ["s"]
key = "user"
window = { type = "tumbling", size = "1s" }
aggregates = { n = "count" }

[sinks.out]
type = "stdout"
inputs = ["w"]
"#,
    );
    assert!(
        e.contains("transforms.w.window: event-time windows need"),
        "{e}"
    );
}

#[test]
fn a_bad_line_fails_the_job_with_its_line_number() {
    let (dir, job) = job(&format!(
        "{SOURCE}\n[sinks.out]\ntype = \"file\"\ninputs = [\"events\"]\npath = \"out/o.ndjson\"\n"
    ));
    write(dir.path(), "events.ndjson", &format!("{EVENTS}not json\n"));
    let e = job
        .expect("valid")
        .run(&RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("events.ndjson:5: not valid JSON"), "{e}");
}

#[test]
fn bad_lines_go_to_the_dead_letter_output_and_the_job_goes_on() {
    let (dir, job) = job(r#"
[sources.events]
type = "file"
path = "events.ndjson"
event_time = { field = "ts", watermarks = "per_event" }
dead_letter = "events.dead"

[transforms.w]
type = "window"
inputs = ["events"]
key = "user"
window = { type = "tumbling", size = "10s" }
aggregates = { n = "count" }

[sinks.dead]
type = "file"
inputs = ["events.dead"]
path = "out/dead.ndjson"

[sinks.out]
type = "file"
inputs = ["w"]
path = "out/w.ndjson"
"#);
    write(
        dir.path(),
        "events.ndjson",
        &format!("{EVENTS}not json\n[1,2]\n{{\"user\":\"a\"}}\n{{\"user\":\"a\",\"ts\":\"x\"}}\n"),
    );
    job.expect("valid")
        .run(&RunOptions::default())
        .expect("runs");
    let dead = read(dir.path(), "out/dead.ndjson");
    assert_eq!(dead.len(), 4);
    assert_eq!(dead[0]["line"], json!(5));
    assert_eq!(dead[0]["payload"], json!("not json"));
    assert!(dead[1]["reason"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
    assert!(dead[2]["reason"]
        .as_str()
        .unwrap()
        .contains("`ts` is missing"));
    assert!(dead[3]["reason"]
        .as_str()
        .unwrap()
        .contains("must be an integer"));
    let windows: u64 = read(dir.path(), "out/w.ndjson")
        .iter()
        .map(|w| w["n"].as_u64().unwrap())
        .sum();
    assert_eq!(windows, 4);
}

#[test]
fn state_on_disk_needs_a_state_dir_and_a_known_backend() {
    let sink = "\n[sinks.out]\ntype = \"stdout\"\ninputs = [\"events\"]\n";
    let e = error_text(&format!("state_backend = \"disk\"\n{SOURCE}{sink}"));
    assert!(
        e.contains("job.state_backend") && e.contains("job.state_dir"),
        "{e}"
    );
    let e = error_text(&format!("state_backend = \"rocks\"\n{SOURCE}{sink}"));
    assert!(e.contains("unknown variant `rocks`"), "{e}");
    let (_dir, job) = job(&format!(
        "state_backend = \"disk\"\nstate_dir = \"state\"\n{SOURCE}{sink}"
    ));
    assert!(job.is_ok());
}

#[test]
fn unknown_window_keys_are_named() {
    let e = error_text(&format!(
        "{SOURCE}\n[transforms.w]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"user\"\n\
         window = {{ type = \"tumbling\", size = \"10s\", slide = \"1s\" }}\n\
         aggregates = {{ n = \"count\" }}\n\
         [sinks.out]\ntype = \"stdout\"\ninputs = [\"w\"]\n"
    ));
    assert!(e.contains("unknown field `slide`"), "{e}");
}

#[test]
fn count_windows_have_no_late_output_and_ids_are_unique() {
    let e = error_text(&format!(
        "{SOURCE}\n[transforms.w]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"user\"\n\
         window = {{ type = \"count\", size = 2 }}\naggregates = {{ n = \"count\" }}\n\
         [sinks.out]\ntype = \"stdout\"\ninputs = [\"w.late\"]\n"
    ));
    assert!(
        e.contains("sinks.out.inputs") && e.contains("\"w.late\" does not match"),
        "{e}"
    );
    let e = error_text(&format!(
        "{}\n[transforms.p]\ntype = \"pattern\"\ninputs = [\"events\"]\n\
         [[transforms.p.stages]]\nname = \"a\"\ncondition = \"amount > 10\"\n\
         [sinks.out]\ntype = \"stdout\"\ninputs = [\"p\"]\n",
        SOURCE.replace(
            "type = \"file\"",
            "type = \"file\"\ndead_letter = \"p.late\""
        )
    ));
    assert!(
        e.contains("transforms.p")
            && e.contains("\"p.late\" is already the id of a dead-letter output"),
        "{e}"
    );
}

#[test]
fn a_pattern_finds_its_matches_and_names_its_problems() {
    let body = format!(
        "{SOURCE}\n[transforms.p]\ntype = \"pattern\"\ninputs = [\"events\"]\nkey = \"user\"\n\
         [[transforms.p.stages]]\nname = \"small\"\ncondition = \"amount < 10\"\n\
         [[transforms.p.stages]]\nname = \"large\"\ncondition = \"amount > match.small[0].amount * 50\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"p\"]\npath = \"out.ndjson\"\n"
    );
    let (dir, loaded) = job(&body);
    loaded.unwrap().run(&RunOptions::default()).unwrap();
    let small = json!({"user":"a","ts":1000,"amount":5});
    let large = json!({"user":"a","ts":3000,"amount":500});
    assert_eq!(
        read(dir.path(), "out.ndjson"),
        vec![
            json!({"user":"a","small":[small],"large":[large],"match_start":1000,"match_end":3000})
        ]
    );
    let e = error_text(&body.replace("name = \"large\"", "name = \"large\"\nuntil = \"x >\""));
    assert!(
        e.contains("transforms.p.stages[1].until: invalid expression"),
        "{e}"
    );
    let e = error_text(&body.replace("name = \"large\"", "name = \"large\"\nfollows = \"after\""));
    assert!(e.contains("unknown variant `after`"), "{e}");
}

#[test]
fn a_stored_pattern_brings_its_key_when_the_job_gives_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("store.db").display());
    let store = styx_store::Store::open(&url).unwrap();
    let spec = "type = \"pattern\"\ninputs = [\"ignored\"]\nkey = \"user\"\n\
                [[stages]]\nname = \"small\"\ncondition = \"amount < 10\"\n\
                [[stages]]\nname = \"large\"\ncondition = \"amount > 100\"\n";
    assert_eq!(styx_job::store::put_pattern(&store, "p", spec).unwrap(), 1);
    let bad = spec.replace("type = \"pattern\"", "type = \"window\"");
    assert!(styx_job::store::put_pattern(&store, "p", &bad).is_err());
    write(dir.path(), "events.ndjson", EVENTS);
    write(
        dir.path(),
        "job.toml",
        &format!(
            "[job]\nname = \"t\"\n[store]\nurl = \"{url}\"\n{SOURCE}\n\
             [transforms.p]\ntype = \"pattern\"\ninputs = [\"events\"]\npattern = \"store:p\"\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"p\"]\npath = \"out.ndjson\"\n"
        ),
    );
    let job = Job::load(&dir.path().join("job.toml")).unwrap();
    job.run(&RunOptions::default()).unwrap();
    let out = read(dir.path(), "out.ndjson");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["user"], "a");
    assert_eq!(out[0]["small"][0]["amount"], 5);
    assert_eq!(out[0]["large"][0]["amount"], 500);
}

/// Events of mixed quality: a decimal amount, numeric text, no amount, no user.
const MIXED: &str = r#"{"user":"a","ts":1000,"amount":5}
{"user":"a","ts":2000,"amount":2.5}
{"user":"b","ts":3000,"amount":"12.5"}
{"user":"b","ts":4000}
{"ts":5000,"amount":1}
"#;

fn mixed_job(body: &str) -> (tempfile::TempDir, Result<Job, JobError>) {
    let (dir, job) = job(body);
    write(dir.path(), "events.ndjson", MIXED);
    (dir, job)
}

/// The error of running [`mixed_job`] `body`, which must fail.
fn failure_of(body: &str) -> String {
    let (_dir, job) = mixed_job(body);
    job.expect("valid")
        .run(&RunOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn arithmetic_mixes_integers_and_decimals() {
    let (dir, job) = mixed_job(&format!(
        r#"{SOURCE}
[transforms.doubled]
type = "map"
inputs = ["events"]
fields = {{ twice = "amount * 2", more = "amount + 0.5" }}
dead_letter = "bad"

[sinks.out]
type = "file"
inputs = ["doubled"]
path = "out/o.ndjson"

[sinks.bad]
type = "file"
inputs = ["bad"]
path = "out/bad.ndjson"
"#
    ));
    job.expect("valid")
        .run(&RunOptions::default())
        .expect("runs");
    let got: Vec<(Value, Value)> = read(dir.path(), "out/o.ndjson")
        .into_iter()
        .map(|e| (e["twice"].clone(), e["more"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(10), json!(5.5)),
            (json!(5.0), json!(3.0)),
            (json!(2), json!(1.5)),
        ]
    );
    // Text times two and a missing amount are errors: dead letters with their reason.
    let bad = read(dir.path(), "out/bad.ndjson");
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0]["transform"], json!("transforms.doubled"));
    assert_eq!(bad[0]["event"]["ts"], json!(3000));
    assert!(
        bad[0]["reason"].as_str().unwrap().contains("field twice"),
        "{bad:?}"
    );
    assert_eq!(bad[1]["event"]["ts"], json!(4000));
}

#[test]
fn a_window_refuses_events_without_a_key_or_with_text_for_a_number() {
    let (dir, job) = mixed_job(&format!(
        r#"{SOURCE}
[transforms.sums]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "tumbling", size = "10s" }}
aggregates = {{ n = "count", total = "sum(amount)" }}
dead_letter = "refused"

[sinks.out]
type = "file"
inputs = ["sums"]
path = "out/o.ndjson"

[sinks.refused]
type = "file"
inputs = ["refused"]
path = "out/refused.ndjson"
"#
    ));
    job.expect("valid")
        .run(&RunOptions::default())
        .expect("runs");
    let mut sums = read(dir.path(), "out/o.ndjson");
    sums.sort_by_key(|v| v["user"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        sums,
        vec![
            json!({"user": "a", "window_start": 0, "window_end": 10000, "n": 2, "total": 7.5}),
            // The event without an amount is counted, left out of the sum.
            json!({"user": "b", "window_start": 0, "window_end": 10000, "n": 1, "total": null}),
        ]
    );
    let refused = read(dir.path(), "out/refused.ndjson");
    let reasons: Vec<&str> = refused
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        reasons[0].contains("`amount` is not a number"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("key field `user` is missing"),
        "{reasons:?}"
    );
}

#[test]
fn on_error_fail_stops_at_the_first_failure_naming_it() {
    let e = failure_of(&format!(
        r#"on_error = "fail"
{SOURCE}
[transforms.big]
type = "filter"
inputs = ["events"]
condition = "amount > 3"

[sinks.out]
type = "file"
inputs = ["big"]
path = "out/o.ndjson"
"#
    ));
    assert!(e.contains("transforms.big"), "{e}");
    assert!(e.contains("\"amount\":\"12.5\""), "names the event: {e}");
    assert!(
        e.contains("events.ndjson:3"),
        "names where it was read: {e}"
    );
    assert!(e.contains("on_error"), "{e}");
}

/// A window that reads a source alone gets only the fields it reads from it; a failure
/// quoting such an event says that it shows those fields, not the whole event.
#[test]
fn a_failure_quoting_a_partly_decoded_event_says_so() {
    let e = failure_of(&format!(
        r#"on_error = "fail"
{SOURCE}
[transforms.sums]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "tumbling", size = "10s" }}
aggregates = {{ total = "sum(amount)" }}

[sinks.out]
type = "file"
inputs = ["sums"]
path = "out/o.ndjson"
"#
    ));
    assert!(e.contains("transforms.sums"), "{e}");
    assert!(
        e.contains("events.ndjson:3 (the fields the job reads): {"),
        "{e}"
    );
}

#[test]
fn without_a_dead_letter_output_failures_are_dropped_not_nulled() {
    let (dir, job) = mixed_job(&format!(
        r#"{SOURCE}
[transforms.doubled]
type = "map"
inputs = ["events"]
fields = {{ twice = "amount * 2" }}

[sinks.out]
type = "file"
inputs = ["doubled"]
path = "out/o.ndjson"
"#
    ));
    job.expect("valid")
        .run(&RunOptions::default())
        .expect("runs");
    let out = read(dir.path(), "out/o.ndjson");
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|e| e["twice"].is_number()), "{out:?}");
}

#[test]
fn durations_that_are_surely_a_mistake_are_refused() {
    // "1M" is a month: each event would fall in 2.6 million windows of a 1s slide.
    let e = error_text(&format!(
        r#"{SOURCE}
[transforms.w]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "sliding", size = "1M", slide = "1s" }}
aggregates = {{ n = "count" }}

[sinks.out]
type = "file"
inputs = ["w"]
path = "out/o.ndjson"
"#
    ));
    assert!(
        e.contains("transforms.w.window") && e.contains("windows"),
        "{e}"
    );
    assert!(e.contains("more than 10000"), "{e}");
    let e = error_text(&format!(
        r#"{SOURCE}
[transforms.w]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "tumbling", size = "2y" }}
aggregates = {{ n = "count" }}

[sinks.out]
type = "file"
inputs = ["w"]
path = "out/o.ndjson"
"#
    ));
    assert!(
        e.contains("transforms.w.window.size") && e.contains("more than a year"),
        "{e}"
    );
}

#[test]
fn a_job_without_a_sink_or_with_an_unread_source_is_refused() {
    let e = error_text(SOURCE);
    assert!(e.contains("sinks: the job has no sink"), "{e}");
    assert!(e.contains("sources.events: nothing reads it"), "{e}");
    let e = error_text(&format!(
        "{SOURCE}\n[sources.other]\ntype = \"file\"\npath = \"events.ndjson\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"events\"]\npath = \"out/o.ndjson\"\n"
    ));
    assert!(e.contains("sources.other: nothing reads it"), "{e}");
    assert!(!e.contains("sources.events"), "{e}");
}

#[test]
fn a_pattern_leaves_out_events_without_its_key() {
    let (dir, loaded) = mixed_job(&format!(
        "{SOURCE}\n[transforms.p]\ntype = \"pattern\"\ninputs = [\"events\"]\nkey = \"user\"\n\
         [[transforms.p.stages]]\nname = \"one\"\ncondition = \"true\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"p\"]\npath = \"out.ndjson\"\n"
    ));
    loaded.unwrap().run(&RunOptions::default()).unwrap();
    let users: Vec<Value> = read(dir.path(), "out.ndjson")
        .iter()
        .map(|m| m["user"].clone())
        .collect();
    // Four events with a user match; the one without is not matched under `null`.
    assert_eq!(users, vec![json!("a"), json!("a"), json!("b"), json!("b")]);
}

/// A source read only by windows is decoded for the fields they read; events that leave
/// a window whole (to its dead-letter or late output) keep every field.
#[test]
fn events_that_leave_a_window_whole_keep_every_field() {
    let (dir, job) = job(&format!(
        r#"{SOURCE}
[transforms.per_user]
type = "window"
inputs = ["events"]
key = "user"
window = {{ type = "tumbling", size = "10s" }}
aggregates = {{ n = "count", total = "sum(amount)" }}
dead_letter = "unkeyed"

[sinks.totals]
type = "file"
inputs = ["per_user"]
path = "out/totals.ndjson"

[sinks.unkeyed]
type = "file"
inputs = ["unkeyed"]
path = "out/unkeyed.ndjson"
"#
    ));
    std::fs::write(
        dir.path().join("events.ndjson"),
        format!("{EVENTS}{{\"ts\":13000,\"amount\":1,\"note\":\"no user\"}}\n"),
    )
    .unwrap();
    job.expect("valid job")
        .run(&RunOptions::default())
        .expect("runs");
    let unkeyed = read(dir.path(), "out/unkeyed.ndjson");
    assert_eq!(unkeyed.len(), 1, "{unkeyed:?}");
    assert_eq!(
        unkeyed[0]["event"],
        json!({"ts": 13000, "amount": 1, "note": "no user"})
    );
    let mut totals = read(dir.path(), "out/totals.ndjson");
    totals.sort_by_key(|v| v.to_string());
    assert_eq!(
        totals,
        vec![
            json!({"user": "a", "window_start": 0, "window_end": 10000, "n": 2, "total": 505}),
            json!({"user": "a", "window_start": 10000, "window_end": 20000, "n": 1, "total": 7}),
            json!({"user": "b", "window_start": 0, "window_end": 10000, "n": 1, "total": 50}),
        ]
    );
}
