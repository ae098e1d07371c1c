//! Fencing of a zombie. Incarnation A of an exactly-once windowed job is frozen while
//! its input arrives, as a process in a long pause or on a cut-off machine is; the same
//! job file is started again with the same `state_dir` (incarnation B, as an orchestrator
//! restarting the job does) and takes over from A, which does not answer; A is then
//! continued. A must be fenced: it stops with an error saying so, writes no checkpoint
//! more, and B's checkpoints, control socket and transactions are untouched. B reads the
//! rest of the input and is stopped, draining; a `read_committed` reader of the output
//! sees exactly the results of the same job on a file. A third run started while B
//! answers is refused, without fencing B.
//!
//! A is frozen two ways:
//! - from outside (SIGSTOP at whatever moment A is at once it has committed output);
//! - with the `failpoints` feature, by itself at the worst moment: checkpoint `K` is
//!   written but its transaction, which holds results, not yet committed. B then resumes
//!   from the checkpoint the group's committed offsets name, `K - 1` (A's last commit),
//!   never from A's `K`, and A, once continued, is fenced: its commit of `K` fails (or
//!   its next checkpoint finds the state directory taken over, whichever comes first).
//!
//! Why the tests fail without fencing:
//! - without the Kafka fence (were the `transactional.id` another in each run), A's
//!   commit of `K` in the second case succeeds, and the results between `K - 1` and `K`,
//!   which B computes again from `K - 1`, are committed twice: the comparison with the
//!   run on a file sees them twice;
//! - without the state directory's fence, A, continued, writes one more checkpoint (and
//!   prunes older ones by id, whoever wrote them) before its commit fails: the check
//!   that A writes no checkpoint once continued fails (in the first case, where A's
//!   first call is not a commit).
//!
//! `STYX_KAFKA_TXN_BROKERS` names a broker whose `read_committed` hides aborted
//! transactions and that fences producers (noida-db under `scripts/test`); when it is not
//! set, the tests fail, as the one freezing A at a fail point does without the
//! `failpoints` feature (`scripts/test` builds with it).

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{
    brokers, events, file_results, produce, read_committed, read_topic, unique, STYX, TIMEOUT,
    WINDOW,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use styx_kafka::admin::create_topic;
use styx_kafka::exactly_once::{committed_marker, Marker};
use styx_kafka::Partition;

const EVENTS: u64 = 6000;
/// A sees the first half of the input; B the rest.
const HALF: u64 = 3000;
const PARTITIONS: i32 = 2;

/// How A is frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freeze {
    /// The test stops A (SIGSTOP) once A has committed output.
    FromOutside,
    /// A stops itself between writing a checkpoint and committing its transaction.
    BeforeCommit,
}

#[test]
fn a_zombie_frozen_from_outside_is_fenced_and_the_output_is_exact() {
    zombie_is_fenced(Freeze::FromOutside, "memory");
}

#[test]
fn a_zombie_frozen_before_its_commit_is_fenced_and_the_output_is_exact() {
    #[cfg(not(feature = "failpoints"))]
    panic!("needs the failpoints feature: run the tests with scripts/test");
    #[cfg(feature = "failpoints")]
    zombie_is_fenced(Freeze::BeforeCommit, "memory");
}

/// With its state on disk, each incarnation has a tree of its own: the zombie never
/// writes into the one of the run that took over (which removes the zombie's).
#[test]
fn a_zombie_with_its_state_on_disk_is_fenced_and_the_output_is_exact() {
    zombie_is_fenced(Freeze::FromOutside, "disk");
}

/// Polls `condition` until it holds; fails after `timeout`, saying `what` was awaited.
fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` is stopped (by SIGSTOP), from `/proc/PID/stat`.
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state == 'T' || state == 't')
        })
        .unwrap_or(false)
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal}");
}

/// Waits for `child` to exit, at most `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let mut status = None;
    wait_until(what, timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

/// Kills the processes a test started when the test ends, passed or failed: a failed
/// test leaves no job running (nor a frozen one) behind.
#[derive(Default)]
struct Reaper(Vec<u32>);

impl Reaper {
    fn watch(&mut self, child: &Child) {
        self.0.push(child.id());
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `styx run JOB` with `env`, its standard error written to `log`.
fn start(job: &Path, log: &Path, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(STYX);
    command
        .args(["run", job.to_str().unwrap()])
        .env(
            "STYX_LOG",
            "styx_job=info,styx_runtime::checkpoint=info,styx_runtime=warn,styx_kafka::exactly_once=debug,styx_kafka=warn",
        )
        .env_remove("FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(File::create(log).unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The incarnation that owns the state directory last.
fn owner(state: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state.join("owner")).ok()?;
    Some(text.trim().to_string()).filter(|s| !s.is_empty())
}

/// The completed checkpoint folders in the state directory, by name, with the
/// incarnation their metadata names.
fn checkpoints(state: &Path) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(state.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("chk-") {
            // A checkpoint being written.
            continue;
        }
        let Ok(text) = std::fs::read(entry.path().join("_metadata.json")) else {
            continue;
        };
        let meta: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let incarnation = meta["incarnation"].as_str().unwrap_or_default().to_string();
        all.push((name, incarnation));
    }
    all.sort();
    all
}

/// The folders of `incarnation`'s checkpoints; each one's name ends with the incarnation
/// its metadata names.
fn checkpoints_of(state: &Path, incarnation: &str) -> BTreeSet<String> {
    checkpoints(state)
        .into_iter()
        .inspect(|(name, inc)| {
            assert!(
                name.ends_with(&format!("-{inc}")),
                "{name} names the incarnation of its metadata ({inc})"
            )
        })
        .filter(|(_, inc)| inc == incarnation)
        .map(|(name, _)| name)
        .collect()
}

/// Whether the offsets committed in `consumer`'s group reach `ends`, the end offsets of
/// the partitions of `topic`.
fn committed_to_the_end(consumer: &BaseConsumer, topic: &str, ends: &[i64]) -> bool {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let Ok(committed) = consumer.committed_offsets(tpl, TIMEOUT) else {
        return false;
    };
    (0..PARTITIONS).all(|p| {
        committed
            .find_partition(topic, p)
            .is_some_and(|e| e.offset() == Offset::Offset(ends[p as usize]))
    })
}

/// The folder of the checkpoint that the committed offsets of `group` on `topic` name as
/// committed with the last transaction.
fn last_committed_checkpoint(brokers: &str, group: &str, topic: &str) -> String {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let partitions: Vec<Partition> = (0..PARTITIONS).map(|p| Partition::new(topic, p)).collect();
    let (marker, _) = committed_marker(&consumer, &partitions, TIMEOUT).unwrap();
    match marker {
        Marker::Checkpoint {
            id,
            incarnation: Some(incarnation),
        } => format!("chk-{id:08}-{incarnation}"),
        other => panic!("the committed offsets name a checkpoint: {other:?}"),
    }
}

/// The folders of the disk state backend's working trees.
fn trees(state: &Path) -> BTreeSet<String> {
    std::fs::read_dir(state.join("state-backend"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect()
}

fn zombie_is_fenced(freeze: Freeze, backend: &str) {
    let brokers = brokers("STYX_KAFKA_TXN_BROKERS");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // The oracle: the same job on a file.
    let expected = file_results(dir, WINDOW, EVENTS);
    assert!(expected.len() > 100);

    let (input, output, group) = (unique("in"), unique("out"), unique("group"));
    create_topic(&brokers, &input, PARTITIONS, TIMEOUT).unwrap();
    create_topic(&brokers, &output, 1, TIMEOUT).unwrap();
    let job = dir.join("kafka.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"{}\"\nparallelism = 2\ncheckpoint_interval = \"150ms\"\n\
             state_dir = \"state\"\nstate_backend = \"{backend}\"\n\
             [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{input}\"\n\
             group = \"{group}\"\nstart = \"earliest\"\n{WINDOW}\
             [sinks.out]\ntype = \"kafka\"\ninputs = [\"counts\"]\nbrokers = \"{brokers}\"\n\
             topic = \"{output}\"\ndelivery = \"exactly_once\"\n",
            unique("job"),
        ),
    )
    .unwrap();
    let state = dir.join("state");
    let (a_log, b_log, c_log) = (dir.join("a.log"), dir.join("b.log"), dir.join("c.log"));

    // Incarnation A runs while the first half of the input arrives.
    let failpoints = match freeze {
        Freeze::FromOutside => vec![],
        // The second transaction with results: A has committed the first.
        Freeze::BeforeCommit => vec![("FAILPOINTS", "eos-freeze-before-commit=1*off->return")],
    };
    let mut reaper = Reaper::default();
    let mut a = start(&job, &a_log, &failpoints);
    reaper.watch(&a);
    let feeder = {
        let (brokers, input) = (brokers.clone(), input.clone());
        std::thread::spawn(move || {
            for from in (0..HALF).step_by(300) {
                produce(&brokers, &input, events(from..from + 300));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    wait_until("A has claimed the state directory", TIMEOUT * 6, || {
        owner(&state).is_some()
    });
    let a_incarnation = owner(&state).unwrap();
    if freeze == Freeze::FromOutside {
        let committed = read_topic(
            &brokers,
            &output,
            "\"isolation.level\" = \"read_committed\"",
            Duration::from_secs(60),
            |got| !got.is_empty(),
        );
        assert!(!committed.is_empty(), "A committed output");
        signal(&a, "-STOP");
    }
    wait_until("A is frozen", TIMEOUT * 6, || {
        assert!(a.try_wait().unwrap().is_none(), "A ended: {}", read(&a_log));
        is_stopped(a.id())
    });
    feeder.join().unwrap();
    let a_folders = checkpoints_of(&state, &a_incarnation);
    assert!(!a_folders.is_empty(), "A wrote checkpoints");
    let committed_by_a = read_committed(&brokers, &output, Duration::from_secs(2));
    assert!(
        !committed_by_a.is_empty() && committed_by_a.len() < expected.len(),
        "A committed part of the output: {} of {}",
        committed_by_a.len(),
        expected.len()
    );

    // What A committed last, read before B commits anything.
    let committed_folder = last_committed_checkpoint(&brokers, &group, &input);

    // Incarnation B, the same job file: A does not answer, so B takes over.
    let mut b = start(&job, &b_log, &[]);
    reaper.watch(&b);
    wait_until("B has claimed the state directory", TIMEOUT * 6, || {
        assert!(b.try_wait().unwrap().is_none(), "B ended: {}", read(&b_log));
        owner(&state).is_some_and(|o| o != a_incarnation)
    });
    let b_incarnation = owner(&state).unwrap();
    // B's first checkpoint: B has fenced A's producer, restored and runs.
    wait_until("B has written a checkpoint", TIMEOUT * 6, || {
        assert!(b.try_wait().unwrap().is_none(), "B ended: {}", read(&b_log));
        !checkpoints_of(&state, &b_incarnation).is_empty()
    });
    let b_says = read(&b_log);
    assert!(
        b_says.contains("does not answer") && b_says.contains("taking it over"),
        "B says it takes over from A: {b_says}"
    );
    // B resumes from A's last committed checkpoint: the one the group's committed
    // offsets name, never a newer one A wrote but did not commit.
    let resumed = b_says
        .lines()
        .find(|l| l.contains("resuming"))
        .unwrap_or_else(|| panic!("B resumes from a checkpoint: {b_says}"));
    let restored = a_folders
        .iter()
        .find(|f| resumed.contains(f.as_str()))
        .unwrap_or_else(|| {
            panic!("B resumes from one of A's checkpoints {a_folders:?}: {resumed}")
        });
    assert_eq!(
        restored, &committed_folder,
        "B resumes from the checkpoint A committed last ({a_folders:?}); A says: {}\nB says: {b_says}",
        read(&a_log)
    );
    if freeze == Freeze::BeforeCommit && a_folders.iter().next_back() == Some(restored) {
        eprintln!("note: A froze after committing its newest checkpoint {restored}");
    }

    // A wakes up: a zombie. It is fenced and stops, and touches nothing of B's.
    signal(&a, "-CONT");
    let a_status = wait_exit(&mut a, TIMEOUT * 6, "A, fenced, has stopped");
    let a_says = read(&a_log);
    assert!(!a_status.success(), "A fails: {a_status}; {a_says}");
    assert!(
        a_says.contains("fenced by a newer incarnation"),
        "A says it was fenced by a newer incarnation: {a_says}"
    );
    eprintln!(
        "{freeze:?}: B resumed from {restored}; A stopped with: {}",
        a_says.lines().last().unwrap_or_default()
    );
    let a_after = checkpoints_of(&state, &a_incarnation);
    assert!(
        a_after.is_subset(&a_folders),
        "A wrote no checkpoint once fenced: {a_after:?} after, {a_folders:?} before"
    );
    assert_eq!(owner(&state).as_deref(), Some(b_incarnation.as_str()));
    assert!(
        state.join("control.sock").exists(),
        "A, ending, left B's control socket"
    );
    if backend == "disk" {
        assert_eq!(
            trees(&state),
            BTreeSet::from([b_incarnation.clone()]),
            "B's working tree is its own, A's is gone"
        );
    }

    // A third run while B answers is refused, and does not fence B.
    let mut c = start(&job, &c_log, &[]);
    reaper.watch(&c);
    let c_status = wait_exit(&mut c, TIMEOUT * 6, "the third run is refused");
    let c_says = read(&c_log);
    assert!(
        !c_status.success() && c_says.contains("another job is running with state_dir"),
        "a job that answers is not taken over: {c_status}; {c_says}"
    );
    // B still answers on its socket.
    let savepoint = Command::new(STYX)
        .args(["savepoint", job.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        savepoint.status.success(),
        "B takes a savepoint: {}",
        String::from_utf8_lossy(&savepoint.stderr)
    );

    // The rest of the input; B reads it to the end and is stopped cleanly.
    produce(&brokers, &input, events(HALF..EVENTS));
    let in_group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", &group)
        .create()
        .unwrap();
    let ends: Vec<i64> = (0..PARTITIONS)
        .map(|p| in_group.fetch_watermarks(&input, p, TIMEOUT).unwrap().1)
        .collect();
    assert_eq!(ends.iter().sum::<i64>(), EVENTS as i64);
    wait_until(
        "B has committed the whole input",
        Duration::from_secs(120),
        || {
            assert!(b.try_wait().unwrap().is_none(), "B ended: {}", read(&b_log));
            committed_to_the_end(&in_group, &input, &ends)
        },
    );
    // A drained stop: the open windows fire and commit.
    let drained = Command::new(STYX)
        .args(["stop", job.to_str().unwrap(), "--drain"])
        .output()
        .unwrap();
    assert!(
        drained.status.success(),
        "styx stop --drain: {}",
        String::from_utf8_lossy(&drained.stderr)
    );
    let b_status = wait_exit(&mut b, TIMEOUT * 6, "B has stopped");
    assert!(
        b_status.success(),
        "B ends cleanly: {b_status}; {}",
        read(&b_log)
    );

    let got = read_committed(&brokers, &output, Duration::from_secs(3));
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !got.contains(e))
        .take(3)
        .collect();
    let mut distinct = got.clone();
    distinct.dedup();
    assert!(
        got == expected,
        "{} committed results, {} expected ({} distinct); missing e.g. {missing:?}",
        got.len(),
        expected.len(),
        distinct.len()
    );
}
