//! The dynamic record of job files: a JSON object, and keys taken from its fields.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// An event: a JSON object whose fields keep their order.
pub type Event = Map<String, Value>;

/// Parses one record, a JSON object, into an event. The error says why the record is
/// not one (`not valid JSON: ...`, `not a JSON object: an array`).
///
/// The object's fields are read straight into an event sized for them; anything else
/// is read again as a plain value, only to say what it is.
pub fn parse_event(bytes: &[u8]) -> Result<Event, String> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};

    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Event;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
            // Room for seven fields without growing (a JSON reader gives no count).
            let mut event = Map::with_capacity(map.size_hint().unwrap_or(0).max(7));
            while let Some((key, value)) = map.next_entry::<String, Value>()? {
                event.insert(key, value);
            }
            Ok(event)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = de
        .deserialize_map(Fields)
        .and_then(|e| de.end().map(|()| e));
    parsed.or_else(|_| match serde_json::from_slice::<Value>(bytes) {
        Err(e) => Err(format!("not valid JSON: {e}")),
        Ok(Value::Object(event)) => Ok(event),
        Ok(other) => Err(format!("not a JSON object: {}", json_kind(&other))),
    })
}

/// The event time of `event`: `field` must hold an integer of epoch milliseconds. The
/// error is the reason the event is refused.
pub fn event_time(event: &Event, field: &str) -> Result<i64, String> {
    match event.get(field) {
        None => Err(format!("event-time field `{field}` is missing")),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or_default()),
        Some(other) => Err(format!(
            "event-time field `{field}` must be an integer of epoch milliseconds, not {}",
            json_kind(other)
        )),
    }
}

/// What a JSON value is, for messages: `null`, `a boolean`, `a float`, ...
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "a number out of range",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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
