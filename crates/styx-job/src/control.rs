//! The control socket of a running job: how `styx savepoint` and `styx stop
//! --with-savepoint` reach it.
//!
//! A job with a `state_dir` listens on `STATE_DIR/control.sock` (a Unix socket). A client
//! sends one line, `savepoint` or `stop-with-savepoint`, and reads one line back:
//! `ok PATH` with the savepoint's folder, or `error MESSAGE`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use styx_runtime::checkpoint::coordinator::CoordinatorHandle;

/// The socket's file name in the state directory.
pub const SOCKET: &str = "control.sock";

/// How long a client waits for the job to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// A running control socket; it is closed and removed when dropped.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl ControlServer {
    /// Listens in `state_dir` for requests to the job behind `handle`.
    pub fn start(state_dir: &Path, handle: CoordinatorHandle) -> Result<ControlServer, String> {
        std::fs::create_dir_all(state_dir)
            .map_err(|e| format!("cannot create state_dir {}: {e}", state_dir.display()))?;
        let path = state_dir.join(SOCKET);
        if UnixStream::connect(&path).is_ok() {
            return Err(format!(
                "another job is running with state_dir {}",
                state_dir.display()
            ));
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("control-socket".into())
            .spawn(move || {
                while !stopped.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handle = handle.clone();
                            std::thread::spawn(move || serve(stream, &handle));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(ControlServer { path, stop })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, handle: &CoordinatorHandle) {
    let _ = stream.set_nonblocking(false);
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let answer = match line.trim() {
        "savepoint" => handle.savepoint(false),
        "stop-with-savepoint" => handle.savepoint(true),
        other => Err(format!("unknown request {other:?}")),
    };
    let reply = match answer {
        Ok(path) => format!("ok {}\n", path.display()),
        Err(e) => format!("error {e}\n"),
    };
    let _ = (&stream).write_all(reply.as_bytes());
}

/// Asks the job running with `state_dir` for a savepoint (and to stop after it, with
/// `stop`); returns the savepoint's folder.
pub fn request_savepoint(state_dir: &Path, stop: bool) -> Result<PathBuf, String> {
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
    let request = if stop {
        "stop-with-savepoint\n"
    } else {
        "savepoint\n"
    };
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(|e| format!("{}: no answer from the job: {e}", path.display()))?;
    match reply.trim_end().split_once(' ') {
        Some(("ok", folder)) => Ok(PathBuf::from(folder)),
        Some(("error", message)) => Err(message.to_string()),
        _ => Err(format!("the job gave no answer ({:?})", reply.trim_end())),
    }
}
