//! Jobs run by the server: submitted over the job API (or the one job of `styx run
//! --web`), each on threads of its own, with the metrics of its operators.
//!
//! A job that fails ends in state `failed` with its error; it never takes the server
//! down (a panic inside a job is caught and reported as its failure).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use styx_job::control::request_savepoint;
use styx_job::metrics::JobMetrics;
use styx_job::{Job, RunOptions};
use styx_runtime::source::StopHandle;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Reading and processing.
    Running,
    /// Its sources ended and everything was written.
    Finished,
    /// It ended with an error.
    Failed,
    /// Stopped on request (after a savepoint, drained or not).
    Stopped,
    /// Cancelled: stopped at once, open windows discarded.
    Canceled,
}

impl JobState {
    /// As the job API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Failed => "failed",
            JobState::Stopped => "stopped",
            JobState::Canceled => "canceled",
        }
    }
}

/// What was asked of a running job, deciding its state when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Natural,
    Stop,
    Cancel,
}

#[derive(Debug)]
struct Life {
    state: JobState,
    error: Option<String>,
    ending: Ending,
    ended_ms: Option<i64>,
}

/// One job of the server.
pub struct RunningJob {
    /// The job's id in the API.
    pub id: String,
    /// `[job] name`.
    pub name: String,
    /// Its metrics, by the ids of its job file.
    pub metrics: Arc<JobMetrics>,
    state_dir: Option<PathBuf>,
    stop: StopHandle,
    started_ms: i64,
    life: Mutex<Life>,
    ended: tokio::sync::watch::Sender<bool>,
    /// Whether the API may stop and cancel it (`false` for the job of `styx run --web`,
    /// which its process stops).
    controllable: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RunningJob {
    /// The job's state now.
    pub fn state(&self) -> JobState {
        lock(&self.life).state
    }

    /// Where the job's savepoints are asked for: its state directory.
    fn savepoint_dir(&self) -> Result<PathBuf, JobRequestError> {
        self.state_dir.clone().ok_or_else(|| {
            JobRequestError::Conflict(
                "a savepoint needs a state directory: the job file sets no [job] state_dir".into(),
            )
        })
    }

    /// Records how the job ended: `result` of its run.
    pub fn ended(&self, result: Result<(), String>) {
        let mut life = lock(&self.life);
        life.state = match (&result, life.ending) {
            (Err(_), _) => JobState::Failed,
            (Ok(()), Ending::Natural) => JobState::Finished,
            (Ok(()), Ending::Stop) => JobState::Stopped,
            (Ok(()), Ending::Cancel) => JobState::Canceled,
        };
        life.error = result.err();
        life.ended_ms = Some(now_ms());
        drop(life);
        let _ = self.ended.send(true);
    }

    /// Waits until the job has ended (at most `timeout`); whether it has.
    pub async fn wait(&self, timeout: Duration) -> bool {
        let mut ended = self.ended.subscribe();
        let done = tokio::time::timeout(timeout, ended.wait_for(|e| *e))
            .await
            .is_ok();
        done
    }

    /// The job's summary in the list: id, name, state.
    pub fn summary(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "state": self.state().as_str() })
    }

    /// The job's dataflow graph: its operators and which feeds which.
    pub fn graph(&self) -> Value {
        let operators = self.metrics.operators();
        let nodes: Vec<Value> = operators
            .iter()
            .map(|o| json!({ "id": o.id, "kind": o.kind, "type": o.type_name }))
            .collect();
        let edges: Vec<Value> = operators
            .iter()
            .flat_map(|o| {
                o.inputs
                    .iter()
                    .map(move |from| json!({ "from": from, "to": o.id }))
            })
            .collect();
        json!({ "nodes": nodes, "edges": edges })
    }

    /// Everything the API tells of the job: state, operators with their counts and
    /// watermarks, checkpoints.
    pub fn details(&self) -> Value {
        let life = lock(&self.life);
        let (state, error, ended) = (life.state, life.error.clone(), life.ended_ms);
        drop(life);
        let operators: Vec<Value> = self
            .metrics
            .operators()
            .into_iter()
            .map(|o| {
                json!({
                    "id": o.id,
                    "kind": o.kind,
                    "type": o.type_name,
                    "inputs": o.inputs,
                    "records_in": o.records_in,
                    "records_out": o.records_out,
                    "dropped": o.dropped,
                    "side_outputs": o.side,
                    "watermark": o.watermark,
                    "newest_event_time": o.newest_event_time,
                    "watermark_lag_ms": o.watermark_lag(),
                    "input_blocked_ms": o.input_blocked.as_secs_f64() * 1000.0,
                    "counters": o.counters,
                    "lookups": o.counters.get("lookups").map(|&n| {
                        let reads = o.counters.get("store_reads").copied().unwrap_or(0);
                        json!({ "keys": n, "store_reads": reads, "cache_hits": n.saturating_sub(reads) })
                    }),
                    "scoring": o.counters.get("timed").filter(|&&n| n > 0).map(|&n| {
                        let nanos = o.counters.get("timed_nanos").copied().unwrap_or(0);
                        json!({ "sampled": n, "mean_latency_us": nanos as f64 / n as f64 / 1000.0 })
                    }),
                    "consumer_lag": o.lag.iter().map(|(topic, partition, lag)| {
                        json!({ "topic": topic, "partition": partition, "lag": lag })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let c = self.metrics.checkpoints();
        json!({
            "id": self.id,
            "name": self.name,
            "state": state.as_str(),
            "error": error,
            "started": self.started_ms,
            "ended": ended,
            "duration_ms": ended.unwrap_or_else(now_ms) - self.started_ms,
            "controllable": self.controllable,
            "operators": operators,
            "checkpoints": {
                "completed": c.completed,
                "last_id": (c.completed > 0).then_some(c.last_id),
                "last_duration_ms": (c.completed > 0).then_some(c.last_duration.as_secs_f64() * 1000.0),
                "last_bytes": (c.completed > 0).then_some(c.last_bytes),
                "last_completed": (c.completed > 0).then_some(c.last_completed_ms),
            },
            "state_dir": self.state_dir.as_ref().map(|d| d.display().to_string()),
            "store": self.metrics.store(),
        })
    }
}

/// Why the API refuses a request about a job.
#[derive(Debug)]
pub enum JobRequestError {
    /// No job has that id.
    NotFound,
    /// The request does not fit the job (a savepoint without a state directory, a stop
    /// of a job that is not running): a message for the client.
    Conflict(String),
}

/// The jobs of the server, in the order they were submitted.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<Vec<Arc<RunningJob>>>,
    next: AtomicU64,
}

impl Jobs {
    /// A new id: a counter and the time, unique within the server's life.
    fn new_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{:08x}{n:04x}", now_ms() as u64 & 0xffff_ffff)
    }

    /// Every job, oldest first.
    pub fn all(&self) -> Vec<Arc<RunningJob>> {
        lock(&self.jobs).clone()
    }

    /// The job `id`.
    pub fn get(&self, id: &str) -> Option<Arc<RunningJob>> {
        lock(&self.jobs).iter().find(|j| j.id == id).cloned()
    }

    /// Registers a job about to run; `controllable`: the API may stop it.
    pub fn register(
        &self,
        job: &Job,
        metrics: Arc<JobMetrics>,
        stop: StopHandle,
        controllable: bool,
    ) -> Arc<RunningJob> {
        let (ended, _) = tokio::sync::watch::channel(false);
        let running = Arc::new(RunningJob {
            id: self.new_id(),
            name: job.name().to_string(),
            metrics,
            state_dir: job.state_dir(),
            stop,
            started_ms: now_ms(),
            life: Mutex::new(Life {
                state: JobState::Running,
                error: None,
                ending: Ending::Natural,
                ended_ms: None,
            }),
            ended,
            controllable,
        });
        lock(&self.jobs).push(running.clone());
        running
    }

    /// Checks job file `text` (relative paths from `base`) and runs it on threads of its
    /// own; returns its id. The job's errors go into its state, never further.
    pub fn submit(&self, text: &str, base: &std::path::Path) -> Result<Arc<RunningJob>, String> {
        let job = Job::parse(&base.join("submitted-job.toml"), text).map_err(|e| e.to_string())?;
        let metrics = JobMetrics::new();
        let stop = StopHandle::new();
        let running = self.register(&job, metrics.clone(), stop.clone(), true);
        let handle = running.clone();
        std::thread::Builder::new()
            .name(format!("job-{}", running.id))
            .spawn(move || {
                let options = RunOptions {
                    stop: Some(stop),
                    metrics: Some(metrics),
                    ..RunOptions::default()
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job.run(&options).map_err(|e| e.to_string())
                }))
                .unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "a panic".to_string());
                    Err(format!("the job failed: {what}"))
                });
                if let Err(e) = &result {
                    tracing::warn!(job = %handle.id, "the job failed: {e}");
                }
                handle.ended(result);
            })
            .map_err(|e| format!("cannot start the job: {e}"))?;
        tracing::info!(job = %running.id, name = %running.name, "job submitted");
        Ok(running)
    }

    /// The job `id`, running and under the API's control.
    fn controllable(&self, id: &str) -> Result<Arc<RunningJob>, JobRequestError> {
        let job = self.get(id).ok_or(JobRequestError::NotFound)?;
        if !job.controllable {
            return Err(JobRequestError::Conflict(
                "this job is stopped by the process that runs it".into(),
            ));
        }
        Ok(job)
    }

    /// Stops job `id`: after a savepoint (`savepoint`), and draining (`drain`: open
    /// windows fire) or not. Waits until it has ended; returns the savepoint's folder.
    pub async fn stop(
        &self,
        id: &str,
        savepoint: bool,
        drain: bool,
    ) -> Result<Option<PathBuf>, JobRequestError> {
        let job = self.controllable(id)?;
        if job.state() != JobState::Running {
            return Err(JobRequestError::Conflict(format!(
                "the job is {}, not running",
                job.state().as_str()
            )));
        }
        let previous = std::mem::replace(&mut lock(&job.life).ending, Ending::Stop);
        let path = if savepoint {
            let dir = match job.savepoint_dir() {
                Ok(dir) => dir,
                Err(e) => {
                    lock(&job.life).ending = previous;
                    return Err(e);
                }
            };
            // Without draining the savepoint stops the job (open windows live on in it);
            // draining, the job takes the savepoint and then fires what is open.
            let taken = tokio::task::spawn_blocking(move || request_savepoint(&dir, !drain))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            match taken {
                Ok(path) => Some(path),
                Err(e) => {
                    lock(&job.life).ending = previous;
                    return Err(JobRequestError::Conflict(e));
                }
            }
        } else {
            None
        };
        if drain {
            job.stop.stop();
        } else if !savepoint {
            job.stop.stop_discarding();
        }
        job.wait(Duration::from_secs(120)).await;
        Ok(path)
    }

    /// Takes a savepoint of job `id` while it goes on; returns its folder.
    pub async fn savepoint(&self, id: &str) -> Result<PathBuf, JobRequestError> {
        let job = self.controllable(id)?;
        let dir = job.savepoint_dir()?;
        tokio::task::spawn_blocking(move || request_savepoint(&dir, false))
            .await
            .map_err(|e| JobRequestError::Conflict(e.to_string()))?
            .map_err(JobRequestError::Conflict)
    }

    /// Cancels every running job the API controls, and waits a little for them to end.
    pub async fn cancel_all(&self) {
        for job in self.all() {
            if job.controllable && job.state() == JobState::Running {
                let _ = self.cancel(&job.id).await;
            }
        }
    }

    /// Cancels job `id`: it stops at once, open windows discarded. Waits a little for
    /// it to end.
    pub async fn cancel(&self, id: &str) -> Result<(), JobRequestError> {
        let job = self.controllable(id)?;
        if job.state() == JobState::Running {
            lock(&job.life).ending = Ending::Cancel;
            job.stop.stop_discarding();
            job.wait(Duration::from_secs(30)).await;
        }
        Ok(())
    }
}
