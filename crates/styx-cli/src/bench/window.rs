//! `styx bench window`: a windowed aggregation job on the engine.
//!
//! An in-process generator source produces the events of the benchmark contract; event
//! time comes with bounded out-of-orderness watermarks (periodic, every 200 ms); the job
//! keys by `key`, windows, aggregates count and sum(value) incrementally, and a sink adds
//! the results up. The last line printed is one JSON object.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use styx_runtime::prelude::*;

use super::{state_backend, BackendArg, CountSum};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The number of events.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// The number of distinct keys.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// The windows: `tumbling:SIZE` or `sliding:SIZE/SLIDE` (for example `sliding:10s/1s`).
    #[arg(long, default_value = "tumbling:10s")]
    window: String,
    /// The bound on out-of-orderness of the watermarks (for example `1s`).
    #[arg(long, default_value = "1s")]
    out_of_orderness: String,
    /// The parallelism of the source and of the window operator.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// Where the window operator keeps its state.
    #[arg(long, value_enum, default_value_t = BackendArg::Memory)]
    state_backend: BackendArg,
}

/// One generated event.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct Ev {
    pub key: u64,
    pub ts: i64,
    pub value: u64,
}

const BASE_TS: u64 = 1_700_000_000_000;

/// Event `i` of the contract.
pub(super) fn event(i: u64, keys: u64) -> Ev {
    let key = i.wrapping_mul(2_654_435_761) % keys;
    let ts = BASE_TS
        .wrapping_add(i / 10)
        .wrapping_sub(i.wrapping_mul(40_503) % 500);
    Ev {
        key,
        ts: ts as i64,
        value: i & 1023,
    }
}

/// Generates the events `i` with `i mod step == first`, in order.
pub(super) struct Generator {
    pub next: u64,
    pub step: u64,
    pub end: u64,
    pub keys: u64,
}

impl Source<Ev> for Generator {
    fn poll(&mut self, out: &mut Vec<Ev>, max: usize) -> Result<Poll, BoxError> {
        for _ in 0..max {
            if self.next >= self.end {
                return Ok(Poll::Finished);
            }
            out.push(event(self.next, self.keys));
            self.next += self.step;
        }
        Ok(Poll::Ready)
    }
}

/// Totals over all sink instances.
#[derive(Default)]
struct Totals {
    windows: AtomicU64,
    counted: AtomicU64,
    sum: AtomicU64,
}

/// Discards window results but adds them up.
struct TallySink {
    windows: u64,
    counted: u64,
    sum: u64,
    totals: Arc<Totals>,
}

impl Sink<(u64, u64)> for TallySink {
    fn write(&mut self, batch: &mut Vec<(u64, u64)>) -> Result<(), BoxError> {
        self.windows += batch.len() as u64;
        for (count, sum) in batch.drain(..) {
            self.counted += count;
            self.sum = self.sum.wrapping_add(sum);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.totals
            .windows
            .fetch_add(self.windows, Ordering::Relaxed);
        self.totals
            .counted
            .fetch_add(self.counted, Ordering::Relaxed);
        self.totals.sum.fetch_add(self.sum, Ordering::Relaxed);
        Ok(())
    }
}

pub(super) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text.trim()).with_context(|| format!("bad duration {text:?}"))
}

/// The assigner and the number of windows each event is counted in.
fn parse_window(spec: &str) -> anyhow::Result<(WindowAssigner, u64, u64)> {
    let Some((kind, sizes)) = spec.split_once(':') else {
        bail!("--window must be tumbling:SIZE or sliding:SIZE/SLIDE, not {spec:?}");
    };
    match kind {
        "tumbling" => {
            let size = parse_duration(sizes)?;
            if size.as_millis() == 0 {
                bail!("the window size must be at least 1ms");
            }
            Ok((WindowAssigner::tumbling(size), 1, 1))
        }
        "sliding" => {
            let Some((size, slide)) = sizes.split_once('/') else {
                bail!("sliding windows are written sliding:SIZE/SLIDE, not {spec:?}");
            };
            let (size, slide) = (parse_duration(size)?, parse_duration(slide)?);
            if size.as_millis() == 0 || slide.as_millis() == 0 {
                bail!("the window size and slide must be at least 1ms");
            }
            Ok((
                WindowAssigner::sliding(size, slide),
                size.as_millis() as u64,
                slide.as_millis() as u64,
            ))
        }
        _ => bail!("unknown window kind {kind:?}: use tumbling or sliding"),
    }
}

/// The peak resident set size of this process in bytes, where the system tells it.
pub(super) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The sum of the counts of all windows once every window has fired: each event counts
/// once in every window holding it, `size / slide` windows when the size is a multiple
/// of the slide (`N * size / slide` in all), otherwise counted event by event.
fn expected_counted(n: u64, keys: u64, size: u64, slide: u64) -> u64 {
    if size % slide == 0 {
        return n * (size / slide);
    }
    let (size, slide) = (size as i64, slide as i64);
    (0..n)
        .map(|i| {
            let ts = event(i, keys).ts;
            // Window starts are multiples of `slide` in (ts - size, ts].
            let last = ts.div_euclid(slide);
            let first = (ts - size).div_euclid(slide) + 1;
            (last - first + 1).max(0) as u64
        })
        .sum()
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.keys == 0 {
        bail!("--keys must be at least 1");
    }
    let (assigner, size, slide) = parse_window(&args.window)?;
    let out_of_orderness = parse_duration(&args.out_of_orderness)?;
    let parallelism = args.parallelism.max(1);
    let (n, keys) = (args.events, args.keys);

    let env = Environment::new(parallelism);
    let (backend, _state_dir) = state_backend(args.state_backend)?;
    env.set_state_backend(backend);
    let totals = Arc::new(Totals::default());
    let sink_totals = totals.clone();
    let step = parallelism as u64;
    env.source("generator", parallelism, move |instance, _| {
        Ok(Box::new(Generator {
            next: instance as u64,
            step,
            end: n,
            keys,
        }) as Box<dyn Source<Ev>>)
    })
    .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
        out_of_orderness,
        |e: &Ev| e.ts,
    ))
    .key_by(|e: &Ev| e.key)
    .window(assigner)
    .parallelism(parallelism)
    .aggregate(CountSum(|e: &Ev| e.value), |_key, _window, count_sum| {
        count_sum
    })
    .results
    .sink("tally", parallelism, move |_| {
        Ok(TallySink {
            windows: 0,
            counted: 0,
            sum: 0,
            totals: sink_totals.clone(),
        })
    });

    let start = Instant::now();
    env.execute().context("the benchmark job failed")?;
    let wall = start.elapsed().as_secs_f64();

    let windows = totals.windows.load(Ordering::Relaxed);
    let counted = totals.counted.load(Ordering::Relaxed);
    let expected = expected_counted(n, keys, size, slide);
    let ok = counted == expected;
    let report = serde_json::json!({
        "events": n,
        "windows": windows,
        "counted": counted,
        "wall_s": wall,
        "events_per_s": n as f64 / wall,
        "window": args.window,
        "keys": keys,
        "parallelism": parallelism,
        "state_backend": format!("{:?}", args.state_backend).to_lowercase(),
        "expected_counted": expected,
        "counted_ok": ok,
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{report}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("styx: counted {counted} window memberships, expected {expected}");
        ExitCode::FAILURE
    })
}
