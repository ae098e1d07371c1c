//! `styx bench checkpoint`: how long checkpoints of a large keyed state pause processing.
//!
//! A job on the engine: an in-process generator source of `--keys` keys (event `i` has key
//! `(i * 2654435761) % K`, time `1_700_000_000_000 + i / K` in epoch ms, so that event time
//! advances one millisecond per round over the keys, and value `i & 1023`) -> event time
//! with watermarks (every 200 ms) -> key by `key` -> a stateful operator whose state holds
//! every key and does not fire during the run (by default a one-day tumbling window,
//! aggregating count and sum(value)) -> a sink that adds the results up. Periodic
//! checkpoints are written into a state directory by the runtime's checkpoint coordinator,
//! as `checkpoint_interval` and `state_dir` of a job file do; after `--checkpoints` of them
//! the job is stopped (its windows fire on the final watermark).
//!
//! What is measured:
//!
//! - per checkpoint, the synchronous part of each instance of the stateful operator (the
//!   time it stopped processing to copy its state and forward the barrier), as the
//!   runtime's checkpoint statistics report it;
//! - the gaps between consecutive records handled by the stateful operator, read on its
//!   threads (the clock is read for every record), split into the gaps that overlap the
//!   synchronous part of a checkpoint, those that overlap the rest of a checkpoint (its
//!   encoding and writing, which take processor time the operator may wait for on a busy
//!   machine), and the others; and the time each block of 1024 consecutive records took
//!   (longest and median), where a stall spread over many records shows;
//! - per checkpoint, the time from its trigger until it was written (the asynchronous
//!   part runs on the coordinator's thread while processing goes on) and its size on disk;
//! - events per second over the whole run (`events_per_s`, up to the end of the job, with
//!   the final firing) and while it ran before the stop (`running_events_per_s`).
//!
//! With `--restore`, the job starts from a checkpoint or savepoint folder of an earlier run
//! (its sources go on from where they were): `restored_events` tells how many events the
//! restored state had counted, so that a run whose state was restored right has
//! `counted == restored_events + events`.
//!
//! The last line printed is one JSON object.

use std::cell::Cell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use styx_runtime::checkpoint::coordinator::{CheckpointConfig, CheckpointStats};
use styx_runtime::checkpoint::store::{Snapshot, Store};
use styx_runtime::checkpoint::{decode, encode, Barrier, RestoredState, SnapshotFn, TaskState};
use styx_runtime::prelude::*;

use super::{state_backend, BackendArg, CountSum};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The number of distinct keys, each with state of its own.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// The stateful operator: `tumbling:SIZE`, `sliding:SIZE/SLIDE` or `session:GAP` (an
    /// event-time window aggregating count and sum), `count:SIZE[/SLIDE]` (a count
    /// window, which keeps the key's last records) or `keyed` (a keyed process function
    /// keeping count and sum per key, with one event-time timer per key).
    #[arg(long, default_value = "tumbling:1d")]
    operator: String,
    /// The time between checkpoints (for example `1s`).
    #[arg(long, default_value = "1s")]
    interval: String,
    /// How many checkpoints to take before the job is stopped.
    #[arg(long, default_value_t = 10)]
    checkpoints: usize,
    /// The parallelism of the source and of the stateful operator.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// The state directory (default: a new folder in the system's temporary directory,
    /// deleted afterwards).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Where the stateful operator keeps its state.
    #[arg(long, value_enum, default_value_t = BackendArg::Memory)]
    state_backend: BackendArg,
    /// A checkpoint or savepoint folder of an earlier run to start from (with the same
    /// `--keys`, `--operator` and `--parallelism`).
    #[arg(long)]
    restore: Option<PathBuf>,
}

/// One generated event: key, event time, value.
type Ev = (u64, i64, u64);

const BASE_TS: i64 = 1_700_000_000_000;

/// Event `i` with `keys` keys.
fn event(i: u64, keys: u64) -> Ev {
    (
        i.wrapping_mul(2_654_435_761) % keys,
        BASE_TS + (i / keys) as i64,
        i & 1023,
    )
}

/// Generates the events `i` with `i mod step == first`, in order, until the job stops.
struct Generator {
    next: u64,
    step: u64,
    keys: u64,
    instance: usize,
    generated: Arc<AtomicU64>,
    /// The events the sources had generated before the snapshot they restored.
    restored: Arc<AtomicU64>,
}

impl Source<Ev> for Generator {
    fn poll(&mut self, out: &mut Vec<Ev>, max: usize) -> Result<Poll, BoxError> {
        for _ in 0..max {
            out.push(event(self.next, self.keys));
            self.next += self.step;
        }
        self.generated.fetch_add(max as u64, Ordering::Relaxed);
        Ok(Poll::Ready)
    }

    fn snapshot(&mut self, _: Barrier) -> Result<SnapshotFn, BoxError> {
        let (split, next) = (format!("generator-{}", self.instance), self.next);
        Ok(Box::new(move |_| {
            Ok(TaskState {
                splits: vec![(split, encode(&next)?)],
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        let split = format!("generator-{}", self.instance);
        for (name, bytes) in state.splits {
            if name == split {
                self.next = decode(&bytes)?;
                let before = (self.next - self.instance as u64) / self.step;
                self.restored.fetch_add(before, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Count and sum per key in keyed state, emitted by an event-time timer at `fire_at`.
struct KeyedCountSum {
    fire_at: Timestamp,
}

impl KeyedProcessFunction<u64, Ev, (u64, u64)> for KeyedCountSum {
    type State = (u64, u64);

    fn process(&self, e: Ev, state: &mut (u64, u64), ctx: &mut KeyedContext<'_, u64, (u64, u64)>) {
        if state.0 == 0 {
            ctx.register_event_time_timer(self.fire_at);
        }
        state.0 += 1;
        state.1 += e.2;
    }

    fn on_timer(
        &self,
        _time: Timestamp,
        _domain: TimeDomain,
        state: &mut (u64, u64),
        ctx: &mut KeyedContext<'_, u64, (u64, u64)>,
    ) {
        ctx.collect(*state);
        ctx.clear_state();
    }
}

/// Totals over all sink instances.
#[derive(Default)]
struct Totals {
    results: AtomicU64,
    counted: AtomicU64,
}

/// Discards the results but adds them up.
struct TallySink {
    results: u64,
    counted: u64,
    totals: Arc<Totals>,
}

impl Sink<(u64, u64)> for TallySink {
    fn write(&mut self, batch: &mut Vec<(u64, u64)>) -> Result<(), BoxError> {
        self.results += batch.len() as u64;
        self.counted += batch.drain(..).map(|(count, _)| count).sum::<u64>();
        Ok(())
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.totals
            .results
            .fetch_add(self.results, Ordering::Relaxed);
        self.totals
            .counted
            .fetch_add(self.counted, Ordering::Relaxed);
        Ok(())
    }
}

/// The stateful operator of the job.
enum Stateful {
    /// An event-time window.
    Window(WindowAssigner),
    /// A count window of size and slide.
    Count(usize, usize),
    /// A keyed process function.
    Keyed,
}

impl Stateful {
    /// The operator's name: its instances' threads are named after it.
    fn name(&self) -> &'static str {
        match self {
            Stateful::Window(WindowAssigner::Session { .. }) => "session-window",
            Stateful::Window(_) => "window",
            Stateful::Count(..) => "count-window",
            Stateful::Keyed => "keyed-process",
        }
    }
}

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let d =
        humantime::parse_duration(text.trim()).with_context(|| format!("bad duration {text:?}"))?;
    if d.as_millis() == 0 {
        bail!("durations must be at least 1ms, not {text:?}");
    }
    Ok(d)
}

fn parse_count(text: &str) -> anyhow::Result<usize> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("count windows need a positive size and slide, not {text:?}"),
    }
}

fn parse_operator(spec: &str) -> anyhow::Result<Stateful> {
    if spec == "keyed" {
        return Ok(Stateful::Keyed);
    }
    let Some((kind, rest)) = spec.split_once(':') else {
        bail!(
            "--operator must be tumbling:SIZE, sliding:SIZE/SLIDE, session:GAP, \
             count:SIZE[/SLIDE] or keyed, not {spec:?}"
        );
    };
    Ok(match kind {
        "tumbling" => Stateful::Window(WindowAssigner::tumbling(parse_duration(rest)?)),
        "sliding" => {
            let Some((size, slide)) = rest.split_once('/') else {
                bail!("sliding windows are written sliding:SIZE/SLIDE, not {spec:?}");
            };
            Stateful::Window(WindowAssigner::sliding(
                parse_duration(size)?,
                parse_duration(slide)?,
            ))
        }
        "session" => Stateful::Window(WindowAssigner::session(parse_duration(rest)?)),
        "count" => match rest.split_once('/') {
            Some((size, slide)) => Stateful::Count(parse_count(size)?, parse_count(slide)?),
            None => {
                let size = parse_count(rest)?;
                Stateful::Count(size, size)
            }
        },
        _ => bail!("unknown operator {kind:?}: use tumbling, sliding, session, count or keyed"),
    })
}

/// Gaps between consecutive records on the threads of the stateful operator.
struct GapLog {
    /// The operator's name (its threads are `NAME` or `NAME[i]`).
    operator: &'static str,
    /// The longest gap in nanoseconds.
    max_ns: AtomicU64,
    /// Every gap of at least [`LONG_GAP`]: the times of the records on either side.
    long: Mutex<Vec<(Instant, Instant)>>,
    /// How long each run of [`BLOCK`] consecutive records took.
    blocks: Mutex<Vec<Duration>>,
}

/// Records per block: a stall spread over many records (for example a state copied
/// piece by piece as records come) shows in the time a block takes.
const BLOCK: u32 = 1024;

/// Gaps at least this long are kept, to be set against the checkpoints.
const LONG_GAP: Duration = Duration::from_micros(100);

thread_local! {
    /// Whether this thread runs an instance of the stateful operator (`None`: not yet
    /// known).
    static ON_OPERATOR: Cell<Option<bool>> = const { Cell::new(None) };
    /// When this thread handled its previous record.
    static LAST_RECORD: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The longest gap this thread has seen, in nanoseconds.
    static THREAD_MAX_NS: Cell<u64> = const { Cell::new(0) };
    /// The records of the current block so far, and when it began.
    static BLOCK_SO_FAR: Cell<(u32, Option<Instant>)> = const { Cell::new((0, None)) };
}

impl GapLog {
    fn new(operator: &'static str) -> Self {
        GapLog {
            operator,
            max_ns: AtomicU64::new(0),
            long: Mutex::new(Vec::new()),
            blocks: Mutex::new(Vec::new()),
        }
    }

    /// A record is being handled on this thread (the key function is called for it).
    #[inline]
    fn record(&self) {
        let on_operator = ON_OPERATOR.with(|on| match on.get() {
            Some(known) => known,
            None => {
                let name = std::thread::current().name().map(str::to_string);
                let known = name.is_some_and(|n| {
                    n == self.operator
                        || n.strip_prefix(self.operator)
                            .is_some_and(|rest| rest.starts_with('['))
                });
                on.set(Some(known));
                known
            }
        });
        if !on_operator {
            return;
        }
        let now = Instant::now();
        match BLOCK_SO_FAR.get() {
            (BLOCK, Some(began)) => {
                self.blocks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(now.saturating_duration_since(began));
                BLOCK_SO_FAR.set((1, Some(now)));
            }
            (_, None) => BLOCK_SO_FAR.set((1, Some(now))),
            (n, began) => BLOCK_SO_FAR.set((n + 1, began)),
        }
        let Some(last) = LAST_RECORD.replace(Some(now)) else {
            return;
        };
        let gap = now.saturating_duration_since(last);
        let ns = gap.as_nanos() as u64;
        if ns > THREAD_MAX_NS.get() {
            THREAD_MAX_NS.set(ns);
            self.max_ns.fetch_max(ns, Ordering::Relaxed);
        }
        if gap >= LONG_GAP {
            self.long
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((last, now));
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn max(v: &[f64]) -> Option<f64> {
    v.iter().copied().reduce(f64::max)
}

/// The peak resident set size of this process in bytes, where the system tells it.
fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// The peak size of this process's address space in bytes, where the system tells it.
fn peak_virtual_bytes() -> Option<u64> {
    status_bytes("VmPeak:")
}

/// A size in the process status (`/proc/self/status`), in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A state directory deleted when dropped (when the benchmark made it).
struct StateDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for StateDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.keys == 0 {
        bail!("--keys must be at least 1");
    }
    if args.checkpoints == 0 {
        bail!("--checkpoints must be at least 1");
    }
    let stateful = parse_operator(&args.operator)?;
    let interval = parse_duration(&args.interval)?;
    let parallelism = args.parallelism.max(1);
    let keys = args.keys;
    let state_dir = match &args.state_dir {
        Some(path) => StateDir {
            path: path.clone(),
            temporary: false,
        },
        None => {
            let path = std::env::temp_dir().join(format!(
                "styx-bench-checkpoint-{}-{}",
                std::process::id(),
                styx_runtime::time::now_ms()
            ));
            StateDir {
                path,
                temporary: true,
            }
        }
    };

    let env = Environment::new(parallelism);
    let (backend, _backend_dir) = state_backend(args.state_backend)?;
    env.set_state_backend(backend);
    let restore = match &args.restore {
        Some(path) => Some(Arc::new(
            Snapshot::load(path).map_err(|e| anyhow::anyhow!("--restore: {e}"))?,
        )),
        None => None,
    };
    let handle = env.enable_checkpointing(CheckpointConfig {
        interval: Some(interval),
        store: Store::new(&state_dir.path),
        retain: 2,
        restore,
    });
    let statistics = handle.statistics();
    drop(handle);

    let generated = Arc::new(AtomicU64::new(0));
    let source_generated = generated.clone();
    let restored = Arc::new(AtomicU64::new(0));
    let source_restored = restored.clone();
    let step = parallelism as u64;
    let events = env
        .source("generator", parallelism, move |instance, _| {
            Ok(Box::new(Generator {
                next: instance as u64,
                step,
                keys,
                instance,
                generated: source_generated.clone(),
                restored: source_restored.clone(),
            }) as Box<dyn Source<Ev>>)
        })
        .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
            Duration::ZERO,
            |e: &Ev| e.1,
        ));
    let gaps = Arc::new(GapLog::new(stateful.name()));
    let key_gaps = gaps.clone();
    let keyed = events.key_by(move |e: &Ev| {
        key_gaps.record();
        e.0
    });
    let results = match stateful {
        Stateful::Window(assigner) => {
            keyed
                .window(assigner)
                .parallelism(parallelism)
                .aggregate(CountSum(|e: &Ev| e.2), |_key, _window, count_sum| count_sum)
                .results
        }
        Stateful::Count(size, slide) => {
            keyed.sliding_count_window(size, slide, CountSum(|e: &Ev| e.2), |_key, count_sum| {
                count_sum
            })
        }
        Stateful::Keyed => {
            const DAY: i64 = 86_400_000;
            keyed.process(KeyedCountSum {
                fire_at: BASE_TS - BASE_TS % DAY + DAY,
            })
        }
    };
    let totals = Arc::new(Totals::default());
    let sink_totals = totals.clone();
    results.sink("tally", parallelism, move |_| {
        Ok(TallySink {
            results: 0,
            counted: 0,
            totals: sink_totals.clone(),
        })
    });

    // Stops the job once enough checkpoints are complete.
    let stop = env.stop_handle();
    let wanted = args.checkpoints;
    let start = Instant::now();
    let generated_by_stop = generated.clone();
    let collector = std::thread::spawn(move || {
        let mut all: Vec<CheckpointStats> = Vec::new();
        for stats in statistics.iter() {
            eprintln!(
                "checkpoint {}: longest pause {:.3} ms, written after {:.1} ms, {} bytes",
                stats.id,
                ms(stats.max_sync()),
                ms(stats.duration),
                stats.bytes
            );
            all.push(stats);
            if all.len() >= wanted {
                break;
            }
        }
        stop.stop();
        let running = start.elapsed().as_secs_f64();
        (all, generated_by_stop.load(Ordering::Relaxed), running)
    });

    env.execute().context("the benchmark job failed")?;
    let wall = start.elapsed().as_secs_f64();
    let (all, generated_by_stop, running) = collector
        .join()
        .map_err(|_| anyhow::anyhow!("the statistics collector failed"))?;

    let operator = stateful.name();
    // Per checkpoint: the longest synchronous part of any instance of the operator.
    let sync: Vec<f64> = all
        .iter()
        .map(|c| {
            c.tasks
                .iter()
                .filter(|t| t.operator == operator)
                .map(|t| ms(t.timing.sync))
                .fold(0.0, f64::max)
        })
        .collect();
    let alignment: Vec<f64> = all
        .iter()
        .flat_map(|c| c.tasks.iter())
        .filter(|t| t.operator == operator)
        .map(|t| ms(t.timing.alignment))
        .collect();
    let encode: Vec<f64> = all
        .iter()
        .map(|c| {
            c.tasks
                .iter()
                .filter(|t| t.operator == operator)
                .map(|t| ms(t.encode))
                .sum()
        })
        .collect();
    let completion: Vec<f64> = all.iter().map(|c| ms(c.duration)).collect();
    let bytes: Vec<u64> = all.iter().map(|c| c.bytes).collect();
    let pauses: Vec<(Instant, Instant)> = all
        .iter()
        .flat_map(|c| c.tasks.iter())
        .filter(|t| t.operator == operator)
        .map(|t| (t.timing.started, t.timing.started + t.timing.sync))
        .collect();
    // From the end of the operator's synchronous part until the checkpoint was written.
    let writing: Vec<(Instant, Instant)> = all
        .iter()
        .flat_map(|c| {
            c.tasks
                .iter()
                .filter(|t| t.operator == operator)
                .map(|t| (t.timing.started + t.timing.sync, c.triggered + c.duration))
        })
        .collect();
    let overlaps = |spans: &[(Instant, Instant)], before: Instant, after: Instant| {
        spans.iter().any(|&(s, e)| s < after && before < e)
    };
    let long = std::mem::take(&mut *gaps.long.lock().unwrap_or_else(|e| e.into_inner()));
    let (mut at_barrier, mut while_writing, mut elsewhere) = (0.0f64, 0.0f64, 0.0f64);
    for (before, after) in long {
        let gap = ms(after.saturating_duration_since(before));
        if overlaps(&pauses, before, after) {
            at_barrier = at_barrier.max(gap);
        } else if overlaps(&writing, before, after) {
            while_writing = while_writing.max(gap);
        } else {
            elsewhere = elsewhere.max(gap);
        }
    }
    let blocks: Vec<f64> = gaps
        .blocks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|&d| ms(d))
        .collect();
    let events = generated.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "events": events,
        "restored_events": restored.load(Ordering::Relaxed),
        "keys": keys,
        "operator": args.operator,
        "parallelism": parallelism,
        "interval_ms": ms(interval),
        "checkpoints": all.len(),
        "sync_max_ms": max(&sync),
        "sync_median_ms": median(sync.clone()),
        "sync_ms": sync,
        "alignment_max_ms": max(&alignment),
        "record_gap_max_ms": gaps.max_ns.load(Ordering::Relaxed) as f64 / 1e6,
        "record_gap_at_barrier_max_ms": at_barrier,
        "record_gap_while_writing_max_ms": while_writing,
        "record_gap_elsewhere_max_ms": elsewhere,
        "block_1024_max_ms": max(&blocks),
        "block_1024_median_ms": median(blocks),
        "encode_max_ms": max(&encode),
        "completion_max_ms": max(&completion),
        "completion_median_ms": median(completion),
        "checkpoint_bytes_max": bytes.iter().max(),
        "checkpoint_bytes_last": bytes.last(),
        "results": totals.results.load(Ordering::Relaxed),
        "counted": totals.counted.load(Ordering::Relaxed),
        "wall_s": wall,
        "events_per_s": events as f64 / wall,
        "running_s": running,
        "running_events_per_s": generated_by_stop as f64 / running,
        "state_dir": state_dir.path.display().to_string(),
        "state_backend": format!("{:?}", args.state_backend).to_lowercase(),
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_virtual_bytes": peak_virtual_bytes(),
    });
    println!("{report}");
    Ok(if all.len() == wanted {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "styx: the job ended after {} of {wanted} checkpoints",
            all.len()
        );
        ExitCode::FAILURE
    })
}
