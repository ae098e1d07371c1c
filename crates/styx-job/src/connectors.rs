//! Sources and sinks of job files beyond files and standard streams: Kafka topics
//! (`type = "kafka"`, see [`styx_kafka::source`] and [`styx_kafka::sink`]) and generated
//! events (`type = "generator"`, see [`styx_generate`]).
//!
//! A Kafka source runs one instance per unit of the job's parallelism. Its events get
//! their event time and watermarks per partition inside the source. In a job without a
//! `state_dir` whose sinks deliver at least once, the process is one member of the
//! source's consumer group ([`crate::group`]): the instances read the partitions the
//! group gives the process (sharing the topic with other processes running the same job),
//! commit offsets held back to the oldest record an open window may still need, and
//! start again from the committed offsets whenever the group moves partitions, so that a
//! process taking over the partitions of one that died rebuilds its open windows. There,
//! `start` applies to partitions the group has no committed offset for. In a job with a
//! `state_dir`, the instances are members of the group themselves, and offsets are
//! committed when the records are handed on, or, with `checkpoint_interval`, when a
//! checkpoint completes. A Kafka sink runs one instance per unit of parallelism and delivers at
//! least once; an `exactly_once` sink is a single instance that commits the job's output
//! in Kafka transactions together with the sources' offsets (see
//! [`styx_kafka::exactly_once`]), and the sources of such a job read their partitions
//! themselves instead of through the group's rebalancing.
//!
//! A generator source is a single instance producing `count` events (without end when
//! absent), at `rate` events per second of wall-clock time (as fast as possible when
//! absent); with a rate, event time advances at the same rate.

use std::time::{Duration, Instant};

use std::sync::Arc;
use styx_generate::{Generator, Kind};

use styx_kafka::exactly_once::TRANSACTION_TIMEOUT;
use styx_kafka::group::WatermarkBoard;
use styx_kafka::source::GroupReading;
use styx_kafka::{
    CommitPolicy, ConsumerLag, Delivery, KafkaProducer, KafkaSink, KafkaSinkConfig, KafkaSource,
    KafkaSourceConfig, Partition, SharedStarts, SourceOptions, StartPositions, TransactionLink,
    TransactionalSink,
};
use styx_runtime::checkpoint::{decode, encode, Barrier, RestoredState, SnapshotFn, TaskState};
use styx_runtime::error::BoxError;
use styx_runtime::event::Event;
use styx_runtime::source::{Poll, Source};
use styx_runtime::stream::{DataStream, Environment};
use styx_runtime::time::now_ms;
use styx_runtime::watermark::WatermarkStrategy;

use crate::config::{
    EventTimeConfig, GeneratorSourceConfig, GeneratorStart, JobSection, SinkConfig, SourceConfig,
};
use crate::group::{GroupRun, SourceRun};

/// What the parts of an exactly-once job share while it is built: the link between its
/// Kafka sources and its transactional sink, and the offsets the job had committed
/// (where its sources go on when no checkpoint is restored).
pub(crate) struct ExactlyOnce {
    /// The transactional sink's producer, initialised before the job looked up its last
    /// commit (taken by the sink when it starts).
    pub(crate) producer: std::sync::Mutex<Option<KafkaProducer>>,
    pub(crate) link: TransactionLink,
    pub(crate) committed: Vec<(Partition, i64)>,
    /// Every partition of each Kafka source's topics, by source id: an exactly-once job
    /// spreads them over its instances itself (partition `k` to instance `k % P`), so
    /// that a restarted process reads them at once, whatever the group's members.
    pub(crate) partitions: std::collections::HashMap<String, Vec<Partition>>,
}

/// A source's stream, and its dead-letter output (id and stream) if it has one.
pub(crate) type BuiltSource = (DataStream<Event>, Option<(String, DataStream<Event>)>);

/// The problems of a Kafka or generator source's table (other sources: none).
pub(crate) fn check_source(id: &str, source: &SourceConfig) -> Vec<String> {
    let mut problems = Vec::new();
    match source {
        SourceConfig::Kafka(k) => {
            if let Err(e) = k.client_config() {
                problems.push(format!("sources.{id}: {e}"));
            }
        }
        SourceConfig::Generator(g) => {
            if let Err(e) = g.kind.parse::<Kind>() {
                problems.push(format!("sources.{id}.kind: {e}"));
            }
            for (key, rate) in [("rate", g.rate), ("event_rate", g.event_rate)] {
                if rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
                    problems.push(format!(
                        "sources.{id}.{key}: must be a positive number of events per second"
                    ));
                }
            }
            if let Some(t) = &g.event_time {
                if t.field != "ts" {
                    problems.push(format!(
                        "sources.{id}.event_time.field: generated events carry their time \
                         in `ts`, not `{}`",
                        t.field
                    ));
                }
            }
        }
        SourceConfig::File(_) | SourceConfig::Stdin(_) => {}
    }
    problems
}

/// The problems of a Kafka or webhook sink's table (other sinks: none).
pub(crate) fn check_sink(id: &str, sink: &SinkConfig, job: &JobSection) -> Vec<String> {
    let mut problems = Vec::new();
    match sink {
        SinkConfig::Kafka(k) => {
            // Checked with the transactional id the sink will have.
            if let Err(e) = k.client_config(Some(&transactional_id(job, id))) {
                problems.push(format!("sinks.{id}: {e}"));
            }
        }
        SinkConfig::Webhook(w) => {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                problems.push(format!(
                    "sinks.{id}.url: expected an http:// or https:// URL, not \"{}\"",
                    w.url
                ));
            }
            if w.backoff.0.is_zero() || w.timeout.0.is_zero() {
                problems.push(format!("sinks.{id}: backoff and timeout must be above 0"));
            }
        }
        SinkConfig::File(_) | SinkConfig::Stdout(_) => {}
    }
    problems
}

/// Whether the sink writes exactly once (in Kafka transactions).
pub(crate) fn is_exactly_once(sink: &SinkConfig) -> bool {
    matches!(sink, SinkConfig::Kafka(k) if k.delivery == Delivery::ExactlyOnce)
}

/// The `transactional.id` of the exactly-once sink `id`: the same in every run of the job.
fn transactional_id(job: &JobSection, id: &str) -> String {
    format!("styx-{}-{id}", job.name)
}

/// Initialises the transactions of the exactly-once sink `id` (`Ok(None)` for another
/// sink): from then on every earlier producer with its `transactional.id`, an earlier
/// incarnation of the job, is fenced.
pub(crate) fn fence(
    id: &str,
    sink: &SinkConfig,
    job: &JobSection,
) -> Result<Option<KafkaProducer>, String> {
    match sink {
        SinkConfig::Kafka(config) if config.delivery == Delivery::ExactlyOnce => {
            KafkaProducer::new(
                config,
                Some(&transactional_id(job, id)),
                TRANSACTION_TIMEOUT,
            )
            .map(Some)
            .map_err(|e| format!("sinks.{id}: {e}"))
        }
        _ => Ok(None),
    }
}

/// Builds a Kafka or generator source into `env`; `Ok(None)` for other sources.
/// `strategy` makes the watermark strategy of an `event_time` table.
pub(crate) fn build_source(
    env: &Environment,
    id: &str,
    source: &SourceConfig,
    job: &JobSection,
    strategy: &dyn Fn(&EventTimeConfig) -> WatermarkStrategy<Event>,
    with: SourceWith<'_>,
) -> Result<Option<BuiltSource>, String> {
    match source {
        SourceConfig::Kafka(k) => {
            let reading = Reading {
                exactly_once: with.exactly_once,
                group: with.group.and_then(|g| g.source(id)),
                lag: with.lag,
                only: with.only,
            };
            Ok(Some(kafka_source(env, id, k, job, strategy, reading)))
        }
        SourceConfig::Generator(g) => generator_source(env, id, g, strategy).map(Some),
        SourceConfig::File(_) | SourceConfig::Stdin(_) => Ok(None),
    }
}

/// How a Kafka source's instances get their partitions: in an exactly-once job, every
/// partition; in a job reading through its process's group membership, those of the
/// run's plan; else from the group, each instance a member.
/// What a source is built with, beyond its table.
pub(crate) struct SourceWith<'a> {
    /// The job's exactly-once set-up.
    pub exactly_once: Option<&'a ExactlyOnce>,
    /// The run of the process's group memberships the source reads.
    pub group: Option<&'a GroupRun>,
    /// Where a Kafka source reports the lag of its partitions.
    pub lag: Option<Arc<ConsumerLag>>,
    /// The fields of each event the job reads, when it passes no event on (all when
    /// `None`).
    pub only: Option<Vec<String>>,
}

struct Reading<'a> {
    exactly_once: Option<&'a ExactlyOnce>,
    group: Option<(&'a SourceRun, &'a WatermarkBoard)>,
    /// Where the consumers report the lag of their partitions.
    lag: Option<Arc<ConsumerLag>>,
    /// The fields kept of each event.
    only: Option<Vec<String>>,
}

fn kafka_source(
    env: &Environment,
    id: &str,
    config: &KafkaSourceConfig<EventTimeConfig>,
    job: &JobSection,
    strategy: &dyn Fn(&EventTimeConfig) -> WatermarkStrategy<Event>,
    reading: Reading<'_>,
) -> BuiltSource {
    let exactly_once = reading.exactly_once;
    let lag = reading.lag.clone();
    let only = reading.only.clone();
    let parallelism = env.parallelism();
    let dead = config
        .dead_letter
        .as_ref()
        .map(|_| DataStream::<Event>::new_port_stream(env, parallelism));
    let dead_for_source = dead.clone();
    let watermarks = config.event_time.as_ref().map(strategy);
    let timestamps = watermarks.as_ref().map(WatermarkStrategy::timestamp_fn);
    let time_field = config.event_time.as_ref().map(|t| t.field.clone());
    let name = format!("sources.{id}");
    let commit = if exactly_once.is_some() {
        CommitPolicy::InTransaction
    } else if job.checkpoint_interval.is_some() {
        CommitPolicy::OnCheckpoint
    } else {
        CommitPolicy::HandedOn
    };
    let starts = StartPositions::new(config.start);
    let link = exactly_once.map(|eos| {
        eos.link.add_source(&name);
        // Starting afresh, an exactly-once job goes on after what it committed.
        starts.restore(eos.committed.iter().cloned());
        (eos.link.clone(), name.clone())
    });
    let group = reading.group.map(|(run, board)| {
        starts.restore(
            run.plan
                .offsets
                .iter()
                .filter_map(|(p, o)| o.map(|o| (p.clone(), o))),
        );
        let template = GroupReading {
            member: run.member.clone(),
            epoch: run.epoch,
            horizon: run.horizon,
            board: board.clone(),
            slot: run.first_slot,
            floor: run.plan.watermark,
        };
        let all: Vec<Partition> = run.plan.offsets.iter().map(|(p, _)| p.clone()).collect();
        (template, all)
    });
    let shared = SharedStarts::new(starts);
    let own_partitions = match (&group, exactly_once) {
        (Some((_, all)), _) => Some(all.clone()),
        (None, Some(eos)) => Some(eos.partitions.get(id).cloned().unwrap_or_default()),
        (None, None) => None,
    };
    let group = group.map(|(template, _)| template);
    let table = config.clone();
    let source_name = name.clone();
    let stream = env.source(&name, parallelism, move |i, p| {
        let options = SourceOptions {
            name: if p == 1 {
                source_name.clone()
            } else {
                format!("{source_name}[{i}]")
            },
            watermarks: watermarks.clone(),
            commit,
            link: link.clone(),
            partitions: own_partitions.as_ref().map(|all| {
                all.iter()
                    .enumerate()
                    .filter(|(k, _)| k % p == i)
                    .map(|(_, part)| part.clone())
                    .collect()
            }),
            group: group.as_ref().map(|g| GroupReading {
                slot: g.slot + i,
                ..g.clone()
            }),
            lag: lag.clone(),
            only: only.clone(),
        };
        let dead = dead_for_source.as_ref().map(|d| d.port_emitter(i));
        let source =
            KafkaSource::new(&table, time_field.as_deref(), shared.clone(), options, dead)?;
        Ok(Box::new(source) as Box<dyn Source<Event>>)
    });
    let stream = match timestamps {
        Some(ts) => stream.with_timestamp_fn(ts),
        None => stream,
    };
    (stream, config.dead_letter.clone().zip(dead))
}

fn generator_source(
    env: &Environment,
    id: &str,
    config: &GeneratorSourceConfig,
    strategy: &dyn Fn(&EventTimeConfig) -> WatermarkStrategy<Event>,
) -> Result<BuiltSource, String> {
    let settings = GeneratorSettings::of(config).map_err(|e| format!("sources.{id}.{e}"))?;
    let rate = config.rate;
    let event_rate = settings.event_rate.unwrap_or(styx_generate::DEFAULT_RATE);
    let stream = env.source(&format!("sources.{id}"), 1, move |_, _| {
        Ok(Box::new(GeneratorSource {
            generator: settings.generator(),
            pace: rate.map(|r| Pace::new(r, event_rate)),
            held: None,
            emitted: 0,
        }) as Box<dyn Source<Event>>)
    });
    let stream = match &config.event_time {
        Some(t) => stream.assign_timestamps_and_watermarks(strategy(t)),
        None => stream,
    };
    Ok((stream, None))
}

/// What a generator source generates: the same settings give the same events.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorSettings {
    kind: Kind,
    seed: u64,
    count: Option<u64>,
    whole_incidents: bool,
    event_rate: Option<f64>,
    start_ms: Option<i64>,
    out_of_orderness: Option<Duration>,
}

impl GeneratorSettings {
    /// The settings of a generator source table (`"now"` read from the clock now); the
    /// error names the key that is wrong.
    pub fn of(config: &GeneratorSourceConfig) -> Result<GeneratorSettings, String> {
        let kind: Kind = config.kind.parse().map_err(|e| format!("kind: {e}"))?;
        let start_ms = config.start.map(|s| match s {
            GeneratorStart::Millis(ms) => ms,
            GeneratorStart::Now(_) => now_ms(),
        });
        Ok(GeneratorSettings {
            kind,
            seed: config.seed.unwrap_or(0),
            count: config.count,
            whole_incidents: config.whole_incidents,
            event_rate: config.event_rate.or(config.rate),
            start_ms,
            out_of_orderness: config.out_of_orderness.map(|d| d.0),
        })
    }

    /// A generator at the first event, ending after `count` events (and the incidents
    /// under way then, with `whole_incidents`).
    pub fn generator(&self) -> Generator {
        let mut generator = Generator::new(self.kind, self.seed);
        if let Some(n) = self.count {
            generator = generator.limit(n);
            if self.whole_incidents {
                generator = generator.whole_incidents();
            }
        }
        if let Some(rate) = self.event_rate {
            generator = generator.events_per_second(rate);
        }
        if let Some(ms) = self.start_ms {
            generator = generator.start_ms(ms);
        }
        if let Some(bound) = self.out_of_orderness {
            generator = generator.max_out_of_orderness(bound);
        }
        generator
    }
}

/// The split of a generator source's position in snapshots.
const GENERATOR_SPLIT: &str = "generator";

/// Generated events, until the generator ends (see [`Generator::limit`]), paced when a
/// wall-clock `rate` is given. Its position, the number of events emitted, is kept in checkpoints
/// and savepoints: the same seed gives the same events, so a restored job goes on after
/// the last event it had emitted, and counts each event once.
struct GeneratorSource {
    generator: Generator,
    pace: Option<Pace>,
    /// The next event, generated but not yet due.
    held: Option<Event>,
    emitted: u64,
}

/// Releases generated events as the wall clock follows their event time, scaled: at
/// `rate` events per second of wall-clock time for `event_rate` per second of event time,
/// so that event time keeps a fixed ratio to the clock (equal when the rates are).
struct Pace {
    /// Wall-clock seconds per millisecond of event time.
    seconds_per_ms: f64,
    /// The wall clock and event time of the first event (since the start or a restore).
    origin: Option<(Instant, i64)>,
}

impl Pace {
    fn new(rate: f64, event_rate: f64) -> Pace {
        Pace {
            seconds_per_ms: event_rate / rate / 1000.0,
            origin: None,
        }
    }

    /// How long until `event` is due; `None` when it is.
    fn wait(&mut self, event: &Event) -> Option<Duration> {
        let ts = event.get("ts").and_then(serde_json::Value::as_i64)?;
        let (at, t0) = *self.origin.get_or_insert_with(|| (Instant::now(), ts));
        let due = (ts - t0) as f64 * self.seconds_per_ms;
        let left = due - at.elapsed().as_secs_f64();
        (left > 0.0).then(|| Duration::from_secs_f64(left))
    }
}

impl Source<Event> for GeneratorSource {
    fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> Result<Poll, BoxError> {
        let mut taken = 0;
        while taken < max as u64 {
            let Some(event) = self
                .held
                .take()
                .or_else(|| self.generator.next().map(Event::from))
            else {
                self.emitted += taken;
                return Ok(Poll::Finished);
            };
            if let Some(wait) = self.pace.as_mut().and_then(|p| p.wait(&event)) {
                self.held = Some(event);
                if taken == 0 {
                    std::thread::sleep(wait.min(Duration::from_millis(10)));
                    return Ok(Poll::Idle);
                }
                break;
            }
            out.push(event);
            taken += 1;
        }
        self.emitted += taken;
        Ok(Poll::Ready)
    }

    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        let split = (GENERATOR_SPLIT.to_string(), encode(&self.emitted)?);
        Ok(Box::new(move |_| {
            Ok(TaskState {
                splits: vec![split],
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        let Some((_, bytes)) = state.splits.iter().find(|(s, _)| s == GENERATOR_SPLIT) else {
            return Ok(());
        };
        let emitted: u64 = decode(bytes)?;
        self.held = None;
        for _ in 0..emitted {
            self.generator.next();
        }
        self.emitted = emitted;
        // The pace goes on from the position, without a burst to catch up.
        if let Some(pace) = &mut self.pace {
            pace.origin = None;
        }
        Ok(())
    }
}

/// Builds a Kafka sink reading `input`; `Ok(false)` for other sinks. An exactly-once
/// sink is one instance writing in the job's transactions.
pub(crate) fn build_sink(
    input: &DataStream<Event>,
    id: &str,
    sink: &SinkConfig,
    parallelism: usize,
    job: &JobSection,
    exactly_once: Option<&ExactlyOnce>,
) -> Result<bool, String> {
    let SinkConfig::Kafka(config) = sink else {
        return Ok(false);
    };
    let config: KafkaSinkConfig = config.clone();
    if let (Delivery::ExactlyOnce, Some(eos)) = (config.delivery, exactly_once) {
        let link = eos.link.clone();
        let transactional_id = transactional_id(job, id);
        let initialised = std::sync::Mutex::new(
            eos.producer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        input.sink(&format!("sinks.{id}"), 1, move |_| {
            let producer = initialised.lock().unwrap_or_else(|e| e.into_inner()).take();
            let sink = match producer {
                Some(producer) => TransactionalSink::with_producer(
                    producer,
                    "Kafka sink",
                    &transactional_id,
                    link.clone(),
                ),
                None => {
                    TransactionalSink::new(&config, "Kafka sink", &transactional_id, link.clone())
                }
            };
            sink.map_err(Into::into)
        });
        return Ok(true);
    }
    // Errors are reported under the sink's id (`sinks.<id>`) by the runtime.
    input.sink(&format!("sinks.{id}"), parallelism, move |_| {
        KafkaSink::new(&config, "Kafka sink").map_err(Into::into)
    });
    Ok(true)
}
