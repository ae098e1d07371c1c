//! Property tests over odd input: mangled job files never make reading and checking a
//! job panic, odd events never make an expression panic, and arbitrary bytes never make
//! the event decoders (lines, Kafka records and their dead letters) panic. Each either
//! works or gives an error.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use styx_job::expr::Expr;
use styx_job::Job;
use styx_runtime::event::Event;

/// A job file using most of the format: sources, every transform kind that needs no
/// store or model file, sinks, durations, expressions.
const JOB: &str = r#"[job]
name = "fuzz"
parallelism = 2
on_error = "continue"

[sources.events]
type = "file"
path = "events.ndjson"
dead_letter = "bad"
event_time = { field = "ts", max_out_of_orderness = "250ms", watermarks = "per_event" }

[transforms.big]
type = "filter"
inputs = ["events"]
condition = "amount * 2.5 > 100 && country != 'NL'"
dead_letter = "big.dead"

[transforms.tagged]
type = "map"
inputs = ["big"]
fields = { level = "amount > 1000 ? 'high' : 'mid'", cents = "amount * 100" }
remove = ["card"]

[transforms.sums]
type = "window"
inputs = ["tagged"]
key = "account"
window = { type = "sliding", size = "10s", slide = "2s" }
allowed_lateness = "1s"
aggregates = { n = "count", total = "sum(amount)", top = "max(amount)", mean = "avg(amount)" }
dead_letter = "sums.dead"

[transforms.combo]
type = "pattern"
inputs = ["events"]
key = "account"
within = "10m"

[[transforms.combo.stages]]
name = "small"
condition = "amount < 10"
times = 3
inner = "consecutive"

[[transforms.combo.stages]]
name = "large"
follows = "followed_by"
condition = "amount > 500 && amount > match.small[0].amount"

[sinks.out]
type = "file"
inputs = ["sums", "combo", "combo.timed_out"]
path = "out/results.ndjson"

[sinks.dead]
type = "stdout"
inputs = ["bad", "big.dead", "sums.dead", "sums.late"]
"#;

/// `JOB` with `edits` applied: each deletes, replaces or inserts a character at a
/// position.
fn mangled(edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = JOB.chars().collect();
    for &(at, kind, c) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        match kind % 3 {
            0 => {
                chars.remove(at);
            }
            1 => chars[at] = c,
            _ => chars.insert(at, c),
        }
    }
    chars.into_iter().collect()
}

fn odd_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('"'),
        Just('='),
        Just('['),
        Just(']'),
        Just('{'),
        Just('}'),
        Just('\n'),
        Just('.'),
        Just('0'),
        Just('M'),
        Just('é'),
        any::<char>(),
    ]
}

/// A JSON value of any shape, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9 .é\"]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An event whose fields `a`, `b`, `s` and `m` hold anything.
fn event() -> impl Strategy<Value = Event> {
    (json(), json(), json(), json()).prop_map(|(a, b, s, m)| {
        let mut e = Event::new();
        e.insert("a", a);
        e.insert("b", b);
        e.insert("s", s);
        e.insert("m", m);
        e
    })
}

/// An expression over the fields of [`event`], valid or not.
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("s".to_string()),
        Just("m.a".to_string()),
        Just("event.a".to_string()),
        Just("missing".to_string()),
        (-5i64..5).prop_map(|i| i.to_string()),
        Just("2.5".to_string()),
        Just("18446744073709551615u".to_string()),
        Just("9223372036854775807".to_string()),
        Just("'x'".to_string()),
        Just("[1, 2.5]".to_string()),
        Just("null".to_string()),
    ];
    atom.prop_recursive(3, 24, 3, |inner| {
        let op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("=="),
            Just("<"),
            Just(">="),
            Just("&&"),
            Just("||"),
            Just("in"),
        ];
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            inner.clone().prop_map(|e| format!("size({e})")),
            inner.clone().prop_map(|e| format!("double({e})")),
            inner.clone().prop_map(|e| format!("int({e})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("{e}.map(x, x * 2)")),
            inner.clone().prop_map(|e| format!("has({e}.a)")),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, t, f)| format!("{c} ? {t} : {f}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mangled_job_files_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), odd_char()), 1..6)
    ) {
        let _ = Job::parse(Path::new("fuzz.toml"), &mangled(&edits));
    }

    #[test]
    fn arbitrary_job_text_never_panics(text in "(\\[[a-z.]{1,12}\\]\n|[a-z_]{1,8} = (\"[^\"\n]{0,8}\"|[0-9]{1,4}|\\[\"[a-z]{1,4}\"\\]|\\{ [a-z]{1,4} = \"[a-z0-9()]{0,6}\" \\})\n){0,24}") {
        let _ = Job::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn expressions_over_odd_events_never_panic(source in expression(), e in event()) {
        if let Ok(expr) = Expr::compile(&source) {
            let _ = expr.eval(&e);
            let _ = expr.eval_bool(&e);
        }
    }

    #[test]
    fn arbitrary_bytes_never_make_the_decoder_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = styx_connectors::decode::decode_event(&bytes, Some("ts"));
        let _ = styx_connectors::decode::decode_event(&bytes, None);
    }

    #[test]
    fn kafka_records_never_make_the_decoder_panic(
        payload in prop::option::of(prop::collection::vec(any::<u8>(), 0..48)),
        key in prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
        raw in any::<bool>(),
        projected in any::<bool>(),
        timestamp in prop::option::of(any::<i64>()),
    ) {
        let decoder = styx_kafka::Decoder {
            format: if raw { styx_kafka::Format::Raw } else { styx_kafka::Format::Json },
            time_field: Some("ts".into()),
            key_field: Some("k".into()),
            headers_field: Some("h".into()),
            only: projected.then(|| vec!["ts".into(), "v".into()]),
        };
        let record = styx_kafka::decode::RecordView {
            topic: "t",
            partition: 0,
            offset: 7,
            key: key.as_deref(),
            payload: payload.as_deref(),
            timestamp,
        };
        if let Err(dead) = decoder.decode(&record) {
            // A refused record becomes a dead letter, whatever its bytes.
            let _ = dead.to_event();
        }
    }

    #[test]
    fn jsonish_lines_never_make_the_decoder_panic(line in "\\{(\"(ts|a)\": ?(-?[0-9]{1,20}(\\.[0-9]{1,3})?(e[0-9]{1,3})?|\"[^\"]{0,4}\"|null|\\[\\]|\\{\\}),? ?){0,4}\\}?") {
        let _ = styx_connectors::decode::decode_event(line.as_bytes(), Some("ts"));
    }
}

/// The unmangled job file is valid: the mangled ones are near misses of a real job.
#[test]
fn the_job_file_mangled_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.ndjson"), "").unwrap();
    std::fs::write(dir.path().join("fuzz.toml"), JOB).unwrap();
    Job::load(&dir.path().join("fuzz.toml")).expect("valid");
}
