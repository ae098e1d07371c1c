//! `type = "baseline"`: each event next to its key's own recent past.
//!
//! Every event goes on with aggregates of the earlier events of its key whose event time
//! lies within `over` before its own (`[ts - over, ts)`): `count`, `sum(f)`, `min(f)`,
//! `max(f)`, `avg(f)` and `stddev(f)`. The events are those that arrived before it;
//! the current one is not among them. With `period`, the key's events come at most one
//! per period (the results of a tumbling window of that size, say), and periods without
//! an event count as a value of zero: `avg(tweets)` over ten one-minute periods is the
//! sum of the counts divided by ten, however many of the minutes had tweets.
//!
//! The history of each key is keyed state (in checkpoints); it is dropped once the
//! watermark has passed its newest event by `over`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use styx_runtime::event::{intern, Event, KeyValue, Name};
use styx_runtime::keyed::{KeyedContext, KeyedProcessFunction};
use styx_runtime::stream::DataStream;
use styx_runtime::time::{TimeDomain, Timestamp};

use crate::aggregate::AggKind;
use crate::config::BaselineConfig;
use crate::failures::{Failures, Policy};

/// One aggregate over the history, by the index of the field it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stat {
    Count,
    Sum(usize),
    Min(usize),
    Max(usize),
    Avg(usize),
    Stddev(usize),
}

/// The aggregates of a baseline transform: output field and aggregate, and the fields
/// they read.
#[derive(Debug, Clone)]
struct Spec {
    outputs: Vec<(Name, Stat)>,
    fields: Vec<String>,
}

/// Parses the `aggregates` table: window aggregates and `stddev(field)`.
fn spec(id: &str, config: &BaselineConfig) -> Result<Spec, Vec<String>> {
    let mut fields: Vec<String> = Vec::new();
    let mut index = |f: String| match fields.iter().position(|g| *g == f) {
        Some(i) => i,
        None => {
            fields.push(f);
            fields.len() - 1
        }
    };
    let mut outputs = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in &config.aggregates {
        let stddev = text
            .trim()
            .strip_prefix("stddev(")
            .and_then(|r| r.strip_suffix(')'))
            .map(str::trim)
            .filter(|f| !f.is_empty());
        let stat = match stddev {
            Some(f) => Ok(Stat::Stddev(index(f.to_string()))),
            None => AggKind::parse(text)
                .map(|k| match k {
                    AggKind::Count => Stat::Count,
                    AggKind::Sum(f) => Stat::Sum(index(f)),
                    AggKind::Min(f) => Stat::Min(index(f)),
                    AggKind::Max(f) => Stat::Max(index(f)),
                    AggKind::Avg(f) => Stat::Avg(index(f)),
                })
                .map_err(|e| e.replace("or avg(field)", "avg(field) or stddev(field)")),
        };
        match stat {
            Ok(s) => outputs.push((intern(name), s)),
            Err(e) => problems.push(format!("transforms.{id}.aggregates.{name}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(Spec { outputs, fields })
    } else {
        Err(problems)
    }
}

/// The problems of transform `id`'s table.
pub(crate) fn check(id: &str, config: &BaselineConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if config.key.trim().is_empty() {
        problems.push(format!("transforms.{id}.key: must not be empty"));
    }
    if config.aggregates.is_empty() {
        problems.push(format!("transforms.{id}.aggregates: names no aggregate"));
    }
    if let Err(p) = spec(id, config) {
        problems.extend(p);
    }
    if config.over.millis() <= 0 {
        problems.push(format!("transforms.{id}.over: must be at least 1ms"));
    }
    if let Some(period) = &config.period {
        let (p, over) = (period.millis(), config.over.millis());
        if p <= 0 {
            problems.push(format!("transforms.{id}.period: must be at least 1ms"));
        } else if over % p != 0 {
            problems.push(format!(
                "transforms.{id}.period: `over` ({}) must be a whole number of periods ({})",
                config.over.text(),
                period.text()
            ));
        }
    }
    problems
}

/// A number of the history: exact while integer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Val {
    Int(i64),
    Float(f64),
}

impl Val {
    fn of(v: Option<&Value>) -> Option<Val> {
        match v? {
            Value::Number(n) => n
                .as_i64()
                .map(Val::Int)
                .or_else(|| n.as_f64().map(Val::Float)),
            _ => None,
        }
    }

    fn f64(self) -> f64 {
        match self {
            Val::Int(i) => i as f64,
            Val::Float(f) => f,
        }
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A key's recent events: their event time and the values of the fields read, oldest
/// first; and the time of the timer that drops them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct History {
    events: Vec<(Timestamp, Vec<Option<Val>>)>,
    expires: Option<Timestamp>,
}

/// Adds the aggregates of each key's history to its events.
struct Baseline {
    spec: Spec,
    over: i64,
    /// Periods in `over`, when periods without events count as zero.
    periods: Option<usize>,
}

impl Baseline {
    /// The aggregates of `earlier` (events within `over` before the current one).
    fn aggregate(&self, earlier: &[&[Option<Val>]], out: &mut Event) {
        let zeros = self.periods.map_or(0, |p| p.saturating_sub(earlier.len()));
        for (name, stat) in &self.spec.outputs {
            let field = match *stat {
                Stat::Count => {
                    out.insert(name.clone(), Value::from(earlier.len()));
                    continue;
                }
                Stat::Sum(f) | Stat::Min(f) | Stat::Max(f) | Stat::Avg(f) | Stat::Stddev(f) => f,
            };
            let mut values: Vec<Val> = earlier.iter().filter_map(|e| e[field]).collect();
            values.extend(std::iter::repeat_n(Val::Int(0), zeros));
            if values.is_empty() {
                out.insert(name.clone(), Value::Null);
                continue;
            }
            let ints = values.iter().all(|v| matches!(v, Val::Int(_)));
            let n = values.len() as f64;
            let sum: f64 = values.iter().map(|v| v.f64()).sum();
            let value = match *stat {
                Stat::Sum(_) if ints => {
                    let s = values.iter().try_fold(0i64, |acc, v| match v {
                        Val::Int(i) => acc.checked_add(*i),
                        Val::Float(_) => None,
                    });
                    s.map_or_else(|| float(sum), Value::from)
                }
                Stat::Sum(_) => float(sum),
                Stat::Min(_) | Stat::Max(_) => {
                    let max = matches!(stat, Stat::Max(_));
                    let best = values
                        .iter()
                        .copied()
                        .reduce(|a, b| {
                            let b_wins = if max {
                                b.f64() > a.f64()
                            } else {
                                b.f64() < a.f64()
                            };
                            if b_wins {
                                b
                            } else {
                                a
                            }
                        })
                        .expect("not empty");
                    match best {
                        Val::Int(i) if ints => Value::from(i),
                        v => float(v.f64()),
                    }
                }
                Stat::Avg(_) => float(sum / n),
                Stat::Stddev(_) => {
                    let mean = sum / n;
                    let var = values.iter().map(|v| (v.f64() - mean).powi(2)).sum::<f64>() / n;
                    float(var.sqrt())
                }
                Stat::Count => unreachable!("handled above"),
            };
            out.insert(name.clone(), value);
        }
    }
}

impl KeyedProcessFunction<KeyValue, Event, Event> for Baseline {
    type State = History;

    fn process(
        &self,
        mut event: Event,
        history: &mut History,
        ctx: &mut KeyedContext<'_, KeyValue, Event>,
    ) {
        let ts = ctx.timestamp().unwrap_or(Timestamp::MIN);
        // Events at or before the watermark minus `over` are of no later event's history.
        let horizon = ctx.watermark().saturating_sub(self.over);
        history.events.retain(|(t, _)| *t > horizon);
        let from = ts.saturating_sub(self.over);
        let earlier: Vec<&[Option<Val>]> = history
            .events
            .iter()
            .filter(|(t, _)| (from..ts).contains(t))
            .map(|(_, v)| v.as_slice())
            .collect();
        let mut added = Event::with_capacity(self.spec.outputs.len());
        self.aggregate(&earlier, &mut added);
        let values = self
            .spec
            .fields
            .iter()
            .map(|f| Val::of(event.get(f)))
            .collect();
        // Kept in event-time order; equal times in arrival order.
        let at = history.events.partition_point(|(t, _)| *t <= ts);
        history.events.insert(at, (ts, values));
        let newest = history.events.last().map_or(ts, |(t, _)| *t);
        let expires = newest.saturating_add(self.over);
        if history.expires != Some(expires) {
            if let Some(old) = history.expires {
                ctx.delete_event_time_timer(old);
            }
            ctx.register_event_time_timer(expires);
            history.expires = Some(expires);
        }
        event.extend(added);
        ctx.collect(event);
    }

    fn on_timer(
        &self,
        _time: Timestamp,
        _domain: TimeDomain,
        _history: &mut History,
        ctx: &mut KeyedContext<'_, KeyValue, Event>,
    ) {
        // The timer is the newest event's time plus `over`: nothing is needed any more.
        ctx.clear_state();
    }
}

/// The events of `input` with the aggregates of their key's recent past.
pub(crate) fn build(
    id: &str,
    input: &DataStream<Event>,
    config: &BaselineConfig,
    policy: &Policy,
) -> Result<DataStream<Event>, String> {
    let spec = spec(id, config).map_err(|p| p.join("; "))?;
    let over = config.over.millis();
    let periods = config
        .period
        .as_ref()
        .map(|p| usize::try_from(over / p.millis().max(1)).unwrap_or(usize::MAX));
    let failures = Failures::new(id, policy);
    let key = config.key.clone();
    let (keyed, _) = {
        let key = key.clone();
        input.flat_map_split(
            |_| (),
            move |_, e: Event, out, _dead: &mut Vec<Event>| {
                if failures.job_failed() {
                    return;
                }
                if e.get(&key).is_none_or(Value::is_null) {
                    failures.event(&format!("the event has no field `{key}`"), e, None);
                } else {
                    out.push(e);
                }
            },
        )
    };
    let keyed = keyed.with_timestamps_of(input);
    let timestamps = input.timestamps();
    let out = keyed
        .key_by(move |e: &Event| KeyValue::of(e.get(&key)))
        .process_named(
            &format!("transforms.{id}"),
            Baseline {
                spec,
                over,
                periods,
            },
        );
    Ok(match timestamps {
        Some(t) => out.with_timestamp_fn(Arc::clone(&t)),
        None => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::HumanDuration;
    use indexmap::IndexMap;
    use std::time::Duration;

    fn config(period: Option<u64>, aggregates: &[(&str, &str)]) -> BaselineConfig {
        BaselineConfig {
            inputs: vec!["in".into()],
            key: "word".into(),
            over: HumanDuration(Duration::from_secs(600)),
            period: period.map(|s| HumanDuration(Duration::from_secs(s))),
            aggregates: aggregates
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<IndexMap<_, _>>(),
        }
    }

    fn run(b: &Baseline, earlier: &[&[Option<Val>]]) -> Event {
        let mut out = Event::new();
        b.aggregate(earlier, &mut out);
        out
    }

    #[test]
    fn missing_periods_count_as_zero() {
        let c = config(
            Some(60),
            &[
                ("n", "count"),
                ("mean", "avg(x)"),
                ("top", "max(x)"),
                ("low", "min(x)"),
                ("total", "sum(x)"),
                ("sd", "stddev(x)"),
            ],
        );
        let b = Baseline {
            spec: spec("b", &c).unwrap(),
            over: 600_000,
            periods: Some(10),
        };
        let (a, two) = ([Some(Val::Int(10))], [Some(Val::Int(30))]);
        let out = run(&b, &[&a, &two]);
        assert_eq!(out["n"], 2);
        assert_eq!(out["mean"], 4.0);
        assert_eq!(out["top"], 30);
        assert_eq!(out["low"], 0);
        assert_eq!(out["total"], 40);
        // Values 10, 30 and eight zeros: mean 4, squares 36 + 676 + 8 * 16 = 840.
        assert!((out["sd"].as_f64().unwrap() - 84f64.sqrt()).abs() < 1e-9);
        let none = run(&b, &[]);
        assert_eq!(
            (none["n"].clone(), none["mean"].clone()),
            (0.into(), 0.0.into())
        );
    }

    #[test]
    fn without_a_period_only_the_events_count() {
        let c = config(
            None,
            &[("mean", "avg(x)"), ("top", "max(x)"), ("sd", "stddev(x)")],
        );
        let b = Baseline {
            spec: spec("b", &c).unwrap(),
            over: 600_000,
            periods: None,
        };
        let (a, two) = ([Some(Val::Float(1.5))], [Some(Val::Int(3))]);
        let out = run(&b, &[&a, &two]);
        assert_eq!(out["mean"], 2.25);
        assert_eq!(out["top"], 3.0);
        assert_eq!(out["sd"], 0.75);
        assert_eq!(run(&b, &[])["mean"], Value::Null);
    }

    #[test]
    fn checks_its_table() {
        let c = config(Some(7), &[("sd", "stddev()"), ("x", "median(x)")]);
        let problems = check("b", &c);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("aggregates.sd"), "{problems:?}");
        assert!(problems[1].contains("stddev(field)"), "{problems:?}");
        assert!(
            problems[2].contains("whole number of periods"),
            "{problems:?}"
        );
    }
}
