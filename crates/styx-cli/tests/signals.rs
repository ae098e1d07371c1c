//! SIGTERM and SIGINT stop `styx run` at once, as a plain stop does in Flink: the sources
//! end, the sinks flush what they got, open windows are discarded, the process exits 0
//! and says so. `styx stop --drain` fires the open windows first, as at the end of the
//! input.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{file_multiset as multiset, run_to_end, STYX};

const JOB: &str = "[job]\nname = \"signals\"\nparallelism = 2\n\
    [sources.events]\nSOURCE\n\
    [sources.events.event_time]\nfield = \"ts\"\nmax_out_of_orderness = \"0s\"\nwatermarks = \"per_event\"\n\
    [transforms.counts]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
    window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\" }\n\
    [sinks.out]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out/results.ndjson\"\n";

/// Runs the job on stdin, every line written and the input left open, until `stop` ends
/// it; returns what it wrote, its standard error, and the windows the same lines give
/// when the input simply ends.
fn run_until(stop: impl FnOnce(&Path, u32)) -> (Vec<String>, String, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let lines: String = (0..500)
        .map(|n| format!("{{\"key\":\"k{}\",\"ts\":{}}}\n", n % 7, 10_000 + n * 13))
        .collect();
    // What the job gives for these lines when its input simply ends.
    std::fs::write(work.path().join("events.ndjson"), &lines).unwrap();
    std::fs::write(
        work.path().join("file.toml"),
        JOB.replace("SOURCE", "type = \"file\"\npath = \"events.ndjson\""),
    )
    .unwrap();
    run_to_end(&work.path().join("file.toml"));
    let all = multiset(&work.path().join("out/results.ndjson"));
    assert!(all.len() > 10);

    let dir = work.path().join("stdin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("job.toml"),
        JOB.replace("SOURCE", "type = \"stdin\"").replace(
            "parallelism = 2\n",
            "parallelism = 2\nstate_dir = \"state\"\n",
        ),
    )
    .unwrap();
    let mut child = Command::new(STYX)
        .args(["run", dir.join("job.toml").to_str().unwrap()])
        .env("STYX_LOG", "info")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The input stays open: only the stop ends the job, once it has read every line.
    std::thread::sleep(Duration::from_secs(2));
    stop(&dir, child.id());
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "the job exits 0, not {}: {stderr}",
        output.status
    );
    (multiset(&dir.join("out/results.ndjson")), stderr, all)
}

/// A signal stops the job at once: the windows that fired are written, the open ones
/// are discarded (as a plain stop in Flink), and the job says so.
fn stops_at_once_on(signal: &str) {
    let (got, stderr, all) = run_until(|_, pid| {
        let kill = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    });
    assert!(
        stderr.contains("open windows and partial matches are discarded"),
        "{signal}: the job says what became of its open windows: {stderr}"
    );
    assert!(
        got.iter().all(|r| all.contains(r)),
        "{signal}: only results the input gives"
    );
    // The input is open: the windows of its last second never closed.
    assert!(
        got.len() < all.len() && !got.is_empty(),
        "{signal}: the closed windows were written, the open ones discarded ({} of {})",
        got.len(),
        all.len()
    );
}

#[test]
fn sigterm_stops_a_job_at_once() {
    stops_at_once_on("-TERM");
}

#[test]
fn sigint_stops_a_job_at_once() {
    stops_at_once_on("-INT");
}

/// `styx stop --drain` fires every open window before the job stops.
#[test]
fn a_drained_stop_fires_the_open_windows() {
    let (got, stderr, all) = run_until(|dir, _| {
        let out = Command::new(STYX)
            .args(["stop", dir.join("job.toml").to_str().unwrap(), "--drain"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "styx stop --drain: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    assert!(stderr.contains("draining"), "{stderr}");
    assert_eq!(got, all, "the open windows fired");
}
