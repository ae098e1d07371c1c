//! The store through the `styx` commands: what they accept and refuse, two processes
//! writing one SQLite file, and a running job that picks up models, rules and
//! configuration changed while it runs.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{brokers, produce, unique, STYX, TIMEOUT};
use serde_json::Value;

const IRIS: &str = "../styx-pmml/tests/fixtures/011-logreg-multinomial-iris/model.pmml";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn styx(dir: &Path, args: &[&str]) -> Output {
    Command::new(STYX)
        .args(args)
        .current_dir(dir)
        .env_remove("STYX_STORE")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = styx(dir, args);
    assert!(
        out.status.success(),
        "styx {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(dir: &Path, args: &[&str], says: &str) {
    let out = styx(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "styx {args:?} was accepted");
    assert!(err.contains(says), "styx {args:?}: {err}");
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let iris = fixture(IRIS);
    assert_eq!(
        ok(d, &["models", "deploy", "iris", iris.to_str().unwrap()]).trim(),
        "1"
    );
    ok(
        d,
        &[
            "rules",
            "put",
            "fraud",
            "big",
            "--condition",
            "amount > 1000.0",
        ],
    );
    ok(d, &["config", "set", "fraud.threshold", "0.9"]);
    std::fs::write(d.join("bad.pmml"), "<PMML version=\"4.4\"><Header/>").unwrap();
    std::fs::write(d.join("rows.ndjson"), "{\"id\":\"a\",\"n\":1}\n{\"n\":2}\n").unwrap();
    std::fs::write(
        d.join("p.toml"),
        "[[stages]]\nname = \"a\"\ncondition = \"x >\"\n",
    )
    .unwrap();
    let before = (
        ok(d, &["models", "list"]),
        ok(d, &["rules", "list"]),
        ok(d, &["config", "get"]),
    );
    refused(d, &["models", "deploy", "iris", "bad.pmml"], "model iris");
    refused(
        d,
        &["rules", "put", "fraud", "big", "--condition", "amount >"],
        "rule big",
    );
    refused(d, &["config", "set", "fraud.threshold", "high"], "not JSON");
    refused(
        d,
        &["store", "load", "t", "rows.ndjson", "--key", "id"],
        "rows.ndjson:2",
    );
    refused(
        d,
        &["patterns", "put", "p", "p.toml"],
        "stages[0].condition",
    );
    refused(d, &["models", "delete", "nothing"], "no model nothing");
    let after = (
        ok(d, &["models", "list"]),
        ok(d, &["rules", "list"]),
        ok(d, &["config", "get"]),
    );
    assert_eq!(before, after);
    assert_eq!(lines(&after.0)[0]["version"], 1);
    assert_eq!(lines(&after.2)[0]["value"], 0.9);
    assert!(ok(d, &["patterns", "list"]).is_empty());
}

#[test]
fn two_processes_write_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let d = d.to_path_buf();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let key = format!("w{w}.k{i}");
                    ok(&d, &["config", "set", &key, &i.to_string()]);
                    ok(&d, &["rules", "put", "rs", &key, "--condition", "true"]);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(lines(&ok(d, &["config", "get"])).len(), 30);
    assert_eq!(lines(&ok(d, &["rules", "list", "rs"])).len(), 30);
}

/// A job reads events from stdin; between two batches the model changes, a rule is
/// added, one changed and one disabled, and a config value changes. The first batch is handled entirely by the old versions, the second,
/// written more than the refresh interval plus one second later, by the new ones.
#[test]
fn a_running_job_picks_up_models_rules_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["models", "deploy", "iris", fixture(IRIS).to_str().unwrap()],
    );
    ok(
        d,
        &["rules", "put", "checks", "always", "--condition", "true"],
    );
    ok(
        d,
        &["rules", "put", "checks", "changed", "--condition", "n >= 0"],
    );
    ok(
        d,
        &["rules", "put", "checks", "gone", "--condition", "true"],
    );
    ok(d, &["config", "set", "limit", "1"]);
    std::fs::write(
        d.join("job.toml"),
        "[job]\nname = \"live\"\nstate_dir = \"state\"\ncheckpoint_interval = \"100ms\"\n\
         [store]\nrefresh = \"200ms\"\n\
         [sources.events]\ntype = \"stdin\"\n\
         [transforms.scored]\ntype = \"score\"\ninputs = [\"events\"]\nmodel = \"store:iris\"\n\
         outputs = { species = \"species\", version = \"model_version\" }\n\
         [transforms.limited]\ntype = \"map\"\ninputs = [\"scored\"]\nfields = { limit = \"config.limit\" }\n\
         [transforms.flagged]\ntype = \"rules\"\ninputs = [\"limited\"]\nruleset = \"checks\"\nemit = \"all\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"flagged\"]\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    let mut job = Command::new(STYX)
        .args(["run", "job.toml"])
        .current_dir(d)
        .env_remove("STYX_STORE")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = job.stdin.take().unwrap();
    let event = |n: usize| {
        format!(
            "{{\"n\":{n},\"sepal length (cm)\":6.9,\"sepal width (cm)\":3.1,\
             \"petal length (cm)\":5.5,\"petal width (cm)\":2.2}}\n"
        )
    };
    for n in 0..5 {
        stdin.write_all(event(n).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    ok(
        d,
        &["models", "deploy", "iris", fixture(IRIS).to_str().unwrap()],
    );
    ok(
        d,
        &[
            "rules",
            "put",
            "checks",
            "virginica",
            "--condition",
            "species == 'virginica'",
        ],
    );
    ok(
        d,
        &["rules", "put", "checks", "changed", "--condition", "n < 0"],
    );
    ok(
        d,
        &[
            "rules",
            "put",
            "checks",
            "gone",
            "--condition",
            "true",
            "--disabled",
        ],
    );
    ok(d, &["config", "set", "limit", "2"]);
    std::thread::sleep(Duration::from_millis(1200 + 200));
    for n in 5..10 {
        stdin.write_all(event(n).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    // The checkpoints record the versions in use.
    std::thread::sleep(Duration::from_millis(600));
    let newest = std::fs::read_dir(d.join("state/checkpoints"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("chk-"))
        .max()
        .expect("a checkpoint");
    let metadata: Value =
        serde_json::from_slice(&std::fs::read(newest.join("_metadata.json")).unwrap()).unwrap();
    let annotations = &metadata["annotations"];
    assert_eq!(
        annotations["transforms.scored.model_version"], 2,
        "{metadata}"
    );
    assert!(
        annotations["store.url"]
            .as_str()
            .unwrap()
            .starts_with("sqlite:"),
        "{metadata}"
    );
    assert!(
        annotations["store.revisions"]["rules"].as_i64().unwrap() >= 2,
        "{metadata}"
    );
    drop(stdin);
    assert!(job.wait().unwrap().success());
    let out = lines(&std::fs::read_to_string(d.join("out.ndjson")).unwrap());
    assert_eq!(out.len(), 10, "{out:?}");
    for e in &out {
        let later = e["n"].as_u64().unwrap() >= 5;
        assert_eq!(e["species"], "virginica", "{e}");
        assert_eq!(e["version"], if later { 2 } else { 1 }, "{e}");
        assert_eq!(e["limit"], if later { 2 } else { 1 }, "{e}");
        let rules: Vec<&str> = e["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let expected: &[&str] = if later {
            &["always", "virginica"]
        } else {
            &["always", "changed", "gone"]
        };
        assert_eq!(rules, expected, "{e}");
    }
}

/// A job whose pattern comes from the store matches later events with a new version.
#[test]
fn a_running_job_picks_up_a_new_version_of_its_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pattern = |second: &str| {
        format!(
            "time = \"processing\"\n[[stages]]\nname = \"a\"\ncondition = \"kind == 'a'\"\n\
             [[stages]]\nname = \"{second}\"\ncondition = \"kind == '{second}'\"\n"
        )
    };
    std::fs::write(d.join("v1.toml"), pattern("b")).unwrap();
    std::fs::write(d.join("v2.toml"), pattern("c")).unwrap();
    assert_eq!(ok(d, &["patterns", "put", "p", "v1.toml"]).trim(), "1");
    std::fs::write(
        d.join("job.toml"),
        "[job]\nname = \"live-pattern\"\n[store]\nrefresh = \"200ms\"\n\
         [sources.events]\ntype = \"stdin\"\n\
         [transforms.found]\ntype = \"pattern\"\ninputs = [\"events\"]\nkey = \"user\"\npattern = \"store:p\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"found\"]\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    let mut job = Command::new(STYX)
        .args(["run", "job.toml"])
        .current_dir(d)
        .env_remove("STYX_STORE")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = job.stdin.take().unwrap();
    let mut send = |kinds: &[&str], from: usize| {
        for (i, k) in kinds.iter().enumerate() {
            let line = format!("{{\"user\":\"u\",\"n\":{},\"kind\":\"{k}\"}}\n", from + i);
            stdin.write_all(line.as_bytes()).unwrap();
        }
        stdin.flush().unwrap();
    };
    send(&["a", "b", "a"], 0);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ok(d, &["patterns", "put", "p", "v2.toml"]).trim(), "2");
    std::thread::sleep(Duration::from_millis(1400));
    send(&["b", "a", "c"], 3);
    drop(stdin);
    assert!(job.wait().unwrap().success());
    let out = lines(&std::fs::read_to_string(d.join("out.ndjson")).unwrap());
    let found: Vec<Vec<u64>> = out
        .iter()
        .map(|m| {
            ["a", "b", "c"]
                .iter()
                .filter_map(|s| m.get(*s))
                .flat_map(|events| {
                    events
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["n"].as_u64().unwrap())
                })
                .collect()
        })
        .collect();
    // Version 1 matched a0 b1; its partial match a2 was dropped with it (b3 matches
    // nothing); version 2 matched a4 c5.
    assert_eq!(found, vec![vec![0, 1], vec![4, 5]], "{out:?}");
}

/// A CQL server of the project's own (`styx-cql-server`, built beside `styx`) on a free
/// port, keeping its state in `data`; its address.
fn start_cql_server(data: &Path, port: u16) -> (std::process::Child, String) {
    let bin = Path::new(STYX).with_file_name("styx-cql-server");
    assert!(bin.is_file(), "{} is not built", bin.display());
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin)
        .args([
            "--listen",
            &listen,
            "--data",
            data.to_str().unwrap(),
            "--save-every-ms",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (child, addr)
}

fn stop_cql_server(mut server: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    server.wait().unwrap();
}

/// A job on a Cassandra store goes on while the store is stopped, and picks up a rule
/// added once the store is back.
#[test]
fn a_job_goes_on_while_the_cassandra_store_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let data = d.join("cql.ron");
    let (server, addr) = start_cql_server(&data, port);
    let store = format!("cassandra://{addr}/live");
    ok(
        d,
        &[
            "rules",
            "put",
            "checks",
            "always",
            "--condition",
            "true",
            "--store",
            &store,
        ],
    );
    std::fs::write(
        d.join("job.toml"),
        format!(
            "[job]\nname = \"down\"\n[store]\nurl = \"{store}\"\nrefresh = \"200ms\"\n\
             [sources.events]\ntype = \"stdin\"\n\
             [transforms.flagged]\ntype = \"rules\"\ninputs = [\"events\"]\nruleset = \"checks\"\nemit = \"all\"\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"flagged\"]\npath = \"out.ndjson\"\n"
        ),
    )
    .unwrap();
    let mut job = Command::new(STYX)
        .args(["run", "job.toml"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = job.stdin.take().unwrap();
    let mut send = |from: usize| {
        for n in from..from + 3 {
            stdin
                .write_all(format!("{{\"n\":{n}}}\n").as_bytes())
                .unwrap();
        }
        stdin.flush().unwrap();
    };
    send(0);
    std::thread::sleep(Duration::from_millis(800));
    stop_cql_server(server);
    std::thread::sleep(Duration::from_millis(800));
    send(3);
    std::thread::sleep(Duration::from_millis(500));
    let (server, _) = start_cql_server(&data, port);
    ok(
        d,
        &[
            "rules",
            "put",
            "checks",
            "later",
            "--condition",
            "n >= 6",
            "--store",
            &store,
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    send(6);
    drop(stdin);
    assert!(job.wait().unwrap().success());
    stop_cql_server(server);
    let out = lines(&std::fs::read_to_string(d.join("out.ndjson")).unwrap());
    assert_eq!(out.len(), 9, "{out:?}");
    for e in &out {
        let rules: Vec<&str> = e["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let expected: &[&str] = if e["n"].as_u64().unwrap() >= 6 {
            &["always", "later"]
        } else {
            &["always"]
        };
        assert_eq!(rules, expected, "{e}");
    }
}

/// A job reading a Kafka topic scores with the model version in force when each event is
/// processed: a version deployed while it runs scores the events produced after it, and
/// no event is lost or scored twice.
#[test]
fn a_model_deployed_while_a_job_reads_kafka_scores_the_later_events() {
    let brokers = brokers("STYX_KAFKA_BROKERS");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["models", "deploy", "iris", fixture(IRIS).to_str().unwrap()],
    );
    let topic = unique("iris");
    styx_kafka::admin::create_topic(&brokers, &topic, 2, TIMEOUT).unwrap();
    std::fs::write(
        d.join("job.toml"),
        format!(
            "[job]\nname = \"kafka-live\"\n[store]\nrefresh = \"200ms\"\n\
             [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\n\
             group = \"{}\"\nstart = \"earliest\"\n\
             [transforms.scored]\ntype = \"score\"\ninputs = [\"events\"]\nmodel = \"store:iris\"\n\
             outputs = {{ species = \"species\", version = \"model_version\" }}\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"out.ndjson\"\n",
            unique("group")
        ),
    )
    .unwrap();
    let event = |n: u64| {
        (
            format!("k{}", n % 4),
            format!(
                "{{\"n\":{n},\"sepal length (cm)\":6.9,\"sepal width (cm)\":3.1,\
                 \"petal length (cm)\":5.5,\"petal width (cm)\":2.2}}"
            ),
        )
    };
    let mut job = Command::new(STYX)
        .args(["run", "job.toml", "--until-idle", "4s"])
        .current_dir(d)
        .env_remove("STYX_STORE")
        .spawn()
        .unwrap();
    produce(&brokers, &topic, (0..50).map(event));
    std::thread::sleep(Duration::from_millis(2500));
    ok(
        d,
        &["models", "deploy", "iris", fixture(IRIS).to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_millis(1400));
    produce(&brokers, &topic, (50..100).map(event));
    assert!(job.wait().unwrap().success());
    let out = lines(&std::fs::read_to_string(d.join("out.ndjson")).unwrap());
    let mut seen: Vec<u64> = out.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>(), "every event once");
    for e in &out {
        let later = e["n"].as_u64().unwrap() >= 50;
        assert_eq!(e["version"], if later { 2 } else { 1 }, "{e}");
        assert_eq!(e["species"], "virginica", "{e}");
    }
}

/// Two processes of one job share a Kafka topic's partitions; both score with the
/// version in force when each event is processed.
#[test]
fn two_processes_of_a_job_see_the_same_change() {
    let brokers = brokers("STYX_KAFKA_BROKERS");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = format!("sqlite:{}", d.join("shared.db").display());
    ok(
        d,
        &[
            "models",
            "deploy",
            "iris",
            fixture(IRIS).to_str().unwrap(),
            "--store",
            &store,
        ],
    );
    let topic = unique("iris2");
    styx_kafka::admin::create_topic(&brokers, &topic, 2, TIMEOUT).unwrap();
    let group = unique("group");
    let processes: Vec<_> = (0..2)
        .map(|p| {
            let work = d.join(format!("p{p}"));
            std::fs::create_dir_all(&work).unwrap();
            std::fs::write(
                work.join("job.toml"),
                format!(
                    "[job]\nname = \"two\"\n[store]\nurl = \"{store}\"\nrefresh = \"200ms\"\n\
                     [sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\n\
                     group = \"{group}\"\nstart = \"earliest\"\n\
                     [transforms.scored]\ntype = \"score\"\ninputs = [\"events\"]\nmodel = \"store:iris\"\n\
                     outputs = {{ version = \"model_version\" }}\n\
                     [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"out.ndjson\"\n"
                ),
            )
            .unwrap();
            let child = Command::new(STYX)
                .args(["run", "job.toml", "--until-idle", "5s"])
                .current_dir(&work)
                .env_remove("STYX_STORE")
                .spawn()
                .unwrap();
            (work, child)
        })
        .collect();
    let event = |n: u64| {
        (
            format!("k{n}"),
            format!(
                "{{\"n\":{n},\"sepal length (cm)\":6.9,\"sepal width (cm)\":3.1,\
                 \"petal length (cm)\":5.5,\"petal width (cm)\":2.2}}"
            ),
        )
    };
    // Both processes join the group first.
    std::thread::sleep(Duration::from_millis(3000));
    produce(&brokers, &topic, (0..40).map(event));
    std::thread::sleep(Duration::from_millis(2500));
    ok(
        d,
        &[
            "models",
            "deploy",
            "iris",
            fixture(IRIS).to_str().unwrap(),
            "--store",
            &store,
        ],
    );
    std::thread::sleep(Duration::from_millis(1400));
    produce(&brokers, &topic, (40..80).map(event));
    let mut out = Vec::new();
    let mut writers = 0;
    for (work, mut child) in processes {
        assert!(child.wait().unwrap().success());
        let text = std::fs::read_to_string(work.join("out.ndjson")).unwrap_or_default();
        let found = lines(&text);
        writers += usize::from(!found.is_empty());
        out.extend(found);
    }
    assert_eq!(writers, 2, "both processes read part of the topic");
    let mut seen: Vec<u64> = out.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (0..80).collect::<Vec<_>>(), "every event");
    for e in &out {
        let later = e["n"].as_u64().unwrap() >= 40;
        assert_eq!(e["version"], if later { 2 } else { 1 }, "{e}");
    }
}
