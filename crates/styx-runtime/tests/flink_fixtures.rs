//! Apache Flink 2.3's recorded output decides: the window fixtures (60 scenarios of
//! tumbling, sliding and session windows with lateness, stragglers and late output, each
//! run through Flink's DataStream API) are run through the engine's typed API and through
//! the reference model, and both must reproduce Flink's results and late output exactly.
//!
//! The fixtures are the repository's copy in `crates/styx-job/tests/fixtures/windows`
//! (or the folder named by `STYX_WINDOW_FIXTURES`); the test fails when it finds none.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use styx_runtime::event::{Event, KeyValue};
use styx_runtime::prelude::*;
use styx_runtime::state::StateBackend;

use common::model::{self, Spec};

fn fixtures_dir() -> PathBuf {
    match std::env::var("STYX_WINDOW_FIXTURES") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../styx-job/tests/fixtures/windows"),
    }
}

/// Milliseconds of a duration such as `1505ms`, `10s`, `2m` or `1h`.
fn millis(text: &str) -> i64 {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: i64 = n
        .parse()
        .unwrap_or_else(|_| panic!("bad duration {text:?}"));
    n * match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => panic!("bad duration unit in {text:?}"),
    }
}

/// What a scenario's job does.
struct Scenario {
    name: String,
    time_field: String,
    out_of_orderness: i64,
    key_field: String,
    spec: Spec,
    lateness: i64,
    /// The output field holding the count, if the job computes one.
    count_field: Option<String>,
    events: Vec<Event>,
    results: Vec<Event>,
    late: Vec<Value>,
}

fn read_ndjson(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
        .collect()
}

fn load(dir: &Path) -> Scenario {
    let job: toml::Table = std::fs::read_to_string(dir.join("job.toml"))
        .expect("job.toml")
        .parse()
        .expect("valid TOML");
    let source = job["sources"]
        .as_table()
        .and_then(|s| s.values().next())
        .expect("a source");
    let event_time = source["event_time"].as_table().expect("event_time");
    assert_eq!(event_time["watermarks"].as_str(), Some("per_event"));
    let window = job["transforms"]
        .as_table()
        .expect("transforms")
        .values()
        .find(|t| t["type"].as_str() == Some("window"))
        .expect("a window transform");
    let w = window["window"].as_table().expect("window");
    let spec = match w["type"].as_str().expect("window type") {
        "tumbling" => Spec::Tumbling(millis(w["size"].as_str().unwrap())),
        "sliding" => Spec::Sliding(
            millis(w["size"].as_str().unwrap()),
            millis(w["slide"].as_str().unwrap()),
        ),
        "session" => Spec::Session(millis(w["gap"].as_str().unwrap())),
        other => panic!("unknown window type {other}"),
    };
    let count_field = window["aggregates"]
        .as_table()
        .and_then(|a| a.iter().find(|(_, v)| v.as_str() == Some("count")))
        .map(|(k, _)| k.clone());
    let as_objects = |values: Vec<Value>| -> Vec<Event> {
        values
            .into_iter()
            .map(|v| Event::from(v.as_object().cloned().expect("a JSON object")))
            .collect()
    };
    Scenario {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        time_field: event_time["field"].as_str().unwrap().to_string(),
        out_of_orderness: millis(event_time["max_out_of_orderness"].as_str().unwrap()),
        key_field: window["key"].as_str().unwrap().to_string(),
        spec,
        lateness: millis(
            window
                .get("allowed_lateness")
                .and_then(|v| v.as_str())
                .unwrap_or("0s"),
        ),
        count_field,
        events: as_objects(read_ndjson(&dir.join("events.ndjson"))),
        results: as_objects(read_ndjson(&dir.join("expected/results.ndjson"))),
        late: read_ndjson(&dir.join("expected/late.ndjson")),
    }
}

/// A window result as compared: key, start, end and the count (when the job has one).
type Row = (KeyValue, i64, i64, Option<u64>);

fn multiset<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

fn late_multiset(values: impl IntoIterator<Item = Value>) -> BTreeMap<String, usize> {
    multiset(values.into_iter().map(|v| v.to_string()))
}

/// The scenario's expected results.
fn expected_rows(s: &Scenario) -> Vec<Row> {
    s.results
        .iter()
        .map(|r| {
            (
                KeyValue::of(r.get(&s.key_field)),
                r["window_start"].as_i64().unwrap(),
                r["window_end"].as_i64().unwrap(),
                s.count_field.as_ref().map(|f| r[f].as_u64().unwrap()),
            )
        })
        .collect()
}

#[derive(Clone)]
struct In {
    index: usize,
    key: KeyValue,
    ts: i64,
}

fn inputs(s: &Scenario) -> Vec<In> {
    s.events
        .iter()
        .enumerate()
        .map(|(index, e)| In {
            index,
            key: KeyValue::of(e.get(&s.key_field)),
            ts: e[&s.time_field].as_i64().expect("an integer timestamp"),
        })
        .collect()
}

fn assigner(spec: Spec) -> WindowAssigner {
    let ms = |v: i64| Duration::from_millis(v as u64);
    match spec {
        Spec::Tumbling(size) => WindowAssigner::tumbling(ms(size)),
        Spec::Sliding(size, slide) => WindowAssigner::sliding(ms(size), ms(slide)),
        Spec::Session(gap) => WindowAssigner::session(ms(gap)),
    }
}

fn run_engine(s: &Scenario, backend: StateBackend) -> (Vec<Row>, Vec<Value>) {
    let env = Environment::new(1);
    env.set_state_backend(backend);
    let windowed = env
        .from_iter(inputs(s))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(
                Duration::from_millis(s.out_of_orderness as u64),
                |e: &In| e.ts,
            )
            .with_emission(Emission::PerEvent),
        )
        .key_by(|e: &In| e.key.clone())
        .window(assigner(s.spec))
        .allowed_lateness(Duration::from_millis(s.lateness as u64))
        .aggregate(Count, |k, w, n| (k.clone(), w.start, w.end, Some(n)));
    let results = windowed.results.collect();
    let late = windowed.late.collect();
    env.execute().expect("the job runs");
    let rows = results.take();
    let late = late
        .take()
        .into_iter()
        .map(|e| s.events[e.index].clone().into_value())
        .collect();
    (rows, late)
}

fn run_model(s: &Scenario) -> (Vec<Row>, Vec<Value>) {
    let events: Vec<(KeyValue, i64, usize)> = inputs(s)
        .into_iter()
        .map(|e| (e.key, e.ts, e.index))
        .collect();
    let (fired, late) = model::run(&events, s.spec, s.out_of_orderness, s.lateness);
    let rows = fired
        .into_iter()
        .map(|(k, (start, end), items)| (k, start, end, Some(items.len() as u64)))
        .collect();
    let late = late
        .into_iter()
        .map(|i| s.events[i].clone().into_value())
        .collect();
    (rows, late)
}

fn without_counts(rows: Vec<Row>, keep: bool) -> Vec<Row> {
    rows.into_iter()
        .map(|(k, s, e, c)| (k, s, e, c.filter(|_| keep)))
        .collect()
}

#[test]
fn engine_and_model_reproduce_flink() {
    let dir = fixtures_dir();
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the window fixtures in {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("job.toml").is_file())
        .collect();
    scenarios.sort();
    assert!(!scenarios.is_empty(), "no scenarios in {}", dir.display());
    let mut failures = Vec::new();
    for path in &scenarios {
        let s = load(path);
        let has_count = s.count_field.is_some();
        let expected = multiset(expected_rows(&s));
        let expected_late = late_multiset(s.late.clone());
        let dir = tempfile::tempdir().expect("a temporary folder");
        let disk = StateBackend::disk(dir.path()).expect("a disk state backend");
        for (who, (rows, late)) in [
            ("engine", run_engine(&s, StateBackend::Memory)),
            ("engine with state on disk", run_engine(&s, disk)),
            ("model", run_model(&s)),
        ] {
            let rows = multiset(without_counts(rows, has_count));
            if rows != expected {
                failures.push(format!("{}: {who}'s window results differ", s.name));
            }
            if late_multiset(late) != expected_late {
                failures.push(format!("{}: {who}'s late output differs", s.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} Flink scenarios reproduced", scenarios.len());
}
