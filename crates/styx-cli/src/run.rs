//! `styx run JOB.toml`: runs a job file.

use std::path::PathBuf;
use std::process::ExitCode;

use styx_job::{Job, RunOptions};

/// Arguments of `styx run`.
#[derive(clap::Args)]
pub struct Args {
    /// The job file.
    job: PathBuf,
    /// Overrides `[job] parallelism`.
    #[arg(long)]
    parallelism: Option<usize>,
}

/// Loads, checks and runs the job.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let job = Job::load(&args.job)?;
    tracing::info!(job = job.name(), "starting");
    job.run(&RunOptions {
        parallelism: args.parallelism,
    })?;
    Ok(ExitCode::SUCCESS)
}
