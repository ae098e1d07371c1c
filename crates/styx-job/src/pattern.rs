//! Pattern transforms: stages of CEL conditions compiled onto the runtime's CEP
//! operator (`styx_runtime::cep`), with FlinkCEP's semantics.
//!
//! A pattern `p` offers three outputs: `p` (one object per match: the key field, each
//! stage's events, `match_start` and `match_end`), `p.timed_out` (partial matches whose
//! `within` ran out, with `timed_out_at`) and `p.late` (events that came after the
//! watermark had passed them, unchanged). A condition that fails to evaluate (a missing
//! field, a wrong type) is false for that event; such failures are counted and reported
//! in a summary at most every ten seconds (see [`Failures`]).

use std::sync::Arc;

use serde_json::Value;
use styx_runtime::cep::{
    AfterMatchSkip, Context, Follows, LivePattern, Match, Pattern, WithinType,
};
use styx_runtime::event::{Event, KeyValue};
use styx_runtime::stream::DataStream;
use styx_store::Kind;

use crate::config::{
    AfterMatchConfig, FollowsKind, InnerKind, PatternConfig, PatternSpec, SkipName, SkipToStage,
    TimeKind, TimesConfig, WithinBetween,
};
use crate::expr::{ConfigSource, Expr};
use crate::failures::{Failures, Policy};
use crate::live::Live;

/// The outputs of a pattern transform: matches, timed-out partial matches, late events.
pub(crate) struct PatternOutputs {
    pub matches: DataStream<Event>,
    pub timed_out: DataStream<Event>,
    pub late: DataStream<Event>,
}

/// A pattern transform's stages and options from the store: which pattern, which
/// version.
#[derive(Debug, Clone)]
pub(crate) struct StoredPattern {
    pub id: String,
    pub version: u32,
}

/// The suffixes of a pattern's side outputs.
pub(crate) const SIDE_OUTPUTS: [&str; 2] = ["timed_out", "late"];

/// Every problem of the stored pattern `id`.
pub(crate) fn check_spec(id: &str, spec: &PatternSpec) -> Vec<String> {
    if spec.kind.as_deref().is_some_and(|k| k != "pattern") {
        return vec![format!("pattern {id}.type: must be \"pattern\" when given")];
    }
    let config = from_spec(Vec::new(), None, spec);
    match pattern(
        &format!("pattern {id}"),
        &config,
        &Failures::of_conditions(id, &Policy::count()),
    ) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// A pattern transform with the stages and options of a stored pattern.
pub(crate) fn from_spec(
    inputs: Vec<String>,
    key: Option<String>,
    spec: &PatternSpec,
) -> PatternConfig {
    PatternConfig {
        inputs,
        key: key.or_else(|| spec.key.clone()),
        within: spec.within,
        within_between: spec.within_between,
        after_match: spec.after_match.clone(),
        time: spec.time,
        stages: spec.stages.clone(),
        pattern: None,
    }
}

/// Every problem of pattern transform `id`, each naming its key.
pub(crate) fn check(id: &str, config: &PatternConfig) -> Vec<String> {
    match pattern(
        &format!("transforms.{id}"),
        config,
        &Failures::of_conditions(id, &Policy::count()),
    ) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// Builds pattern transform `id` over `input`.
pub(crate) fn build(
    id: &str,
    input: &DataStream<Event>,
    config: &PatternConfig,
    live: Option<&Live>,
    stored: Option<&StoredPattern>,
    policy: &Policy,
) -> Result<PatternOutputs, String> {
    let failures = Failures::of_conditions(id, policy);
    let mut how = Conditions {
        failures: failures.clone(),
        config: live.map(Live::config),
    };
    let pattern =
        pattern_with(&format!("transforms.{id}"), config, &mut how).map_err(|p| p.join("; "))?;
    let at_key = |p: Vec<styx_runtime::cep::PatternError>| {
        p.iter()
            .map(|p| format!("transforms.{id}: {p}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let current =
        LivePattern::new(&pattern, stored.map_or(0, |s| u64::from(s.version))).map_err(at_key)?;
    if let (Some(live), Some(stored)) = (live, stored) {
        // A new version of the stored pattern replaces this one for later events.
        let version_key = format!("transforms.{id}.pattern_version");
        live.record(&version_key, serde_json::Value::from(stored.version));
        let in_use = live.in_use();
        let (current, id, stored) = (current.clone(), id.to_string(), stored.clone());
        let (inputs, key) = (config.inputs.clone(), config.key.clone());
        live.watch(Kind::Patterns, move |store| {
            let Some((version, text)) = store.pattern(&stored.id).map_err(|e| e.to_string())?
            else {
                return Err(format!("the store has no pattern {} any more", stored.id));
            };
            if u64::from(version) == current.version() {
                return Ok(());
            }
            let spec = crate::store::parse_pattern(&stored.id, &text)?;
            let config = from_spec(inputs.clone(), key.clone(), &spec);
            let pattern = pattern_with(&format!("transforms.{id}"), &config, &mut how)
                .map_err(|p| p.join("; "))?;
            current
                .replace(&pattern, u64::from(version))
                .map_err(|p| format!("pattern {}: {p:?}", stored.id))?;
            tracing::info!(transform = %id, pattern = %stored.id, version, "the pattern changed");
            in_use
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(version_key.clone(), serde_json::Value::from(version));
            Ok(())
        });
    }
    let key_field = config.key.clone();
    // Events without the key are failures, not all of one `null` key.
    let checked;
    let input = match &key_field {
        Some(field) => {
            checked = with_key(input, field, Failures::new(id, policy));
            &checked
        }
        None => input,
    };
    let keyed = {
        let key_field = key_field.clone();
        input.key_by(move |e: &Event| match &key_field {
            Some(f) => KeyValue::of(e.get(f)),
            None => KeyValue::Null,
        })
    };
    let streams = keyed
        .live_pattern(
            &format!("transforms.{id}"),
            &current,
            move |key: &KeyValue, m: Match<Event>| output(key_field.as_deref(), key, m),
        )
        .map_err(at_key)?;
    // Output timestamps: when the output became known.
    let absence = pattern
        .ends_with_absence()
        .then(|| pattern.window().map_or(0, |w| w.0));
    let matches = streams
        .matches
        .with_timestamp_fn(Arc::new(move |e: &Event| {
            let field = |f: &str| e.get(f).and_then(Value::as_i64).unwrap_or(i64::MIN);
            match absence {
                Some(within) => field("match_start").saturating_add(within),
                None => field("match_end"),
            }
        }));
    let timed_out = streams.timed_out.with_timestamp_fn(Arc::new(|e: &Event| {
        e.get("timed_out_at")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN)
    }));
    Ok(PatternOutputs {
        matches,
        timed_out,
        late: streams.late,
    })
}

/// A match as the contract writes it.
fn output(key_field: Option<&str>, key: &KeyValue, m: Match<Event>) -> Event {
    let mut out = Event::new();
    if let Some(field) = key_field {
        out.insert(field.to_string(), key.to_value());
    }
    for (stage, events) in m.stages {
        let events = events.into_iter().map(Event::into_value).collect();
        out.insert(stage, Value::Array(events));
    }
    out.insert("match_start", Value::from(m.start));
    out.insert("match_end", Value::from(m.end));
    if let Some(at) = m.timed_out_at {
        out.insert("timed_out_at", Value::from(at));
    }
    out
}

/// How a pattern's CEL conditions are evaluated: failures counted, `config` read from.
struct Conditions {
    failures: Arc<Failures>,
    config: Option<ConfigSource>,
}

/// The runtime pattern of a pattern transform, to be checked; the error lists every
/// problem, each naming its key.
fn pattern(
    at_key: &str,
    config: &PatternConfig,
    failures: &Arc<Failures>,
) -> Result<Pattern<Event>, Vec<String>> {
    let mut conditions = Conditions {
        failures: failures.clone(),
        config: None,
    };
    pattern_with(at_key, config, &mut conditions)
}

fn pattern_with(
    at_key: &str,
    config: &PatternConfig,
    how: &mut Conditions,
) -> Result<Pattern<Event>, Vec<String>> {
    let mut problems = Vec::new();
    let Some(first) = config.stages.first() else {
        return Err(vec![format!("{at_key}.stages: names no stage")]);
    };
    let at = |i: usize, key: &str| format!("{at_key}.stages[{i}].{key}");
    let mut compile = |i: usize, key: &str, source: &str| match Expr::compile(source) {
        Ok(e) => Some(Arc::new(match &how.config {
            Some(config) => e.absent_fields_are_errors().with_config(config.clone()),
            None => e.absent_fields_are_errors(),
        })),
        Err(e) => {
            problems.push(format!("{}: {e}", at(i, key)));
            None
        }
    };
    // Every condition first, so that all bad ones are reported.
    let mut conditions = Vec::new();
    for (i, stage) in config.stages.iter().enumerate() {
        let condition = compile(i, "condition", &stage.condition);
        let or: Vec<_> = stage
            .or
            .iter()
            .enumerate()
            .map(|(j, c)| compile(i, &format!("or[{j}]"), c))
            .collect();
        let until = stage.until.as_ref().map(|u| compile(i, "until", u));
        conditions.push((condition, or, until));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let condition = |expr: &Arc<Expr>| cel_condition(expr.clone(), how.failures.clone());
    let mut pattern = Pattern::begin(&first.name);
    for (i, (stage, (cond, or, until))) in config.stages.iter().zip(conditions).enumerate() {
        if i == 0 {
            if stage.follows.is_some() {
                problems.push(format!(
                    "{}: the first stage follows nothing",
                    at(i, "follows")
                ));
            }
        } else {
            let follows = match stage.follows.unwrap_or(FollowsKind::FollowedBy) {
                FollowsKind::Next => Follows::Next,
                FollowsKind::FollowedBy => Follows::FollowedBy,
                FollowsKind::FollowedByAny => Follows::FollowedByAny,
                FollowsKind::NotNext => Follows::NotNext,
                FollowsKind::NotFollowedBy => Follows::NotFollowedBy,
            };
            pattern = pattern.then(follows, &stage.name);
        }
        if config.key.as_deref() == Some(stage.name.as_str()) {
            problems.push(format!(
                "{}: \"{}\" is also the key field, which the output holds",
                at(i, "name"),
                stage.name
            ));
        }
        if ["match_start", "match_end", "timed_out_at"].contains(&stage.name.as_str()) {
            problems.push(format!(
                "{}: \"{}\" is a field of the output",
                at(i, "name"),
                stage.name
            ));
        }
        let cond = cond.expect("compiled");
        pattern = pattern.condition(condition(&cond));
        for c in or {
            pattern = pattern.or(condition(&c.expect("compiled")));
        }
        let quantifiers = [
            stage.times.is_some(),
            stage.times_or_more.is_some(),
            stage.one_or_more,
        ];
        if quantifiers.iter().filter(|q| **q).count() > 1 {
            problems.push(format!(
                "{}: times, times_or_more and one_or_more exclude each other",
                at(i, "times")
            ));
        }
        let count = |n: i64, key: &str, problems: &mut Vec<String>| {
            u32::try_from(n).unwrap_or_else(|_| {
                problems.push(format!("{}: {n} is not a count", at(i, key)));
                1
            })
        };
        if let Some(times) = stage.times {
            pattern = match times {
                TimesConfig::Exactly(n) => pattern.times(count(n, "times", &mut problems)),
                TimesConfig::Range([from, to]) => pattern.times_range(
                    count(from, "times", &mut problems),
                    count(to, "times", &mut problems),
                ),
            };
        } else if let Some(n) = stage.times_or_more {
            pattern = pattern.times_or_more(count(n, "times_or_more", &mut problems));
        } else if stage.one_or_more {
            pattern = pattern.one_or_more();
        }
        match stage.inner {
            None | Some(InnerKind::Relaxed) => {}
            Some(InnerKind::Consecutive) => pattern = pattern.consecutive(),
            Some(InnerKind::Combinations) => pattern = pattern.allow_combinations(),
        }
        if stage.optional {
            pattern = pattern.optional();
        }
        if stage.greedy {
            pattern = pattern.greedy();
        }
        if let Some(until) = until {
            pattern = pattern.until(condition(&until.expect("compiled")));
        }
    }
    if let Some(within) = config.within {
        let between = match config.within_between {
            WithinBetween::FirstAndLast => WithinType::FirstAndLast,
            WithinBetween::PreviousAndCurrent => WithinType::PreviousAndCurrent,
        };
        pattern = pattern.within_between(within.0, between);
    }
    pattern = pattern.after_match(match &config.after_match {
        AfterMatchConfig::Named(SkipName::NoSkip) => AfterMatchSkip::NoSkip,
        AfterMatchConfig::Named(SkipName::SkipToNext) => AfterMatchSkip::SkipToNext,
        AfterMatchConfig::Named(SkipName::SkipPastLastEvent) => AfterMatchSkip::SkipPastLastEvent,
        AfterMatchConfig::ToStage(SkipToStage {
            skip_to_first: Some(stage),
            skip_to_last: None,
        }) => AfterMatchSkip::SkipToFirst(stage.clone()),
        AfterMatchConfig::ToStage(SkipToStage {
            skip_to_first: None,
            skip_to_last: Some(stage),
        }) => AfterMatchSkip::SkipToLast(stage.clone()),
        AfterMatchConfig::ToStage(_) => {
            problems.push(format!(
                "{at_key}.after_match: give one of skip_to_first or skip_to_last"
            ));
            AfterMatchSkip::NoSkip
        }
    });
    if config.time == TimeKind::Processing {
        pattern = pattern.in_processing_time();
    }
    for p in pattern.problems() {
        problems.push(match p.stage {
            Some(i) => format!("{}: {}", at(i, p.setting), p.message),
            None => format!("{at_key}.{}: {}", p.setting, p.message),
        });
    }
    if problems.is_empty() {
        Ok(pattern)
    } else {
        Err(problems)
    }
}

/// A stage condition from a CEL expression: an evaluation error is false, and counted.
fn cel_condition(
    expr: Arc<Expr>,
    failures: Arc<Failures>,
) -> impl Fn(&Event, &Context<'_, Event>) -> bool + Send + Sync + 'static {
    move |event, ctx| {
        let result = if expr.uses_match() {
            expr.eval_bool_with_match(event, ctx.stages())
        } else {
            expr.eval_bool(event)
        };
        result.unwrap_or_else(|e| {
            failures.record(&e, Some(event));
            false
        })
    }
}

/// The events of `input` that have the key field `field` (not `null`); the others are
/// failures.
fn with_key(input: &DataStream<Event>, field: &str, failures: Arc<Failures>) -> DataStream<Event> {
    let field = field.to_string();
    let (valid, _) = input.flat_map_split(
        |_| (),
        move |_, e: Event, out, _: &mut Vec<Event>| {
            if failures.job_failed() {
                return;
            }
            match e.get(&field) {
                None | Some(Value::Null) => {
                    let reason = format!("the key field `{field}` is missing or null");
                    failures.event(&reason, e, None);
                }
                Some(_) => out.push(e),
            }
        },
    );
    valid.with_timestamps_of(input)
}
