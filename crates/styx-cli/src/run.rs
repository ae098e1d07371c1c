//! `styx run JOB.toml`: runs a job file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use styx_job::{Job, RunOptions};
use styx_runtime::source::StopHandle;

/// The job `styx run` runs without a job file.
const EXAMPLE: &str = include_str!("../../../examples/trending-words.toml");
const EXAMPLE_NAME: &str = "trending-words.toml";

/// Arguments of `styx run`.
#[derive(clap::Args)]
pub struct Args {
    /// The job file. Without one, the built-in example runs: trending words over a
    /// generated stream of tweets, printed as windows close (`examples/trending-words.toml`).
    job: Option<PathBuf>,
    /// Overrides `[job] parallelism`.
    #[arg(long)]
    parallelism: Option<usize>,
    /// Starts from a savepoint (or checkpoint) folder, at any parallelism.
    #[arg(long, value_name = "PATH")]
    from_savepoint: Option<PathBuf>,
    /// Stops the job cleanly once its sources have had no new record for this long
    /// (for example `5s`): open windows fire, sinks flush and commit, exit 0.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    until_idle: Option<std::time::Duration>,
}

/// Loads, checks and runs the job. SIGINT and SIGTERM stop it cleanly.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let job = match &args.job {
        Some(path) => Job::load(path)?,
        None => Job::parse(Path::new(EXAMPLE_NAME), EXAMPLE)?,
    };
    let stop = StopHandle::new();
    if let Some(limit) = args.until_idle {
        stop.stop_when_idle(limit);
    }
    let on_signal = stop.clone();
    let signals = std::sync::atomic::AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            eprintln!("styx: a second signal: exiting at once");
            std::process::exit(130);
        }
        tracing::warn!(
            "stopping on a signal: open windows and partial matches are discarded (styx \
             stop --drain fires them; a second signal exits at once)"
        );
        on_signal.stop_discarding();
    })
    .context("cannot install the SIGINT / SIGTERM handler")?;
    tracing::info!(job = job.name(), "starting");
    job.run(&RunOptions {
        parallelism: args.parallelism,
        from_savepoint: args.from_savepoint,
        stop: Some(stop),
    })?;
    Ok(ExitCode::SUCCESS)
}
