//! The aggregates of window transforms over JSON events: `count`, `sum(f)`, `min(f)`,
//! `max(f)`, `avg(f)`.
//!
//! `count` counts events. `sum`, `min` and `max` of integer fields are integers, and
//! floats as soon as one value is a float; `avg` is always a float. Events whose field is
//! missing, null or not a number are left out of that aggregate.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use styx_runtime::event::{intern, Event, Name};
use styx_runtime::window::AggregateFunction;

/// One aggregate of a window transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggKind {
    /// The number of events.
    Count,
    /// The sum of a field.
    Sum(String),
    /// The smallest value of a field.
    Min(String),
    /// The largest value of a field.
    Max(String),
    /// The mean of a field.
    Avg(String),
}

impl AggKind {
    /// The field it aggregates (none for `count`).
    pub fn field(&self) -> Option<&str> {
        match self {
            AggKind::Count => None,
            AggKind::Sum(f) | AggKind::Min(f) | AggKind::Max(f) | AggKind::Avg(f) => Some(f),
        }
    }

    /// Parses `count`, `sum(field)`, `min(field)`, `max(field)`, `avg(field)`.
    pub fn parse(spec: &str) -> Result<AggKind, String> {
        let spec = spec.trim();
        if spec == "count" || spec == "count()" {
            return Ok(AggKind::Count);
        }
        let bad = || {
            format!(
                "unknown aggregate \"{spec}\": expected count, sum(field), min(field), \
                 max(field) or avg(field)"
            )
        };
        let (name, rest) = spec.split_once('(').ok_or_else(bad)?;
        let field = rest.strip_suffix(')').ok_or_else(bad)?.trim();
        if field.is_empty() {
            return Err(bad());
        }
        let field = field.to_string();
        match name.trim() {
            "sum" => Ok(AggKind::Sum(field)),
            "min" => Ok(AggKind::Min(field)),
            "max" => Ok(AggKind::Max(field)),
            "avg" => Ok(AggKind::Avg(field)),
            _ => Err(bad()),
        }
    }
}

/// A number as aggregated: exact while integer. Integers past `i64` (a sum that grew
/// beyond it, a `u64` value) are kept on the heap, so that the common number takes 16
/// bytes: accumulators are many and read often, and their size is the aggregation's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "NumText", into = "NumText")]
pub enum Num {
    /// An integer of `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// An integer beyond `i64`.
    Wide(Box<i128>),
}

/// How a [`Num`] is saved in checkpoints.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Num")]
enum NumText {
    Int(i128),
    Float(f64),
}

impl From<NumText> for Num {
    fn from(n: NumText) -> Num {
        match n {
            NumText::Int(i) => Num::int(i),
            NumText::Float(f) => Num::Float(f),
        }
    }
}

impl From<Num> for NumText {
    fn from(n: Num) -> NumText {
        match n {
            Num::Int(i) => NumText::Int(i as i128),
            Num::Wide(w) => NumText::Int(*w),
            Num::Float(f) => NumText::Float(f),
        }
    }
}

impl Num {
    /// An integer, in place when it fits an `i64`.
    fn int(i: i128) -> Num {
        match i64::try_from(i) {
            Ok(i) => Num::Int(i),
            Err(_) => Num::Wide(Box::new(i)),
        }
    }

    fn of(value: Option<&Value>) -> Option<Num> {
        match value? {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Some(Num::Int(i))
                } else if let Some(u) = n.as_u64() {
                    Some(Num::int(u as i128))
                } else {
                    n.as_f64().map(Num::Float)
                }
            }
            _ => None,
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Num::Int(i) => *i as f64,
            Num::Wide(w) => **w as f64,
            Num::Float(f) => *f,
        }
    }

    /// The integer, if it is one.
    fn as_i128(&self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(*i as i128),
            Num::Wide(w) => Some(**w),
            Num::Float(_) => None,
        }
    }

    /// Adds `other` in place.
    fn add(&mut self, other: &Num) {
        *self = match (&*self, other) {
            (Num::Float(a), Num::Float(b)) => Num::Float(a + b),
            (Num::Int(a), Num::Int(b)) => match a.checked_add(*b) {
                Some(sum) => Num::Int(sum),
                None => Num::int(*a as i128 + *b as i128),
            },
            (a, b) => match (a.as_i128(), b.as_i128()) {
                (Some(a), Some(b)) => Num::int(a.wrapping_add(b)),
                _ => Num::Float(a.as_f64() + b.as_f64()),
            },
        };
    }

    fn less(&self, other: &Num) -> bool {
        match (self, other) {
            (Num::Float(a), Num::Float(b)) => a < b,
            (Num::Int(a), Num::Int(b)) => a < b,
            (a, b) => match (a.as_i128(), b.as_i128()) {
                (Some(a), Some(b)) => a < b,
                _ => a.as_f64() < b.as_f64(),
            },
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Num::Int(i) => Value::from(*i),
            Num::Wide(w) => u64::try_from(**w)
                .map(Value::from)
                .unwrap_or_else(|_| float_value(**w as f64)),
            Num::Float(f) => float_value(*f),
        }
    }
}

fn float_value(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Folds `v` into a sum, minimum or maximum.
fn fold(kind: &AggKind, cur: &mut Option<Num>, v: &Num) {
    match (kind, cur) {
        (_, cur @ None) => *cur = Some(v.clone()),
        (AggKind::Sum(_), Some(c)) => c.add(v),
        (AggKind::Min(_), Some(c)) if v.less(c) => c.clone_from(v),
        (AggKind::Max(_), Some(c)) if c.less(v) => c.clone_from(v),
        _ => {}
    }
}

/// The running state of one aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Slot {
    /// Events counted.
    Count(u64),
    /// A sum, a minimum or a maximum so far (none before the first value).
    Num(Option<Num>),
    /// Sum and count of the values.
    Avg(Num, u64),
}

/// All aggregates of a window transform, as one aggregate function over events.
pub struct JsonAggregates {
    specs: Vec<(Name, AggKind)>,
    /// The field each aggregate reads (none for `count`), interned: found in events by
    /// address.
    fields: Vec<Option<Name>>,
}

impl JsonAggregates {
    /// Aggregates named by output field.
    pub fn new(specs: Vec<(String, AggKind)>) -> Self {
        let fields = specs
            .iter()
            .map(|(_, kind)| kind.field().map(intern))
            .collect();
        JsonAggregates {
            specs: specs
                .into_iter()
                .map(|(name, kind)| (intern(&name), kind))
                .collect(),
            fields,
        }
    }

    /// Writes the results into `out`, in declaration order; `fresh`: `out` has none of
    /// their names yet, so they are added without looking for them.
    pub fn write(&self, acc: &[Slot], out: &mut Event, fresh: bool) {
        for ((name, _), slot) in self.specs.iter().zip(acc) {
            let value = match slot {
                Slot::Count(n) => Value::from(*n),
                Slot::Num(v) => v.as_ref().map_or(Value::Null, Num::to_value),
                Slot::Avg(_, 0) => Value::Null,
                Slot::Avg(sum, n) => float_value(sum.as_f64() / *n as f64),
            };
            if fresh {
                out.push(name.clone(), value);
            } else {
                out.insert(name.clone(), value);
            }
        }
    }

    /// Whether no aggregate is named as one of `names` (or as another aggregate).
    pub fn names_differ_from(&self, names: &[&str]) -> bool {
        let mut all: Vec<&str> = names.to_vec();
        all.extend(self.specs.iter().map(|(n, _)| &**n));
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        all.len() == count
    }
}

impl AggregateFunction<Event> for JsonAggregates {
    type Acc = Vec<Slot>;
    type Out = Vec<Slot>;

    fn create(&self) -> Vec<Slot> {
        self.specs
            .iter()
            .map(|(_, kind)| match kind {
                AggKind::Count => Slot::Count(0),
                AggKind::Avg(_) => Slot::Avg(Num::Int(0), 0),
                _ => Slot::Num(None),
            })
            .collect()
    }

    fn add(&self, acc: &mut Vec<Slot>, event: &Event) {
        for (((_, kind), field), slot) in self.specs.iter().zip(&self.fields).zip(acc.iter_mut()) {
            let value = || Num::of(event.get(field.as_deref()?));
            match (kind, slot) {
                (AggKind::Count, Slot::Count(n)) => *n += 1,
                (AggKind::Avg(_), Slot::Avg(sum, n)) => {
                    if let Some(v) = value() {
                        sum.add(&v);
                        *n += 1;
                    }
                }
                (AggKind::Sum(_) | AggKind::Min(_) | AggKind::Max(_), Slot::Num(cur)) => {
                    if let Some(v) = value() {
                        fold(kind, cur, &v);
                    }
                }
                _ => {}
            }
        }
    }

    fn merge(&self, acc: &mut Vec<Slot>, other: &Vec<Slot>) {
        for ((_, kind), (slot, o)) in self.specs.iter().zip(acc.iter_mut().zip(other)) {
            match (slot, o) {
                (Slot::Count(a), Slot::Count(b)) => *a += b,
                (Slot::Avg(s, n), Slot::Avg(s2, n2)) => {
                    s.add(s2);
                    *n += n2;
                }
                (Slot::Num(a), Slot::Num(Some(b))) => fold(kind, a, b),
                _ => {}
            }
        }
    }

    fn result(&self, acc: &Vec<Slot>) -> Vec<Slot> {
        acc.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_specs() {
        assert_eq!(AggKind::parse("count").unwrap(), AggKind::Count);
        assert_eq!(
            AggKind::parse("sum(qty)").unwrap(),
            AggKind::Sum("qty".into())
        );
        assert!(AggKind::parse("median(x)").is_err());
        assert!(AggKind::parse("sum()").is_err());
    }

    #[test]
    fn integers_past_i64_stay_exact_and_save_as_before() {
        let aggs = JsonAggregates::new(vec![
            ("s".into(), AggKind::Sum("v".into())),
            ("hi".into(), AggKind::Max("v".into())),
        ]);
        let mut acc = aggs.create();
        for v in [
            json!(i64::MAX),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(-i64::MAX),
        ] {
            let e = Event::from(json!({ "v": v }).as_object().unwrap().clone());
            aggs.add(&mut acc, &e);
        }
        let mut out = Event::new();
        aggs.write(&acc, &mut out, true);
        // 2 * (2^63 - 1) + (2^64 - 1) - (2^63 - 1) = 2^64 + 2^63 - 2: past u64, a float.
        assert_eq!(
            out.to_string(),
            r#"{"s":2.7670116110564327e+19,"hi":18446744073709551615}"#
        );
        // Checkpoints keep integers as 128-bit ones, as they always have.
        let saved = serde_json::to_string(&acc).unwrap();
        assert_eq!(
            saved,
            r#"[{"Num":{"Int":27670116110564327422}},{"Num":{"Int":18446744073709551615}}]"#
        );
        let restored: Vec<Slot> = serde_json::from_str(&saved).unwrap();
        assert_eq!(restored, acc);
        let mut back = aggs.create();
        aggs.merge(&mut back, &restored);
        aggs.add(
            &mut back,
            &Event::from(json!({ "v": -(i64::MAX) }).as_object().unwrap().clone()),
        );
        aggs.add(
            &mut back,
            &Event::from(json!({ "v": -(i64::MAX) }).as_object().unwrap().clone()),
        );
        let mut out = Event::new();
        aggs.write(&back, &mut out, true);
        // Back below 2^64 after two more: exact again.
        assert_eq!(
            out.to_string(),
            r#"{"s":9223372036854775808,"hi":18446744073709551615}"#
        );
    }

    #[test]
    fn integers_stay_integers_and_avg_is_float() {
        let aggs = JsonAggregates::new(vec![
            ("n".into(), AggKind::Count),
            ("s".into(), AggKind::Sum("v".into())),
            ("lo".into(), AggKind::Min("v".into())),
            ("avg".into(), AggKind::Avg("v".into())),
            ("f".into(), AggKind::Sum("f".into())),
        ]);
        let mut acc = aggs.create();
        for (v, f) in [(3, 0.5), (-5, 1.0), (11, 2.0)] {
            let e = Event::from(json!({"v": v, "f": f}).as_object().unwrap().clone());
            aggs.add(&mut acc, &e);
        }
        let mut out = Event::new();
        aggs.write(&acc, &mut out, true);
        assert_eq!(
            out.to_string(),
            r#"{"n":3,"s":9,"lo":-5,"avg":3.0,"f":3.5}"#
        );
    }
}
