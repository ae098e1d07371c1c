//! `styx bench job JOB.toml`: any job file, measured: events/s, CPU seconds and peak
//! memory of `styx run` on it.
//!
//! The job runs as `styx run` runs it, with its own sources and sinks. Its events are
//! counted before the clock starts: the lines of its file sources and the `count` of its
//! generator sources (a job with other sources gets `events: null`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use styx_job::config::SourceConfig;
use styx_job::{Job, RunOptions};

/// Arguments of `styx bench job`.
#[derive(clap::Args)]
pub struct Args {
    /// The job file.
    job: PathBuf,
    /// Overrides `[job] parallelism`.
    #[arg(long)]
    parallelism: Option<usize>,
    /// Runs without the per-operator metrics `styx run` and `styx serve` keep (to
    /// measure what they cost).
    #[arg(long)]
    no_metrics: bool,
}

/// Runs the job to its end and prints the measurements.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let job = Job::load(&args.job)?;
    let events = input_events(&job, &args.job)?;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    job.run(&RunOptions {
        parallelism: args.parallelism,
        metrics: (!args.no_metrics).then(styx_job::metrics::JobMetrics::new),
        ..RunOptions::default()
    })?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu_before, cpu_seconds()) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let out = serde_json::json!({
        "job": args.job.display().to_string(),
        "metrics": !args.no_metrics,
        "events": events,
        "wall_s": wall,
        "events_per_s": events.map(|n| n as f64 / wall),
        "cpu_s": cpu,
        "cpu_us_per_event": cpu.zip(events).map(|(c, n)| c * 1e6 / n.max(1) as f64),
        "peak_rss_bytes": super::window::peak_rss_bytes(),
    });
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// The events the job's sources give: lines of files, counts of generators.
fn input_events(job: &Job, file: &std::path::Path) -> anyhow::Result<Option<u64>> {
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    let mut total = 0;
    for source in job.config().sources.values() {
        match source {
            SourceConfig::File(f) => {
                let path = base.join(&f.path);
                let reader = std::io::BufReader::with_capacity(
                    1 << 20,
                    std::fs::File::open(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                );
                let mut lines = 0;
                for line in reader.split(b'\n') {
                    if !line?.iter().all(u8::is_ascii_whitespace) {
                        lines += 1;
                    }
                }
                total += lines;
            }
            SourceConfig::Generator(g) => match g.count {
                Some(n) => total += n,
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    Ok(Some(total))
}

/// The CPU time (user and system) this process used so far, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports them in clock ticks of 1/100 s (USER_HZ).
    Some((utime + stime) / 100.0)
}
