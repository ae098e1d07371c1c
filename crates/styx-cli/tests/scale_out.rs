//! Scale-out through Kafka's consumer groups: two `styx run` processes of one job share
//! a topic's partitions; when one is killed (SIGKILL), the other takes its partitions
//! over and nothing of the input is lost, and a windowed job's results are complete:
//! every window of a run on a file, with the same values.
//!
//! `STYX_KAFKA_BROKERS` names a broker with consumer groups (tansu under `scripts/test`);
//! when it is not set, the test fails.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    brokers, event, file_multiset, ndjson, produce, produce_to, read_topic, run_to_end, unique,
    STYX, TIMEOUT, WINDOW,
};
use styx_kafka::admin::create_topic;

/// A test's broker, its input topic of four partitions, its output topic of one and its
/// group, all named afresh with `prefix`.
struct Topics {
    brokers: String,
    input: String,
    output: String,
    group: String,
}

impl Topics {
    fn new(prefix: &str) -> Self {
        let brokers = brokers("STYX_KAFKA_BROKERS");
        let (input, output, group) = (
            unique(&format!("{prefix}in")),
            unique(&format!("{prefix}out")),
            unique(&format!("{prefix}group")),
        );
        create_topic(&brokers, &input, 4, TIMEOUT).unwrap();
        create_topic(&brokers, &output, 1, TIMEOUT).unwrap();
        Topics {
            brokers,
            input,
            output,
            group,
        }
    }
}

/// Records `range`, keyed so that they spread over the partitions.
fn numbered(range: std::ops::Range<u64>) -> impl Iterator<Item = (String, String)> {
    range.map(|n| {
        let key = format!("k{}", n % 16);
        let payload = format!("{{\"n\":{n},\"key\":\"{key}\"}}");
        (key, payload)
    })
}

/// Starts `styx run` on `job` with its standard output in `stdout`.
fn start(job: &Path, stdout: &Path, until_idle: &str) -> Child {
    Command::new(STYX)
        .args(["run", job.to_str().unwrap(), "--until-idle", until_idle])
        .stdout(Stdio::from(std::fs::File::create(stdout).unwrap()))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits until `path` has at least `n` lines, or panics after `patience`.
fn wait_for_lines(path: &Path, n: usize, patience: Duration, what: &str) {
    let deadline = Instant::now() + patience;
    while ndjson(path).len() < n {
        assert!(
            Instant::now() < deadline,
            "{what}: fewer than {n} lines after {patience:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_processes_share_the_partitions_and_the_survivor_takes_over_a_killed_one() {
    let Topics {
        brokers,
        input,
        output,
        group,
    } = Topics::new("");
    let work = tempfile::tempdir().unwrap();
    let job = format!(
        "[job]\nname = \"scale-out\"\n\
         [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{input}\"\n\
         group = \"{group}\"\nstart = \"earliest\"\n\
         [transforms.tagged]\ntype = \"map\"\ninputs = [\"events\"]\n\
         fields = {{ double = \"n * 2\" }}\n\
         [sinks.out]\ntype = \"kafka\"\ninputs = [\"tagged\"]\nbrokers = \"{brokers}\"\n\
         topic = \"{output}\"\n\
         [sinks.log]\ntype = \"stdout\"\ninputs = [\"tagged\"]\n"
    );
    // The same job file in two folders, as on two machines.
    let (dir_a, dir_b) = (work.path().join("a"), work.path().join("b"));
    for dir in [&dir_a, &dir_b] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("job.toml"), &job).unwrap();
    }
    let (out_a, out_b) = (work.path().join("a.out"), work.path().join("b.out"));

    produce(&brokers, &input, numbered(0..2000));
    let mut a = start(&dir_a.join("job.toml"), &out_a, "120s");
    wait_for_lines(&out_a, 1, Duration::from_secs(60), "the first process");
    let mut b = start(&dir_b.join("job.toml"), &out_b, "20s");
    // Records written while both run are shared between them.
    std::thread::sleep(Duration::from_secs(8));
    produce(&brokers, &input, numbered(2000..4000));
    wait_for_lines(&out_b, 1, Duration::from_secs(60), "the second process");
    let seen_by_a = ndjson(&out_a).len();
    assert!(
        seen_by_a < 4000,
        "the second process took some partitions: the first saw {seen_by_a} of 4000"
    );

    a.kill().unwrap();
    a.wait().unwrap();
    produce(&brokers, &input, numbered(4000..6000));
    let status = b.wait().unwrap();
    assert!(
        status.success(),
        "the survivor stops cleanly when idle: {status}"
    );

    let seen: BTreeSet<u64> = read_topic(&brokers, &output, "", Duration::from_secs(60), |got| {
        got.iter()
            .filter_map(|v| v["n"].as_u64())
            .collect::<BTreeSet<_>>()
            .len()
            >= 6000
    })
    .iter()
    .map(|v| v["n"].as_u64().unwrap())
    .collect();
    let missing: Vec<u64> = (0..6000).filter(|n| !seen.contains(n)).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} of 6000 results missing, e.g. {missing:?}",
        6000 - seen.len()
    );
    let by_b: BTreeSet<u64> = ndjson(&out_b)
        .iter()
        .map(|v| v["n"].as_u64().unwrap())
        .collect();
    assert!(
        (4000..6000).all(|n| by_b.contains(&n)),
        "the survivor read every partition after the other was killed"
    );
    for v in ndjson(&out_b) {
        assert_eq!(v["double"].as_u64(), v["n"].as_u64().map(|n| n * 2));
    }
}

/// Writes events `range` (see [`event`]) to `topic`, each key always to the same one of
/// its `partitions`.
fn produce_events(brokers: &str, topic: &str, partitions: i32, range: std::ops::Range<u64>) {
    let records = range.map(|n| {
        let partition = (n % 10) as i32 % partitions;
        (format!("k{}", n % 10), event(n), Some(partition))
    });
    produce_to(brokers, topic, records);
}

/// [`WINDOW`] with partitions that stay active between bursts of records, so that none
/// of them is late whatever the partitions' interleaving.
fn window_of_bursts() -> String {
    WINDOW.replace(
        "watermarks = \"per_event\"\n",
        "watermarks = \"per_event\"\nidle_timeout = \"120s\"\n",
    )
}

/// The results of [`window_of_bursts`] on events `0..total` read from a file, in a folder
/// of `work`.
fn file_windows(work: &Path, total: u64) -> BTreeSet<String> {
    let window = window_of_bursts();
    let file_dir = work.join("file");
    std::fs::create_dir_all(&file_dir).unwrap();
    let lines: String = (0..total).map(|n| event(n) + "\n").collect();
    std::fs::write(file_dir.join("events.ndjson"), lines).unwrap();
    std::fs::write(
        file_dir.join("job.toml"),
        format!(
            "[job]\nname = \"windows\"\n\
             [sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n{window}\
             [sinks.out]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out.ndjson\"\n"
        ),
    )
    .unwrap();
    run_to_end(&file_dir.join("job.toml"));
    let expected: BTreeSet<String> = file_multiset(&file_dir.join("out.ndjson"))
        .into_iter()
        .collect();
    assert!(expected.len() > 50, "{} windows", expected.len());
    expected
}

/// The window job reading `input` in `group` and writing to `output` (and to standard
/// output with `log`), with `parallelism` instances of each operator.
fn kafka_window_job(
    brokers: &str,
    (input, group, output): (&str, &str, &str),
    parallelism: usize,
    log: bool,
) -> String {
    let window = window_of_bursts();
    let log = if log {
        "[sinks.log]\ntype = \"stdout\"\ninputs = [\"counts\"]\n"
    } else {
        ""
    };
    format!(
        "[job]\nname = \"windows\"\nparallelism = {parallelism}\n\
         [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{input}\"\n\
         group = \"{group}\"\nstart = \"earliest\"\n{window}\
         [sinks.out]\ntype = \"kafka\"\ninputs = [\"counts\"]\nbrokers = \"{brokers}\"\n\
         topic = \"{output}\"\n{log}"
    )
}

/// Reads `output` until it holds as many distinct windows as `expected` or stays quiet
/// for `quiet`; fails unless every window of `expected`, and nothing else, came (at least
/// once: a window may come more than once, but always whole).
fn assert_whole_windows(brokers: &str, output: &str, expected: &BTreeSet<String>, quiet: Duration) {
    let distinct = |got: &[serde_json::Value]| -> BTreeSet<String> {
        got.iter().map(serde_json::Value::to_string).collect()
    };
    let got = distinct(&read_topic(brokers, output, "", quiet, |got| {
        distinct(got).len() >= expected.len()
    }));
    let wrong: Vec<&String> = got.difference(expected).take(5).collect();
    assert!(
        wrong.is_empty(),
        "results no run on the file gives: {wrong:?}"
    );
    let missing: Vec<&String> = expected.difference(&got).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} of {} windows missing, e.g. {missing:?}",
        expected.difference(&got).count(),
        expected.len()
    );
}

#[test]
fn the_survivor_rebuilds_the_open_windows_of_a_killed_process() {
    let Topics {
        brokers,
        input,
        output,
        group,
    } = Topics::new("win-");
    let work = tempfile::tempdir().unwrap();
    let (bursts, total) = ([0..3000, 3000..6000, 6000..9000], 9000);
    let expected = file_windows(work.path(), total);

    // Two instances of each operator in each process.
    let job = kafka_window_job(&brokers, (&input, &group, &output), 2, true);
    let (dir_a, dir_b) = (work.path().join("a"), work.path().join("b"));
    for dir in [&dir_a, &dir_b] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("job.toml"), &job).unwrap();
    }
    let (out_a, out_b) = (work.path().join("a.out"), work.path().join("b.out"));

    produce_events(&brokers, &input, 4, bursts[0].clone());
    let mut a = start(&dir_a.join("job.toml"), &out_a, "180s");
    wait_for_lines(&out_a, 1, Duration::from_secs(60), "the first process");
    // A few commit rounds of the first process alone.
    std::thread::sleep(Duration::from_secs(3));
    let mut b = start(&dir_b.join("job.toml"), &out_b, "25s");
    std::thread::sleep(Duration::from_secs(10));
    produce_events(&brokers, &input, 4, bursts[1].clone());
    wait_for_lines(&out_b, 1, Duration::from_secs(60), "the second process");
    std::thread::sleep(Duration::from_secs(3));

    // Killed with windows open, some of them past its last commit.
    a.kill().unwrap();
    a.wait().unwrap();
    produce_events(&brokers, &input, 4, bursts[2].clone());
    let status = b.wait().unwrap();
    assert!(
        status.success(),
        "the survivor stops cleanly when idle: {status}"
    );

    assert_whole_windows(&brokers, &output, &expected, Duration::from_secs(15));
}

/// A process commits its input only as far as its sinks have delivered the windows that
/// input closed: one whose broker is slow to take the results (held until the sink
/// flushes) and which is killed loses none of them, the next owner of the partitions
/// makes them again.
#[test]
fn commits_wait_for_the_sinks_to_deliver_what_they_close() {
    let Topics {
        brokers,
        input,
        output,
        group,
    } = Topics::new("slow-");
    let work = tempfile::tempdir().unwrap();
    let total = 3000;
    let expected = file_windows(work.path(), total);
    let job_file = work.path().join("job.toml");
    std::fs::write(
        &job_file,
        kafka_window_job(&brokers, (&input, &group, &output), 1, false),
    )
    .unwrap();
    produce_events(&brokers, &input, 4, 0..total);

    // Several commit rounds of a process whose sink sends only when it flushes.
    let mut slow = Command::new(STYX)
        .args(["run", job_file.to_str().unwrap(), "--until-idle", "120s"])
        .env("FAILPOINTS", "kafka-sink-slow=return")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    slow.kill().unwrap();
    slow.wait().unwrap();

    let survivor = Command::new(STYX)
        .args(["run", job_file.to_str().unwrap(), "--until-idle", "10s"])
        .env_remove("FAILPOINTS")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(survivor.success(), "the second process: {survivor}");

    assert_whole_windows(&brokers, &output, &expected, Duration::from_secs(10));
}
