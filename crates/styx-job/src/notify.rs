//! `type = "notify"`: events become notifications someone follows up.
//!
//! Each event gives `{"key", "ts", "use_case", "message", ...fields}`: the value of the
//! event's `key` field, its event time (the wall clock for events without one), the use
//! case, the `message` template (minijinja, Jinja's syntax) rendered over the event's
//! fields, and the `fields` copied from the event. With `suppress`, a key gets at most one
//! notification within that much event time: one incident, one alert, not one per window
//! slide. The last notification time of each key is keyed state, in checkpoints.
//!
//! The notifications go to any sink: a Kafka topic, a file, stdout.

use std::sync::Arc;

use serde_json::Value;
use styx_runtime::event::{Event, KeyValue};
use styx_runtime::keyed::{KeyedContext, KeyedProcessFunction};
use styx_runtime::stream::DataStream;
use styx_runtime::time::now_ms;

use crate::config::NotifyConfig;
use crate::failures::{Failures, Policy};

/// The name the message template has in its environment.
const TEMPLATE: &str = "message";

/// The message template of transform `id`, compiled.
fn template(id: &str, source: &str) -> Result<Arc<minijinja::Environment<'static>>, String> {
    let mut env = minijinja::Environment::new();
    // A field the event does not have is an error, never an empty text.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template_owned(TEMPLATE, source.to_string())
        .map_err(|e| format!("transforms.{id}.message: {e}"))?;
    Ok(Arc::new(env))
}

/// The problems of transform `id`'s table.
pub(crate) fn check(id: &str, config: &NotifyConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if config.key.trim().is_empty() {
        problems.push(format!("transforms.{id}.key: must not be empty"));
    }
    if let Err(e) = template(id, &config.message) {
        problems.push(e);
    }
    if config.suppress.is_some_and(|d| d.0.is_zero()) {
        problems.push(format!(
            "transforms.{id}.suppress: must be above 0 (leave it out to suppress nothing)"
        ));
    }
    problems
}

/// The notifications of transform `id`, and (for its dead-letter output) the events
/// whose message could not be made.
pub(crate) fn build(
    id: &str,
    input: &DataStream<Event>,
    config: &NotifyConfig,
    use_case: &str,
    policy: &Policy,
) -> Result<(DataStream<Event>, DataStream<Event>), String> {
    let env = template(id, &config.message)?;
    let failures = Failures::new(id, policy);
    let to_dead = config.dead_letter.is_some();
    let timestamps = input.timestamps();
    let (key, fields) = (config.key.clone(), config.fields.clone());
    let use_case = Value::String(use_case.to_string());
    let (made, dead) = input.flat_map_split(
        |_| (),
        move |_, event: Event, out, dead| {
            if failures.job_failed() {
                return;
            }
            let Some(key_value) = event.get(&key).filter(|v| !v.is_null()).cloned() else {
                let reason = format!("the event has no field `{key}`");
                failures.event(&reason, event, to_dead.then_some(dead));
                return;
            };
            let message = env
                .get_template(TEMPLATE)
                .and_then(|t| t.render(minijinja::Value::from_serialize(&event)));
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    failures.event(&format!("message: {e}"), event, to_dead.then_some(dead));
                    return;
                }
            };
            let ts = timestamps.as_ref().map_or_else(now_ms, |t| t(&event));
            let mut n = Event::with_capacity(4 + fields.len());
            n.insert("key", key_value);
            n.insert("ts", Value::from(ts));
            n.insert("use_case", use_case.clone());
            n.insert("message", Value::String(message));
            for f in &fields {
                if let Some(v) = event.get(f) {
                    n.insert(f.clone(), v.clone());
                }
            }
            out.push(n);
        },
    );
    let made = made.with_timestamp_fn(Arc::new(notification_time));
    let Some(suppress) = config.suppress else {
        return Ok((made, dead));
    };
    let window = i64::try_from(suppress.0.as_millis()).unwrap_or(i64::MAX);
    let sent = made
        .key_by(|n: &Event| KeyValue::of(n.get("key")))
        .process_named(&format!("transforms.{id}"), Suppress { window })
        .with_timestamp_fn(Arc::new(notification_time));
    Ok((sent, dead))
}

/// The event time of a notification.
fn notification_time(n: &Event) -> i64 {
    n.get("ts").and_then(Value::as_i64).unwrap_or(i64::MIN)
}

/// Lets through the first notification of a key, then none for `window` milliseconds.
struct Suppress {
    window: i64,
}

impl KeyedProcessFunction<KeyValue, Event, Event> for Suppress {
    /// When the key's last notification went out.
    type State = Option<i64>;

    fn process(
        &self,
        n: Event,
        last: &mut Option<i64>,
        ctx: &mut KeyedContext<'_, KeyValue, Event>,
    ) {
        let ts = notification_time(&n);
        if last.is_some_and(|l| ts.abs_diff(l) < self.window.unsigned_abs()) {
            return;
        }
        *last = Some(ts);
        ctx.collect(n);
    }
}
