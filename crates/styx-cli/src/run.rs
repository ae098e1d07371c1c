//! `styx run JOB.toml`: runs a job file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::Context;
use styx_job::metrics::JobMetrics;
use styx_job::{Job, RunOptions};
use styx_runtime::source::StopHandle;
use styx_server::config::{AdminAddresses, Config};
use styx_server::jobs::{Jobs, RunningJob};

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
    /// Serves the job's dashboard, job API (read-only) and `/metrics` on this address
    /// (for example `127.0.0.1:8081`) while it runs.
    #[arg(long, value_name = "HOST:PORT")]
    web: Option<String>,
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
    stop_on_signals(&stop)?;
    tracing::info!(job = job.name(), "starting");
    let metrics = JobMetrics::new();
    let web = match &args.web {
        Some(listen) => Some(web(listen, &job, &metrics, &stop)?),
        None => None,
    };
    let progress = progress(metrics.clone());
    let result = job.run(&RunOptions {
        parallelism: args.parallelism,
        from_savepoint: args.from_savepoint,
        stop: Some(stop),
        metrics: Some(metrics),
    });
    progress.finish();
    if let Some(running) = web {
        running.ended(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Stops the job cleanly on SIGINT or SIGTERM; a second signal exits at once.
pub(crate) fn stop_on_signals(stop: &StopHandle) -> anyhow::Result<()> {
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
    Ok(())
}

/// How often a running job logs its progress (at info level).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Calls a function on a thread of its own every so often, and once more when finished.
pub(crate) struct Ticker {
    done: crossbeam_channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    /// Calls `tick(false)` every `every`, and `tick(true)` once [`Ticker::finish`] is
    /// called.
    pub(crate) fn start(
        name: &str,
        every: std::time::Duration,
        mut tick: impl FnMut(bool) + Send + 'static,
    ) -> Ticker {
        let (done, ended) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                let finished = !matches!(
                    ended.recv_timeout(every),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout)
                );
                tick(finished);
                if finished {
                    return;
                }
            })
            .ok();
        Ticker { done, thread }
    }

    /// Makes the last call and waits for it.
    pub(crate) fn finish(mut self) {
        let _ = self.done.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Logs the job's graph once it is built, then every [`PROGRESS_EVERY`] what it read and
/// wrote, how fast, what it dropped and where its watermark is; and the totals at its end.
fn progress(metrics: Arc<JobMetrics>) -> Ticker {
    let mut last = (std::time::Instant::now(), metrics.totals());
    let mut graph_logged = false;
    Ticker::start("progress", PROGRESS_EVERY, move |finished| {
        if !graph_logged {
            let graph: Vec<String> = metrics
                .operators()
                .iter()
                .map(|o| format!("{} {} <- [{}]", o.kind, o.id, o.inputs.join(", ")))
                .collect();
            tracing::info!(graph = %graph.join("; "), "dataflow");
            graph_logged = true;
        }
        let now = (std::time::Instant::now(), metrics.totals());
        let seconds = now.0.duration_since(last.0).as_secs_f64().max(1e-9);
        let watermark = now
            .1
            .watermark
            .map_or("none".to_string(), |w| w.to_string());
        tracing::info!(
            read = now.1.read,
            read_per_s = ((now.1.read - last.1.read) as f64 / seconds).round(),
            written = now.1.written,
            written_per_s = ((now.1.written - last.1.written) as f64 / seconds).round(),
            dropped = now.1.dropped,
            watermark = %watermark,
            "{}",
            if finished { "ended" } else { "progress" }
        );
        last = now;
    })
}

/// Serves the dashboard and the read-only job API of the one job this process runs, on
/// a thread of its own, until the process ends.
fn web(
    listen: &str,
    job: &Job,
    metrics: &Arc<JobMetrics>,
    stop: &StopHandle,
) -> anyhow::Result<Arc<RunningJob>> {
    let jobs = Arc::new(Jobs::default());
    let running = jobs.register(job, metrics.clone(), stop.clone(), false);
    let config = Config {
        listen: listen.to_string(),
        base_path: "/".into(),
        models_dir: None,
        store_url: job.store_url().to_string(),
        admin_token: None,
        user_token: None,
        admin_addresses: AdminAddresses::default(),
        max_body: 1 << 20,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("web".into())
        .spawn(move || {
            let served = runtime.block_on(styx_server::serve_jobs(
                config,
                jobs,
                std::future::pending::<()>(),
            ));
            if let Err(e) = served {
                tracing::error!("--web: {e}");
            }
        })?;
    Ok(running)
}
