//! `styx bench cep`: a pattern job on the engine.
//!
//! The events of `styx bench window`'s generator, event time with bounded
//! out-of-orderness of 1 s, keyed by `key`, matched against the pattern of the benchmark
//! contract: a low value, then one or more high values each more than 700 above the low
//! one (an iterative condition), then a value back below 128, within 2 s, skipping past
//! the last event of each match. A sink counts the matches. The last line printed is one
//! JSON object.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use styx_runtime::cep::{AfterMatchSkip, Context, Pattern};
use styx_runtime::prelude::*;

use super::window::{peak_rss_bytes, Ev, Generator};
use super::{state_backend, BackendArg};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The number of events.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// The number of distinct keys.
    #[arg(long, default_value_t = 100)]
    keys: u64,
    /// The parallelism of the source and of the pattern operator.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// Where the pattern operator keeps its state.
    #[arg(long, value_enum, default_value_t = BackendArg::Memory)]
    state_backend: BackendArg,
}

/// The benchmark's pattern, as the contract writes it in a job file:
/// `low` (value < 64), `high` one or more (value >= 768 && value > match.low[0].value +
/// 700), `back` (value < 128), within 2 s, skip past the last event.
pub(crate) fn pattern() -> Pattern<Ev> {
    Pattern::begin("low")
        .condition(|e: &Ev, _: &Context<'_, Ev>| e.value < 64)
        .followed_by("high")
        .condition(|e: &Ev, ctx: &Context<'_, Ev>| {
            e.value >= 768
                && ctx
                    .events("low")
                    .first()
                    .is_some_and(|low| e.value > low.value + 700)
        })
        .one_or_more()
        .followed_by("back")
        .condition(|e: &Ev, _: &Context<'_, Ev>| e.value < 128)
        .within(Duration::from_secs(2))
        .after_match(AfterMatchSkip::SkipPastLastEvent)
}

/// Counts what reaches it, over all instances.
struct CountSink {
    count: u64,
    total: Arc<AtomicU64>,
}

impl Sink<()> for CountSink {
    fn write(&mut self, batch: &mut Vec<()>) -> Result<(), BoxError> {
        self.count += batch.len() as u64;
        batch.clear();
        Ok(())
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.total.fetch_add(self.count, Ordering::Relaxed);
        Ok(())
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.keys == 0 {
        bail!("--keys must be at least 1");
    }
    let parallelism = args.parallelism.max(1);
    let (n, keys) = (args.events, args.keys);
    let env = Environment::new(parallelism);
    let (backend, _state_dir) = state_backend(args.state_backend)?;
    env.set_state_backend(backend);
    let total = Arc::new(AtomicU64::new(0));
    let sink_total = total.clone();
    let step = parallelism as u64;
    let found = env
        .source("generator", parallelism, move |instance, _| {
            Ok(Box::new(Generator {
                next: instance as u64,
                step,
                end: n,
                keys,
            }) as Box<dyn Source<Ev>>)
        })
        .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
            Duration::from_secs(1),
            |e: &Ev| e.ts,
        ))
        .key_by(|e: &Ev| e.key)
        .pattern("pattern", &pattern(), |_key, _m| ())
        .map_err(|p| anyhow::anyhow!("the benchmark's pattern: {p:?}"))?;
    found.matches.sink("count", parallelism, move |_| {
        Ok(CountSink {
            count: 0,
            total: sink_total.clone(),
        })
    });

    let start = Instant::now();
    env.execute().context("the benchmark job failed")?;
    let wall = start.elapsed().as_secs_f64();
    let matches = total.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "events": n,
        "matches": matches,
        "wall_s": wall,
        "events_per_s": n as f64 / wall,
        "keys": keys,
        "parallelism": parallelism,
        "state_backend": format!("{:?}", args.state_backend).to_lowercase(),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
