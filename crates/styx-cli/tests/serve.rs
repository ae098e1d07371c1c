//! `styx serve` against Openscoring's own Python client (PyPI `openscoring` 0.8.0.post1 and
//! 0.7.0, set up by `scripts/python-env`; `STYX_PYTHON` and `STYX_PYTHON_OPENSCORING_0_7`
//! name their pythons): every case of the PMML suite is
//! deployed, scored as a CSV file, record by record and as a batch, compared with
//! JPMML-Evaluator's results, and undeployed; the cases JPMML refuses are refused. Plain
//! HTTP requests check the error answers of the contract.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::server::Server;
use common::STYX;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../styx-pmml/tests/fixtures")
}

fn python() -> String {
    std::env::var("STYX_PYTHON").unwrap_or_else(|_| {
        panic!("STYX_PYTHON is not set: run the tests with scripts/test (scripts/python-env)")
    })
}

#[test]
fn openscoring_clients_score_every_case_as_jpmml_does() {
    let pythons = [
        python(),
        std::env::var("STYX_PYTHON_OPENSCORING_0_7").unwrap_or_else(|_| {
            panic!("STYX_PYTHON_OPENSCORING_0_7 is not set: run the tests with scripts/test")
        }),
    ];
    for python in pythons {
        every_case_through(&python);
    }
}

/// Openscoring's client run by `python` scores every case of the suite as JPMML does.
fn every_case_through(python: &str) {
    let server = Server::start(&[]);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("model.pmml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "the PMML suite: {} cases", cases.len());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openscoring/client.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&server.url)
        .args(&cases)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("{} cases, 0 problems", cases.len())),
        "{said}"
    );
}

#[test]
fn errors_are_answered_as_the_contract_says() {
    let server = Server::start(&["--admin-token", "s3cret"]);
    let base = "/openscoring";
    let pmml = common::iris();
    let admin = [
        ("Authorization", "Bearer s3cret"),
        ("Content-Type", "application/xml"),
    ];

    // Unknown paths and models, ids not of the pattern.
    server
        .request("GET", "/nowhere", &[], b"")
        .assert_error(404, "Not Found");
    server
        .request("GET", &format!("{base}/model/iris"), &[], b"")
        .assert_error(404, "Not Found");
    server
        .request("GET", &format!("{base}/model/-x"), &[], b"")
        .assert_error(404, "Not Found");
    // Roles: deploying needs the admin token; a wrong one is refused.
    server
        .request("PUT", &format!("{base}/model/iris"), &[], &pmml)
        .assert_error(403, "User not authorized.");
    server
        .request(
            "PUT",
            &format!("{base}/model/iris"),
            &[("Authorization", "Bearer wrong")],
            &pmml,
        )
        .assert_error(403, "User not authorized.");
    // A document that is not PMML replaces nothing; a wrong content type is 415.
    let created = server.request("PUT", &format!("{base}/model/iris"), &admin, &pmml);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.header("location"),
        Some(format!("{base}/model/iris").as_str())
    );
    assert!(created
        .header("x-application")
        .is_some_and(|v| v.starts_with("Openscoring/2.1")));
    server
        .request("PUT", &format!("{base}/model/iris"), &admin, b"<PMML")
        .assert_error(400, "");
    server
        .request(
            "PUT",
            &format!("{base}/model/iris"),
            &[
                ("Authorization", "Bearer s3cret"),
                ("Content-Type", "application/json"),
            ],
            b"{}",
        )
        .assert_error(415, "");
    let replaced = server.request("PUT", &format!("{base}/model/iris"), &admin, &pmml);
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    // A wrong method is 405 with Allow; malformed JSON is 400; a failing record too.
    let wrong = server.request("PATCH", &format!("{base}/model/iris"), &[], b"");
    wrong.assert_error(405, "");
    assert!(wrong.header("allow").is_some_and(|a| a.contains("POST")));
    let json = [("Content-Type", "application/json")];
    server
        .request("POST", &format!("{base}/model/iris"), &json, b"{oops")
        .assert_error(400, "");
    server
        .request(
            "POST",
            &format!("{base}/model/iris"),
            &json,
            br#"{"arguments": {"sepal length (cm)": "long"}}"#,
        )
        .assert_error(400, "");
    // A record scores; the model's description has its schema.
    let scored = server.request(
        "POST",
        &format!("{base}/model/iris"),
        &json,
        br#"{"id": "r1", "arguments": {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}}"#,
    );
    assert_eq!(scored.status, 200, "{}", scored.body);
    let scored: serde_json::Value = serde_json::from_str(&scored.body).unwrap();
    assert_eq!(scored["id"], "r1");
    assert_eq!(scored["results"]["species"], "setosa");
    let described = server.request("GET", &format!("{base}/model/iris"), &[], b"");
    let described: serde_json::Value = serde_json::from_str(&described.body).unwrap();
    assert_eq!(described["summary"], "Regression");
    assert_eq!(
        described["schema"]["inputFields"][0]["id"],
        "sepal length (cm)"
    );
    assert!(described["properties"]["accessed.timestamp"].is_string());
    // The metrics count the requests, the records and the models.
    let metrics = server.request("GET", "/metrics", &[], b"");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    for line in [
        "styx_http_requests_total{endpoint=\"evaluate\",code=\"200\"} 1",
        "styx_http_requests_total{endpoint=\"deploy\",code=\"403\"} 2",
        "styx_model_records_total{model=\"iris\",outcome=\"ok\"} 1",
        "styx_model_records_total{model=\"iris\",outcome=\"error\"} 1",
        "styx_models_deployed 1",
        "styx_http_request_duration_seconds_count{endpoint=\"evaluate\"} 3",
    ] {
        assert!(metrics.body.contains(line), "{line} in {}", metrics.body);
    }
    // Undeploying needs the admin role too; afterwards the model is gone.
    server
        .request("DELETE", &format!("{base}/model/iris"), &[], b"")
        .assert_error(403, "User not authorized.");
    let deleted = server.request(
        "DELETE",
        &format!("{base}/model/iris"),
        &[("Cookie", "token=s3cret")],
        b"",
    );
    assert_eq!((deleted.status, deleted.body.as_str()), (200, "{}"));
    server
        .request("POST", &format!("{base}/model/iris"), &json, b"{}")
        .assert_error(404, "Not Found");
    let health = server.request("GET", "/healthz", &[], b"");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
}

#[test]
fn method_overrides_and_csv_dialects() {
    let server = Server::start(&[]);
    let base = "/openscoring";
    let pmml = common::iris();
    // A POST standing for a PUT deploys (roles are those of the PUT).
    let deployed = server.request(
        "POST",
        &format!("{base}/model/iris"),
        &[
            ("X-HTTP-Method-Override", "PUT"),
            ("Content-Type", "text/xml"),
        ],
        &pmml,
    );
    assert_eq!(deployed.status, 201, "{}", deployed.body);
    server
        .request(
            "POST",
            &format!("{base}/model/iris?_method=DELETE"),
            &[("X-HTTP-Method-Override", "PUT")],
            b"",
        )
        .assert_error(400, "");
    // The dialect named by the request: `;` between cells, `'` around them.
    let table = "'sepal length (cm)';'sepal width (cm)';'petal length (cm)';'petal width (cm)'\n\
                 '5,1';3.5;1.4;0.2\n";
    let scored = server.request(
        "POST",
        &format!("{base}/model/iris/csv?delimiterChar=%3B&quoteChar=%27"),
        &[("Content-Type", "text/plain; charset=ISO-8859-1")],
        table.replace("'5,1'", "5.1").as_bytes(),
    );
    assert_eq!(scored.status, 200, "{}", scored.body);
    assert_eq!(
        scored.header("content-type"),
        Some("text/plain;charset=ISO-8859-1")
    );
    let mut lines = scored.body.lines();
    assert_eq!(
        lines.next(),
        Some("species;probability(setosa);probability(versicolor);probability(virginica)")
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with("setosa;")),
        "{}",
        scored.body
    );
    // A delimiter of more than one character is refused.
    server
        .request(
            "POST",
            &format!("{base}/model/iris/csv?delimiterChar=ab"),
            &[("Content-Type", "text/plain")],
            table.as_bytes(),
        )
        .assert_error(400, "delimiterChar");
    let undeployed = server.request(
        "POST",
        &format!("{base}/model/iris?_method=DELETE"),
        &[],
        b"",
    );
    assert_eq!((undeployed.status, undeployed.body.as_str()), (200, "{}"));
}

/// A job scoring with `model = "store:ID"` picks up a model deployed over HTTP while it
/// runs, within the store's refresh interval.
#[test]
fn a_running_job_scores_with_a_model_deployed_over_http() {
    let server = Server::start(&[]);
    let base = "/openscoring";
    let xml = [("Content-Type", "application/xml")];
    let pmml = common::iris();
    let first = server.request("PUT", &format!("{base}/model/iris"), &xml, &pmml);
    assert_eq!(first.status, 201, "{}", first.body);

    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"scored\"\n[store]\nurl = \"{}\"\nrefresh = \"100ms\"\n\
             [sources.flowers]\ntype = \"stdin\"\n\
             [transforms.scored]\ntype = \"score\"\ninputs = [\"flowers\"]\nmodel = \"store:iris\"\n\
             outputs = {{ species = \"species\", version = \"model_version\" }}\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"out.ndjson\"\n",
            server.store
        ),
    )
    .unwrap();
    let mut run = Command::new(STYX)
        .args(["run", job.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = run.stdin.take().unwrap();
    let flower = "{\"sepal length (cm)\": 5.1, \"sepal width (cm)\": 3.5, \
                  \"petal length (cm)\": 1.4, \"petal width (cm)\": 0.2}\n";
    let out = work.path().join("out.ndjson");
    let scored = |n: usize| -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} scored",
                lines.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // The file sink writes at checkpoints or at the end: read what the job wrote by
    // ending it, after the second version came.
    stdin.write_all(flower.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = server.request("PUT", &format!("{base}/model/iris"), &xml, &pmml);
    assert_eq!(second.status, 200, "{}", second.body);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stdin.write_all(flower.as_bytes()).unwrap();
    drop(stdin);
    assert!(run.wait().unwrap().success());
    let lines = scored(2);
    let versions: Vec<&serde_json::Value> = lines.iter().map(|l| &l["version"]).collect();
    assert_eq!(versions, [1, 2], "{lines:?}");
    assert!(lines.iter().all(|l| l["species"] == "setosa"), "{lines:?}");
}

/// `/jsonl`: one answer per non-blank line, in order; a bad line gets its message and the
/// others are scored.
#[test]
fn json_lines_are_scored_line_by_line() {
    let server = Server::start(&[]);
    let base = "/openscoring";
    let pmml = common::iris();
    let put = server.request(
        "PUT",
        &format!("{base}/model/iris"),
        &[("Content-Type", "application/xml")],
        &pmml,
    );
    assert_eq!(put.status, 201);
    let flower = r#"{"id": "a", "arguments": {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}}"#;
    let body = format!(
        "{flower}\r\n\n{{oops\n{}\n[1]\n{flower}",
        flower.replace("\"a\"", "\"b\"")
    );
    let reply = server.request(
        "POST",
        &format!("{base}/model/iris/jsonl"),
        &[("Content-Type", "application/x-ndjson")],
        body.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    // The body comes chunked: keep the JSON lines.
    let answers: Vec<serde_json::Value> = reply
        .body
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.is_object())
        .collect();
    assert_eq!(answers.len(), 5, "{}", reply.body);
    assert_eq!(answers[0]["id"], "a");
    assert_eq!(answers[0]["results"]["species"], "setosa");
    assert!(answers[1]["message"]
        .as_str()
        .unwrap()
        .starts_with("line 3: "));
    assert_eq!(answers[2]["id"], "b");
    assert!(answers[3]["message"]
        .as_str()
        .unwrap()
        .starts_with("line 5: "));
    assert_eq!(answers[4]["id"], "a");
}

/// `--models DIR` deploys each `*.pmml` file under the id of its name up to the first
/// dot; the models stay in the store for the next start; SIGTERM stops the server with
/// exit 0.
#[test]
fn models_of_a_folder_are_deployed_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::iris_path(), dir.path().join("Iris.v2.pmml")).unwrap();
    let mut server = Server::start(&["--models", dir.path().to_str().unwrap()]);
    let listed = server.request("GET", "/openscoring/model", &[], b"");
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(listed["responses"][0]["id"], "Iris", "{listed}");
    assert!(listed["responses"][0].get("schema").is_none());
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(server.child.wait().unwrap().success(), "exit 0 on SIGTERM");
    // The same store, without the folder: the model is still there.
    let restarted = Server::on_store(server.store.clone(), tempfile::tempdir().unwrap(), &[]);
    let described = restarted.request("GET", "/openscoring/model/Iris", &[], b"");
    assert_eq!(described.status, 200, "{}", described.body);
    // A folder with a document that does not compile stops the start, naming it.
    std::fs::write(dir.path().join("broken.pmml"), "<PMML").unwrap();
    let refused = Command::new(STYX)
        .args(["serve", "--listen", "127.0.0.1:0", "--store", &server.store])
        .args(["--models", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("broken.pmml"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// `styx bench serve` loads a server with concurrent clients and reports what it
/// measured (it asserts no speed).
#[test]
fn bench_serve_reports_requests_and_latencies() {
    let case = fixtures().join("030-dtree-classifier-wine");
    for batch in ["1", "10"] {
        let out = Command::new(STYX)
            .args([
                "bench",
                "serve",
                "--duration",
                "300ms",
                "--clients",
                "2",
                "--batch",
                batch,
            ])
            .arg("--model")
            .arg(case.join("model.pmml"))
            .arg("--input")
            .arg(case.join("input.csv"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert!(last["requests"].as_u64().unwrap() > 0, "{last}");
        for key in [
            "requests_per_s",
            "records_per_s",
            "p50_ms",
            "p99_ms",
            "evaluator_records_per_s",
        ] {
            assert!(last[key].is_number(), "{key}: {last}");
        }
    }
}

/// The schema at `pointer` (`#/components/...`) of the OpenAPI document.
fn resolve<'a>(
    spec: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> &'a serde_json::Value {
    match schema.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => resolve(
            spec,
            spec.pointer(r.trim_start_matches('#'))
                .expect("a $ref that exists"),
        ),
        None => schema,
    }
}

/// Checks `value` against `schema` (the subset of JSON Schema the document uses).
fn conforms(
    spec: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    let schema = resolve(spec, schema);
    if value.is_null() && schema["nullable"] == true {
        return Ok(());
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let object = value
                .as_object()
                .ok_or(format!("{at}: not an object: {value}"))?;
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap();
                if !object.contains_key(key) {
                    return Err(format!("{at}: no {key}"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, v) in object {
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => conforms(spec, s, v, &format!("{at}.{key}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: {key} is not in the schema"))
                    }
                    None => {}
                }
            }
            Ok(())
        }
        Some("array") => {
            let items = value.as_array().ok_or(format!("{at}: not an array"))?;
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| conforms(spec, &schema["items"], v, &format!("{at}[{i}]")))
        }
        Some("string") if !value.is_string() => Err(format!("{at}: not a string: {value}")),
        _ => Ok(()),
    }
}

/// A request of the OpenAPI test: method, documented path, real path, headers, body.
type Call<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a [u8],
);

/// The OpenAPI document the server serves describes its real answers: each request's
/// status is documented for its path and method, and each JSON body fits the schema
/// documented for that status.
#[test]
fn the_openapi_document_describes_the_real_answers() {
    let server = Server::start(&[]);
    let spec = server.request("GET", "/openapi.json", &[], b"");
    assert_eq!(spec.status, 200);
    let spec: serde_json::Value = serde_json::from_str(&spec.body).unwrap();
    assert_eq!(spec["servers"][0]["url"], "/openscoring");
    let pmml = common::iris();
    let flower = br#"{"id": "r", "arguments": {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}}"#;
    let xml = [("Content-Type", "application/xml")];
    let json = [("Content-Type", "application/json")];
    let text = [("Content-Type", "text/plain")];
    let table =
        b"sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n5.1,3.5,1.4,0.2\n";
    let calls: Vec<Call> = vec![
        ("get", "/model", "/model", &[], b""),
        ("put", "/model/{id}", "/model/iris", &xml, &pmml),
        ("put", "/model/{id}", "/model/iris", &xml, &pmml),
        ("put", "/model/{id}", "/model/iris", &xml, b"<PMML"),
        ("put", "/model/{id}", "/model/iris", &json, b"{}"),
        ("get", "/model", "/model", &[], b""),
        ("get", "/model/{id}", "/model/iris", &[], b""),
        ("get", "/model/{id}", "/model/nope", &[], b""),
        ("get", "/model/{id}/pmml", "/model/iris/pmml", &[], b""),
        ("post", "/model/{id}", "/model/iris", &json, flower),
        ("post", "/model/{id}", "/model/iris", &json, b"{oops"),
        (
            "post",
            "/model/{id}/batch",
            "/model/iris/batch",
            &json,
            br#"{"requests": [{"arguments": {"sepal length (cm)": "x"}}, {"id": "b"}]}"#,
        ),
        ("post", "/model/{id}/csv", "/model/iris/csv", &text, table),
        (
            "post",
            "/model/{id}/jsonl",
            "/model/iris/jsonl",
            &json,
            flower,
        ),
        ("delete", "/model/{id}", "/model/iris", &[], b""),
        ("delete", "/model/{id}", "/model/iris", &[], b""),
    ];
    for (method, documented, path, headers, body) in calls {
        let reply = server.request(
            &method.to_uppercase(),
            &format!("/openscoring{path}"),
            headers,
            body,
        );
        let operation = &spec["paths"][documented][method];
        assert!(operation.is_object(), "{method} {documented} is documented");
        let answer = &operation["responses"][reply.status.to_string()];
        assert!(
            answer.is_object(),
            "{method} {path}: {} is documented: {}",
            reply.status,
            reply.body
        );
        let answer = resolve(&spec, answer);
        if let Some(schema) = answer.pointer("/content/application~1json/schema") {
            let value: serde_json::Value = serde_json::from_str(&reply.body)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}: {}", reply.body));
            conforms(&spec, schema, &value, &format!("{method} {path}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for path in ["/metrics", "/healthz"] {
        let reply = server.request("GET", path, &[], b"");
        assert!(spec["paths"][path]["get"]["responses"][reply.status.to_string()].is_object());
    }
}

/// schemathesis (PyPI, `STYX_SCHEMATHESIS`) fuzzes the server from its OpenAPI
/// document: no answer is a server error, and the server keeps serving.
#[test]
fn a_schema_driven_fuzzer_finds_no_server_error() {
    let schemathesis = std::env::var("STYX_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!("STYX_SCHEMATHESIS is not set: run the tests with scripts/test (scripts/python-env)")
    });
    let server = Server::start(&[]);
    let pmml = common::iris();
    let put = server.request(
        "PUT",
        "/openscoring/model/iris",
        &[("Content-Type", "application/xml")],
        &pmml,
    );
    assert_eq!(put.status, 201);
    let root = format!("http://{}", server.address());
    // schemathesis keeps a cache in the folder it runs in: a temporary one.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(schemathesis)
        .current_dir(scratch.path())
        .args(["run", &format!("{root}/openapi.json"), "--url", &server.url])
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "1",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("passed"), "{said}");
    let health = server.request("GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200);
}

/// A document sent compressed (`Content-Encoding: gzip`, as Openscoring's Java deployer
/// sends a `.pmml.gz` file) is deployed as the document itself.
#[test]
fn gzip_bodies_are_read_and_answers_compressed() {
    let server = Server::start(&[]);
    let path = common::iris_path();
    let plain = std::fs::read(&path).unwrap();
    let gzip = Command::new("gzip").arg("-c").arg(&path).output().unwrap();
    assert!(gzip.status.success());
    let put = server.request(
        "PUT",
        "/openscoring/model/iris",
        &[
            ("Content-Type", "application/xml"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip.stdout,
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let response: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    // The size and checksum are those of the document, after the encoding.
    assert_eq!(response["properties"]["file.size"], plain.len());
    let document = server.request("GET", "/openscoring/model/iris/pmml", &[], b"");
    assert_eq!(document.body.as_bytes(), &plain[..]);

    // Answers are compressed for a client that accepts it (curl decodes them), and only
    // then.
    assert_eq!(document.header("content-encoding"), None);
    let url = format!("http://{}/openapi.json", server.address());
    let curl = Command::new("curl")
        .args(["-s", "--compressed", "-D", "-", &url])
        .output()
        .unwrap();
    assert!(curl.status.success());
    let text = String::from_utf8(curl.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip")
            || head
                .to_ascii_lowercase()
                .contains("content-encoding: deflate"),
        "{head}"
    );
    let plain = server.request("GET", "/openapi.json", &[], b"");
    assert_eq!(body, plain.body);
}

/// A form (`multipart/form-data`) carries the document in its part `pmml` and the table
/// in its part `csv`.
#[test]
fn forms_carry_the_document_and_the_table() {
    let server = Server::start(&[]);
    let form = |name: &str, content: &[u8]| -> Vec<u8> {
        let mut body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nignored\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    };
    let multipart = [("Content-Type", "multipart/form-data; boundary=XyZ")];
    let pmml = common::iris();
    let put = server.request(
        "PUT",
        "/openscoring/model/iris",
        &multipart,
        &form("pmml", &pmml),
    );
    assert_eq!(put.status, 201, "{}", put.body);
    let table =
        b"sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n5.1,3.5,1.4,0.2\n";
    let scored = server.request(
        "POST",
        "/openscoring/model/iris/csv",
        &multipart,
        &form("csv", table),
    );
    assert_eq!(scored.status, 200, "{}", scored.body);
    assert!(scored.body.contains("\nsetosa,"), "{}", scored.body);
    server
        .request(
            "PUT",
            "/openscoring/model/iris",
            &multipart,
            &form("nothing", &pmml),
        )
        .assert_error(400, "the form has no part named \"pmml\"");
}

/// A document of two regression models: `y = x + 1` (`plus`, the first) and `y = 2x`
/// (`twice`).
const TWO_MODELS: &str = include_str!("../../styx-pmml/tests/two-models.pmml");

/// `y` of `{"x": 5}` scored by model `id`.
fn y_of_five(server: &Server, id: &str) -> serde_json::Value {
    let reply = server.request(
        "POST",
        &format!("/openscoring/model/{id}"),
        &[("Content-Type", "application/json")],
        br#"{"arguments": {"x": 5}}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    body["results"]["y"].clone()
}

#[test]
fn model_name_picks_the_model_element_and_is_kept_in_the_store() {
    let server = Server::start(&[]);
    let xml = [("Content-Type", "application/xml")];
    let put = |query: &str| {
        server.request(
            "PUT",
            &format!("/openscoring/model/two{query}"),
            &xml,
            TWO_MODELS.as_bytes(),
        )
    };
    assert_eq!(put("").status, 201);
    assert_eq!(y_of_five(&server, "two"), 6.0);
    assert_eq!(put("?modelName=twice").status, 200);
    assert_eq!(y_of_five(&server, "two"), 10.0);
    // No such model element: refused, and the deployed one stays.
    put("?modelName=thrice").assert_error(
        400,
        "invalid PMML: element <PMML>: the document has no model named \"thrice\"",
    );
    assert_eq!(y_of_five(&server, "two"), 10.0);
    // The document as deployed, whatever element is scored.
    let pmml = server.request("GET", "/openscoring/model/two/pmml", &[], b"");
    assert_eq!(pmml.body, TWO_MODELS);
    // The choice is stored with the document: a restarted server and a job read it.
    let restarted = Server::on_store(server.store.clone(), tempfile::tempdir().unwrap(), &[]);
    assert_eq!(y_of_five(&restarted, "two"), 10.0);
}
