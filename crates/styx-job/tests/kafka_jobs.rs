//! Job files with Kafka sources and sinks, against a real broker.
//!
//! `STYX_KAFKA_BROKERS` names a broker with consumer groups (tansu under `scripts/test`);
//! when it is not set, the tests fail.
//! Every test uses topics and groups of its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::producer::BaseRecord;
use serde_json::Value;
use styx_job::{Job, RunOptions};
use styx_kafka::admin::create_topic;
use styx_kafka::{
    Decoder, KafkaConsumer, KafkaProducer, KafkaSinkConfig, KafkaSourceConfig, Partition, Polled,
    StartPositions,
};
use styx_runtime::source::StopHandle;

const TIMEOUT: Duration = Duration::from_secs(10);
/// How long jobs go on after their input stopped coming.
const UNTIL_IDLE: Duration = Duration::from_secs(4);

/// The broker address; a test that needs a broker fails when none is set.
fn brokers() -> String {
    match std::env::var("STYX_KAFKA_BROKERS") {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "STYX_KAFKA_BROKERS is not set: run `scripts/brokers start` and \
             `eval \"$(scripts/brokers env)\"`, or use scripts/test"
        ),
    }
}

macro_rules! require_brokers {
    () => {
        brokers()
    };
}

fn unique(prefix: &str) -> String {
    format!("styx-job-{prefix}-{:016x}", rand::random::<u64>())
}

/// Writes raw records to `topic`, each with its key (records of a key share a partition).
fn produce(brokers: &str, topic: &str, records: &[(Option<String>, Vec<u8>)]) {
    let sink: KafkaSinkConfig =
        toml::from_str(&format!("brokers = \"{brokers}\"\ntopic = \"{topic}\"")).unwrap();
    let producer = KafkaProducer::new(&sink, None, TIMEOUT).unwrap();
    for (key, payload) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).payload(payload);
        if let Some(k) = key {
            record = record.key(k.as_bytes());
        }
        producer.inner().send(record).map_err(|(e, _)| e).unwrap();
    }
    rdkafka::producer::Producer::flush(producer.inner(), TIMEOUT).unwrap();
}

/// Reads every partition of `topic` from its start (assigned, outside any group's
/// rebalancing) until `count` records came, and a little longer, so that too many show.
/// When fewer came, what each partition gave and what the broker holds are printed.
fn consume(brokers: &str, topic: &str, count: usize) -> Vec<Value> {
    let config: KafkaSourceConfig = toml::from_str(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"",
        unique("reader")
    ))
    .unwrap();
    let consumer = KafkaConsumer::unsubscribed(
        &config,
        Decoder::for_source(&config, None),
        StartPositions::new(config.start),
        "reader",
    )
    .unwrap();
    let metadata = consumer
        .inner()
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap();
    let partitions: Vec<Partition> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| Partition::new(topic, p.id()))
        .collect();
    assert!(!partitions.is_empty(), "{topic} has no partitions");
    consumer.assign_partitions(&partitions).unwrap();
    let mut polled = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut extra: Option<Instant> = None;
    while Instant::now() < deadline && extra.is_none_or(|e| Instant::now() < e) {
        consumer
            .poll_batch(&mut polled, 1000, Duration::from_millis(100))
            .unwrap();
        if polled.len() >= count && extra.is_none() {
            extra = Some(Instant::now() + Duration::from_secs(1));
        }
    }
    let mut read: BTreeMap<i32, (usize, i64, i64)> = BTreeMap::new();
    let mut got = Vec::with_capacity(polled.len());
    for p in polled {
        match p {
            Polled::Event {
                partition,
                offset,
                event,
                ..
            } => {
                let e = read.entry(partition).or_insert((0, i64::MAX, -1));
                *e = (e.0 + 1, e.1.min(offset), e.2.max(offset));
                got.push(event.into_value());
            }
            Polled::Dead(d) => panic!("unreadable output record: {d:?}"),
        }
    }
    if got.len() < count {
        for p in &partitions {
            let held = consumer
                .inner()
                .fetch_watermarks(topic, p.partition, TIMEOUT);
            eprintln!(
                "{topic}/{}: read (records, first offset, last offset) {:?}, \
                 broker's (low, high) {held:?}",
                p.partition,
                read.get(&p.partition)
            );
        }
    }
    got
}

fn read_ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs a job file until its sources have been idle for [`UNTIL_IDLE`].
fn run_until_idle(path: &Path, parallelism: Option<usize>) {
    let job = Job::load(path).unwrap_or_else(|e| panic!("{e}"));
    let stop = StopHandle::new();
    stop.stop_when_idle(UNTIL_IDLE);
    job.run(&RunOptions {
        parallelism,
        stop: Some(stop),
        ..RunOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Sorted JSON texts: the multiset of records.
fn multiset(values: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(Value::to_string).collect();
    v.sort();
    v
}

/// Turns a fixture's file job into a Kafka job: its source reads `input`, its sinks write
/// to `<output>.<sink id>` topics.
fn kafka_job(file_job: &str, brokers: &str, input: &str, group: &str, output: &str) -> String {
    let mut out = String::new();
    let mut section = String::new();
    for line in file_job.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.to_string();
        }
        if section == "[sources.events]" && t.starts_with("type") {
            out.push_str(&format!(
                "type = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{input}\"\n\
                 group = \"{group}\"\nstart = \"earliest\"\n"
            ));
            continue;
        }
        if section == "[sources.events]" && t.starts_with("path") {
            continue;
        }
        if let Some(id) = section
            .strip_prefix("[sinks.")
            .and_then(|s| s.strip_suffix(']'))
        {
            if t.starts_with("type") {
                out.push_str(&format!(
                    "type = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{output}.{id}\"\n"
                ));
                continue;
            }
            if t.starts_with("path") {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// (a) Flink's window scenarios read from a one-partition topic and written to topics
/// give exactly what the same job gives reading the same records from a file.
#[test]
fn a_one_partition_topic_gives_the_results_of_the_file() {
    let brokers = require_brokers!();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/windows");
    let scenarios = [
        "004-tumbling-allowed-lateness-boundary",
        "005-sliding-late-for-some-windows",
        "008-session-late-merge-within-lateness",
        "017-sliding-late-refire-within-lateness",
        "021-session-stragglers-al5s",
        "024-tumbling-stragglers-al2m",
        "035-sliding-nonmultiple-heavy-al100ms",
        "057-sliding-gappy-stragglers-al5s",
    ];
    let handles: Vec<_> = scenarios
        .iter()
        .map(|name| {
            let dir = root.join(name);
            let brokers = brokers.clone();
            let name = name.to_string();
            std::thread::spawn(move || {
                let work = tempfile::tempdir().unwrap();
                let file_job = std::fs::read_to_string(dir.join("job.toml")).unwrap();
                std::fs::copy(dir.join("events.ndjson"), work.path().join("events.ndjson"))
                    .unwrap();
                std::fs::write(work.path().join("file.toml"), &file_job).unwrap();
                Job::load(&work.path().join("file.toml"))
                    .unwrap()
                    .run(&RunOptions::default())
                    .unwrap();
                let by_file: Vec<Vec<Value>> = ["results", "late"]
                    .iter()
                    .map(|s| read_ndjson(&work.path().join(format!("out/{s}.ndjson"))))
                    .collect();

                let input = unique("in");
                let output = unique("out");
                create_topic(&brokers, &input, 1, TIMEOUT).unwrap();
                for sink in ["results", "late"] {
                    create_topic(&brokers, &format!("{output}.{sink}"), 1, TIMEOUT).unwrap();
                }
                let lines: Vec<(Option<String>, Vec<u8>)> =
                    std::fs::read_to_string(dir.join("events.ndjson"))
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| (None, l.as_bytes().to_vec()))
                        .collect();
                produce(&brokers, &input, &lines);
                let job = kafka_job(&file_job, &brokers, &input, &unique("g"), &output);
                std::fs::write(work.path().join("kafka.toml"), job).unwrap();
                run_until_idle(&work.path().join("kafka.toml"), None);
                let mut failures = Vec::new();
                for (i, sink) in ["results", "late"].iter().enumerate() {
                    let got = consume(&brokers, &format!("{output}.{sink}"), by_file[i].len());
                    let (got, expected) = (multiset(&got), multiset(&by_file[i]));
                    if got != expected {
                        failures.push(format!(
                            "{name} {sink}: {} records from Kafka, {} from the file; \
                             missing {:?}, unexpected {:?}",
                            got.len(),
                            expected.len(),
                            expected
                                .iter()
                                .filter(|e| !got.contains(e))
                                .take(3)
                                .collect::<Vec<_>>(),
                            got.iter()
                                .filter(|g| !expected.contains(g))
                                .take(3)
                                .collect::<Vec<_>>()
                        ));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Events of 12 keys, each key's events in time order, the whole in time order.
fn keyed_events(n: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "key": format!("k{}", (i * 7) % 12),
                "ts": 1_000_000 + i * 37 + (i % 5) * 3,
                "value": (i * 13) % 101,
            })
        })
        .collect()
}

const WINDOWS: &str = r#"
[transforms.tumbling]
type = "window"
inputs = ["events"]
key = "key"
window = { type = "tumbling", size = "1s" }
aggregates = { n = "count", total = "sum(value)", hi = "max(value)" }

[transforms.sliding]
type = "window"
inputs = ["events"]
key = "key"
window = { type = "sliding", size = "2s", slide = "500ms" }
aggregates = { n = "count", mean = "avg(value)" }

[transforms.sessions]
type = "window"
inputs = ["events"]
key = "key"
window = { type = "session", gap = "300ms" }
aggregates = { n = "count", lo = "min(value)" }
"#;

/// (a) With three partitions (each key in one partition, each partition in time order)
/// the windowed results are the multiset of those of the file.
#[test]
fn a_three_partition_topic_gives_the_multiset_of_results_of_the_file() {
    let brokers = require_brokers!();
    let work = tempfile::tempdir().unwrap();
    let events = keyed_events(3000);
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(work.path().join("events.ndjson"), &text).unwrap();
    let event_time = "[sources.events.event_time]\nfield = \"ts\"\n\
                      max_out_of_orderness = \"20ms\"\nwatermarks = \"per_event\"\n";
    let sinks = |kind: &str| -> String {
        ["tumbling", "sliding", "sessions"]
            .iter()
            .map(|t| match kind {
                "file" => format!(
                    "[sinks.{t}]\ntype = \"file\"\ninputs = [\"{t}\"]\npath = \"out/{t}.ndjson\"\n"
                ),
                topic => format!(
                    "[sinks.{t}]\ntype = \"kafka\"\ninputs = [\"{t}\"]\nbrokers = \"{brokers}\"\n\
                     topic = \"{topic}.{t}\"\nkey = \"key\"\n"
                ),
            })
            .chain(["tumbling", "sliding", "sessions"].iter().map(|t| {
                format!(
                    "[sinks.{t}_late]\ntype = \"file\"\ninputs = [\"{t}.late\"]\n\
                     path = \"out/{kind}.{t}.late.ndjson\"\n"
                )
            }))
            .collect()
    };
    let file_job = format!(
        "[job]\nname = \"three\"\n[sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n\
         {event_time}{WINDOWS}{}",
        sinks("file")
    );
    std::fs::write(work.path().join("file.toml"), file_job).unwrap();
    Job::load(&work.path().join("file.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();

    let input = unique("in3");
    let output = unique("out3");
    create_topic(&brokers, &input, 3, TIMEOUT).unwrap();
    for t in ["tumbling", "sliding", "sessions"] {
        create_topic(&brokers, &format!("{output}.{t}"), 2, TIMEOUT).unwrap();
    }
    let records: Vec<(Option<String>, Vec<u8>)> = events
        .iter()
        .map(|e| {
            (
                Some(e["key"].as_str().unwrap().to_string()),
                e.to_string().into_bytes(),
            )
        })
        .collect();
    produce(&brokers, &input, &records);
    let kafka_job = format!(
        "[job]\nname = \"three\"\n[sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\n\
         topic = \"{input}\"\ngroup = \"{}\"\nstart = \"earliest\"\n{event_time}{WINDOWS}{}",
        unique("g"),
        sinks(&output)
    );
    std::fs::write(work.path().join("kafka.toml"), kafka_job).unwrap();
    run_until_idle(&work.path().join("kafka.toml"), Some(2));
    for t in ["tumbling", "sliding", "sessions"] {
        let expected = read_ndjson(&work.path().join(format!("out/{t}.ndjson")));
        assert!(expected.len() > 100, "{t}: {}", expected.len());
        let got = consume(&brokers, &format!("{output}.{t}"), expected.len());
        let (got, expected) = (multiset(&got), multiset(&expected));
        let missing: Vec<_> = expected
            .iter()
            .filter(|e| !got.contains(e))
            .take(3)
            .collect();
        let unexpected: Vec<_> = got
            .iter()
            .filter(|g| !expected.contains(g))
            .take(3)
            .collect();
        let late =
            std::fs::read_to_string(work.path().join(format!("out/{output}.{t}.late.ndjson")))
                .unwrap_or_default();
        assert!(
            got == expected,
            "{t}: {} results from Kafka, {} from the file; missing {missing:?}, \
             unexpected {unexpected:?}; {} late events",
            got.len(),
            expected.len(),
            late.lines().count()
        );
    }
}

/// (b) Records that are not events go to the dead-letter output with their reasons and
/// positions; the job goes on and its results are those of the good records.
#[test]
fn garbage_records_go_to_the_dead_letter_output_and_the_job_goes_on() {
    let brokers = require_brokers!();
    let work = tempfile::tempdir().unwrap();
    let events = keyed_events(400);
    let garbage: [&[u8]; 5] = [
        b"{not json",
        b"[1, 2, 3]",
        br#"{"key": "k1", "value": 3}"#,
        br#"{"key": "k1", "ts": "noon", "value": 3}"#,
        b"\xff\xfe",
    ];
    let mut records = Vec::new();
    let mut good = String::new();
    for (i, e) in events.iter().enumerate() {
        records.push((None, e.to_string().into_bytes()));
        good.push_str(&format!("{e}\n"));
        if i % 80 == 40 {
            records.push((None, garbage[i / 80].to_vec()));
        }
    }
    std::fs::write(work.path().join("events.ndjson"), good).unwrap();
    let event_time = "[sources.events.event_time]\nfield = \"ts\"\n\
                      max_out_of_orderness = \"0s\"\nwatermarks = \"per_event\"\n";
    let rest = "[transforms.counts]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
                window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\", total = \"sum(value)\" }\n\
                [sinks.results]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out/results.ndjson\"\n";
    std::fs::write(
        work.path().join("file.toml"),
        format!(
            "[job]\nname = \"dead\"\n[sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n\
             {event_time}{rest}"
        ),
    )
    .unwrap();
    Job::load(&work.path().join("file.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();
    let expected = read_ndjson(&work.path().join("out/results.ndjson"));

    let input = unique("dirty");
    let dead_topic = unique("dead");
    create_topic(&brokers, &input, 1, TIMEOUT).unwrap();
    create_topic(&brokers, &dead_topic, 1, TIMEOUT).unwrap();
    produce(&brokers, &input, &records);
    let kafka_dir = work.path().join("kafka");
    std::fs::create_dir_all(&kafka_dir).unwrap();
    std::fs::write(
        kafka_dir.join("job.toml"),
        format!(
            "[job]\nname = \"dead\"\n[sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\n\
             topic = \"{input}\"\ngroup = \"{}\"\nstart = \"earliest\"\ndead_letter = \"events.dead\"\n\
             {event_time}{rest}\
             [sinks.dead]\ntype = \"kafka\"\ninputs = [\"events.dead\"]\nbrokers = \"{brokers}\"\n\
             topic = \"{dead_topic}\"\n",
            unique("g")
        ),
    )
    .unwrap();
    run_until_idle(&kafka_dir.join("job.toml"), None);
    let got = multiset(&read_ndjson(&kafka_dir.join("out/results.ndjson")));
    let expected = multiset(&expected);
    assert!(
        got == expected,
        "results of the good records: {} from Kafka, {} from the file; missing {:?}",
        got.len(),
        expected.len(),
        expected
            .iter()
            .filter(|e| !got.contains(e))
            .take(3)
            .collect::<Vec<_>>()
    );

    let dead = consume(&brokers, &dead_topic, garbage.len());
    assert_eq!(dead.len(), garbage.len(), "{dead:?}");
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("not valid JSON"), "{reasons:?}");
    assert_eq!(reasons[1], "not a JSON object: an array");
    assert_eq!(reasons[2], "event-time field `ts` is missing");
    assert!(reasons[3].contains("must be an integer"), "{reasons:?}");
    assert!(reasons[4].starts_with("not valid JSON"), "{reasons:?}");
    for (d, payload) in dead.iter().zip(garbage) {
        assert_eq!(d["topic"], Value::from(input.clone()));
        assert_eq!(d["partition"], Value::from(0));
        assert_eq!(
            d["payload"].as_str().unwrap(),
            String::from_utf8_lossy(payload)
        );
    }
    // Offsets: each garbage record sits after the 41st, 121st... good record.
    let offsets: Vec<i64> = dead.iter().map(|d| d["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, [41, 122, 203, 284, 365]);
}

/// Unknown keys of Kafka tables, and more than one `exactly_once` sink, are refused when
/// the job file is read.
#[test]
fn kafka_tables_are_checked_when_the_job_is_read() {
    let job = |extra_source: &str, extra_sink: &str| {
        format!(
            "[job]\nname = \"x\"\n[sources.in]\ntype = \"kafka\"\nbrokers = \"b:1\"\ntopic = \"t\"\n\
             {extra_source}\n[sinks.out]\ntype = \"kafka\"\ninputs = [\"in\"]\nbrokers = \"b:1\"\n\
             topic = \"u\"\n{extra_sink}\n"
        )
    };
    assert!(Job::parse(Path::new("job.toml"), &job("", "")).is_ok());
    let e = Job::parse(Path::new("job.toml"), &job("gruop = \"g\"", ""))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("gruop"), "{e}");
    assert!(Job::parse(
        Path::new("job.toml"),
        &job("", "delivery = \"exactly_once\"")
    )
    .is_ok());
    let two = job("", "delivery = \"exactly_once\"")
        + "[sinks.more]\ntype = \"kafka\"\ninputs = [\"in\"]\nbrokers = \"b:1\"\ntopic = \"v\"\n\
           delivery = \"exactly_once\"\n";
    let e = Job::parse(Path::new("job.toml"), &two)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("sinks.more.delivery") && e.contains("at most one exactly_once sink"),
        "{e}"
    );
    let e = Job::parse(
        Path::new("job.toml"),
        &job("brokers2 = 1", "").replace("brokers2 = 1", "properties = { \"group.id\" = \"x\" }"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("group.id"), "{e}");
}

/// Generator sources produce `count` seeded events; the same seed gives the same events.
#[test]
fn generator_sources_produce_seeded_events() {
    let work = tempfile::tempdir().unwrap();
    let job = "[job]\nname = \"gen\"\n[sources.pay]\ntype = \"generator\"\nkind = \"payments\"\n\
               count = 500\nseed = 7\nevent_time = { field = \"ts\", watermarks = \"per_event\" }\n\
               [transforms.counts]\ntype = \"window\"\ninputs = [\"pay\"]\nkey = \"account\"\n\
               window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\" }\n\
               [sinks.raw]\ntype = \"file\"\ninputs = [\"pay\"]\npath = \"out/raw.ndjson\"\n\
               [sinks.counts]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out/counts.ndjson\"\n";
    std::fs::write(work.path().join("job.toml"), job).unwrap();
    Job::load(&work.path().join("job.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();
    let raw = read_ndjson(&work.path().join("out/raw.ndjson"));
    assert_eq!(raw.len(), 500);
    let expected: Vec<Value> = styx_generate::Generator::new(styx_generate::Kind::Payments, 7)
        .take(500)
        .map(Value::Object)
        .collect();
    assert_eq!(raw, expected);
    let counts = read_ndjson(&work.path().join("out/counts.ndjson"));
    assert_eq!(
        counts.iter().map(|c| c["n"].as_u64().unwrap()).sum::<u64>(),
        500
    );
    let bad = job.replace("payments", "lottery");
    let e = Job::parse(&work.path().join("job.toml"), &bad)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("sources.pay.kind"), "{e}");
}

/// A savepoint taken at parallelism 2 resumes at parallelism 3 on a four-partition
/// topic: the partitions move between members (the group rebalances, commits of
/// partitions that moved on are left to their new owner), the job ends cleanly, and the
/// results before and after the savepoint are those of the file, each once.
#[test]
fn a_savepoint_at_parallelism_2_resumes_at_parallelism_3_on_four_partitions() {
    let brokers = require_brokers!();
    let work = tempfile::tempdir().unwrap();
    let events = keyed_events(4000);
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(work.path().join("events.ndjson"), &text).unwrap();
    let event_time = "[sources.events.event_time]\nfield = \"ts\"\n\
                      max_out_of_orderness = \"20ms\"\nwatermarks = \"per_event\"\n";
    let window = "[transforms.tumbling]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
                  window = { type = \"tumbling\", size = \"1s\" }\n\
                  aggregates = { n = \"count\", total = \"sum(value)\" }\n\
                  [sinks.out]\ntype = \"file\"\ninputs = [\"tumbling\"]\npath = \"out/results.ndjson\"\n\
                  [sinks.late]\ntype = \"file\"\ninputs = [\"tumbling.late\"]\npath = \"out/late.ndjson\"\n";
    std::fs::write(
        work.path().join("file.toml"),
        format!(
            "[job]\nname = \"rescale\"\n[sources.events]\ntype = \"file\"\n\
             path = \"events.ndjson\"\n{event_time}{window}"
        ),
    )
    .unwrap();
    Job::load(&work.path().join("file.toml"))
        .unwrap()
        .run(&RunOptions::default())
        .unwrap();
    let expected = multiset(&read_ndjson(&work.path().join("out/results.ndjson")));

    let input = unique("rescale");
    create_topic(&brokers, &input, 4, TIMEOUT).unwrap();
    let records: Vec<(Option<String>, Vec<u8>)> = events
        .iter()
        .map(|e| {
            (
                Some(e["key"].as_str().unwrap().to_string()),
                e.to_string().into_bytes(),
            )
        })
        .collect();
    produce(&brokers, &input, &records[..2000]);
    let dir = work.path().join("kafka");
    std::fs::create_dir_all(&dir).unwrap();
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"rescale\"\nstate_dir = \"state\"\n[sources.events]\ntype = \"kafka\"\n\
             brokers = \"{brokers}\"\ntopic = \"{input}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
             {event_time}{window}",
            unique("g")
        ),
    )
    .unwrap();

    // At parallelism 2 until a savepoint stops it, once it has written results.
    let first = {
        let job = job.clone();
        std::thread::spawn(move || {
            Job::load(&job).unwrap().run(&RunOptions {
                parallelism: Some(2),
                stop: Some(StopHandle::new()),
                ..RunOptions::default()
            })
        })
    };
    let results = dir.join("out/results.ndjson");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 50 {
        assert!(Instant::now() < deadline, "the job wrote no results");
        assert!(!first.is_finished(), "the job ended: {:?}", first.join());
        std::thread::sleep(Duration::from_millis(100));
    }
    let savepoint = loop {
        match styx_job::control::request_savepoint(&dir.join("state"), true) {
            Ok(path) => break path,
            Err(e) => {
                assert!(Instant::now() < deadline, "no savepoint: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    first.join().unwrap().unwrap_or_else(|e| panic!("{e}"));

    // The rest of the input, read at parallelism 3 from the savepoint.
    produce(&brokers, &input, &records[2000..]);
    let stop = StopHandle::new();
    stop.stop_when_idle(UNTIL_IDLE);
    Job::load(&job)
        .unwrap()
        .run(&RunOptions {
            parallelism: Some(3),
            from_savepoint: Some(savepoint),
            stop: Some(stop),
            ..RunOptions::default()
        })
        .unwrap_or_else(|e| panic!("the resumed job ends cleanly: {e}"));
    let got = multiset(&read_ndjson(&results));
    let missing: Vec<_> = expected
        .iter()
        .filter(|e| !got.contains(e))
        .take(3)
        .collect();
    let late = std::fs::read_to_string(dir.join("out/late.ndjson")).unwrap_or_default();
    assert!(
        got == expected,
        "{} results, {} expected; missing {missing:?}; {} late events",
        got.len(),
        expected.len(),
        late.lines().count()
    );
}
