//! Savepoints through the command line: a job reading stdin is stopped with
//! `styx stop --with-savepoint` halfway through Flink's fixture input, resumed with
//! `--from-savepoint` at another parallelism, and its output equals Flink's.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{file_multiset as multiset, STYX};
use styx_runtime::checkpoint::decode;
use styx_runtime::checkpoint::store::Snapshot;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../styx-job/tests/fixtures/windows")
        .join(name)
}

/// The job file of a fixture with its file source replaced by stdin and a state_dir.
fn stdin_job(dir: &Path, scenario: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario.join("job.toml")).unwrap();
    let text = text
        .replace(
            "type = \"file\"\npath = \"events.ndjson\"",
            "type = \"stdin\"",
        )
        .replace("[job]\n", "[job]\nstate_dir = \"state\"\n");
    assert!(
        text.contains("type = \"stdin\""),
        "the fixture's source is a file"
    );
    let job = dir.join("job.toml");
    std::fs::write(&job, text).unwrap();
    job
}

/// The number of input lines the savepoint's source had read.
fn lines_read(savepoint: &Path) -> u64 {
    let snapshot = Snapshot::load(savepoint).unwrap();
    let splits = snapshot.splits("sources.events");
    let (_, bytes) = splits.first().expect("the source saved its position");
    decode::<(u64, u64)>(bytes).unwrap().1
}

fn styx(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(STYX).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where the job keeps its state while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Memory,
    Disk,
}

/// Sets the job file's `state_backend`.
fn set_backend(job: &Path, backend: Backend) {
    let text = std::fs::read_to_string(job).unwrap();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("state_backend"))
        .collect();
    if backend == Backend::Disk {
        let at = lines.iter().position(|l| *l == "[job]").unwrap() + 1;
        lines.insert(at, "state_backend = \"disk\"");
    }
    std::fs::write(job, lines.join("\n") + "\n").unwrap();
}

fn stop_and_resume(scenario: &str, p1: usize, p2: usize) {
    stop_and_resume_on(scenario, (p1, Backend::Memory), (p2, Backend::Memory));
}

/// Runs the first half of a fixture's events at parallelism `p1` with state in `b1`,
/// stops with a savepoint, and runs the rest from it at `p2` with state in `b2`.
fn stop_and_resume_on(scenario: &str, (p1, b1): (usize, Backend), (p2, b2): (usize, Backend)) {
    let scenario = fixture(scenario);
    let dir = tempfile::tempdir().unwrap();
    let job = stdin_job(dir.path(), &scenario);
    let job_arg = job.to_str().unwrap();
    set_backend(&job, b1);
    let events = std::fs::read_to_string(scenario.join("events.ndjson")).unwrap();
    let lines: Vec<&str> = events.lines().collect();
    let half = lines.len() / 2;

    let mut first = Command::new(STYX)
        .args(["run", job_arg, "--parallelism", &p1.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    for l in &lines[..half] {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    // Savepoints until one shows every line written was read.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out, err) = styx(&["savepoint", job_arg]);
        if ok {
            let path = PathBuf::from(out.lines().last().unwrap().trim());
            if lines_read(&path) == half as u64 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no savepoint caught up: {err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, out, err) = styx(&["stop", job_arg, "--with-savepoint"]);
    assert!(ok, "stop failed: {err}");
    let savepoint = out.lines().last().unwrap().trim().to_string();
    assert!(first.wait().unwrap().success(), "a stopped job exits 0");
    drop(stdin);
    assert_eq!(
        dir.path().join("state/state-backend").is_dir(),
        b1 == Backend::Disk
    );
    set_backend(&job, b2);

    let mut second = Command::new(STYX)
        .args([
            "run",
            job_arg,
            "--parallelism",
            &p2.to_string(),
            "--from-savepoint",
            &savepoint,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = second.stdin.take().unwrap();
    for l in &lines[half..] {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    assert!(second.wait().unwrap().success());

    for file in ["results.ndjson", "late.ndjson"] {
        assert_eq!(
            multiset(&dir.path().join("out").join(file)),
            multiset(&scenario.join("expected").join(file)),
            "{file} after {p1} ({b1:?}) -> {p2} ({b2:?})"
        );
    }
    // A job that ended normally leaves no checkpoint to resume from.
    assert!(
        !dir.path().join("state/checkpoints").exists()
            || std::fs::read_dir(dir.path().join("state/checkpoints"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn tumbling_with_lateness_resumes_from_a_savepoint_at_another_parallelism() {
    stop_and_resume("022-tumbling-mild-al5s", 2, 1);
}

#[test]
fn sessions_resume_from_a_savepoint_at_another_parallelism() {
    stop_and_resume("020-session-mild-al10s", 2, 3);
}

#[test]
fn sliding_windows_resume_from_a_savepoint() {
    stop_and_resume("025-sliding-stragglers-al5s", 1, 2);
}

#[test]
fn a_savepoint_of_state_in_memory_resumes_with_state_on_disk() {
    stop_and_resume_on(
        "020-session-mild-al10s",
        (2, Backend::Memory),
        (3, Backend::Disk),
    );
}

#[test]
fn a_savepoint_of_state_on_disk_resumes_on_disk_and_in_memory() {
    stop_and_resume_on(
        "025-sliding-stragglers-al5s",
        (2, Backend::Disk),
        (1, Backend::Memory),
    );
    stop_and_resume_on(
        "022-tumbling-mild-al5s",
        (1, Backend::Disk),
        (3, Backend::Disk),
    );
}

#[test]
fn savepoint_without_a_running_job_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let job = stdin_job(dir.path(), &fixture("001-tumbling-inorder"));
    let (ok, _, err) = styx(&["savepoint", job.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("no job is running with state_dir"), "{err}");
}

/// A generator source keeps its position in savepoints: a generated job stopped with a
/// savepoint and resumed from it writes every event once, as a run to the end does.
#[test]
fn a_generator_resumes_after_the_last_event_it_emitted() {
    let work = tempfile::tempdir().unwrap();
    let job = |state: bool| {
        format!(
            "[job]\nname = \"gen\"\n{}\
             [sources.payments]\ntype = \"generator\"\nkind = \"payments\"\ncount = 4000\n\
             rate = 1000\nseed = 7\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"payments\"]\npath = \"out/events.ndjson\"\n",
            if state { "state_dir = \"state\"\n" } else { "" }
        )
    };
    let oracle = work.path().join("oracle");
    std::fs::create_dir_all(&oracle).unwrap();
    std::fs::write(oracle.join("job.toml"), job(false)).unwrap();
    common::run_to_end(&oracle.join("job.toml"));
    let expected = multiset(&oracle.join("out/events.ndjson"));
    assert_eq!(expected.len(), 4000);

    let dir = work.path().join("stopped");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("job.toml");
    std::fs::write(&file, job(true)).unwrap();
    let file = file.to_str().unwrap();
    let mut first = Command::new(STYX)
        .args(["run", file])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let savepoint = loop {
        std::thread::sleep(Duration::from_millis(300));
        let (ok, out, err) = styx(&["stop", file, "--with-savepoint"]);
        if ok {
            break PathBuf::from(out.lines().last().unwrap().trim());
        }
        assert!(Instant::now() < deadline, "no savepoint: {err}");
    };
    assert!(first.wait().unwrap().success());
    let halfway = multiset(&dir.join("out/events.ndjson")).len();
    assert!(halfway > 0 && halfway < 4000, "stopped halfway: {halfway}");
    let (ok, _, err) = styx(&["run", file, "--from-savepoint", savepoint.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(multiset(&dir.join("out/events.ndjson")), expected);
}
