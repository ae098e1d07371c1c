//! The dynamic record of job files: a JSON object, and keys taken from its fields.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// An event: a JSON object whose fields keep their order.
pub type Event = Map<String, Value>;

/// A key taken from an event field: hashable and comparable, and written back as the same
/// JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyValue {
    /// The field is missing or null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float, by its bits (so that it can be hashed).
    Float(u64),
    /// A string.
    Str(String),
    /// An array or object, by its JSON text.
    Json(String),
}

impl KeyValue {
    /// The key of a JSON value.
    pub fn of(value: Option<&Value>) -> KeyValue {
        match value {
            None | Some(Value::Null) => KeyValue::Null,
            Some(Value::Bool(b)) => KeyValue::Bool(*b),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    KeyValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    KeyValue::UInt(u)
                } else {
                    KeyValue::Float(n.as_f64().unwrap_or(f64::NAN).to_bits())
                }
            }
            Some(Value::String(s)) => KeyValue::Str(s.clone()),
            Some(v) => KeyValue::Json(v.to_string()),
        }
    }

    /// The key as a JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            KeyValue::Null => Value::Null,
            KeyValue::Bool(b) => Value::Bool(*b),
            KeyValue::Int(i) => Value::from(*i),
            KeyValue::UInt(u) => Value::from(*u),
            KeyValue::Float(bits) => Number::from_f64(f64::from_bits(*bits))
                .map(Value::Number)
                .unwrap_or(Value::Null),
            KeyValue::Str(s) => Value::String(s.clone()),
            KeyValue::Json(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip() {
        for v in [
            json!("a"),
            json!(-3),
            json!(18446744073709551615u64),
            json!(1.5),
            json!(true),
            json!(null),
            json!({"a": [1]}),
        ] {
            assert_eq!(KeyValue::of(Some(&v)).to_value(), v);
        }
        assert_eq!(KeyValue::of(None), KeyValue::Null);
    }
}
