//! Exactly-once from Kafka to Kafka under SIGKILL: a windowed job and a pattern job with
//! `delivery = "exactly_once"` are killed at random moments while their input arrives
//! and restarted each time; a `read_committed` reader of their output must see exactly
//! the results of the same job on a file: nothing lost, nothing twice.
//!
//! `STYX_KAFKA_TXN_BROKERS` names a broker whose `read_committed` hides aborted
//! transactions (noida-db under `scripts/test`); when it is not set, the test fails. Built
//! with the `failpoints` feature
//! (as `scripts/test` does), some runs also die at fail points between writing a
//! checkpoint and committing its transaction, and right after the commit.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    brokers, events, file_results, produce, read_committed, unique, PATTERN, STYX, TIMEOUT, WINDOW,
};
use rand::Rng;
use styx_kafka::admin::create_topic;

const EVENTS: u64 = 6000;

#[test]
fn killed_at_random_moments_the_committed_output_equals_a_run_on_a_file() {
    killed_at_random_moments(WINDOW, 100, true);
}

#[test]
fn a_pattern_job_killed_at_random_moments_commits_the_matches_of_a_run_on_a_file() {
    killed_at_random_moments(PATTERN, 50, false);
}

/// Runs the job whose transform `counts` is `transform` on a file, then from Kafka while
/// killing it; the file run must give more than `at_least` results, and with `ends_open`
/// some (the last windows) only once the input ends.
fn killed_at_random_moments(transform: &str, at_least: usize, ends_open: bool) {
    let brokers = brokers("STYX_KAFKA_TXN_BROKERS");
    let work = tempfile::tempdir().unwrap();

    let expected = file_results(work.path(), transform, EVENTS);
    assert!(expected.len() > at_least, "{} results", expected.len());

    let (input, output) = (unique("in"), unique("out"));
    let job = kafka_job(&brokers, work.path(), transform, &input, &output);

    // The input arrives over a few seconds while the job is killed and restarted.
    let feeder = {
        let (brokers, input) = (brokers.clone(), input.clone());
        std::thread::spawn(move || {
            for start in (0..EVENTS).step_by(300) {
                produce(&brokers, &input, events(start..(start + 300).min(EVENTS)));
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    let mut rng = rand::rng();
    let (mut kills, mut aborts) = (0, 0);
    while !feeder.is_finished() || kills + aborts < 8 {
        let mut command = Command::new(STYX);
        command
            .args(["run", job.to_str().unwrap()])
            .env("STYX_LOG", "styx_job=info,styx_kafka=warn")
            .stdout(Stdio::null());
        // With fail points, some runs die exactly between writing a checkpoint and
        // committing its transaction, or right after the commit.
        let fail_point = cfg!(feature = "failpoints") && rng.random_bool(0.5);
        if fail_point {
            let point = if rng.random_bool(0.5) {
                "eos-before-commit"
            } else {
                "eos-after-commit"
            };
            command.env(
                "FAILPOINTS",
                format!("{point}={}*off->return", rng.random_range(0..4)),
            );
        }
        let mut child = command.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(300..1800)));
        match child.try_wait().unwrap() {
            Some(status) if fail_point && !status.success() => aborts += 1,
            Some(status) => panic!("the job ended by itself: {status}"),
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    if cfg!(feature = "failpoints") {
        assert!(aborts > 0, "no run died at a fail point");
    }
    feeder.join().unwrap();
    let before_last = read_committed(&brokers, &output, Duration::from_secs(2));
    assert!(
        !before_last.is_empty() && (!ends_open || before_last.len() < expected.len()),
        "the killed runs committed part of the output: {} of {}",
        before_last.len(),
        expected.len()
    );
    // The last run goes to the end of the input.
    run_until_idle(&job);

    let got = read_committed(&brokers, &output, Duration::from_secs(3));
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !got.contains(e))
        .take(3)
        .collect();
    let mut twice = got.clone();
    twice.dedup();
    assert!(
        got == expected,
        "after {kills} kills and {aborts} aborts: {} committed results, {} expected ({} distinct); missing e.g. \
         {missing:?}",
        got.len(),
        expected.len(),
        twice.len()
    );
}

/// Runs `job` until its input has been idle for 3 s: it must end cleanly.
fn run_until_idle(job: &std::path::Path) {
    let status = Command::new(STYX)
        .args(["run", job.to_str().unwrap(), "--until-idle", "3s"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the last run ends cleanly: {status}");
}

/// Writes the job file `kafka.toml` into `dir`: `transform` from the new topic `input`
/// (two partitions) to the new topic `output`, exactly once, a checkpoint every 150 ms.
fn kafka_job(
    brokers: &str,
    dir: &std::path::Path,
    transform: &str,
    input: &str,
    output: &str,
) -> std::path::PathBuf {
    create_topic(brokers, input, 2, TIMEOUT).unwrap();
    create_topic(brokers, output, 1, TIMEOUT).unwrap();
    let job = dir.join("kafka.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"{}\"\nparallelism = 2\ncheckpoint_interval = \"150ms\"\n\
             state_dir = \"state\"\n\
             [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{input}\"\n\
             group = \"{}\"\nstart = \"earliest\"\n{transform}\
             [sinks.out]\ntype = \"kafka\"\ninputs = [\"counts\"]\nbrokers = \"{brokers}\"\n\
             topic = \"{output}\"\ndelivery = \"exactly_once\"\n",
            unique("job"),
            unique("group")
        ),
    )
    .unwrap();
    job
}

/// Runs that die after writing a checkpoint, before committing it, one after another:
/// each resumes from the last committed checkpoint, and the checkpoints they leave must
/// not push it out of the state directory (the job keeps three).
#[cfg(feature = "failpoints")]
#[test]
fn runs_dying_before_their_first_commit_leave_the_committed_checkpoint_to_resume_from() {
    let brokers = brokers("STYX_KAFKA_TXN_BROKERS");
    let work = tempfile::tempdir().unwrap();
    let expected = file_results(work.path(), WINDOW, EVENTS);

    let (input, output) = (unique("in"), unique("out"));
    let job = kafka_job(&brokers, work.path(), WINDOW, &input, &output);
    produce(&brokers, &input, events(0..EVENTS / 2));
    // The first run commits two checkpoints and dies before its third commit; the next
    // four die before their first.
    for failpoints in std::iter::once("eos-before-commit=2*off->return")
        .chain(std::iter::repeat_n("eos-before-commit=return", 4))
    {
        let mut child = Command::new(STYX)
            .args(["run", job.to_str().unwrap()])
            .env("STYX_LOG", "styx_job=info,styx_kafka=warn")
            .env("FAILPOINTS", failpoints)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("a run with {failpoints} did not reach its fail point");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Aborted at the fail point (a refusal to start exits with 2).
        assert_ne!(
            status.code(),
            Some(2),
            "a run with {failpoints} failed: {status}"
        );
        assert!(!status.success(), "a run with {failpoints} ended: {status}");
    }
    produce(&brokers, &input, events(EVENTS / 2..EVENTS));
    run_until_idle(&job);
    let got = read_committed(&brokers, &output, Duration::from_secs(3));
    assert!(
        got == expected,
        "{} committed results, {} expected",
        got.len(),
        expected.len()
    );
}
