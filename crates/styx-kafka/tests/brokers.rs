//! Integration tests against real Kafka-protocol brokers.
//!
//! `STYX_KAFKA_BROKERS` names a broker for consumer groups and rebalancing (tansu under
//! `scripts/test`), `STYX_KAFKA_TXN_BROKERS` one whose `read_committed` hides aborted
//! transactions (noida-db under `scripts/test`). Either can be real Apache Kafka. A test
//! whose variable is not set fails.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use serde_json::{json, Value};
use styx_kafka::admin::create_topic;
use styx_kafka::{
    Decoder, Error, Event, KafkaConsumer, KafkaProducer, KafkaSinkConfig, KafkaSourceConfig,
    Partition, Polled, RebalanceEvent, StartPositions,
};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The broker address in `var`; a test that needs a broker fails when none is set.
fn brokers(var: &str) -> String {
    match std::env::var(var) {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "{var} is not set: run `scripts/brokers start` and `eval \"$(scripts/brokers env)\"`, \
             or use scripts/test"
        ),
    }
}

macro_rules! require {
    ($var:expr) => {
        brokers($var)
    };
}

fn unique(prefix: &str) -> String {
    format!("styx-test-{prefix}-{:016x}", rand::random::<u64>())
}

fn source(text: &str) -> KafkaSourceConfig {
    toml::from_str(text).expect("source table")
}

fn sink(text: &str) -> KafkaSinkConfig {
    toml::from_str(text).expect("sink table")
}

fn ts_decoder(config: &KafkaSourceConfig) -> Decoder {
    Decoder::for_source(config, Some("ts"))
}

/// Polls `consumers` in turn until `done` holds or `limit` passes.
fn poll_until(
    consumers: &[&KafkaConsumer],
    got: &mut [Vec<Polled>],
    limit: Duration,
    mut done: impl FnMut(&[Vec<Polled>]) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done(got) {
            return true;
        }
        for (c, out) in consumers.iter().zip(got.iter_mut()) {
            let before = out.len();
            c.poll_batch(out, 500, Duration::from_millis(50)).unwrap();
            for p in &out[before..] {
                let (partition, offset) = p.position();
                c.store_offset(&partition, offset).unwrap();
            }
        }
    }
    done(got)
}

fn events(polled: &[Polled]) -> Vec<&Event> {
    polled
        .iter()
        .filter_map(|p| match p {
            Polled::Event { event, .. } => Some(event),
            Polled::Dead(_) => None,
        })
        .collect()
}

fn numbers(polled: &[Polled]) -> Vec<i64> {
    events(polled)
        .iter()
        .map(|e| e["n"].as_i64().unwrap())
        .collect()
}

fn produce_numbered(brokers: &str, topic: &str, range: std::ops::Range<i64>) {
    let mut p = KafkaProducer::new(
        &sink(&format!(
            "brokers = \"{brokers}\"\ntopic = \"{topic}\"\nkey = \"account\""
        )),
        None,
        TIMEOUT,
    )
    .unwrap();
    for n in range {
        p.send(&obj(
            json!({"ts": 1_000 + n, "n": n, "account": format!("acct-{}", n % 17)}),
        ))
        .unwrap();
    }
    p.flush(TIMEOUT).unwrap();
}

fn obj(v: Value) -> Event {
    match v {
        Value::Object(m) => Event::from(m),
        _ => unreachable!(),
    }
}

/// Waits until the members hold disjoint partitions that together cover `count`.
fn wait_for_balance(members: &[&KafkaConsumer], count: usize) {
    let mut got = vec![Vec::new(); members.len()];
    let balanced = poll_until(members, &mut got, Duration::from_secs(60), |_| {
        let sets: Vec<BTreeSet<Partition>> = members.iter().map(|m| m.assignment()).collect();
        let union: BTreeSet<&Partition> = sets.iter().flatten().collect();
        sets.iter().all(|s| !s.is_empty())
            && union.len() == count
            && sets.iter().map(BTreeSet::len).sum::<usize>() == count
    });
    let sets: Vec<_> = members.iter().map(|m| m.assignment()).collect();
    assert!(balanced, "no balanced assignment within 60 s: {sets:?}");
    assert!(
        got.iter().all(Vec::is_empty),
        "records before any were produced"
    );
}

#[test]
fn json_events_round_trip_with_keys_and_headers() {
    let brokers = require!("STYX_KAFKA_BROKERS");
    let topic = unique("roundtrip");
    create_topic(&brokers, &topic, 1, TIMEOUT).unwrap();

    let mut producer = KafkaProducer::new(
        &sink(&format!(
            "brokers = \"{brokers}\"\ntopic = \"{topic}\"\nkey = \"account\"\n\
             headers = {{ \"trace-id\" = \"trace\" }}"
        )),
        None,
        TIMEOUT,
    )
    .unwrap();
    for n in 0..50i64 {
        let mut e = obj(json!({"ts": 1_700_000_000_000i64 + n, "n": n, "amount": n as f64 * 1.5}));
        e.insert("account", json!(format!("acct-{}", n % 3)));
        if n % 2 == 0 {
            e.insert("trace", json!(format!("t{n}")));
        }
        producer.send(&e).unwrap();
    }
    producer.flush(TIMEOUT).unwrap();
    assert_eq!(producer.stats().delivered(), 50);
    assert_eq!(producer.stats().failed(), 0);

    let config = source(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
         key = \"record_key\"\nheaders = \"hdrs\"",
        unique("g")
    ));
    let consumer = KafkaConsumer::new(
        &config,
        ts_decoder(&config),
        StartPositions::new(config.start),
        "c",
    )
    .unwrap();
    let mut got = vec![Vec::new()];
    poll_until(&[&consumer], &mut got, Duration::from_secs(30), |g| {
        g[0].len() >= 50
    });
    let got = &got[0];
    assert_eq!(numbers(got), (0..50).collect::<Vec<_>>());
    let mut last = -1;
    for p in got {
        let Polled::Event {
            topic: t,
            partition,
            offset,
            event,
        } = p
        else {
            panic!("dead letter {p:?}");
        };
        assert_eq!((t.as_str(), *partition), (topic.as_str(), 0));
        assert!(*offset > last);
        last = *offset;
        let n = event["n"].as_i64().unwrap();
        assert_eq!(event["ts"], json!(1_700_000_000_000i64 + n));
        assert_eq!(event["amount"], json!(n as f64 * 1.5));
        assert_eq!(event["record_key"], json!(format!("acct-{}", n % 3)));
        let hdrs = event["hdrs"].as_object().unwrap();
        if n % 2 == 0 {
            assert_eq!(hdrs["trace-id"], json!(format!("t{n}")));
        } else {
            assert!(hdrs.is_empty(), "{hdrs:?}");
        }
    }
    consumer.close().unwrap();
}

#[test]
fn two_members_of_a_group_share_the_partitions() {
    let brokers = require!("STYX_KAFKA_BROKERS");
    let topic = unique("share");
    create_topic(&brokers, &topic, 4, TIMEOUT).unwrap();
    let config = source(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"",
        unique("g")
    ));
    let starts = StartPositions::new(config.start);
    let a = KafkaConsumer::new(&config, ts_decoder(&config), starts.clone(), "a").unwrap();
    let b = KafkaConsumer::new(&config, ts_decoder(&config), starts, "b").unwrap();
    wait_for_balance(&[&a, &b], 4);

    produce_numbered(&brokers, &topic, 0..200);
    let mut got = vec![Vec::new(), Vec::new()];
    poll_until(&[&a, &b], &mut got, Duration::from_secs(30), |g| {
        g[0].len() + g[1].len() >= 200
    });
    let (ga, gb) = (&got[0], &got[1]);
    assert!(
        !ga.is_empty() && !gb.is_empty(),
        "a: {}, b: {}",
        ga.len(),
        gb.len()
    );
    let mut all: Vec<i64> = numbers(ga).into_iter().chain(numbers(gb)).collect();
    all.sort();
    assert_eq!(
        all,
        (0..200).collect::<Vec<_>>(),
        "every record exactly once"
    );
    for (member, polled) in [(&a, ga), (&b, gb)] {
        let held = member.assignment();
        for p in polled {
            assert!(held.contains(&p.position().0), "{p:?} not in {held:?}");
        }
    }
    // Records of one key stay in one partition, so with one member.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (i, polled) in [ga, gb].into_iter().enumerate() {
        for e in events(polled) {
            let account = e["account"].as_str().unwrap().to_string();
            assert_eq!(*owner.entry(account).or_insert(i), i);
        }
    }
    a.close().unwrap();
    b.close().unwrap();
}

#[test]
fn a_leaving_member_hands_its_partitions_over_without_rereading() {
    let brokers = require!("STYX_KAFKA_BROKERS");
    let topic = unique("leave");
    create_topic(&brokers, &topic, 4, TIMEOUT).unwrap();
    let config = source(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"",
        unique("g")
    ));
    let starts = StartPositions::new(config.start);
    let a = KafkaConsumer::new(&config, ts_decoder(&config), starts.clone(), "a").unwrap();
    let b = KafkaConsumer::new(&config, ts_decoder(&config), starts, "b").unwrap();
    wait_for_balance(&[&a, &b], 4);
    let b_held = b.assignment();
    a.context().take_events();

    produce_numbered(&brokers, &topic, 0..100);
    let mut got = vec![Vec::new(), Vec::new()];
    poll_until(&[&a, &b], &mut got, Duration::from_secs(30), |g| {
        g[0].len() + g[1].len() >= 100
    });
    assert_eq!(got[0].len() + got[1].len(), 100);
    assert!(!got[1].is_empty(), "b read nothing");

    b.close().unwrap();
    let mut after = vec![Vec::new()];
    let took_over = poll_until(&[&a], &mut after, Duration::from_secs(30), |_| {
        a.assignment().len() == 4
    });
    assert!(took_over, "a holds {:?}", a.assignment());
    let changes = a.context().take_events();
    let assigned: BTreeSet<Partition> = changes
        .iter()
        .filter_map(|e| match e {
            RebalanceEvent::Assigned(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(b_held.is_subset(&assigned), "{changes:?}");

    produce_numbered(&brokers, &topic, 100..200);
    poll_until(&[&a], &mut after, Duration::from_secs(30), |g| {
        g[0].len() >= 100
    });
    // Give re-read records, if any, a chance to show up.
    poll_until(&[&a], &mut after, Duration::from_secs(1), |_| false);
    let mut seen = numbers(&after[0]);
    seen.sort();
    assert_eq!(
        seen,
        (100..200).collect::<Vec<_>>(),
        "a re-read b's records or lost some"
    );
    a.close().unwrap();
}

#[test]
fn unreadable_records_become_dead_letters_with_reasons() {
    let brokers = require!("STYX_KAFKA_BROKERS");
    let topic = unique("dead");
    create_topic(&brokers, &topic, 1, TIMEOUT).unwrap();
    let payloads: Vec<Option<&[u8]>> = vec![
        Some(br#"{"ts": 1, "ok": true}"#),
        Some(b"{not json"),
        Some(b"[1, 2, 3]"),
        Some(br#"{"no_time": 1}"#),
        Some(br#"{"ts": "yesterday"}"#),
        Some(&[0xff, 0xfe, 0x00]),
        None,
        Some(br#"{"ts": 2, "ok": true}"#),
    ];
    let producer = KafkaProducer::new(
        &sink(&format!("brokers = \"{brokers}\"\ntopic = \"{topic}\"")),
        None,
        TIMEOUT,
    )
    .unwrap();
    for p in &payloads {
        let mut record =
            BaseRecord::<[u8], [u8]>::to(&topic).headers(OwnedHeaders::new().insert(Header {
                key: "h",
                value: Some("v"),
            }));
        if let Some(p) = p {
            record = record.payload(p);
        }
        producer.inner().send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.inner().flush(TIMEOUT).unwrap();

    let config = source(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
         dead_letter = \"in.dead\"",
        unique("g")
    ));
    let consumer = KafkaConsumer::new(
        &config,
        ts_decoder(&config),
        StartPositions::new(config.start),
        "c",
    )
    .unwrap();
    let mut got = vec![Vec::new()];
    poll_until(&[&consumer], &mut got, Duration::from_secs(30), |g| {
        g[0].len() >= 8
    });
    let got = &got[0];
    assert_eq!(got.len(), 8);
    let good: Vec<_> = events(got).iter().map(|e| e["ts"].clone()).collect();
    assert_eq!(good, [json!(1), json!(2)]);
    let dead: Vec<Event> = got
        .iter()
        .filter_map(|p| match p {
            Polled::Dead(d) => Some(d.to_event()),
            _ => None,
        })
        .collect();
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("not valid JSON"), "{reasons:?}");
    assert_eq!(reasons[1], "not a JSON object: an array");
    assert_eq!(reasons[2], "event-time field `ts` is missing");
    assert!(reasons[3].contains("must be an integer"), "{reasons:?}");
    assert!(reasons[4].starts_with("not valid JSON"), "{reasons:?}");
    assert!(reasons[5].contains("tombstone"), "{reasons:?}");
    let offsets: Vec<i64> = dead.iter().map(|d| d["offset"].as_i64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    for d in &dead {
        assert_eq!(d["topic"], json!(topic));
        assert_eq!(d["partition"], json!(0));
    }
    assert_eq!(dead[0]["payload"], json!("{not json"));
    assert_eq!(dead[2]["payload"], json!(r#"{"no_time": 1}"#));
    assert_eq!(dead[4]["payload_hex"], json!("fffe00"));
    assert_eq!(dead[5]["payload"], json!(""));
    consumer.close().unwrap();
}

/// Reads `topic` from the start with the given isolation level until `idle` passes
/// without a record.
fn read_all(brokers: &str, topic: &str, isolation: &str, idle: Duration) -> Vec<i64> {
    let config = source(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
         properties = {{ \"isolation.level\" = \"{isolation}\" }}",
        unique("g")
    ));
    let consumer = KafkaConsumer::new(
        &config,
        ts_decoder(&config),
        StartPositions::new(config.start),
        "r",
    )
    .unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Instant::now();
    // The first records take a group join; after one arrives, stop once idle.
    while Instant::now() < deadline && (got.is_empty() || last.elapsed() < idle) {
        if consumer
            .poll_batch(&mut got, 500, Duration::from_millis(100))
            .unwrap()
            > 0
        {
            last = Instant::now();
        }
    }
    consumer.close().unwrap();
    numbers(&got)
}

#[test]
fn read_committed_sees_committed_transactions_only() {
    let brokers = require!("STYX_KAFKA_TXN_BROKERS");
    let topic = unique("txn");
    create_topic(&brokers, &topic, 1, TIMEOUT).unwrap();
    let config = sink(&format!(
        "brokers = \"{brokers}\"\ntopic = \"{topic}\"\ndelivery = \"exactly_once\""
    ));
    let mut p = KafkaProducer::new(&config, Some(&unique("tx")), TIMEOUT).unwrap();
    assert!(p.is_transactional());
    let send = |p: &mut KafkaProducer, n: i64| p.send(&obj(json!({"ts": n, "n": n}))).unwrap();

    p.begin_transaction().unwrap();
    (0..3).for_each(|n| send(&mut p, n));
    p.commit_transaction(TIMEOUT).unwrap();

    p.begin_transaction().unwrap();
    (10..12).for_each(|n| send(&mut p, n));
    p.flush(TIMEOUT).unwrap();
    p.abort_transaction(TIMEOUT).unwrap();

    p.begin_transaction().unwrap();
    send(&mut p, 3);
    p.commit_transaction(TIMEOUT).unwrap();

    let idle = Duration::from_secs(2);
    assert_eq!(
        read_all(&brokers, &topic, "read_committed", idle),
        [0, 1, 2, 3]
    );
    // The aborted records were written: only the isolation level hides them.
    assert_eq!(
        read_all(&brokers, &topic, "read_uncommitted", idle),
        [0, 1, 2, 10, 11, 3]
    );
}

#[test]
fn consumed_offsets_commit_with_the_transaction() {
    let brokers = require!("STYX_KAFKA_TXN_BROKERS");
    let input = unique("in");
    let output = unique("out");
    create_topic(&brokers, &input, 1, TIMEOUT).unwrap();
    create_topic(&brokers, &output, 1, TIMEOUT).unwrap();
    produce_numbered(&brokers, &input, 0..10);

    let group = unique("g");
    let table = format!(
        "brokers = \"{brokers}\"\ntopic = \"{input}\"\ngroup = \"{group}\"\nstart = \"committed\""
    );
    let config = source(&table);
    let consumer = KafkaConsumer::new(
        &config,
        ts_decoder(&config),
        StartPositions::new(config.start),
        "c",
    )
    .unwrap();
    let mut p = KafkaProducer::new(
        &sink(&format!(
            "brokers = \"{brokers}\"\ntopic = \"{output}\"\ndelivery = \"exactly_once\""
        )),
        Some(&unique("tx")),
        TIMEOUT,
    )
    .unwrap();
    let mut got = vec![Vec::new()];
    poll_until(&[&consumer], &mut got, Duration::from_secs(30), |g| {
        g[0].len() >= 10
    });
    assert_eq!(numbers(&got[0]), (0..10).collect::<Vec<_>>());

    // The first transaction is aborted: neither its results nor its offsets count.
    for offsets_end in [5i64, 10] {
        p.begin_transaction().unwrap();
        for e in events(&got[0]).iter().take(offsets_end as usize) {
            let mut out = (*e).clone();
            out.insert("doubled", json!(e["n"].as_i64().unwrap() * 2));
            p.send(&out).unwrap();
        }
        let meta = consumer.group_metadata().expect("group metadata");
        p.send_offsets_to_transaction(&[(Partition::new(&input, 0), offsets_end)], &meta, TIMEOUT)
            .unwrap();
        if offsets_end == 5 {
            p.abort_transaction(TIMEOUT).unwrap();
        } else {
            p.commit_transaction(TIMEOUT).unwrap();
        }
    }
    let committed = consumer.committed(TIMEOUT).unwrap();
    assert_eq!(committed, [(Partition::new(&input, 0), Some(10))]);
    drop(consumer);

    let results = read_all(&brokers, &output, "read_committed", Duration::from_secs(2));
    assert_eq!(results, (0..10).collect::<Vec<_>>());

    // A new member of the group goes on after the committed offsets.
    produce_numbered(&brokers, &input, 10..12);
    let again = KafkaConsumer::new(
        &config,
        ts_decoder(&config),
        StartPositions::new(config.start),
        "d",
    )
    .unwrap();
    let mut rest = vec![Vec::new()];
    poll_until(&[&again], &mut rest, Duration::from_secs(30), |g| {
        g[0].len() >= 2
    });
    assert_eq!(numbers(&rest[0]), [10, 11]);
}

#[test]
fn failed_deliveries_are_reported_not_dropped() {
    // A port nothing listens on: records time out in the producer.
    let mut p = KafkaProducer::new(
        &sink(
            "brokers = \"127.0.0.1:1\"\ntopic = \"nowhere\"\n\
             properties = { \"message.timeout.ms\" = 500 }",
        ),
        None,
        TIMEOUT,
    )
    .unwrap();
    p.send(&obj(json!({"ts": 1}))).unwrap();
    let err = p.flush(Duration::from_secs(10)).unwrap_err();
    assert!(
        matches!(&err, Error::Delivery { topic, .. } if topic == "nowhere"),
        "{err}"
    );
    assert_eq!(p.stats().failed(), 1);
    assert_eq!(p.stats().delivered(), 0);
}
