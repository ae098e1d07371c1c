//! `styx savepoint JOB.toml` and `styx stop JOB.toml [--with-savepoint | --drain]`:
//! savepoints and stops of a running job, asked for through its state directory's
//! control socket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use styx_job::control::{request_savepoint, request_stop};
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
    #[arg(long, conflicts_with = "drain")]
    with_savepoint: bool,
    /// Fire every open window (and time out partial matches) before stopping, as at the
    /// end of the input. Without it, a stop discards them.
    #[arg(long)]
    drain: bool,
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

/// Stops the job: after a savepoint (and prints its folder as the last line), draining,
/// or discarding open windows.
pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    if !args.with_savepoint {
        let answer =
            request_stop(&state_dir(&args.job)?, args.drain).map_err(anyhow::Error::msg)?;
        eprintln!("{answer}");
        return Ok(ExitCode::SUCCESS);
    }
    let path = request_savepoint(&state_dir(&args.job)?, true).map_err(anyhow::Error::msg)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
