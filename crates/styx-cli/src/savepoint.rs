//! `styx savepoint JOB.toml` and `styx stop JOB.toml --with-savepoint`: savepoints of a
//! running job, asked for through its state directory's control socket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use styx_job::control::request_savepoint;
use styx_job::Job;

/// Arguments of `styx savepoint`.
#[derive(clap::Args)]
pub struct SavepointArgs {
    /// The job file of the running job.
    job: PathBuf,
}

/// Arguments of `styx stop`.
#[derive(clap::Args)]
pub struct StopArgs {
    /// The job file of the running job.
    job: PathBuf,
    /// Take a savepoint, then stop (open windows live on in the savepoint).
    #[arg(long)]
    with_savepoint: bool,
}

fn state_dir(job: &Path) -> anyhow::Result<PathBuf> {
    let job = Job::load(job)?;
    job.state_dir()
        .with_context(|| format!("{}: the job has no [job] state_dir", job.name()))
}

/// Takes a savepoint and prints its folder as the last line.
pub fn savepoint(args: SavepointArgs) -> anyhow::Result<ExitCode> {
    let path = request_savepoint(&state_dir(&args.job)?, false).map_err(anyhow::Error::msg)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Stops the job after a savepoint and prints the savepoint's folder as the last line.
pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    if !args.with_savepoint {
        anyhow::bail!(
            "styx stop needs --with-savepoint (to stop a job without one, send it SIGTERM)"
        );
    }
    let path = request_savepoint(&state_dir(&args.job)?, true).map_err(anyhow::Error::msg)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
