//! Writing to the store with checks first, so that nothing invalid gets in: a model
//! must compile, a rule's condition and a pattern must parse, a configuration value must
//! be JSON, every row of a table must have its key. A refused change leaves the store as
//! it was.

use std::path::Path;

use serde_json::{Map, Value};
use styx_store::{Row, Rule, Store};

use crate::config::PatternSpec;
use crate::expr::Expr;

/// The environment variable naming the store when nothing else does.
pub const STORE_ENV: &str = "STYX_STORE";

/// The store's address: `given` (a flag or a job file's `[store] url`), else
/// `$STYX_STORE`, else `styx.db` in `dir`.
pub fn resolve_url(given: Option<&str>, dir: &Path) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var(STORE_ENV).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| styx_store::default_url(dir))
}

/// Compiles `pmml` (its model element `model_name`, or its first scorable model) and
/// stores it as the next version of model `id`.
pub fn deploy_model(
    store: &Store,
    id: &str,
    pmml: &str,
    model_name: Option<&str>,
) -> Result<u32, String> {
    check_id("model id", id)?;
    styx_pmml::Model::parse_named(pmml, model_name).map_err(|e| format!("model {id}: {e}"))?;
    store
        .deploy_model(id, pmml, model_name)
        .map_err(|e| e.to_string())
}

/// Checks a rule's condition and stores the rule.
pub fn put_rule(store: &Store, rule: &Rule) -> Result<(), String> {
    check_id("ruleset", &rule.ruleset)?;
    check_id("rule id", &rule.id)?;
    Expr::compile(&rule.condition).map_err(|e| format!("rule {}: {e}", rule.id))?;
    store.put_rule(rule).map_err(|e| e.to_string())
}

/// Parses a pattern's stages and options (TOML, or JSON when it starts with `{`) and
/// checks them as a pattern transform's; stores them as the next version of `id`.
pub fn put_pattern(store: &Store, id: &str, text: &str) -> Result<u32, String> {
    check_id("pattern id", id)?;
    parse_pattern(id, text)?;
    store.put_pattern(id, text).map_err(|e| e.to_string())
}

/// The stages and options of stored pattern `id`, checked.
pub fn parse_pattern(id: &str, text: &str) -> Result<PatternSpec, String> {
    let spec: PatternSpec = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("pattern {id}: {e}"))?
    } else {
        toml::from_str(text).map_err(|e| format!("pattern {id}: {}", e.to_string().trim_end()))?
    };
    let problems = crate::pattern::check_spec(id, &spec);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems.join("; "))
    }
}

/// Parses `json` and stores it as configuration value `key`.
pub fn set_config(store: &Store, key: &str, json: &str) -> Result<(), String> {
    check_id("config key", key)?;
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("config {key}: not JSON: {e}"))?;
    store.set_config(key, &value).map_err(|e| e.to_string())
}

/// Reads the rows of an NDJSON or CSV file (by its extension) and upserts them into
/// `table`, keyed by `key_column`; every row must have a key. Returns how many.
pub fn load_table(
    store: &Store,
    table: &str,
    file: &Path,
    key_column: &str,
) -> Result<usize, String> {
    check_id("table", table)?;
    let rows = read_rows(file)?;
    let mut keyed = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        let key = match row.get(key_column) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => {
                return Err(format!(
                    "{}:{line}: the row has no key column \"{key_column}\"; nothing was loaded",
                    file.display()
                ))
            }
        };
        keyed.push((key, row));
    }
    store.load_rows(table, &keyed).map_err(|e| e.to_string())
}

/// The rows of a file with their line numbers.
fn read_rows(file: &Path) -> Result<Vec<(usize, Row)>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !csv {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(row)) => Ok((i + 1, row)),
                Ok(_) => Err(format!("{}:{}: not a JSON object", file.display(), i + 1)),
                Err(e) => Err(format!("{}:{}: {e}", file.display(), i + 1)),
            })
            .collect();
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("{}: {e}", file.display()))?
        .clone();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}:{}: {e}", file.display(), i + 2))?;
        let row: Map<String, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), cell(v)))
            .collect();
        rows.push((i + 2, row));
    }
    Ok(rows)
}

/// A CSV cell as the value it spells: an integer, a double, a boolean, or text.
fn cell(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>() {
        if f.is_finite() && text.chars().any(|c| c.is_ascii_digit()) {
            return Value::from(f);
        }
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    }
}

fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        Err(format!("the {what} is empty"))
    } else {
        Ok(())
    }
}
