//! What the command-line tests share: the binary, brokers from the environment, topics
//! written and read, and NDJSON files compared as multisets.

#![allow(dead_code)]

pub mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::producer::BaseRecord;
use serde_json::Value;
use styx_kafka::{
    Decoder, KafkaConsumer, KafkaProducer, KafkaSinkConfig, KafkaSourceConfig, Polled,
    StartPositions,
};

/// A PMML document of the shared suite: a logistic regression of the iris flowers.
pub fn iris_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../styx-pmml/tests/fixtures/011-logreg-multinomial-iris/model.pmml")
}

/// The text of [`iris_path`].
pub fn iris() -> Vec<u8> {
    std::fs::read(iris_path()).unwrap()
}

/// The `styx` binary under test.
pub const STYX: &str = env!("CARGO_BIN_EXE_styx");

/// How long a broker call may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The broker address in `var`. A test that needs a broker fails when none is set: it
/// never passes without checking anything (`scripts/test` starts the brokers).
pub fn brokers(var: &str) -> String {
    match std::env::var(var) {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!("{var} is not set: run the tests with scripts/test, which starts the brokers"),
    }
}

/// A topic, group or job name of its own.
pub fn unique(prefix: &str) -> String {
    format!("styx-cli-{prefix}-{:016x}", rand::random::<u64>())
}

/// Writes `(key, payload)` records to `topic`.
pub fn produce(brokers: &str, topic: &str, records: impl IntoIterator<Item = (String, String)>) {
    produce_to(
        brokers,
        topic,
        records.into_iter().map(|(k, p)| (k, p, None)),
    );
}

/// Writes `(key, payload, partition)` records to `topic` (`None`: the partition the key
/// hashes to).
pub fn produce_to(
    brokers: &str,
    topic: &str,
    records: impl IntoIterator<Item = (String, String, Option<i32>)>,
) {
    let sink: KafkaSinkConfig =
        toml::from_str(&format!("brokers = \"{brokers}\"\ntopic = \"{topic}\"")).unwrap();
    let producer = KafkaProducer::new(&sink, None, TIMEOUT).unwrap();
    for (key, payload, partition) in records {
        let mut record = BaseRecord::to(topic).key(&key).payload(&payload);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        producer.inner().send(record).map_err(|(e, _)| e).unwrap();
    }
    rdkafka::producer::Producer::flush(producer.inner(), TIMEOUT).unwrap();
}

/// Reads `topic` from the start (with librdkafka `properties`, for example the
/// isolation level) until `done` says so of what came, nothing came for `quiet`, or
/// two minutes passed.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    properties: &str,
    quiet: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let config: KafkaSourceConfig = toml::from_str(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
         properties = {{ {properties} }}",
        unique("reader")
    ))
    .unwrap();
    let consumer = KafkaConsumer::new(
        &config,
        Decoder::for_source(&config, None),
        StartPositions::new(config.start),
        "reader",
    )
    .unwrap();
    let mut got = Vec::new();
    let mut polled = Vec::new();
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while last.elapsed() < quiet && Instant::now() < deadline && !done(&got) {
        consumer
            .poll_batch(&mut polled, 1000, Duration::from_millis(100))
            .unwrap();
        if !polled.is_empty() {
            last = Instant::now();
        }
        for p in polled.drain(..) {
            match p {
                Polled::Event { event, .. } => got.push(event.into_value()),
                Polled::Dead(d) => panic!("unreadable output record: {d:?}"),
            }
        }
    }
    got
}

/// Runs `styx run JOB` to its end and checks that it succeeded.
pub fn run_to_end(job: &Path) {
    let status = std::process::Command::new(STYX)
        .args(["run", job.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "{}: {status}", job.display());
}

/// The oracle of the Kafka job tests: the results (see [`file_multiset`]) of the job whose
/// transform `counts` is `transform` over `n` events (see [`event`]) in a file, run in `dir`.
pub fn file_results(dir: &Path, transform: &str, n: u64) -> Vec<String> {
    let lines: String = (0..n).map(|k| event(k) + "\n").collect();
    std::fs::write(dir.join("events.ndjson"), lines).unwrap();
    std::fs::write(
        dir.join("file.toml"),
        format!(
            "[job]\nname = \"file-oracle\"\n[sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n\
             {transform}[sinks.out]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out/results.ndjson\"\n"
        ),
    )
    .unwrap();
    run_to_end(&dir.join("file.toml"));
    file_multiset(&dir.join("out/results.ndjson"))
}

/// The JSON objects of an NDJSON file (none if it is missing).
pub fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Values as sorted JSON texts: a multiset that compares with `==`.
pub fn multiset(values: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(Value::to_string).collect();
    v.sort();
    v
}

/// The multiset of an NDJSON file's objects.
pub fn file_multiset(path: &Path) -> Vec<String> {
    multiset(&ndjson(path))
}

/// Event `n` of the exactly-once tests: ten keys, time in order (so no event is late,
/// however partitions interleave).
pub fn event(n: u64) -> String {
    format!(
        "{{\"key\":\"k{}\",\"ts\":{},\"value\":{}}}",
        n % 10,
        1_000_000 + n * 7,
        n % 97
    )
}

/// Events `range`, keyed by their key.
pub fn events(range: std::ops::Range<u64>) -> impl Iterator<Item = (String, String)> {
    range.map(|n| (format!("k{}", n % 10), event(n)))
}

/// The committed records of `topic`, read until none came for `quiet`.
pub fn read_committed(brokers: &str, topic: &str, quiet: Duration) -> Vec<String> {
    let got = read_topic(
        brokers,
        topic,
        "\"isolation.level\" = \"read_committed\"",
        quiet,
        |_| false,
    );
    multiset(&got)
}

/// The window of the exactly-once tests' jobs (on a source `events`): counts and sums
/// per key and second of event time, in a transform `counts`.
pub const WINDOW: &str =
    "[sources.events.event_time]\nfield = \"ts\"\nmax_out_of_orderness = \"0s\"\n\
     watermarks = \"per_event\"\n\
     [transforms.counts]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
     window = { type = \"tumbling\", size = \"1s\" }\n\
     aggregates = { n = \"count\", total = \"sum(value)\" }\n";

/// The pattern of the exactly-once tests' jobs (on a source `events`), in a transform
/// `counts`: per key, a low value, then one or more high ones, then a low one again,
/// within two seconds, skipping past each match.
pub const PATTERN: &str =
    "[sources.events.event_time]\nfield = \"ts\"\nmax_out_of_orderness = \"0s\"\n\
     watermarks = \"per_event\"\n\
     [transforms.counts]\ntype = \"pattern\"\ninputs = [\"events\"]\nkey = \"key\"\n\
     within = \"2s\"\nafter_match = \"skip_past_last_event\"\n\
     [[transforms.counts.stages]]\nname = \"low\"\ncondition = \"value < 10\"\n\
     [[transforms.counts.stages]]\nname = \"high\"\none_or_more = true\n\
     condition = \"value > 80 && value > match.low[0].value + 70\"\n\
     [[transforms.counts.stages]]\nname = \"back\"\ncondition = \"value < 20\"\n";
