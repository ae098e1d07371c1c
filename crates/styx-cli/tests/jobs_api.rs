//! The job API of `styx serve`, its `/metrics`, and its dashboard driven by a real
//! headless Chromium (through ChromeDriver): jobs submitted over HTTP run inside the
//! server, their counts equal what they really read and wrote, they stop with a
//! savepoint, and a job that fails leaves the server up.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::server::{Reply, Server};
use serde_json::Value;

fn server_in(dir: &Path) -> Server {
    let store_dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", store_dir.path().join("styx.db").display());
    Server::on_store_in(store, store_dir, &[], dir)
}

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

fn details(server: &Server, id: &str) -> Value {
    let reply = server.request("GET", &format!("/api/jobs/{id}"), &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.body);
    json(&reply)
}

/// Waits until `check` holds for the job's details (at most a minute).
fn wait_for(server: &Server, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = details(server, id);
        if check(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "{what}: {d:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Operator `id` of a job's details (`null` until the job has built its dataflow).
fn operator<'a>(details: &'a Value, id: &str) -> &'a Value {
    static NONE: Value = Value::Null;
    details["operators"]
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["id"] == id))
        .unwrap_or(&NONE)
}

/// `metric{labels...}` values of the scrape whose labels include `job_id="id"`.
fn scrape(server: &Server, id: &str) -> BTreeMap<String, f64> {
    let reply = server.request("GET", "/metrics", &[], b"");
    assert_eq!(reply.status, 200);
    reply
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(&format!("job_id=\"{id}\"")))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| {
            (
                k.replace(&format!(",job_id=\"{id}\""), ""),
                v.parse().unwrap(),
            )
        })
        .collect()
}

fn lines(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

/// A generated stream (paced, so that it runs until stopped) through a filter and a
/// window to a file, with checkpoints.
const ENDLESS: &str = r#"
[job]
name = "payments"
state_dir = "state"
checkpoint_interval = "1s"
parallelism = 2

[sources.payments]
type = "generator"
kind = "payments"
rate = 3000
seed = 11
event_time = { field = "ts", max_out_of_orderness = "1s" }

[transforms.large]
type = "filter"
inputs = ["payments"]
condition = "amount > 50.0"

[transforms.per_account]
type = "window"
inputs = ["large"]
key = "account"
window = { type = "tumbling", size = "1s" }
aggregates = { n = "count" }

[sinks.out]
type = "file"
inputs = ["per_account"]
path = "out.ndjson"
"#;

#[test]
fn jobs_run_inside_the_server_and_report_what_they_did() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(dir.path());

    // Refused job files name what is wrong, and nothing runs.
    let bad = server.request(
        "POST",
        "/api/jobs",
        &[],
        b"[job]\nname = \"x\"\nparalelism = 2\n",
    );
    bad.assert_error(400, "");
    assert!(bad.body.contains("paralelism"), "{}", bad.body);
    server
        .request("GET", "/api/jobs/none", &[], b"")
        .assert_error(404, "Not Found");

    let submitted = server.request("POST", "/api/jobs", &[], ENDLESS.as_bytes());
    assert_eq!(submitted.status, 201, "{}", submitted.body);
    let id = json(&submitted)["id"].as_str().unwrap().to_string();
    let list = json(&server.request("GET", "/api/jobs", &[], b""));
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    assert_eq!(list["jobs"][0]["name"], "payments");
    assert_eq!(list["jobs"][0]["state"], "running");

    // Counters move, watermarks advance, checkpoints complete.
    let first = wait_for(&server, &id, "records and a checkpoint", |d| {
        operator(d, "payments")["records_out"].as_u64() > Some(1000)
            && d["checkpoints"]["completed"].as_u64() > Some(0)
            && operator(d, "out")["records_in"].as_u64() > Some(0)
    });
    wait_for(
        &server,
        &id,
        "the watermark advances, records move on",
        |d| {
            operator(d, "per_account")["watermark"].as_i64()
                > operator(&first, "per_account")["watermark"].as_i64()
                && operator(d, "payments")["records_out"].as_u64()
                    > operator(&first, "payments")["records_out"].as_u64()
        },
    );

    // The scrape says what the API says (the job goes on between the two reads: the
    // scrape's counts lie between two readings of the API).
    let before = details(&server, &id);
    let metrics = scrape(&server, &id);
    let after = details(&server, &id);
    for op in ["payments", "large", "per_account", "out"] {
        for (metric, field) in [
            ("styx_records_in_total", "records_in"),
            ("styx_records_out_total", "records_out"),
        ] {
            let key = format!("{metric}{{job=\"payments\",operator=\"{op}\"}}");
            let scraped = metrics[&key] as u64;
            let (lo, hi) = (
                operator(&before, op)[field].as_u64().unwrap(),
                operator(&after, op)[field].as_u64().unwrap(),
            );
            assert!(
                lo <= scraped && scraped <= hi,
                "{key}: {scraped} not in {lo}..={hi}"
            );
        }
    }
    assert!(metrics["styx_checkpoints_total{job=\"payments\"}"] >= 1.0);
    assert!(metrics.contains_key("styx_watermark_ms{job=\"payments\",operator=\"per_account\"}"));
    assert!(metrics.contains_key("styx_checkpoint_duration_seconds{job=\"payments\"}"));
    assert!(metrics.contains_key(
        "styx_input_blocked_seconds_total{job=\"payments\",operator=\"per_account\"}"
    ));
    assert!(operator(&after, "per_account")["input_blocked_ms"].as_f64() >= Some(0.0));
    // The source's watermark trails its newest event by about the out-of-orderness.
    let lag = operator(&after, "payments")["watermark_lag_ms"]
        .as_i64()
        .unwrap();
    assert!((0..=5_000).contains(&lag), "{lag}");
    assert!(metrics.contains_key("styx_watermark_lag_ms{job=\"payments\",operator=\"payments\"}"));

    // The graph and the checkpoints on their own.
    let graph = json(&server.request("GET", &format!("/api/jobs/{id}/graph"), &[], b""));
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 4, "{graph}");
    let edges: Vec<(String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    let edge = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        edges,
        [
            edge("payments", "large"),
            edge("large", "per_account"),
            edge("per_account", "out")
        ]
    );
    let checkpoints =
        json(&server.request("GET", &format!("/api/jobs/{id}/checkpoints"), &[], b""));
    assert!(
        checkpoints["completed"].as_u64() >= Some(1),
        "{checkpoints}"
    );

    // A savepoint while it runs, then a stop with a savepoint.
    let taken = server.request("POST", &format!("/api/jobs/{id}/savepoints"), &[], b"");
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert!(Path::new(json(&taken)["savepoint"].as_str().unwrap()).is_dir());
    let stopped = server.request(
        "POST",
        &format!("/api/jobs/{id}/stop"),
        &[("Content-Type", "application/json")],
        br#"{"savepoint": true, "drain": false}"#,
    );
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    let savepoint = json(&stopped)["savepoint"].as_str().unwrap().to_string();
    assert!(Path::new(&savepoint).is_dir(), "{savepoint}");
    let end = details(&server, &id);
    assert_eq!(end["state"], "stopped", "{end:#}");
    // Every result the window handed on was written, and the file holds exactly those.
    let written = lines(&dir.path().join("out.ndjson"));
    assert_eq!(operator(&end, "out")["records_in"].as_u64(), Some(written));
    assert_eq!(
        operator(&end, "per_account")["records_out"].as_u64(),
        Some(written)
    );
    assert_eq!(
        operator(&end, "large")["records_out"],
        operator(&end, "per_account")["records_in"]
    );
    // A stopped job is not stopped again.
    server
        .request("POST", &format!("/api/jobs/{id}/stop"), &[], b"")
        .assert_error(409, "the job is stopped");

    // A job that fails ends as failed, with its error; the server goes on.
    std::fs::write(dir.path().join("in.ndjson"), "{\"n\": 1}\n{\"n\": \"x\"}\n").unwrap();
    let failing = server.request(
        "POST",
        "/api/jobs",
        &[],
        b"[job]\nname = \"strict\"\non_error = \"fail\"\n[sources.in]\ntype = \"file\"\npath = \"in.ndjson\"\n\
          [transforms.twice]\ntype = \"map\"\ninputs = [\"in\"]\nfields = { m = \"n * 2\" }\n\
          [sinks.out]\ntype = \"file\"\ninputs = [\"twice\"]\npath = \"twice.ndjson\"\n",
    );
    assert_eq!(failing.status, 201, "{}", failing.body);
    let failing = json(&failing)["id"].as_str().unwrap().to_string();
    let failed = wait_for(&server, &failing, "the job fails", |d| {
        d["state"] != "running"
    });
    assert_eq!(failed["state"], "failed", "{failed:#}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("transforms.twice"),
        "{failed:#}"
    );

    // A bounded job finishes, with the counts of its file.
    std::fs::write(
        dir.path().join("ok.ndjson"),
        "{\"n\": 1}\n{\"n\": 2}\n{\"n\": 3}\n",
    )
    .unwrap();
    let bounded = server.request(
        "POST",
        "/api/jobs",
        &[],
        b"[job]\nname = \"bounded\"\n[sources.in]\ntype = \"file\"\npath = \"ok.ndjson\"\n\
          [transforms.odd]\ntype = \"filter\"\ninputs = [\"in\"]\ncondition = \"n % 2 == 1\"\n\
          [sinks.out]\ntype = \"file\"\ninputs = [\"odd\"]\npath = \"odd.ndjson\"\n",
    );
    let bounded = json(&bounded)["id"].as_str().unwrap().to_string();
    let done = wait_for(&server, &bounded, "the job finishes", |d| {
        d["state"] != "running"
    });
    assert_eq!(done["state"], "finished", "{done:#}");
    assert_eq!(operator(&done, "in")["records_out"], 3);
    assert_eq!(operator(&done, "odd")["records_out"], 2);
    assert_eq!(lines(&dir.path().join("odd.ndjson")), 2);
    assert_eq!(
        server.request("GET", "/healthz", &[], b"").status,
        200,
        "the server is up"
    );
}

/// A job submitted to the server that enriches events from the store and scores them
/// with a stored model reports its lookups, cache hits, scoring latency and the model
/// version it uses, in its details and in `/metrics`.
#[test]
fn a_job_reports_the_versions_of_the_store_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(dir.path());
    let pmml = common::iris();
    let xml = [("Content-Type", "application/xml")];
    for _ in 0..2 {
        let put = server.request("PUT", "/openscoring/model/iris", &xml, &pmml);
        assert!(put.status == 201 || put.status == 200, "{}", put.body);
    }
    // Reference data: five kinds of flower.
    let kinds: String = (0..5)
        .map(|k| format!("{{\"kind\": {k}, \"garden\": \"g{k}\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("kinds.ndjson"), kinds).unwrap();
    let loaded = std::process::Command::new(common::STYX)
        .args(["store", "load", "kinds"])
        .arg(dir.path().join("kinds.ndjson"))
        .args(["--key", "kind", "--store", &server.store])
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let flowers: String = (0..200)
        .map(|i| {
            format!(
                "{{\"kind\": {}, \"sepal length (cm)\": 5.1, \"sepal width (cm)\": 3.5, \
                 \"petal length (cm)\": 1.4, \"petal width (cm)\": 0.2}}\n",
                i % 5
            )
        })
        .collect();
    std::fs::write(dir.path().join("flowers.ndjson"), flowers).unwrap();
    let job = format!(
        "[job]\nname = \"scored\"\n[store]\nurl = \"{}\"\n\
         [sources.flowers]\ntype = \"file\"\npath = \"flowers.ndjson\"\n\
         [transforms.where]\ntype = \"lookup\"\ninputs = [\"flowers\"]\ntable = \"kinds\"\nkey = \"kind\"\n\
         [transforms.scored]\ntype = \"score\"\ninputs = [\"where\"]\nmodel = \"store:iris\"\n\
         outputs = {{ species = \"species\" }}\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"scored.ndjson\"\n",
        server.store
    );
    let submitted = server.request("POST", "/api/jobs", &[], job.as_bytes());
    assert_eq!(submitted.status, 201, "{}", submitted.body);
    let id = json(&submitted)["id"].as_str().unwrap().to_string();
    let done = wait_for(&server, &id, "the job finishes", |d| {
        d["state"] != "running"
    });
    assert_eq!(done["state"], "finished", "{done:#}");
    assert_eq!(operator(&done, "scored")["records_out"], 200);
    // Lookups: 200 keys, 5 of them read from the store, the rest cache hits.
    let lookups = &operator(&done, "where")["lookups"];
    assert_eq!(lookups["keys"], 200, "{done:#}");
    assert_eq!(lookups["store_reads"], 5, "{done:#}");
    assert_eq!(lookups["cache_hits"], 195, "{done:#}");
    // Scoring: one event in 64 timed.
    let scoring = &operator(&done, "scored")["scoring"];
    assert_eq!(scoring["sampled"], 3, "{done:#}");
    assert!(scoring["mean_latency_us"].as_f64().unwrap() > 0.0);
    // The model was deployed twice: the job scored with version 2.
    assert_eq!(
        done["store"]["transforms.scored.model_version"], 2,
        "{done:#}"
    );
    let metrics = scrape(&server, &id);
    assert_eq!(
        metrics.get("styx_lookups_total{job=\"scored\",operator=\"where\"}"),
        Some(&200.0)
    );
    assert_eq!(
        metrics.get("styx_lookup_store_reads_total{job=\"scored\",operator=\"where\"}"),
        Some(&5.0)
    );
    assert_eq!(
        metrics.get("styx_scoring_sampled_total{job=\"scored\",operator=\"scored\"}"),
        Some(&3.0)
    );
    assert_eq!(
        metrics.get("styx_store_version{job=\"scored\",operator=\"scored\",item=\"model\"}"),
        Some(&2.0),
        "{metrics:?}"
    );
}

/// A Kafka source reports the consumer lag of each partition it reads (noida-db: its
/// high watermarks are right).
#[test]
fn a_kafka_source_reports_the_lag_of_its_partitions() {
    let brokers = common::brokers("STYX_KAFKA_TXN_BROKERS");
    let topic = common::unique("lag");
    styx_kafka::admin::create_topic(&brokers, &topic, 2, common::TIMEOUT).unwrap();
    common::produce(&brokers, &topic, common::events(0..500));
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(dir.path());
    let job = format!(
        "[job]\nname = \"lagging\"\n[sources.events]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\n\
         topic = \"{topic}\"\ngroup = \"{}\"\nstart = \"earliest\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"events\"]\npath = \"out.ndjson\"\n",
        common::unique("g")
    );
    let submitted = server.request("POST", "/api/jobs", &[], job.as_bytes());
    assert_eq!(submitted.status, 201, "{}", submitted.body);
    let id = json(&submitted)["id"].as_str().unwrap().to_string();
    let caught_up = |d: &Value, n: u64| {
        let source = operator(d, "events");
        let lags = source["consumer_lag"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        source["records_out"].as_u64() == Some(n)
            && lags.len() == 2
            && lags
                .iter()
                .all(|l| l["lag"] == 0 && l["topic"] == topic.as_str())
    };
    wait_for(&server, &id, "all 500 read, no lag", |d| caught_up(d, 500));
    common::produce(&brokers, &topic, common::events(500..800));
    wait_for(&server, &id, "all 800 read, no lag", |d| caught_up(d, 800));
    let metrics = scrape(&server, &id);
    for partition in 0..2 {
        let key = format!(
            "styx_kafka_consumer_lag{{job=\"lagging\",operator=\"events\",topic=\"{topic}\",partition=\"{partition}\"}}"
        );
        assert_eq!(metrics.get(&key), Some(&0.0), "{key} in {metrics:?}");
    }
    let cancelled = server.request("DELETE", &format!("/api/jobs/{id}"), &[], b"");
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(details(&server, &id)["state"], "canceled");
}

/// ChromeDriver, installed by `scripts/browser`; a test that needs it fails without it.
fn chromedriver() -> String {
    match std::env::var("STYX_CHROMEDRIVER") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => panic!("STYX_CHROMEDRIVER is not set: run the tests with scripts/test, which installs Chromium"),
    }
}

#[test]
fn the_dashboard_shows_a_running_job_and_stops_it() {
    let driver_path = chromedriver();
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(dir.path());
    // What the store holds shows beside the jobs: a model and a rule.
    let pmml = common::iris();
    let put = server.request(
        "PUT",
        "/openscoring/model/iris",
        &[("Content-Type", "application/xml")],
        &pmml,
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let rule = std::process::Command::new(common::STYX)
        .args([
            "rules",
            "put",
            "fraud",
            "big",
            "--condition",
            "amount > 500.0",
        ])
        .args(["--store", &server.store])
        .output()
        .unwrap();
    assert!(
        rule.status.success(),
        "{}",
        String::from_utf8_lossy(&rule.stderr)
    );
    let submitted = server.request("POST", "/api/jobs", &[], ENDLESS.as_bytes());
    let id = json(&submitted)["id"].as_str().unwrap().to_string();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = std::process::Command::new(driver_path)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _driver = Kill(&mut driver);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://{}", server.address());
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    runtime.block_on(async {
        use fantoccini::{ClientBuilder, Locator};
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("STYX_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1440,1000"]
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "ChromeDriver: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        client.goto(&format!("{url}/")).await.unwrap();
        // The job appears, selected, running.
        let row = match client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!("[data-job='{id}'] .state.running")))
            .await
        {
            Ok(row) => row,
            Err(e) => panic!(
                "the job is not listed as running ({e}); the page: {}",
                client.source().await.unwrap_or_default()
            ),
        };
        assert_eq!(row.text().await.unwrap().to_lowercase(), "running");
        // Its counters move.
        let read = |client: fantoccini::Client| async move {
            let text = client
                .find(Locator::Css("[data-stat='records read']"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.replace(',', "").parse::<u64>().unwrap_or(0)
        };
        let first = read(client.clone()).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if read(client.clone()).await > first {
                break;
            }
            assert!(Instant::now() < deadline, "the page's count of records read does not move");
        }
        // The store's model (with its version) and rule.
        let model = client
            .find(Locator::Css("[data-model='iris']"))
            .await
            .expect("the model is listed")
            .text()
            .await
            .unwrap();
        assert!(model.contains("v1"), "{model}");
        client
            .find(Locator::Css("[data-rule='fraud/big']"))
            .await
            .expect("the rule is listed");
        // The dataflow graph shows every operator.
        for op in ["payments", "large", "per_account", "out"] {
            client
                .find(Locator::Css(&format!("svg g[data-operator='{op}']")))
                .await
                .unwrap_or_else(|_| panic!("operator {op} in the graph"));
        }
        let png = client.screenshot().await.unwrap();
        std::fs::write(&screenshot, png).unwrap();
        // Stopped from the page.
        client.find(Locator::Id("stop")).await.unwrap().click().await.unwrap();
        client
            .wait()
            .for_element(Locator::Id("stop-confirm"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(&format!("[data-job='{id}'] .state.stopped")))
            .await
            .expect("the page shows the job stopped");
        client.close().await.unwrap();
    });
    assert_eq!(details(&server, &id)["state"], "stopped");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
}
