//! Transforms that follow the store while the job runs: `rules` (the enabled rules of a
//! ruleset, as they are now) and `score` with `model = "store:ID"` (the active version
//! of a stored model). Lookups of reference rows are in [`crate::lookup`].

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::Value;
use styx_pmml::Model;
use styx_runtime::event::Event;
use styx_runtime::stream::DataStream;
use styx_store::{Kind, Store};

use crate::config::{EmitKind, RulesConfig, ScoreConfig};
use crate::failures::{Failures, Policy};
use crate::live::Live;
use crate::metrics::{timed, OperatorMetrics, Timing};
use crate::score::{ScoreState, Scorer};

/// The prefix of a reference to the store in `model` and `pattern`.
pub const STORE_PREFIX: &str = "store:";

/// A rules transform: per event, the enabled rules of the ruleset that match, as
/// `emit` says. A rule whose condition fails to evaluate does not match; failures are
/// counted and summarized.
pub(crate) fn rules(
    id: &str,
    input: &DataStream<Event>,
    config: &RulesConfig,
    live: &Live,
    policy: &Policy,
) -> Result<DataStream<Event>, String> {
    let ruleset = live
        .ruleset(&config.ruleset)
        .map_err(|e| format!("transforms.{id}.ruleset: {e}"))?;
    let failures = Failures::of_conditions(id, policy);
    let emit = config.emit;
    let out = input.flat_map(move |event: Event, out: &mut Vec<Event>| {
        let rules = ruleset.load();
        let scope = rules.reads().scope(&event);
        let mut matched = Vec::new();
        for (rule, condition) in rules.rules() {
            match condition.eval_bool_in(&scope) {
                Ok(true) => {
                    matched.push(rule);
                    if emit == EmitKind::First {
                        break;
                    }
                }
                Ok(false) => {}
                Err(e) => failures.record(&format!("rule {}: {e}", rule.id), Some(&event)),
            }
        }
        match emit {
            EmitKind::Each | EmitKind::First => {
                for rule in matched {
                    let mut e = event.clone();
                    e.insert("rule", Value::String(rule.id.clone()));
                    for (k, v) in &rule.attributes {
                        e.insert(k.clone(), Value::String(v.clone()));
                    }
                    out.push(e);
                }
            }
            EmitKind::All if !matched.is_empty() => {
                let ids = matched
                    .iter()
                    .map(|r| Value::String(r.id.clone()))
                    .collect();
                let mut e = event;
                e.insert("rules", Value::Array(ids));
                out.push(e);
            }
            EmitKind::All => {}
        }
    });
    Ok(out.with_timestamps_of(input))
}

/// A scorer of a stored model's version.
pub(crate) struct Versioned {
    version: u32,
    scorer: Scorer,
    /// Event fields that receive the version (`outputs` naming `model_version`).
    version_fields: Vec<String>,
}

/// What `outputs` asks for besides the model's results: fields for `model_version`.
fn split_outputs(config: &ScoreConfig) -> (Vec<(String, String)>, Vec<String>) {
    let mut results = Vec::new();
    let mut versions = Vec::new();
    for (field, column) in &config.outputs {
        if column == "model_version" {
            versions.push(field.clone());
        } else {
            results.push((field.clone(), column.clone()));
        }
    }
    (results, versions)
}

/// The active version of stored model `model_id` as a scorer of score transform `id`.
pub(crate) fn stored_scorer(
    id: &str,
    model_id: &str,
    config: &ScoreConfig,
    store: &Store,
) -> Result<Versioned, String> {
    let stored = store
        .model(model_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("transforms.{id}.model: the store has no model {model_id}"))?;
    let version = stored.version;
    let model = Model::parse_named(&stored.pmml, stored.model_name.as_deref())
        .map_err(|e| format!("transforms.{id}.model: {model_id} version {version}: {e}"))?;
    let fields: Vec<(String, String)> = config
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (outputs, version_fields) = split_outputs(config);
    let scorer = Scorer::new(
        &format!("transforms.{id}"),
        Arc::new(model),
        &fields,
        &outputs,
    )
    .map_err(|e| format!("transforms.{id}.{e} (model {model_id} version {version})"))?;
    Ok(Versioned {
        version,
        scorer,
        version_fields,
    })
}

/// A score transform on the active version of stored model `model_id`, which a new
/// version replaces while the job runs.
/// An instance of a score transform on a stored model: the version it scores with, its
/// buffers, and its timing.
type ScoringState = (Arc<Versioned>, ScoreState, Option<Timing>);

pub(crate) fn stored_score(
    id: &str,
    model_id: &str,
    input: &DataStream<Event>,
    config: &ScoreConfig,
    live: &Live,
    policy: &Policy,
    op: Option<&OperatorMetrics>,
) -> Result<(DataStream<Event>, DataStream<Event>), String> {
    let failures = Failures::new(id, policy);
    let mut first = stored_scorer(id, model_id, config, live.store())?;
    first.scorer = first.scorer.with_failures(failures.clone());
    let version_key = format!("transforms.{id}.model_version");
    live.record(&version_key, Value::from(first.version));
    let current = Arc::new(ArcSwap::from_pointee(first));
    {
        let (current, id, model_id) = (current.clone(), id.to_string(), model_id.to_string());
        let in_use = live.in_use();
        let fields = config.fields.clone();
        let outputs = config.outputs.clone();
        live.watch(Kind::Models, move |store| {
            let active = store.model(&model_id).map_err(|e| e.to_string())?;
            if active.map(|m| m.version) == Some(current.load().version) {
                return Ok(());
            }
            let config = ScoreConfig {
                inputs: Vec::new(),
                model: String::new(),
                fields: fields.clone(),
                outputs: outputs.clone(),
                dead_letter: None,
            };
            let mut next = stored_scorer(&id, &model_id, &config, store)?;
            next.scorer = next.scorer.with_failures(failures.clone());
            tracing::info!(transform = %id, model = %model_id, version = next.version, "the model changed");
            in_use
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(version_key.clone(), Value::from(next.version));
            current.store(Arc::new(next));
            Ok(())
        });
    }
    let dead_letter = config.dead_letter.is_some();
    let init = current.clone();
    let op = op.map(|o| o.timing_source());
    let (scored, dead) = input.flat_map_split(
        move |i| {
            let v = init.load_full();
            let state = v.scorer.instance();
            (v, state, op.as_ref().map(|o| o.timing(i)))
        },
        move |(used, state, timing): &mut ScoringState, event, out, dead| {
            // The whole event by one version: the one current when it comes.
            let now = current.load();
            if !Arc::ptr_eq(&now, used) {
                *used = now.clone();
                *state = used.scorer.instance();
            }
            let start = out.len();
            let dead = dead_letter.then_some(dead);
            timed(timing.as_mut(), || {
                used.scorer.apply(state, event, out, dead)
            });
            for e in &mut out[start..] {
                for field in &used.version_fields {
                    e.insert(field.clone(), Value::from(used.version));
                }
            }
        },
    );
    let scored = scored.with_timestamps_of(input);
    Ok((scored, dead))
}
