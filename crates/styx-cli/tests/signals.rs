//! SIGTERM and SIGINT stop `styx run` cleanly: the sources end as at the end of their
//! input, open windows fire, the sinks flush, and the process exits 0.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{file_multiset as multiset, run_to_end, STYX};

const JOB: &str = "[job]\nname = \"signals\"\nparallelism = 2\n\
    [sources.events]\nSOURCE\n\
    [sources.events.event_time]\nfield = \"ts\"\nmax_out_of_orderness = \"0s\"\nwatermarks = \"per_event\"\n\
    [transforms.counts]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
    window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\" }\n\
    [sinks.out]\ntype = \"file\"\ninputs = [\"counts\"]\npath = \"out/results.ndjson\"\n";

fn stops_cleanly_on(signal: &str) {
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
    let expected = multiset(&work.path().join("out/results.ndjson"));
    assert!(expected.len() > 10);

    let dir = work.path().join("stdin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("job.toml"),
        JOB.replace("SOURCE", "type = \"stdin\""),
    )
    .unwrap();
    let mut child = Command::new(STYX)
        .args(["run", dir.join("job.toml").to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The input stays open: only the signal ends the job, once it has read every line.
    std::thread::sleep(Duration::from_secs(2));
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    drop(stdin);
    assert!(status.success(), "{signal}: the job exits 0, not {status}");
    assert_eq!(
        multiset(&dir.join("out/results.ndjson")),
        expected,
        "{signal}: the open windows fired"
    );
}

#[test]
fn sigterm_stops_a_job_cleanly() {
    stops_cleanly_on("-TERM");
}

#[test]
fn sigint_stops_a_job_cleanly() {
    stops_cleanly_on("-INT");
}
