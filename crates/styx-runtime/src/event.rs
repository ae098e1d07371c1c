//! The dynamic record of job files: a JSON object, and keys taken from its fields.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

mod flat;
mod origin;
pub use origin::{Input, Numbering, Origin};

/// A field name. The names events are decoded with are interned (see [`intern`]): a
/// copied reference, never allocated or freed per event.
pub type Name = Cow<'static, str>;

/// An event: a JSON object whose fields keep their order.
///
/// The fields are a small vector of (name, value) searched in order: events have few
/// fields, and comparing a short name costs less than hashing it. Names are shared
/// ([`Name`]): decoding an event does not allocate its field names (see [`intern`]), and
/// freeing it frees only its values.
/// The methods behave as those of a `serde_json` map with `preserve_order`: `insert` of a
/// present name replaces its value in place, `remove` moves the last field into the
/// removed one's place, equality ignores the order of the fields.
#[derive(Clone, Default)]
pub struct Event {
    fields: Vec<(Name, Value)>,
    /// Where it was read (not a field: never written out nor compared).
    origin: Origin,
}

impl Event {
    /// An event without fields.
    pub fn new() -> Event {
        Event {
            fields: Vec::new(),
            origin: Origin::default(),
        }
    }

    /// An event with room for `n` fields.
    pub fn with_capacity(n: usize) -> Event {
        Event {
            fields: Vec::with_capacity(n),
            origin: Origin::default(),
        }
    }

    /// Where the event was read (see [`Origin`]).
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Records where the event was read.
    pub fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the event has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| same_name(n, name))
    }

    /// Adds a field read by a decoder (its name from [`Names`]): a repeated name keeps
    /// its first place and takes the last value. `met` holds one bit per address of the
    /// interned names added so far (0 for a new event): a name is looked for among the
    /// earlier fields only when its bit is set (equal interned names have equal
    /// addresses; names that could not be interned are always looked for).
    #[inline]
    fn put_decoded(&mut self, name: Name, value: Value, met: &mut u64) {
        let bit = match &name {
            Cow::Borrowed(n) => {
                let at = n.as_ptr() as usize;
                1 << ((at >> 3 ^ at >> 9) & 63)
            }
            Cow::Owned(_) => 0,
        };
        let earlier = if *met & bit == 0 && bit != 0 {
            None
        } else {
            self.position_decoded(&name)
        };
        *met |= bit;
        match earlier {
            Some(i) => self.fields[i].1 = value,
            None => self.fields.push((name, value)),
        }
    }

    /// [`Event::position`] for a name of a decoder ([`Names`]): an interned name is the
    /// same reference wherever it occurs, so it is compared by address.
    fn position_decoded(&self, name: &Name) -> Option<usize> {
        match name {
            Cow::Borrowed(n) => self.fields.iter().position(|(f, _)| match f {
                Cow::Borrowed(f) => std::ptr::eq(*f, *n),
                Cow::Owned(_) => false,
            }),
            Cow::Owned(n) => self.position(n),
        }
    }

    /// The value of field `name`.
    ///
    /// A name passed as an interned one (`&*intern(name)`) is found by its address in the
    /// events decoded with it, without comparing text.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v)
    }

    /// The value of field `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v)
    }

    /// Whether the event has field `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets field `name`: a present field keeps its place, a new one goes last. The
    /// value it had, if any.
    pub fn insert(&mut self, name: impl AsRef<str> + Into<Name>, value: Value) -> Option<Value> {
        match self.position(name.as_ref()) {
            Some(i) => Some(std::mem::replace(&mut self.fields[i].1, value)),
            None => {
                self.fields.push((name.into(), value));
                None
            }
        }
    }

    /// Adds field `name`, known to be absent, last (decoders and builders of fresh
    /// events).
    pub fn push(&mut self, name: Name, value: Value) {
        self.fields.push((name, value));
    }

    /// Removes field `name`; the last field takes its place.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        Some(self.fields.swap_remove(i).1)
    }

    /// Removes field `name`; the fields after it keep their order.
    pub fn shift_remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        Some(self.fields.remove(i).1)
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Value)> + '_ {
        self.fields.iter().map(|(n, v)| (n, v))
    }

    /// The field names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Name> + '_ {
        self.fields.iter().map(|(n, _)| n)
    }

    /// The values, in field order.
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.fields.iter().map(|(_, v)| v)
    }

    /// The event as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        let mut map = Map::with_capacity(self.fields.len());
        for (n, v) in self.fields {
            map.insert(n.to_string(), v);
        }
        map
    }

    /// The event as a JSON object value.
    pub fn into_value(self) -> Value {
        Value::Object(self.into_map())
    }
}

/// Whether field name `n` is `name`: the same text, found at once when both are the same
/// interned name.
#[inline(always)]
fn same_name(n: &str, name: &str) -> bool {
    std::ptr::eq(n, name) || n == name
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.len() == other.len() && self.iter().all(|(n, v)| other.get(n) == Some(v))
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::new();
        self.write_json(&mut text);
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl From<Map<String, Value>> for Event {
    fn from(map: Map<String, Value>) -> Event {
        let mut event = Event::with_capacity(map.len());
        for (n, v) in map {
            event.fields.push((intern(&n), v));
        }
        event
    }
}

impl From<Event> for Map<String, Value> {
    fn from(event: Event) -> Map<String, Value> {
        event.into_map()
    }
}

impl From<Event> for Value {
    fn from(event: Event) -> Value {
        event.into_value()
    }
}

impl<N: AsRef<str> + Into<Name>> FromIterator<(N, Value)> for Event {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Event {
        let mut event = Event::new();
        event.extend(iter);
        event
    }
}

impl<N: AsRef<str> + Into<Name>> Extend<(N, Value)> for Event {
    fn extend<I: IntoIterator<Item = (N, Value)>>(&mut self, iter: I) {
        for (n, v) in iter {
            self.insert(n, v);
        }
    }
}

impl IntoIterator for Event {
    type Item = (Name, Value);
    type IntoIter = std::vec::IntoIter<(Name, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

impl<'a> IntoIterator for &'a Event {
    type Item = (&'a Name, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Name, Value)>,
        fn(&'a (Name, Value)) -> (&'a Name, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter().map(|(n, v)| (n, v))
    }
}

impl std::ops::Index<&str> for Event {
    type Output = Value;
    /// The value of field `name`, or `null` when the event has none (as a JSON map).
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl Event {
    /// Appends the event as a JSON object to `out`: the same text as `serde_json`
    /// writes, without going through a serializer for the common values (names and
    /// strings without characters to escape, integers).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (name, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, name);
            out.push(b':');
            write_json_value(out, value);
        }
        out.push(b'}');
    }
}

/// Appends `value` as `serde_json` writes it.
fn write_json_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::String(s) => write_json_str(out, s),
        Value::Number(n) if n.is_i64() => out.extend_from_slice(
            itoa::Buffer::new()
                .format(n.as_i64().unwrap_or_default())
                .as_bytes(),
        ),
        // Floats, unsigned integers above i64 and nested values: as serde_json writes them
        // (writing to a vector cannot fail).
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// Appends `s` as a JSON string: copied between quotes when no character needs an
/// escape, otherwise as `serde_json` escapes it.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if first_to_escape(s.as_bytes()).is_none() {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// The offset of the first byte of `s` that JSON escapes in strings: a control
/// character, `"` or `\` (eight bytes at a time). The writer copies a string without one
/// as it is; the decoder finds where a string ends (or has an escape) with it.
#[inline(always)]
fn first_to_escape(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte of `v` below `n` (n <= 0x80) sets its high bit here; bytes above the first
    // one may be set wrongly, the first never is.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    let mut at = 0;
    while let Some(chunk) = s.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let found = below(v, 0x20)
            | below(v ^ (ONES * b'"' as u64), 1)
            | below(v ^ (ONES * b'\\' as u64), 1);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = s.get(at..)?;
    rest.iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| at + i)
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (n, v) in &self.fields {
            map.serialize_entry(&**n, v)?;
        }
        map.end()
    }
}

/// Reads a JSON object into an event, its names interned with the thread's [`Names`];
/// with `only`, the fields of other names are checked as JSON and left out.
struct Fields<'n> {
    names: &'n mut Names,
    only: Option<&'n [String]>,
}

impl<'de> serde::de::Visitor<'de> for Fields<'_> {
    type Value = Event;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        // Room for seven fields without growing (a JSON reader gives no count).
        let mut event = Event::with_capacity(map.size_hint().unwrap_or(0).max(7));
        let mut met = 0;
        while let Some(name) = map.next_key_seed(NameAt {
            at: event.fields.len(),
            names: &mut *self.names,
            only: self.only,
        })? {
            let Some(name) = name else {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            };
            let value: Value = map.next_value()?;
            event.put_decoded(name, value, &mut met);
        }
        Ok(event)
    }
}

/// Reads the name of the field at position `at` of an event, interned; `None` for a
/// name that is not among `only`.
struct NameAt<'n> {
    at: usize,
    names: &'n mut Names,
    only: Option<&'n [String]>,
}

impl<'de> serde::de::DeserializeSeed<'de> for NameAt<'_> {
    type Value = Option<Name>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<Name>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NameAt<'_> {
    type Value = Option<Name>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<Name>, E> {
        if self
            .only
            .is_some_and(|only| !only.iter().any(|f| f == name))
        {
            return Ok(None);
        }
        Ok(Some(self.names.at(self.at, name)))
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        NAMES.with(|names| {
            deserializer.deserialize_map(Fields {
                names: &mut names.borrow_mut(),
                only: None,
            })
        })
    }
}

/// How many distinct names the process interns, and how long one may be; further or
/// longer names are allocated with their events.
const MAX_NAMES: usize = 1 << 16;
const MAX_NAME_LEN: usize = 256;

/// The interned names of the process: kept for its lifetime (at most [`MAX_NAMES`] of
/// at most [`MAX_NAME_LEN`] bytes).
static INTERNED: std::sync::Mutex<Option<HashSet<&'static str>>> = std::sync::Mutex::new(None);

/// The interned `name`, or an owned copy when it cannot be interned.
fn intern_global(name: &str) -> Name {
    if name.len() > MAX_NAME_LEN {
        return Cow::Owned(name.to_string());
    }
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    let set = interned.get_or_insert_with(HashSet::new);
    if let Some(n) = set.get(name) {
        return Cow::Borrowed(n);
    }
    if set.len() >= MAX_NAMES {
        return Cow::Owned(name.to_string());
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(leaked);
    Cow::Borrowed(leaked)
}

/// A thread's view of the interned names: those it has met, and by the position in an
/// event it last met them at (events of one stream mostly have the same fields in the
/// same order, so the name last seen at a position is tried first).
#[derive(Default)]
struct Names {
    seen: HashSet<&'static str>,
    by_position: Vec<&'static str>,
}

impl Names {
    #[inline]
    fn at(&mut self, at: usize, name: &str) -> Name {
        if let Some(n) = self.by_position.get(at) {
            if flat::same(n.as_bytes(), name.as_bytes()) {
                return Cow::Borrowed(n);
            }
        }
        let found = match self.seen.get(name) {
            Some(n) => *n,
            None => match intern_global(name) {
                Cow::Borrowed(n) => {
                    self.seen.insert(n);
                    n
                }
                owned => return owned,
            },
        };
        if at < 64 {
            if self.by_position.len() <= at {
                self.by_position.resize(at + 1, "");
            }
            self.by_position[at] = found;
        }
        Cow::Borrowed(found)
    }
}

thread_local! {
    static NAMES: std::cell::RefCell<Names> = std::cell::RefCell::new(Names::default());
}

/// The interned name `name` (an owned copy past the interning bounds).
pub fn intern(name: &str) -> Name {
    NAMES.with(|names| names.borrow_mut().at(usize::MAX, name))
}

/// Parses one record, a JSON object, into an event. The error says why the record is
/// not one (`not valid JSON: ...`, `not a JSON object: an array`).
///
/// The object's fields are read straight into an event sized for them; anything else
/// is read again as a plain value, only to say what it is.
pub fn parse_event(bytes: &[u8]) -> Result<Event, String> {
    parse_event_fields(bytes, None)
}

/// [`parse_event`] keeping only the fields named in `only` (all without it): a job that
/// reads a few fields of wide records and passes none of them on does not build the
/// others. The fields left out are still checked to be JSON.
pub fn parse_event_fields(bytes: &[u8], only: Option<&[String]>) -> Result<Event, String> {
    use serde::de::Deserializer as _;

    // Text checked as UTF-8 once: a flat object of plain values is read in one pass
    // (`flat`), any other by sonic-rs's deserializer, neither checking strings again.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => NAMES.with(|names| {
            let names = &mut names.borrow_mut();
            flat::decode(text, names, only).or_else(|| {
                // sonic-rs reads a negative zero (`-0`, `-0.0`, `-0e1`) as 0.0: records
                // that may hold one are read by serde_json below.
                if bytes
                    .windows(3)
                    .any(|w| w[0] == b'-' && w[1] == b'0' && !w[2].is_ascii_digit())
                {
                    return None;
                }
                let mut de = sonic_rs::Deserializer::from_str(text);
                de.deserialize_map(Fields { names, only })
                    .and_then(|e| de.end().map(|()| e))
                    .ok()
            })
        }),
        Err(_) => None,
    };
    parsed
        .map(Ok)
        .unwrap_or_else(|| match serde_json::from_slice::<Value>(bytes) {
            Err(e) => Err(format!("not valid JSON: {e}")),
            Ok(Value::Object(event)) => Ok(match only {
                None => Event::from(event),
                Some(only) => event
                    .into_iter()
                    .filter(|(name, _)| only.contains(name))
                    .collect(),
            }),
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

    proptest::proptest! {
        /// Any bytes decode as serde_json reads them: the same event, or an error.
        #[test]
        fn events_decode_as_serde_json_reads_them(
            text in "\\{(\"(a|b|é|\\\\u00e9|\\\\ud800)\": ?(-?[0-9]{1,3}(\\.[0-9])?|\"[a-zé\\\\]{0,3}\"|null|true|\\[1\\]|\\{\\}),? ?){0,3}\\}",
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..2),
        ) {
            let mut bytes = text.into_bytes();
            bytes.extend(noise);
            let ours = parse_event(&bytes);
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => proptest::prop_assert_eq!(ours, Ok(Event::from(map))),
                _ => proptest::prop_assert!(ours.is_err()),
            }
        }
    }

    proptest::proptest! {
        /// Kept fields decode as serde_json reads them, and the text is refused exactly
        /// when serde_json refuses it, whatever the fields left out hold.
        #[test]
        fn kept_fields_decode_as_serde_json_reads_them(
            text in "[ \t\r\n]{0,2}\\{[ \n]{0,1}(\"(k|x|\\\\u006b|k\\\\n)\"[ \t]{0,1}:[ \r]{0,1}(-?(0|00|01|[1-9][0-9]{0,20})(\\.[0-9]{0,2})?([eE][-+]?[0-9]{0,3})?|-|\"([a-z]|\\\\[nu\"/bx]|\u{1}|é){0,4}\"|nul|null|true|tru|false|\\[(1|\"a\"|\\{\\}),?\\]|\\{\"y\":(2|\"\\u{1f}\")\\}),?[ \t]{0,1}){0,4}\\}[ \n]{0,2}(x|\\}|,)?",
        ) {
            let only = ["k".to_string()];
            let ours = parse_event_fields(text.as_bytes(), Some(&only));
            match serde_json::from_slice::<Value>(text.as_bytes()) {
                Ok(Value::Object(map)) => proptest::prop_assert_eq!(
                    ours,
                    Ok(map.into_iter().filter(|(n, _)| n == "k").collect::<Event>())
                ),
                _ => proptest::prop_assert!(ours.is_err()),
            }
        }

        /// Events are written as serde_json writes them.
        #[test]
        fn events_are_written_as_serde_json_writes_them(
            text in "\\{(\"(a|b|é|\\\\n|\\\\\"|long name with spaces)\": ?(-?[0-9]{1,20}(\\.[0-9]{1,3})?(e-?[0-9]{1,3})?|\"[a-zé\\\\\"\u{1}\u{7f}]{0,12}\"|\"\\\\u001f\"|null|true|false|\\[1,\"x\"\\]|\\{\"y\":2.5\\}),? ?){0,4}\\}",
        ) {
            if let Ok(event) = parse_event(text.as_bytes()) {
                let mut ours = Vec::new();
                event.write_json(&mut ours);
                proptest::prop_assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    serde_json::to_string(&event).unwrap()
                );
            }
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let text = r#"{"a\n":"x\"y\u0001","b":-0,"c":1e20,"d":0.1,"e":18446744073709551615,"f":-9223372036854775808,"g":[1,{"h":null}],"i":true,"long name, with \\ and more":"plain text of some length"}"#;
        let event = parse_event(text.as_bytes()).unwrap();
        let mut ours = Vec::new();
        event.write_json(&mut ours);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&event).unwrap()
        );
    }

    #[test]
    fn escapes_are_found_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    // A later byte to escape must not hide the first one.
                    if at + 1 < len {
                        s[len - 1] = b'"';
                    }
                    let first = if b < 0x20 || b == b'"' || b == b'\\' {
                        Some(at)
                    } else if at + 1 < len {
                        Some(len - 1)
                    } else {
                        None
                    };
                    assert_eq!(first_to_escape(&s), first, "byte {b} at {at} of {len}");
                }
            }
        }
    }

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

    #[test]
    fn events_behave_as_ordered_json_objects() {
        let text = r#"{"b":1,"a":{"x":[1,2]},"c":"s","b":2}"#;
        let mut e = parse_event(text.as_bytes()).unwrap();
        // A repeated name keeps its first place and its last value.
        assert_eq!(e.to_string(), r#"{"b":2,"a":{"x":[1,2]},"c":"s"}"#);
        assert_eq!(e.insert("a", json!(0)), Some(json!({"x": [1, 2]})));
        assert_eq!(e.insert("d", json!(true)), None);
        assert_eq!(e.to_string(), r#"{"b":2,"a":0,"c":"s","d":true}"#);
        // remove moves the last field into the gap; shift_remove keeps the order.
        assert_eq!(e.remove("b"), Some(json!(2)));
        assert_eq!(e.to_string(), r#"{"d":true,"a":0,"c":"s"}"#);
        assert_eq!(e.shift_remove("d"), Some(json!(true)));
        assert_eq!(e.to_string(), r#"{"a":0,"c":"s"}"#);
        // Equality ignores the order of the fields, as a JSON object's does.
        let same = parse_event(br#"{"c":"s","a":0}"#).unwrap();
        assert_eq!(e, same);
        assert_eq!(e["missing"], Value::Null);
        let back: Event = serde_json::from_str(&e.to_string()).unwrap();
        assert_eq!(back.into_map(), e.clone().into_map());
    }

    #[test]
    fn names_are_interned_and_bounded() {
        let a = parse_event(br#"{"amount":1}"#).unwrap();
        let b = parse_event(br#"{"amount":2}"#).unwrap();
        let (Cow::Borrowed(x), Cow::Borrowed(y)) =
            (a.keys().next().unwrap(), b.keys().next().unwrap())
        else {
            panic!("names are interned");
        };
        assert!(std::ptr::eq(*x, *y));
        let long = "n".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(intern(&long), Cow::Owned(_)));
    }

    #[test]
    fn negative_zeros_stay_negative() {
        // The nested value sends the record past the flat decoder.
        for text in [
            r#"{"a":[1],"z":-0.0}"#,
            r#"{"a":[1],"z":-0e3}"#,
            r#"{"a":[1],"z":-0}"#,
            r#"{"z":-0.0}"#,
        ] {
            let ours = parse_event(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        }
    }

    #[test]
    fn only_the_fields_asked_for_are_kept() {
        let only = ["ts".to_string(), "v".to_string()];
        let e = parse_event_fields(
            br#"{"k":"a","ts":5,"skip":{"deep":[1,{"x":null}]},"v":1.5}"#,
            Some(&only),
        )
        .unwrap();
        assert_eq!(e.to_string(), r#"{"ts":5,"v":1.5}"#);
        // Fields left out must still be JSON.
        assert!(parse_event_fields(br#"{"ts":5,"skip":[1,}"#, Some(&only))
            .unwrap_err()
            .starts_with("not valid JSON"));
    }
}
