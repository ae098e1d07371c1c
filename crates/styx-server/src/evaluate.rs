//! Records in and results out as JSON: an EvaluationRequest's arguments into a row of
//! the model, the results into an EvaluationResponse.

use serde_json::{Map, Number, Value};
use styx_pmml::{DataType, Model, ResultValue, Row, Scratch};

/// Scores `arguments` (field name -> value; absent or `null` is missing) with `model`;
/// the results by column name, or why the record cannot be scored.
pub(crate) fn evaluate(
    model: &Model,
    arguments: &Map<String, Value>,
    row: &mut Row,
    scratch: &mut Scratch,
) -> Result<Map<String, Value>, String> {
    fill_row(model, arguments, row)?;
    model.evaluate(row, scratch).map_err(|e| e.to_string())?;
    Ok(results(model, |col| model.result(scratch, col)))
}

/// Writes `arguments` into `row` (cleared first), or says which argument the model
/// cannot read.
pub(crate) fn fill_row(
    model: &Model,
    arguments: &Map<String, Value>,
    row: &mut Row,
) -> Result<(), String> {
    row.clear();
    for (i, field) in model.input_fields().iter().enumerate() {
        match arguments.get(&field.name) {
            None | Some(Value::Null) => row.set_missing(i),
            Some(Value::Number(n)) if field.data_type == DataType::String => {
                row.set_text(i, &n.to_string())
            }
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) => row.set_number(i, x),
                None => row.set_missing(i),
            },
            Some(Value::String(s)) => row.set_text(i, s),
            Some(Value::Bool(b)) => row.set_bool(i, *b),
            // The items of a transaction (the input of a transactional association model).
            Some(Value::Array(items)) => {
                row.clear_items(i);
                for item in items {
                    match item {
                        Value::Null => row.push_item(i, ""),
                        Value::String(s) => row.push_item(i, s),
                        Value::Number(n) => row.push_item(i, &n.to_string()),
                        Value::Bool(b) => row.push_item(i, if *b { "true" } else { "false" }),
                        other => {
                            return Err(format!("Field \"{}\": {other} is not an item", field.name))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "Field \"{}\": {other} is not a value of the field",
                    field.name
                ))
            }
        }
    }
    Ok(())
}

/// A scored record's results by column name; `result(col)` gives column `col`.
pub(crate) fn results<'a>(
    model: &Model,
    result: impl Fn(usize) -> ResultValue<'a>,
) -> Map<String, Value> {
    let mut results = Map::with_capacity(model.result_columns().len());
    for (col, column) in model.result_columns().iter().enumerate() {
        results.insert(column.name.clone(), json(result(col), column.data_type));
    }
    results
}

/// A result as JSON, typed by its column: a double or float with a fraction or an
/// exponent, an integer, a boolean, text; `null` when missing; NaN and the infinities as
/// the strings Java writes.
fn json(value: ResultValue<'_>, data_type: DataType) -> Value {
    let number = |x: f64| match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    };
    match value {
        ResultValue::Missing => Value::Null,
        ResultValue::Number(x) => match data_type {
            DataType::Integer if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
            DataType::String => Value::String(styx_text(value)),
            _ => number(x),
        },
        ResultValue::Float(x) => {
            // The shortest text that reads back to the same f32, as a double.
            let mut text = String::new();
            styx_pmml::format::write_float(x, &mut text);
            text.parse::<f64>().map_or(Value::Null, number)
        }
        ResultValue::Integer(i) => match data_type {
            DataType::Double | DataType::Float => number(i as f64),
            DataType::String => Value::String(i.to_string()),
            _ => Value::from(i),
        },
        ResultValue::Bool(b) => Value::Bool(b),
        ResultValue::Str(s) => Value::String(s.to_string()),
    }
}

/// A result as the text `styx score` writes.
fn styx_text(value: ResultValue<'_>) -> String {
    let mut text = String::new();
    value.write_to(&mut text);
    text
}
