//! Scoring events with a PMML model: the `type = "score"` transform, and [`Scorer`], the
//! same operator for streams built in Rust.
//!
//! ```toml
//! [transforms.scored]
//! type = "score"
//! inputs = ["payments"]
//! model = "models/fraud.pmml"                  # relative to the job file
//! fields = { amount = "amount_eur" }           # model field = event field (default: same name)
//! outputs = { fraud = "probability(1)" }       # event field = result column (default: all)
//! dead_letter = "scored.dead"                  # events the model cannot score, with the reason
//! ```
//!
//! An event goes on with the model's results added to it. Model inputs are read from
//! the event's fields: numbers, strings and booleans as they are, `null` or an absent
//! field as a missing value, which the model's mining schema treats. The results are
//! the target and output fields the model declares (those `styx score` writes), under
//! their PMML names unless `outputs` renames them; a missing result is `null`.
//!
//! An event the model cannot score (a value the model refuses, an array or object
//! where a value should be) goes to the dead-letter output when there is one, as
//! `{"reason", "transform", "event"}`; otherwise it is dropped, counted and summarised in
//! the log, or fails the job with `on_error = "fail"` (see [`crate::failures`]).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Number, Value};
use styx_pmml::{Batch, DataType, Model, ResultValue, Row, Scratch};
use styx_runtime::event::{intern, Event, Name};
use styx_runtime::stream::DataStream;

use crate::config::ScoreConfig;
use crate::failures::{Failures, Policy};

/// A model and how events map onto it; shared by every instance of the operator.
pub struct Scorer {
    model: Arc<Model>,
    /// Model input index, event field, and whether the model reads the field as text.
    inputs: Vec<(usize, String, bool)>,
    /// Event field, result column index.
    outputs: Vec<(Name, usize)>,
    failures: Arc<Failures>,
    /// Events scored without a field a model input reads (a misspelt mapping shows here).
    absent: Arc<Failures>,
}

impl Scorer {
    /// Scores with `model`: each model input reads the event field `fields` maps it to
    /// (default: the field of the same name); each result column `outputs` names (event
    /// field = column; default: every column under its own name) is written to the event.
    /// `name` names the operator in messages.
    pub fn new(
        name: &str,
        model: Arc<Model>,
        fields: &[(String, String)],
        outputs: &[(String, String)],
    ) -> Result<Scorer, String> {
        for (model_field, _) in fields {
            if model.input_index(model_field).is_none() {
                let known: Vec<&str> = model
                    .input_fields()
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect();
                return Err(format!(
                    "fields.{model_field}: the model has no input field `{model_field}` \
                     (its inputs: {})",
                    known.join(", ")
                ));
            }
        }
        let inputs = model
            .input_fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let event_field = fields
                    .iter()
                    .find(|(m, _)| *m == f.name)
                    .map_or_else(|| f.name.clone(), |(_, e)| e.clone());
                (i, event_field, f.data_type == DataType::String)
            })
            .collect();
        let columns = model.result_columns();
        let outputs = if outputs.is_empty() {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| (intern(&c.name), i))
                .collect()
        } else {
            outputs
                .iter()
                .map(|(event_field, column)| {
                    columns
                        .iter()
                        .position(|c| c.name == *column)
                        .map(|i| (intern(event_field), i))
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                columns.iter().map(|c| c.name.as_str()).collect();
                            format!(
                                "outputs.{event_field}: the model has no result `{column}` \
                                 (its results: {})",
                                known.join(", ")
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Scorer {
            model,
            inputs,
            outputs,
            failures: Failures::named(name, &Policy::count()),
            absent: Failures::notes(name, "scored with that input missing"),
        })
    }

    /// Loads the model at `path` (refused documents name the element) and maps it as
    /// [`Scorer::new`] does.
    pub fn load(
        name: &str,
        path: &Path,
        fields: &[(String, String)],
        outputs: &[(String, String)],
    ) -> Result<Scorer, String> {
        let model =
            Model::from_path(path).map_err(|e| format!("model: {}: {e}", path.display()))?;
        Scorer::new(name, Arc::new(model), fields, outputs)
    }

    /// The model's input fields, each with the event field it reads.
    pub(crate) fn event_fields(&self) -> Vec<(&str, &str)> {
        self.inputs
            .iter()
            .map(|(i, event_field, _)| {
                (
                    self.model.input_fields()[*i].name.as_str(),
                    event_field.as_str(),
                )
            })
            .collect()
    }

    /// The buffers of one operator instance.
    pub fn instance(&self) -> ScoreState {
        ScoreState {
            row: self.model.new_row(),
            scratch: self.model.scratch(),
            absent: None,
            batch: self.model.new_batch(),
            prepared: Vec::new(),
            next: 0,
        }
    }

    /// Writes `event`'s fields into `row` (cleared first); the first model input whose
    /// field the event lacks goes to `absent`. Fails on a field the model cannot read.
    fn fill_row(
        &self,
        event: &Event,
        row: &mut Row,
        absent: &mut Option<usize>,
    ) -> Result<(), String> {
        row.clear();
        *absent = None;
        for (i, field, text) in &self.inputs {
            match event.get(field) {
                None => {
                    row.set_missing(*i);
                    absent.get_or_insert(*i);
                }
                Some(Value::Null) => row.set_missing(*i),
                // A category written as a number (`"zip": 10115`) is its text.
                Some(Value::Number(n)) if *text => row.set_text(*i, &n.to_string()),
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(x) => row.set_number(*i, x),
                    None => row.set_missing(*i),
                },
                Some(Value::String(s)) => row.set_text(*i, s),
                Some(Value::Bool(b)) => row.set_bool(*i, *b),
                Some(other) => {
                    return Err(format!(
                        "field `{field}`: {} is not a value the model can read",
                        kind(other)
                    ))
                }
            }
        }
        Ok(())
    }

    /// Writes the scored results (`result(col)` gives column `col`) into `event`.
    fn write_results<'a>(&self, event: &mut Event, result: impl Fn(usize) -> ResultValue<'a>) {
        for (field, col) in &self.outputs {
            event.insert(field.clone(), json(result(*col)));
        }
    }

    /// Scores `event` in place. On failure the event is left as it was and the reason
    /// is returned.
    pub fn score(&self, state: &mut ScoreState, event: &mut Event) -> Result<(), String> {
        self.fill_row(event, &mut state.row, &mut state.absent)?;
        self.model
            .evaluate(&state.row, &mut state.scratch)
            .map_err(|e| e.to_string())?;
        let scratch = &state.scratch;
        self.write_results(event, |col| self.model.result(scratch, col));
        Ok(())
    }

    /// Scores a batch of events at once ([`styx_pmml::Batch`]); [`Scorer::apply`] then
    /// takes each event's outcome in order.
    fn score_batch(&self, state: &mut ScoreState, events: &[Event]) {
        let batch = &mut state.batch;
        batch.clear();
        state.prepared.clear();
        state.next = 0;
        for event in events {
            let mut absent = None;
            let row = batch.push();
            let filled = self.fill_row(event, row, &mut absent);
            state.prepared.push(filled.map(|()| absent));
        }
        self.model.evaluate_batch(batch);
    }

    /// Scores `event` from the batch [`Scorer::score_batch`] scored (one at a time when
    /// it is not there), as [`Scorer::score`] does.
    fn score_from_batch(&self, state: &mut ScoreState, event: &mut Event) -> Result<(), String> {
        let i = state.next;
        if i >= state.prepared.len() {
            return self.score(state, event);
        }
        state.next += 1;
        state.absent = std::mem::replace(&mut state.prepared[i], Ok(None))?;
        state.batch.outcome(i).map_err(|e| e.to_string())?;
        let batch = &state.batch;
        self.write_results(event, |col| batch.result(i, col));
        Ok(())
    }

    /// Scores `event` for the stream operator: a scored event goes to `out`; one that
    /// cannot be scored goes to `dead` as a dead letter, or, without a dead-letter output,
    /// is a failure as [`crate::failures`] says.
    pub(crate) fn apply(
        &self,
        state: &mut ScoreState,
        event: Event,
        out: &mut Vec<Event>,
        dead: Option<&mut Vec<Event>>,
    ) {
        self.apply_scored(state, event, out, dead, false)
    }

    /// [`Scorer::apply`], the event scored as part of the batch [`Scorer::score_batch`]
    /// scored when `batched`.
    fn apply_scored(
        &self,
        state: &mut ScoreState,
        mut event: Event,
        out: &mut Vec<Event>,
        dead: Option<&mut Vec<Event>>,
        batched: bool,
    ) {
        if self.failures.job_failed() {
            return;
        }
        let scored = if batched {
            self.score_from_batch(state, &mut event)
        } else {
            self.score(state, &mut event)
        };
        match scored {
            Ok(()) => {
                if let Some(i) = state.absent {
                    let (_, field, _) = &self.inputs[i];
                    let input = &self.model.input_fields()[i].name;
                    self.absent.record(
                        &format!(
                            "the event has no field `{field}`, which model input `{input}` reads"
                        ),
                        Some(&event),
                    );
                }
                out.push(event)
            }
            Err(reason) => self.failures.event(&reason, event, dead),
        }
    }

    /// The same scorer, its failures reported to `failures`.
    pub(crate) fn with_failures(mut self, failures: Arc<Failures>) -> Self {
        self.failures = failures;
        self
    }

    /// The operator on a stream: scored events, and the dead letters (when `dead_letter`)
    /// of events that could not be scored. The scored events keep their event time.
    pub fn apply_to(
        self,
        input: &DataStream<Event>,
        dead_letter: bool,
        op: Option<&crate::metrics::OperatorMetrics>,
    ) -> (DataStream<Event>, DataStream<Event>) {
        let scorer = Arc::new(self);
        let init = scorer.clone();
        let timing = op.map(|o| o.timing_source());
        let batcher = scorer.clone();
        let (scored, dead) = input.flat_map_split_batched(
            move |i| (init.instance(), timing.as_ref().map(|t| t.timing(i))),
            move |(state, timing): &mut (ScoreState, Option<crate::metrics::Timing>), events| {
                match timing {
                    Some(t) => t.time_batch(events.len(), || batcher.score_batch(state, events)),
                    None => batcher.score_batch(state, events),
                }
            },
            move |(state, _): &mut (ScoreState, Option<crate::metrics::Timing>),
                  event,
                  out,
                  dead| {
                let dead = dead_letter.then_some(dead);
                scorer.apply_scored(state, event, out, dead, true)
            },
        );
        let scored = scored.with_timestamps_of(input);
        (scored, dead)
    }
}

/// The buffers of one instance of a scoring operator.
pub struct ScoreState {
    row: Row,
    scratch: Scratch,
    /// The first model input whose event field was absent in the last event scored.
    absent: Option<usize>,
    /// The batch of events last scored together ...
    batch: Batch,
    /// ... each event's row as filled (with its first absent input) or why it could not be ...
    prepared: Vec<Result<Option<usize>, String>>,
    /// ... and the next event of the batch to be taken.
    next: usize,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        _ => "a value",
    }
}

/// A result as JSON: numbers as numbers (a 32-bit float in its shortest form, a value
/// that is not finite as `null`), labels as strings.
fn json(value: ResultValue<'_>) -> Value {
    match value {
        ResultValue::Missing => Value::Null,
        ResultValue::Number(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        ResultValue::Float(x) => {
            // The shortest text that reads back to the same f32, as a double.
            let mut text = String::new();
            styx_pmml::format::write_float(x, &mut text);
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or(Value::Null, Value::Number)
        }
        ResultValue::Integer(i) => Value::from(i),
        ResultValue::Bool(b) => Value::Bool(b),
        ResultValue::Str(s) => Value::String(s.to_string()),
    }
}

/// The scorer of a `type = "score"` transform with its loaded `model`; errors name the
/// transform's key.
pub(crate) fn scorer(id: &str, config: &ScoreConfig, model: Arc<Model>) -> Result<Scorer, String> {
    let pairs = |m: &indexmap::IndexMap<String, String>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    Scorer::new(
        &format!("transforms.{id}"),
        model,
        &pairs(&config.fields),
        &pairs(&config.outputs),
    )
    .map_err(|e| format!("transforms.{id}.{e}"))
}
