//! Every conformance case under `tests/fixtures/` (JPMML-Evaluator 1.7.7 reference tables)
//! through the library's CSV path, compared with the rules of the suite's `compare.py`:
//! same header and row count, labels and ids exactly, numbers within 1e-12 absolute or
//! 1e-9 relative (float32 columns rounded to float32 first), empty only matches empty.
//! Set `PMML_CASE=substring` to run some cases only.

use std::path::{Path, PathBuf};

use serde_json::Value;
use styx_pmml::{detect_delimiter, score_csv, Model, ScoreError};

/// Cases that do not match yet, each with the reason. The test fails when one of them
/// starts to match (so the list stays honest) or when any other case fails.
const KNOWN_FAILING: &[(&str, &str)] = &[];

const REL: f64 = 1e-9;
const ABS: f64 = 1e-12;

fn read_table(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let d = detect_delimiter(bytes);
    let mut r = csv::ReaderBuilder::new()
        .delimiter(d)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| {
            rec.expect("csv")
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|r: &Vec<String>| !(r.is_empty() || (r.len() == 1 && r[0].is_empty())))
        .collect();
    assert!(!rows.is_empty(), "empty table");
    let header = rows.remove(0);
    (header, rows)
}

fn cell_equal(e: &str, a: &str, mode: &str) -> bool {
    if e == a {
        return true;
    }
    if e.is_empty() || a.is_empty() || mode == "exact" {
        return false;
    }
    let (Ok(mut x), Ok(mut y)) = (e.parse::<f64>(), a.parse::<f64>()) else {
        return false;
    };
    if x.is_nan() || y.is_nan() {
        return x.is_nan() && y.is_nan();
    }
    if mode == "float32" {
        x = x as f32 as f64;
        y = y as f32 as f64;
    }
    if x == y {
        return true;
    }
    let d = (x - y).abs();
    d <= ABS || d <= REL * x.abs().max(y.abs())
}

fn compare(case: &Value, expected: &[u8], actual: &[u8]) -> Vec<String> {
    let (eh, erows) = read_table(expected);
    let (ah, arows) = read_table(actual);
    if eh != ah {
        return vec![format!("header differs: expected {eh:?}, actual {ah:?}")];
    }
    let mut msgs = Vec::new();
    if erows.len() != arows.len() {
        msgs.push(format!(
            "row count differs: expected {}, actual {}",
            erows.len(),
            arows.len()
        ));
    }
    let modes: Vec<String> = eh
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 && c.eq_ignore_ascii_case("id") {
                return "exact".to_string();
            }
            case["columns"]
                .as_array()
                .and_then(|cols| cols.iter().find(|col| col["name"] == c.as_str()))
                .and_then(|col| col["compare"].as_str())
                .unwrap_or("auto")
                .to_string()
        })
        .collect();
    let mut bad = 0;
    for (i, (er, ar)) in erows.iter().zip(arows.iter()).enumerate() {
        if er.len() != ar.len() {
            msgs.push(format!(
                "row {}: {} cells, expected {}",
                i + 1,
                ar.len(),
                er.len()
            ));
            continue;
        }
        for (((c, e), a), m) in eh.iter().zip(er).zip(ar).zip(&modes) {
            if !cell_equal(e, a, m) {
                bad += 1;
                if msgs.len() < 8 {
                    msgs.push(format!(
                        "row {} column {c:?}: expected {e:?}, actual {a:?}",
                        i + 1
                    ));
                }
            }
        }
    }
    if bad > 8 {
        msgs.push(format!("... {bad} mismatching cells in all"));
    }
    msgs
}

fn run_case(dir: &Path) -> Result<(), String> {
    let case: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let model = Model::from_path(dir.join("model.pmml"));
    let input = std::fs::read(dir.join("input.csv")).unwrap();
    let expect_error = &case["expect_error"];
    if expect_error.is_object() {
        match expect_error["stage"].as_str() {
            Some("model") => match model {
                Err(_) => Ok(()),
                Ok(_) => Err("the document was accepted, but it must be rejected".into()),
            },
            _ => {
                let model = model.map_err(|e| format!("model rejected: {e}"))?;
                let mut out = Vec::new();
                match score_csv(&model, &input[..], &mut out) {
                    Err(ScoreError::Row { row, line, error }) => {
                        let msg = error.to_string();
                        let field = expect_error["field"].as_str().unwrap();
                        if row != expect_error["row"].as_u64().unwrap()
                            || line != expect_error["line"].as_u64().unwrap()
                        {
                            return Err(format!(
                                "failed at row {row} line {line}, expected {expect_error}"
                            ));
                        }
                        if !msg.contains(field) {
                            return Err(format!(
                                "message {msg:?} does not name the field {field:?}"
                            ));
                        }
                        Ok(())
                    }
                    Err(e) => Err(format!("failed, but not on a row: {e}")),
                    Ok(_) => Err("every row was scored, but one must fail".into()),
                }
            }
        }
    } else {
        let model = model.map_err(|e| format!("model rejected: {e}"))?;
        let mut out = Vec::new();
        score_csv(&model, &input[..], &mut out).map_err(|e| format!("scoring failed: {e}"))?;
        let expected = std::fs::read(dir.join("expected.csv")).unwrap();
        let msgs = compare(&case, &expected, &out);
        if msgs.is_empty() {
            Ok(())
        } else {
            Err(msgs.join("\n    "))
        }
    }
}

#[test]
fn conformance_suite() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let filter = std::env::var("PMML_CASE").unwrap_or_default();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.pmml").exists())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases found");
    let mut failed = Vec::new();
    for c in &cases {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(c) {
            Ok(()) => println!("ok   {name}"),
            Err(msg) => {
                println!("FAIL {name}\n    {msg}");
                failed.push(name);
            }
        }
    }
    println!(
        "pmml-oracle: {}/{} cases match",
        cases.len() - failed.len(),
        cases.len()
    );
    let known: Vec<&str> = KNOWN_FAILING
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.contains(&filter))
        .collect();
    let unexpected: Vec<&String> = failed
        .iter()
        .filter(|f| !known.contains(&f.as_str()))
        .collect();
    let fixed: Vec<&&str> = known
        .iter()
        .filter(|k| !failed.iter().any(|f| f == *k))
        .collect();
    assert!(unexpected.is_empty(), "failing cases: {unexpected:?}");
    assert!(
        fixed.is_empty(),
        "cases listed as failing now match; update KNOWN_FAILING: {fixed:?}"
    );
}

#[test]
fn comparison_rules() {
    assert!(cell_equal("0.1", "0.1", "number"));
    assert!(cell_equal("1.0", "1.0000000000001", "number"));
    assert!(!cell_equal("1.0", "1.00001", "number"));
    assert!(!cell_equal("", "0", "number"));
    assert!(cell_equal("0.015560508", "0.0155605081", "float32"));
    assert!(!cell_equal("1", "1.0", "exact"));
}

/// A table without a column the model reads is scored with that field missing in every
/// row, and the summary names the column, so that the command can say so.
#[test]
fn a_missing_input_column_is_named() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/010-logreg-binary-breast-cancer");
    let model = Model::from_path(dir.join("model.pmml")).unwrap();
    let input = std::fs::read_to_string(dir.join("input.csv")).unwrap();
    let mut out = Vec::new();
    let whole = score_csv(&model, input.as_bytes(), &mut out).unwrap();
    assert!(
        whole.missing_columns.is_empty(),
        "{:?}",
        whole.missing_columns
    );
    // The first model input's column removed from every line.
    let delimiter = detect_delimiter(input.as_bytes()) as char;
    let first = model.input_fields()[0].name.clone();
    let header: Vec<&str> = input.lines().next().unwrap().split(delimiter).collect();
    let at = header.iter().position(|h| *h == first).expect("the column");
    let cut: String = input
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(delimiter).collect();
            cells.remove(at);
            cells.join(&delimiter.to_string()) + "\n"
        })
        .collect();
    let mut out = Vec::new();
    let summary = score_csv(&model, cut.as_bytes(), &mut out).unwrap();
    assert_eq!(summary.missing_columns, vec![first]);
}
