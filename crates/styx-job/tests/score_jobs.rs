//! `type = "score"` transforms: JPMML-Evaluator's results for the conformance cases of
//! `styx-pmml`, reached through a job file (the input rows as NDJSON events), and the
//! handling of events the model cannot score.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use styx_job::{Job, RunOptions};

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../styx-pmml/tests/fixtures")
        .join(name)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let delimiter = styx_pmml::detect_delimiter(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A CSV cell as a JSON value: numbers as numbers, other text as strings; an empty cell
/// is an absent field.
fn cell(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Number(_)) => Some(v),
        _ => Some(Value::String(text.to_string())),
    }
}

fn read_ndjson(path: &Path) -> Vec<Map<String, Value>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn close(expected: &str, got: &Value) -> bool {
    match (expected.parse::<f64>(), got) {
        _ if expected.is_empty() => got.is_null(),
        (Ok(e), Value::Number(g)) => {
            let g = g.as_f64().unwrap();
            e == g || (e - g).abs() <= 1e-12 || ((e - g) / e).abs() <= 1e-9
        }
        (_, Value::String(g)) => g == expected,
        (_, Value::Bool(b)) => expected == b.to_string(),
        _ => false,
    }
}

/// Writes the case's input rows as events (with a `row` number) and a job scoring them.
fn score_job(work: &Path, name: &str, parallelism: usize) -> Vec<Map<String, Value>> {
    let dir = case(name);
    let (header, rows) = read_csv(&dir.join("input.csv"));
    let mut events = String::new();
    for (n, row) in rows.iter().enumerate() {
        let mut event = Map::new();
        event.insert("row".into(), Value::from(n));
        for (field, text) in header.iter().zip(row) {
            if let Some(v) = cell(text) {
                event.insert(field.clone(), v);
            }
        }
        events.push_str(&Value::Object(event).to_string());
        events.push('\n');
    }
    std::fs::write(work.join("events.ndjson"), events).unwrap();
    std::fs::copy(dir.join("model.pmml"), work.join("model.pmml")).unwrap();
    std::fs::write(
        work.join("job.toml"),
        format!(
            "[job]\nname = \"score\"\nparallelism = {parallelism}\n\
             [sources.rows]\ntype = \"file\"\npath = \"events.ndjson\"\n\
             [transforms.scored]\ntype = \"score\"\ninputs = [\"rows\"]\nmodel = \"model.pmml\"\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"out/scored.ndjson\"\n"
        ),
    )
    .unwrap();
    Job::load(&work.join("job.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .run(&RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut scored = read_ndjson(&work.join("out/scored.ndjson"));
    scored.sort_by_key(|e| e["row"].as_u64().unwrap());
    assert_eq!(scored.len(), rows.len(), "{name}: every row is scored once");
    scored
}

fn check_case(name: &str) {
    let work = tempfile::tempdir().unwrap();
    let scored = score_job(work.path(), name, 2);
    let (columns, expected) = read_csv(&case(name).join("expected.csv"));
    for (n, (want, got)) in expected.iter().zip(&scored).enumerate() {
        for (column, e) in columns.iter().zip(want) {
            let g = got.get(column).unwrap_or(&Value::Null);
            assert!(
                close(e, g),
                "{name} row {n} column {column}: JPMML {e:?}, the job {g}"
            );
        }
    }
}

#[test]
fn multinomial_logistic_regression_scores_equal_jpmml() {
    check_case("011-logreg-multinomial-iris");
}

#[test]
fn boosted_trees_with_categories_and_missing_values_score_equal_jpmml() {
    check_case("055-hgb-classifier-categorical-nan-customers");
}

#[test]
fn random_forest_scores_equal_jpmml() {
    check_case("040-rf-classifier-breast-cancer");
}

#[test]
fn mining_schema_treatments_score_equal_jpmml() {
    check_case("100-domain-treatments-logreg-customers");
}

#[test]
fn unscorable_events_go_to_the_dead_letter_output_renamed_fields_are_read() {
    let work = tempfile::tempdir().unwrap();
    let dir = case("011-logreg-multinomial-iris");
    std::fs::copy(dir.join("model.pmml"), work.path().join("model.pmml")).unwrap();
    let good =
        r#"{"sl":4.9,"sepal width (cm)":3.1,"petal length (cm)":1.5,"petal width (cm)":0.2}"#;
    let bad =
        r#"{"sl":[4.9],"sepal width (cm)":3.1,"petal length (cm)":1.5,"petal width (cm)":0.2}"#;
    std::fs::write(
        work.path().join("events.ndjson"),
        format!("{good}\n{bad}\n{good}\n"),
    )
    .unwrap();
    std::fs::write(
        work.path().join("job.toml"),
        "[job]\nname = \"score\"\n\
         [sources.rows]\ntype = \"file\"\npath = \"events.ndjson\"\n\
         [transforms.scored]\ntype = \"score\"\ninputs = [\"rows\"]\nmodel = \"model.pmml\"\n\
         fields = { \"sepal length (cm)\" = \"sl\" }\n\
         outputs = { setosa = \"probability(setosa)\", species = \"species\" }\n\
         dead_letter = \"scored.dead\"\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"scored\"]\npath = \"out/scored.ndjson\"\n\
         [sinks.dead]\ntype = \"file\"\ninputs = [\"scored.dead\"]\npath = \"out/dead.ndjson\"\n",
    )
    .unwrap();
    Job::load(&work.path().join("job.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
        .run(&RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let scored = read_ndjson(&work.path().join("out/scored.ndjson"));
    assert_eq!(scored.len(), 2);
    for e in &scored {
        assert_eq!(e["species"], "setosa");
        assert!(close("0.9447112648129824", &e["setosa"]), "{e:?}");
        assert!(
            !e.contains_key("probability(versicolor)"),
            "only the outputs named"
        );
    }
    let dead = read_ndjson(&work.path().join("out/dead.ndjson"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["transform"], "transforms.scored");
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("field `sl`"),
        "{:?}",
        dead[0]
    );
    assert_eq!(
        Value::Object(dead[0]["event"].as_object().unwrap().clone()).to_string(),
        bad
    );
}

#[test]
fn a_bad_score_table_is_refused_when_the_job_is_read() {
    let work = tempfile::tempdir().unwrap();
    let dir = case("011-logreg-multinomial-iris");
    std::fs::copy(dir.join("model.pmml"), work.path().join("model.pmml")).unwrap();
    std::fs::write(work.path().join("events.ndjson"), "").unwrap();
    let job = |transform: &str| {
        let path = work.path().join("job.toml");
        std::fs::write(
            &path,
            format!(
                "[job]\nname = \"score\"\n[sources.rows]\ntype = \"file\"\npath = \"events.ndjson\"\n\
                 [transforms.scored]\ntype = \"score\"\ninputs = [\"rows\"]\n{transform}\n\
                 [sinks.out]\ntype = \"stdout\"\ninputs = [\"scored\"]\n"
            ),
        )
        .unwrap();
        match Job::load(&path) {
            Ok(job) => job
                .run(&RunOptions::default())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            Err(e) => e.to_string(),
        }
    };
    let missing = job("model = \"nope.pmml\"");
    assert!(
        missing.contains("transforms.scored.model") && missing.contains("nope.pmml"),
        "{missing}"
    );
    let field = job("model = \"model.pmml\"\nfields = { petals = \"p\" }");
    assert!(
        field.contains("transforms.scored.fields.petals") && field.contains("no input field"),
        "{field}"
    );
    let output = job("model = \"model.pmml\"\noutputs = { p = \"probability(rose)\" }");
    assert!(
        output.contains("transforms.scored.outputs.p") && output.contains("probability(rose)"),
        "{output}"
    );
}

/// A model scoring a window's results must read fields the results have: a model input
/// that no result has would be missing in every event.
#[test]
fn a_model_reading_fields_a_window_never_gives_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = case("011-logreg-multinomial-iris");
    std::fs::copy(dir.join("model.pmml"), work.path().join("model.pmml")).unwrap();
    std::fs::write(work.path().join("events.ndjson"), "").unwrap();
    let path = work.path().join("job.toml");
    let write = |fields: &str| {
        std::fs::write(
            &path,
            format!(
                "[job]\nname = \"score\"\n[sources.rows]\ntype = \"file\"\npath = \"events.ndjson\"\n\
                 [transforms.w]\ntype = \"window\"\ninputs = [\"rows\"]\nkey = \"k\"\n\
                 window = {{ type = \"count\", size = 2 }}\naggregates = {{ n = \"count\", m = \"max(v)\" }}\n\
                 [transforms.scored]\ntype = \"score\"\ninputs = [\"w\"]\nmodel = \"model.pmml\"\n{fields}\n\
                 [sinks.out]\ntype = \"stdout\"\ninputs = [\"scored\"]\n"
            ),
        )
        .unwrap();
    };
    write("");
    let e = Job::load(&path).err().expect("refused").to_string();
    assert!(e.contains("transforms.scored: the model's input"), "{e}");
    assert!(
        e.contains("which the results of `w` never have (they have k, n, m)"),
        "{e}"
    );
    // Every input mapped onto a field the results have: accepted.
    let model = styx_pmml::Model::from_path(work.path().join("model.pmml")).unwrap();
    let mapped: Vec<String> = model
        .input_fields()
        .iter()
        .map(|f| format!("\"{}\" = \"m\"", f.name))
        .collect();
    write(&format!("fields = {{ {} }}", mapped.join(", ")));
    Job::load(&path).expect("every model input reads a field of the results");
}
