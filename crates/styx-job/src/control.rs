//! The control socket of a running job: how `styx savepoint` and `styx stop
//! --with-savepoint` reach it, and how a second run of the job finds out whether the
//! first one is alive.
//!
//! A job with a `state_dir` listens on `STATE_DIR/control.sock` (a Unix socket). A client
//! sends one line, `savepoint`, `stop-with-savepoint`, `stop` (open windows are
//! discarded), `drain` (open windows fire, then the job stops) or `ping`, and reads one
//! line back: `ok PATH` with the savepoint's folder, `ok PID` to a ping, `ok` and what
//! happens to a stop, or `error MESSAGE`.
//!
//! A job starting with a `state_dir` whose socket exists pings it. If the job there
//! answers, the new one is refused ("another job is running"). If it does not answer
//! within [`ALIVE_TIMEOUT`] (a process frozen, stopped or cut off, or no process at all),
//! the new one takes the socket over: the earlier one, should it wake up, is a zombie and
//! is fenced (see [`crate::checkpointing`]). A job removes the socket when it ends, unless
//! a newer run has taken it over.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use styx_runtime::checkpoint::coordinator::CoordinatorHandle;
use styx_runtime::source::StopHandle;

/// The socket's file name in the state directory.
pub const SOCKET: &str = "control.sock";

/// How long a client waits for the job to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a job holding the control socket has to answer a ping before a new run of
/// the job takes its state directory over.
pub const ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The job behind a socket, once it runs: its checkpoints and its stop.
type Target = Arc<Mutex<Option<(CoordinatorHandle, StopHandle)>>>;

/// A running control socket; it is closed and removed when dropped.
pub struct ControlServer {
    path: PathBuf,
    /// The socket file's device and inode: it is removed only if it is still this one.
    file: Option<(u64, u64)>,
    stop: Arc<AtomicBool>,
    target: Target,
}

/// What answers on an existing control socket.
enum Holder {
    /// No one: there is no socket, or no process listens on it.
    None,
    /// A job, with this process id, answered.
    Alive(String),
    /// A process holds the socket but did not answer.
    Silent,
}

fn probe(path: &Path) -> Holder {
    let Ok(mut stream) = UnixStream::connect(path) else {
        return Holder::None;
    };
    if stream.set_read_timeout(Some(ALIVE_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(ALIVE_TIMEOUT)).is_err()
        || stream.write_all(b"ping\n").is_err()
    {
        return Holder::Silent;
    }
    let mut reply = String::new();
    match BufReader::new(&stream).read_line(&mut reply) {
        // Closed without an answer: the process is ending.
        Ok(0) => Holder::None,
        Ok(_) => {
            let reply = reply.trim_end();
            let pid = reply.strip_prefix("ok ").unwrap_or("unknown");
            Holder::Alive(pid.to_string())
        }
        Err(_) => Holder::Silent,
    }
}

impl ControlServer {
    /// Takes the control socket in `state_dir`: fails if a job there answers, takes it
    /// over if the one there does not. Until [`ControlServer::serve`] names the job, pings
    /// are answered and savepoint requests refused.
    pub fn start(state_dir: &Path) -> Result<ControlServer, String> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("cannot create state_dir {}: {e}", state_dir.display()))?;
        let path = state_dir.join(SOCKET);
        match probe(&path) {
            Holder::Alive(pid) => {
                return Err(format!(
                    "another job is running with state_dir {} (process {pid} answers on {})",
                    state_dir.display(),
                    path.display()
                ))
            }
            Holder::Silent => tracing::warn!(
                "the job holding state_dir {} does not answer on {} within {:?}: taking \
                 it over (should that job wake up, it is fenced)",
                state_dir.display(),
                path.display(),
                ALIVE_TIMEOUT
            ),
            Holder::None => {}
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        let file = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let target = Target::default();
        let (stopped, serving) = (stop.clone(), target.clone());
        std::thread::Builder::new()
            .name("control-socket".into())
            .spawn(move || {
                while !stopped.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let target = serving.clone();
                            std::thread::spawn(move || serve(stream, &target));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(ControlServer {
            path,
            file,
            stop,
            target,
        })
    }

    /// Serves savepoint and stop requests for the job behind `handle` and `stop` from
    /// now on.
    pub fn serve(&self, handle: CoordinatorHandle, stop: StopHandle) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = Some((handle, stop));
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A newer run that took the socket over keeps its own.
        let ours = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()))
            .is_some_and(|f| Some(f) == self.file);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn serve(stream: UnixStream, target: &Target) {
    let _ = stream.set_nonblocking(false);
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let handle = target.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let folder = |p: PathBuf| p.display().to_string();
    let answer = match (line.trim(), handle) {
        ("ping", _) => Ok(std::process::id().to_string()),
        ("savepoint" | "stop-with-savepoint" | "stop" | "drain", None) => {
            Err("the job is starting: ask again once it runs".to_string())
        }
        ("savepoint", Some((handle, _))) => handle.savepoint(false).map(folder),
        ("stop-with-savepoint", Some((handle, _))) => handle.savepoint(true).map(folder),
        ("stop", Some((_, stop))) => {
            tracing::warn!("stopping as asked: open windows and partial matches are discarded");
            stop.stop_discarding();
            Ok("stopping; open windows and partial matches are discarded".to_string())
        }
        ("drain", Some((_, stop))) => {
            tracing::info!("stopping as asked, draining: open windows fire first");
            stop.stop();
            Ok("draining: open windows fire, then the job stops".to_string())
        }
        (other, _) => Err(format!("unknown request {other:?}")),
    };
    let reply = match answer {
        Ok(text) => format!("ok {text}\n"),
        Err(e) => format!("error {e}\n"),
    };
    let _ = (&stream).write_all(reply.as_bytes());
}

/// Asks the job running with `state_dir` for a savepoint (and to stop after it, with
/// `stop`); returns the savepoint's folder.
pub fn request_savepoint(state_dir: &Path, stop: bool) -> Result<PathBuf, String> {
    let line = if stop {
        "stop-with-savepoint"
    } else {
        "savepoint"
    };
    request(state_dir, line).map(PathBuf::from)
}

/// Asks the job running with `state_dir` to stop: draining (open windows fire first)
/// or not (they are discarded). Returns the job's answer.
pub fn request_stop(state_dir: &Path, drain: bool) -> Result<String, String> {
    request(state_dir, if drain { "drain" } else { "stop" })
}

/// Sends `request` to the job running with `state_dir`; returns the text of its `ok`.
fn request(state_dir: &Path, request: &str) -> Result<String, String> {
    let path = state_dir.join(SOCKET);
    let mut stream = UnixStream::connect(&path).map_err(|e| {
        format!(
            "no job is running with state_dir {} ({}: {e})",
            state_dir.display(),
            path.display()
        )
    })?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(|e| format!("{}: no answer from the job: {e}", path.display()))?;
    let reply = reply.trim_end();
    match reply.split_once(' ') {
        Some(("ok", text)) => Ok(text.to_string()),
        Some(("error", message)) => Err(message.to_string()),
        _ if reply == "ok" => Ok(String::new()),
        _ => Err(format!("the job gave no answer ({reply:?})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("styx-control-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_job_that_answers_keeps_its_state_dir() {
        let dir = state_dir("alive");
        let running = ControlServer::start(&dir).unwrap();
        let err = ControlServer::start(&dir).err().expect("refused");
        assert!(
            err.contains("another job is running with state_dir"),
            "{err}"
        );
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(running);
        assert!(!dir.join(SOCKET).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_socket_nobody_answers_on_is_taken_over_and_kept_by_the_new_job() {
        let dir = state_dir("silent");
        let old = ControlServer::start(&dir).unwrap();
        // A holder that accepts connections (the kernel does) but never answers, as a
        // frozen process.
        let _ = std::fs::remove_file(dir.join(SOCKET));
        let frozen = UnixListener::bind(dir.join(SOCKET)).unwrap();
        let started = std::time::Instant::now();
        let new = ControlServer::start(&dir).unwrap();
        assert!(started.elapsed() >= ALIVE_TIMEOUT);
        drop(frozen);
        // The earlier servers, ending, leave the new one's socket.
        drop(old);
        assert!(dir.join(SOCKET).exists());
        let err = ControlServer::start(&dir)
            .err()
            .expect("the new job answers");
        assert!(err.contains("another job is running"), "{err}");
        drop(new);
        assert!(!dir.join(SOCKET).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stale_socket_is_replaced_at_once() {
        let dir = state_dir("stale");
        std::fs::create_dir_all(&dir).unwrap();
        drop(UnixListener::bind(dir.join(SOCKET)).unwrap());
        let started = std::time::Instant::now();
        let server = ControlServer::start(&dir).unwrap();
        assert!(started.elapsed() < ALIVE_TIMEOUT);
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
