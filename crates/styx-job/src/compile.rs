//! Compiling a job file onto the stream runtime.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use styx_connectors::decode::DeadLetters;
use styx_connectors::file::{LineSink, LineSource};
use styx_connectors::stdio::{stdin_source, stdout_sink};
use styx_runtime::error::RuntimeError;
use styx_runtime::event::{intern, Event, KeyValue, Name};
use styx_runtime::source::Source;
use styx_runtime::state::StateBackend;
use styx_runtime::stream::{DataStream, Environment};
use styx_runtime::time::{TimeDomain, TimeWindow};
use styx_runtime::watermark::{Emission, TimestampFn, WatermarkStrategy};
use styx_runtime::window::WindowAssigner;

use crate::aggregate::{AggKind, JsonAggregates};
use crate::checkpointing::{Checkpointing, Resume, StateDir};
use crate::config::{
    EventTimeConfig, JobFile, OnError, SinkConfig, SourceConfig, StateBackendKind, TimeKind,
    TransformConfig, WatermarkMode, WindowConfig, WindowSpec,
};
use crate::connectors::ExactlyOnce;
use crate::error::JobError;
use crate::expr::Expr;
use crate::failures::{Failures, Policy};
use crate::group::{GroupRun, Groups};
use crate::live::Live;
use crate::metrics::{reason, JobMetrics, OperatorKind, OperatorMetrics};
use styx_kafka::exactly_once::Marker;
use styx_kafka::TransactionLink;

/// The folder of `state_dir` where `state_backend = "disk"` keeps the operators' state
/// while the job runs, in a folder per incarnation (see [`crate::checkpointing`]): a run
/// starts with an empty one and removes those of earlier runs (the state it resumes from
/// comes from checkpoints), and an earlier run still alive, a zombie, never writes into
/// the tree of the run that took over from it.
pub const STATE_BACKEND_DIR: &str = "state-backend";

/// How to run a job, beyond what its file says.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides `[job] parallelism`.
    pub parallelism: Option<usize>,
    /// Starts from this savepoint (or checkpoint) folder.
    pub from_savepoint: Option<PathBuf>,
    /// Stops the job cleanly when asked (signals, `--until-idle`): sources end as at
    /// the end of a file, open windows fire, sinks flush and commit.
    pub stop: Option<styx_runtime::source::StopHandle>,
    /// Counts records, drops and watermarks per operator, and follows checkpoints, in
    /// these metrics (none are kept without).
    pub metrics: Option<Arc<JobMetrics>>,
}

/// A job file, read and checked.
pub struct Job {
    file: PathBuf,
    base: PathBuf,
    config: JobFile,
    /// Transform ids in an order where every transform comes after its inputs.
    order: Vec<String>,
    /// The models of score transforms, by transform id, loaded when the job is read.
    models: HashMap<String, Arc<styx_pmml::Model>>,
    /// The store's address and how often the running job looks for changes.
    store_url: String,
    refresh: Duration,
    /// Pattern transforms whose stages and options come from the store, by id.
    stored_patterns: HashMap<String, (crate::config::PatternConfig, crate::pattern::StoredPattern)>,
}

/// A stream of the job and whether its events carry event time.
#[derive(Clone)]
struct Output {
    stream: DataStream<Event>,
}

impl Job {
    /// Reads and checks the job file at `path`.
    pub fn load(path: &Path) -> Result<Job, JobError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks the job file text `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Job, JobError> {
        let invalid = |problems| JobError::Invalid {
            file: path.to_path_buf(),
            problems,
        };
        let config: JobFile = toml::from_str(text).map_err(|e| {
            invalid(vec![e
                .to_string()
                .trim_end()
                .replace("TOML parse error", "error")])
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut job = Job {
            file: path.to_path_buf(),
            base,
            config,
            order: Vec::new(),
            models: HashMap::new(),
            store_url: String::new(),
            refresh: Duration::from_secs(1),
            stored_patterns: HashMap::new(),
        };
        let section = job.config.store.clone();
        job.store_url =
            crate::store::resolve_url(section.as_ref().and_then(|s| s.url.as_deref()), &job.base);
        if let Some(s) = &section {
            job.refresh = s.refresh.0.max(Duration::from_millis(10));
        }
        let problems = job.check();
        if problems.is_empty() {
            Ok(job)
        } else {
            Err(invalid(problems))
        }
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.config.job.name
    }

    /// The address of the store the job reads (`[store] url`, else the embedded one).
    pub fn store_url(&self) -> &str {
        &self.store_url
    }

    /// The parsed job file.
    pub fn config(&self) -> &JobFile {
        &self.config
    }

    /// Finds every problem the job file has: references, cycles, expressions, aggregates,
    /// windows, input files.
    fn check(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let c = &self.config;
        if c.job.parallelism == Some(0) {
            problems.push("job.parallelism: must be at least 1".into());
        }
        if c.job.checkpoint_interval.is_some() && c.job.state_dir.is_none() {
            problems.push("job.checkpoint_interval: checkpoints need job.state_dir".into());
        }
        if c.job.state_backend == StateBackendKind::Disk && c.job.state_dir.is_none() {
            problems.push(
                "job.state_backend: \"disk\" keeps the state in job.state_dir, which is not set"
                    .into(),
            );
        }
        if c.job.checkpoint_interval.is_some_and(|d| d.millis() <= 0) {
            problems.push("job.checkpoint_interval: must be at least 1ms".into());
        }
        // Every output id, and what it is.
        let mut outputs: HashMap<String, &'static str> = HashMap::new();
        let mut claim =
            |id: String, what: &'static str, key: String, problems: &mut Vec<String>| {
                if let Some(other) = outputs.insert(id.clone(), what) {
                    problems.push(format!(
                        "{key}: \"{id}\" is already the id of a {other}; output ids must be unique"
                    ));
                }
            };
        let mut models = HashMap::new();
        for (id, source) in &c.sources {
            claim(id.clone(), "source", format!("sources.{id}"), &mut problems);
            let dead = match source {
                SourceConfig::File(f) => {
                    let path = self.base.join(&f.path);
                    if !path.is_file() {
                        problems.push(format!(
                            "sources.{id}.path: input file {} does not exist",
                            path.display()
                        ));
                    }
                    f.dead_letter.as_ref()
                }
                SourceConfig::Stdin(s) => s.dead_letter.as_ref(),
                SourceConfig::Generator(_) => None,
                SourceConfig::Kafka(k) => k.dead_letter.as_ref(),
            };
            problems.extend(crate::connectors::check_source(id, source));
            if let Some(dead) = dead {
                claim(
                    dead.clone(),
                    "dead-letter output",
                    format!("sources.{id}.dead_letter"),
                    &mut problems,
                );
            }
        }
        for (id, t) in &c.transforms {
            claim(
                id.clone(),
                "transform",
                format!("transforms.{id}"),
                &mut problems,
            );
            match t {
                // Count windows have no late events.
                TransformConfig::Window(w) if !matches!(w.window, WindowSpec::Count { .. }) => {
                    claim(
                        format!("{id}.late"),
                        "late output",
                        format!("transforms.{id}"),
                        &mut problems,
                    );
                }
                TransformConfig::Pattern(_) => {
                    for side in crate::pattern::SIDE_OUTPUTS {
                        claim(
                            format!("{id}.{side}"),
                            "pattern side output",
                            format!("transforms.{id}"),
                            &mut problems,
                        );
                    }
                }
                _ => {}
            }
            if let Some((dead, key)) = t.dead_letter() {
                claim(
                    dead.to_string(),
                    "dead-letter output",
                    format!("transforms.{id}.{key}"),
                    &mut problems,
                );
            }
        }
        let known = |input: &str| outputs.contains_key(input);
        // The store, opened when a transform needs it to be checked.
        let mut store: Option<styx_store::Store> = None;
        let mut stored_patterns = HashMap::new();
        for (id, t) in &c.transforms {
            if t.inputs().is_empty() {
                problems.push(format!("transforms.{id}.inputs: names no input"));
            }
            for input in t.inputs() {
                if !known(input) {
                    problems.push(format!(
                        "transforms.{id}.inputs: \"{input}\" does not match any source or transform"
                    ));
                }
            }
            match t {
                TransformConfig::Notify(n) => problems.extend(crate::notify::check(id, n)),
                TransformConfig::Baseline(b) => problems.extend(crate::baseline::check(id, b)),
                TransformConfig::Filter(f) => {
                    if let Err(e) = Expr::compile(&f.condition) {
                        problems.push(format!("transforms.{id}.condition: {e}"));
                    }
                }
                TransformConfig::Map(m) => {
                    for (field, e) in &m.fields {
                        if let Err(e) = Expr::compile(e) {
                            problems.push(format!("transforms.{id}.fields.{field}: {e}"));
                        }
                    }
                }
                TransformConfig::Window(w) => problems.extend(check_window(id, w)),
                TransformConfig::Pattern(p) => match &p.pattern {
                    None => problems.extend(crate::pattern::check(id, p)),
                    Some(reference) => match self.stored_pattern(id, p, reference, &mut store) {
                        Ok(resolved) => {
                            problems.extend(crate::pattern::check(id, &resolved.0));
                            stored_patterns.insert(id.clone(), resolved);
                        }
                        Err(e) => problems.push(e),
                    },
                },
                TransformConfig::Lookup(l) => {
                    if l.table.is_empty() || l.key.is_empty() {
                        problems.push(format!("transforms.{id}: table and key must not be empty"));
                    }
                }
                TransformConfig::Rules(r) => {
                    if r.ruleset.is_empty() {
                        problems.push(format!("transforms.{id}.ruleset: must not be empty"));
                    }
                }
                TransformConfig::Score(s) if s.model.starts_with(crate::enrich::STORE_PREFIX) => {
                    let model_id = &s.model[crate::enrich::STORE_PREFIX.len()..];
                    match self.open_store(&mut store) {
                        Ok(st) => {
                            if let Err(e) = crate::enrich::stored_scorer(id, model_id, s, st) {
                                problems.push(e);
                            }
                        }
                        Err(e) => problems.push(format!("transforms.{id}.model: {e}")),
                    }
                }
                TransformConfig::Score(s) => {
                    let path = self.base.join(&s.model);
                    match styx_pmml::Model::from_path(&path) {
                        Ok(model) => {
                            let model = Arc::new(model);
                            match crate::score::scorer(id, s, model.clone()) {
                                Ok(scorer) => problems.extend(self.check_model_inputs(
                                    id,
                                    s,
                                    scorer.event_fields(),
                                )),
                                Err(e) => problems.push(e),
                            }
                            models.insert(id.clone(), model);
                        }
                        Err(e) => {
                            problems.push(format!("transforms.{id}.model: {}: {e}", path.display()))
                        }
                    }
                }
            }
        }
        let transactional: Vec<&String> = c
            .sinks
            .iter()
            .filter(|(_, s)| crate::connectors::is_exactly_once(s))
            .map(|(id, _)| id)
            .collect();
        if transactional.len() > 1 {
            problems.push(format!(
                "sinks.{}.delivery: a job has at most one exactly_once sink (its output \
                 commits in one transaction with the consumed offsets); also {:?}",
                transactional[1], transactional[0]
            ));
        }
        for (id, s) in &c.sinks {
            problems.extend(crate::connectors::check_sink(id, s, &self.config.job));
            if s.inputs().is_empty() {
                problems.push(format!("sinks.{id}.inputs: names no input"));
            }
            for input in s.inputs() {
                if !known(input) {
                    problems.push(format!(
                        "sinks.{id}.inputs: \"{input}\" does not match any source or transform"
                    ));
                }
            }
        }
        if c.sinks.is_empty() {
            problems.push(
                "sinks: the job has no sink, so its results would go nowhere (add a \
                 [sinks.ID] table)"
                    .to_string(),
            );
        }
        for id in c.sources.keys() {
            if !c.is_read(id) {
                problems.push(format!(
                    "sources.{id}: nothing reads it (no transform or sink names \"{id}\" in \
                     its inputs)"
                ));
            }
        }
        self.models = models;
        self.stored_patterns = stored_patterns;
        match self.topological_order() {
            Ok(order) => self.order = order,
            Err(cycle) => problems.push(format!(
                "transforms.{cycle}: its inputs lead back to itself (a cycle)"
            )),
        }
        if problems.is_empty() {
            problems.extend(self.check_event_time());
        }
        problems
    }

    /// The fields every event of output `id` has, when its shape is known: a time
    /// window's results (the key, `window_start`, `window_end` and the aggregates), a
    /// count window's (the key and the aggregates).
    fn known_fields(&self, id: &str) -> Option<Vec<String>> {
        let TransformConfig::Window(w) = self.config.transforms.get(id)? else {
            return None;
        };
        let mut fields = vec![w.key.clone()];
        if !matches!(w.window, WindowSpec::Count { .. }) {
            fields.extend(["window_start".to_string(), "window_end".to_string()]);
        }
        fields.extend(w.aggregates.keys().cloned());
        Some(fields)
    }

    /// Model inputs that score transform `id` reads from event fields which none of its
    /// inputs of known shape has: every event would be scored with them missing.
    fn check_model_inputs(
        &self,
        id: &str,
        s: &crate::config::ScoreConfig,
        reads: Vec<(&str, &str)>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for input in &s.inputs {
            let Some(known) = self.known_fields(input) else {
                continue;
            };
            for (model_field, event_field) in &reads {
                if !known.iter().any(|k| k == event_field) {
                    problems.push(format!(
                        "transforms.{id}: the model's input `{model_field}` reads the field \
                         `{event_field}`, which the results of `{input}` never have (they \
                         have {}); map it with `fields = {{ {model_field} = \"...\" }}`",
                        known.join(", ")
                    ));
                }
            }
        }
        problems
    }

    /// Orders transforms after their inputs; the error names a transform on a cycle.
    fn topological_order(&self) -> Result<Vec<String>, String> {
        let transforms = &self.config.transforms;
        let producer = |input: &str| -> Option<String> {
            let dead_of = transforms
                .iter()
                .find(|(_, t)| t.dead_letter().is_some_and(|(d, _)| d == input))
                .map(|(id, _)| id.clone());
            let id = input
                .strip_suffix(".late")
                .or_else(|| input.strip_suffix(".timed_out"))
                .unwrap_or(input);
            dead_of.or_else(|| transforms.contains_key(id).then(|| id.to_string()))
        };
        let mut order = Vec::new();
        let mut done = HashSet::new();
        let mut visiting = HashSet::new();
        fn visit(
            id: &str,
            transforms: &indexmap::IndexMap<String, TransformConfig>,
            producer: &dyn Fn(&str) -> Option<String>,
            done: &mut HashSet<String>,
            visiting: &mut HashSet<String>,
            order: &mut Vec<String>,
        ) -> Result<(), String> {
            if done.contains(id) {
                return Ok(());
            }
            if !visiting.insert(id.to_string()) {
                return Err(id.to_string());
            }
            for input in transforms[id].inputs() {
                if let Some(p) = producer(input) {
                    visit(&p, transforms, producer, done, visiting, order)?;
                }
            }
            visiting.remove(id);
            done.insert(id.to_string());
            order.push(id.to_string());
            Ok(())
        }
        for id in transforms.keys() {
            visit(
                id,
                transforms,
                &producer,
                &mut done,
                &mut visiting,
                &mut order,
            )?;
        }
        Ok(order)
    }

    /// Event-time windows need inputs whose events carry event time.
    fn check_event_time(&self) -> Vec<String> {
        let c = &self.config;
        let mut timed: HashMap<String, bool> = HashMap::new();
        for (id, s) in &c.sources {
            let has = match s {
                SourceConfig::File(f) => f.event_time.is_some(),
                SourceConfig::Stdin(f) => f.event_time.is_some(),
                SourceConfig::Generator(g) => g.event_time.is_some(),
                SourceConfig::Kafka(k) => k.event_time.is_some(),
            };
            timed.insert(id.clone(), has);
        }
        let mut problems = Vec::new();
        for id in &self.order {
            let t = &c.transforms[id];
            let inputs_timed = t
                .inputs()
                .iter()
                .all(|i| timed.get(i.as_str()).copied().unwrap_or(false));
            if let Some((dead, _)) = t.dead_letter() {
                timed.insert(dead.to_string(), false);
            }
            let out = match t {
                TransformConfig::Window(w) => {
                    if window_domain(&w.window) == Some(TimeDomain::EventTime) && !inputs_timed {
                        problems.push(format!(
                            "transforms.{id}.window: event-time windows need inputs with \
                             event time (set event_time on their sources)"
                        ));
                    }
                    timed.insert(format!("{id}.late"), inputs_timed);
                    !matches!(w.window, WindowSpec::Count { .. })
                }
                TransformConfig::Pattern(p) => {
                    let p = self.stored_patterns.get(id).map_or(p, |s| &s.0);
                    let event_time = p.time == TimeKind::Event;
                    if event_time && !inputs_timed {
                        problems.push(format!(
                            "transforms.{id}: an event-time pattern needs inputs with event \
                             time (set event_time on their sources, or time = \"processing\")"
                        ));
                    }
                    for side in crate::pattern::SIDE_OUTPUTS {
                        timed.insert(format!("{id}.{side}"), inputs_timed && event_time);
                    }
                    timed.insert(format!("{id}.late"), inputs_timed);
                    inputs_timed && event_time
                }
                TransformConfig::Baseline(_) => {
                    if !inputs_timed {
                        problems.push(format!(
                            "transforms.{id}: a baseline needs inputs with event time (set \
                             event_time on their sources)"
                        ));
                    }
                    inputs_timed
                }
                _ => inputs_timed,
            };
            timed.insert(id.clone(), out);
        }
        problems
    }

    /// Builds the dataflow into `env`.
    fn build(&self, env: &Environment, parallelism: usize, built: &Built) -> Result<(), String> {
        let Built {
            exactly_once,
            group,
            live,
            metrics,
        } = *built;
        if let Some(metrics) = metrics {
            // Before any stage is added: each measures its backpressure from the start.
            env.set_backpressure(metrics.backpressure());
            if let Some(live) = live {
                metrics.follow_store(live.in_use());
            }
        }
        let with_config = |e: Expr| match live {
            Some(live) => e.with_config(live.config()),
            None => e,
        };
        let need_live = |what: &str| {
            live.ok_or_else(|| format!("{what} needs the store, which the job did not open"))
        };
        let c = &self.config;
        let policy = match c.job.on_error {
            OnError::Continue => Policy::count(),
            OnError::Fail => Policy::fail(env.fail_handle()),
        }
        .with_metrics(metrics);
        let mut outputs: HashMap<String, Output> = HashMap::new();
        // Which operator writes each output id (`W.late` and dead-letter ids included).
        let mut owners: HashMap<String, String> = HashMap::new();
        let graph_inputs = |inputs: &[String], owners: &HashMap<String, String>| {
            let mut ids: Vec<String> = inputs.iter().map(|i| owners[i].clone()).collect();
            ids.dedup();
            ids
        };
        for (id, source) in &c.sources {
            let op = metrics.map(|m| m.operator(id, OperatorKind::Source, source.type_name(), &[]));
            let before: HashSet<String> = outputs.keys().cloned().collect();
            let lag = op.as_ref().map(|o| o.consumer_lag());
            let (stream, dead) = self.build_source(env, id, source, exactly_once, group, lag)?;
            outputs.insert(id.clone(), Output { stream });
            if let Some((dead_id, dead_stream)) = dead {
                outputs.insert(
                    dead_id,
                    Output {
                        stream: dead_stream,
                    },
                );
            }
            meter_outputs(id, op.as_deref(), &before, &mut outputs, &mut owners);
        }
        for id in &self.order {
            let t = &c.transforms[id];
            let op = metrics.map(|m| {
                let inputs = graph_inputs(t.inputs(), &owners);
                m.operator(id, OperatorKind::Transform, t.type_name(), &inputs)
            });
            let before: HashSet<String> = outputs.keys().cloned().collect();
            let input = union(t.inputs(), &outputs);
            let input = match &op {
                Some(op) => op.count_in(&input),
                None => input,
            };
            match t {
                TransformConfig::Filter(f) => {
                    let expr = with_config(Expr::compile(&f.condition)?);
                    let failures = Failures::new(id, &policy);
                    let to_dead = f.dead_letter.is_some();
                    let (kept, dead) = input.flat_map_split(
                        |_| (),
                        move |_, e: Event, out, dead| {
                            if failures.job_failed() {
                                return;
                            }
                            match expr.eval_bool(&e) {
                                Ok(true) => out.push(e),
                                Ok(false) => {}
                                Err(err) => failures.event(&err, e, to_dead.then_some(dead)),
                            }
                        },
                    );
                    outputs.insert(
                        id.clone(),
                        Output {
                            stream: kept.with_timestamps_of(&input),
                        },
                    );
                    if let Some(dead_id) = &f.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Map(m) => {
                    let fields = m
                        .fields
                        .iter()
                        .map(|(f, e)| Ok((intern(f), with_config(Expr::compile(e)?))))
                        .collect::<Result<Vec<_>, String>>()?;
                    let remove = m.remove.clone();
                    let failures = Failures::new(id, &policy);
                    let to_dead = m.dead_letter.is_some();
                    let (mapped, dead) = input.flat_map_split(
                        |_| Vec::new(),
                        move |values: &mut Vec<Value>, mut e: Event, out, dead| {
                            if failures.job_failed() {
                                return;
                            }
                            values.clear();
                            for (f, expr) in &fields {
                                match expr.eval(&e) {
                                    Ok(v) => values.push(v),
                                    Err(err) => {
                                        let reason = format!("field {f}: {err}");
                                        failures.event(&reason, e, to_dead.then_some(dead));
                                        return;
                                    }
                                }
                            }
                            for ((f, _), v) in fields.iter().zip(values.drain(..)) {
                                e.insert(f.clone(), v);
                            }
                            for f in &remove {
                                e.shift_remove(f);
                            }
                            out.push(e);
                        },
                    );
                    outputs.insert(
                        id.clone(),
                        Output {
                            stream: mapped.with_timestamps_of(&input),
                        },
                    );
                    if let Some(dead_id) = &m.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Score(s) if s.model.starts_with(crate::enrich::STORE_PREFIX) => {
                    let model_id = &s.model[crate::enrich::STORE_PREFIX.len()..];
                    let live = need_live(&format!("transforms.{id}"))?;
                    let (scored, dead) = crate::enrich::stored_score(
                        id,
                        model_id,
                        &input,
                        s,
                        live,
                        &policy,
                        op.as_deref(),
                    )?;
                    outputs.insert(id.clone(), Output { stream: scored });
                    if let Some(dead_id) = &s.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Lookup(l) => {
                    let live = need_live(&format!("transforms.{id}"))?;
                    let (found, dead) = crate::lookup::lookup(id, &input, l, live, op.as_deref());
                    outputs.insert(id.clone(), Output { stream: found });
                    if !["keep", "drop"].contains(&l.missing.as_str()) {
                        outputs.insert(l.missing.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Rules(r) => {
                    let live = need_live(&format!("transforms.{id}"))?;
                    let matched = crate::enrich::rules(id, &input, r, live, &policy)?;
                    outputs.insert(id.clone(), Output { stream: matched });
                }
                TransformConfig::Score(s) => {
                    let scorer = crate::score::scorer(id, s, self.models[id].clone())?
                        .with_failures(Failures::new(id, &policy));
                    let (scored, dead) =
                        scorer.apply_to(&input, s.dead_letter.is_some(), op.as_deref());
                    outputs.insert(id.clone(), Output { stream: scored });
                    if let Some(dead_id) = &s.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Pattern(p) => {
                    let stored = self.stored_patterns.get(id);
                    let p = stored.map_or(p, |s| &s.0);
                    let found =
                        crate::pattern::build(id, &input, p, live, stored.map(|s| &s.1), &policy)?;
                    outputs.insert(
                        id.clone(),
                        Output {
                            stream: found.matches,
                        },
                    );
                    outputs.insert(
                        format!("{id}.timed_out"),
                        Output {
                            stream: found.timed_out,
                        },
                    );
                    outputs.insert(format!("{id}.late"), Output { stream: found.late });
                }
                TransformConfig::Notify(n) => {
                    let use_case = n.use_case.clone().unwrap_or_else(|| c.job.name.clone());
                    let (sent, dead) = crate::notify::build(id, &input, n, &use_case, &policy)?;
                    outputs.insert(id.clone(), Output { stream: sent });
                    if let Some(dead_id) = &n.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: dead });
                    }
                }
                TransformConfig::Baseline(b) => {
                    let stream = crate::baseline::build(id, &input, b, &policy)?;
                    outputs.insert(id.clone(), Output { stream });
                }
                TransformConfig::Window(w) => {
                    // Events of a source that decodes only what windows read.
                    let partial = w.inputs.iter().any(|i| self.fields_read(i).is_some());
                    let built = build_window(id, &input, w, parallelism, &policy, partial)?;
                    outputs.insert(
                        id.clone(),
                        Output {
                            stream: built.results,
                        },
                    );
                    if let Some(late) = built.late {
                        outputs.insert(format!("{id}.late"), Output { stream: late });
                    }
                    if let Some(dead_id) = &w.dead_letter {
                        outputs.insert(dead_id.clone(), Output { stream: built.dead });
                    }
                }
            }
            meter_outputs(id, op.as_deref(), &before, &mut outputs, &mut owners);
        }
        for (id, sink) in &c.sinks {
            let input = union(sink.inputs(), &outputs);
            let input = match metrics {
                Some(m) => {
                    let inputs = graph_inputs(sink.inputs(), &owners);
                    m.operator(id, OperatorKind::Sink, sink.type_name(), &inputs)
                        .count_in(&input)
                }
                None => input,
            };
            match sink {
                SinkConfig::File(f) => {
                    let path = self.base.join(&f.path);
                    input.sink(&format!("sinks.{id}"), 1, move |_| LineSink::create(&path));
                }
                SinkConfig::Stdout(_) => {
                    input.sink(&format!("sinks.{id}"), 1, |_| Ok(stdout_sink()));
                }
                SinkConfig::Webhook(w) => {
                    let options = styx_connectors::webhook::WebhookOptions {
                        url: w.url.clone(),
                        retries: w.retries,
                        backoff: w.backoff.0,
                        max_backoff: w.max_backoff.0,
                        timeout: w.timeout.0,
                        dead_letter: w.dead_letter_file.as_ref().map(|p| self.base.join(p)),
                    };
                    input.sink(&format!("sinks.{id}"), 1, move |_| {
                        styx_connectors::webhook::WebhookSink::new(options.clone())
                    });
                }
                SinkConfig::Kafka(_) => {
                    crate::connectors::build_sink(
                        &input,
                        id,
                        sink,
                        parallelism,
                        &self.config.job,
                        exactly_once,
                    )?;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn build_source(
        &self,
        env: &Environment,
        id: &str,
        source: &SourceConfig,
        exactly_once: Option<&ExactlyOnce>,
        group: Option<&GroupRun>,
        lag: Option<Arc<styx_kafka::ConsumerLag>>,
    ) -> Result<(DataStream<Event>, Option<(String, DataStream<Event>)>), String> {
        if let Some(built) = crate::connectors::build_source(
            env,
            id,
            source,
            &self.config.job,
            &watermark_strategy,
            crate::connectors::SourceWith {
                exactly_once,
                group,
                lag,
                only: self.fields_read(id),
            },
        )? {
            return Ok(built);
        }
        let (event_time, dead_id) = match source {
            SourceConfig::File(f) => (f.event_time.clone(), f.dead_letter.clone()),
            SourceConfig::Stdin(s) => (s.event_time.clone(), s.dead_letter.clone()),
            SourceConfig::Generator(g) => (g.event_time.clone(), None),
            SourceConfig::Kafka(k) => (k.event_time.clone(), k.dead_letter.clone()),
        };
        let dead = dead_id
            .as_ref()
            .map(|_| DataStream::<Event>::new_port_stream(env, 1));
        let dead_for_source = dead.clone();
        let time_field = event_time.as_ref().map(|t| t.field.clone());
        let only = self.fields_read(id);
        let name = format!("sources.{id}");
        let stream = match source {
            SourceConfig::File(f) => {
                let path = self.base.join(&f.path);
                env.source(&name, 1, move |i, _| {
                    let dead =
                        DeadLetters::new(dead_for_source.as_ref().map(|d| d.port_emitter(i)));
                    let s = LineSource::open(&path, time_field.clone(), dead)?
                        .reading_only(only.clone());
                    Ok(Box::new(s) as Box<dyn Source<Event>>)
                })
            }
            SourceConfig::Stdin(_) => env.source(&name, 1, move |i, _| {
                let dead = DeadLetters::new(dead_for_source.as_ref().map(|d| d.port_emitter(i)));
                let s = stdin_source(time_field.clone(), dead).reading_only(only.clone());
                Ok(Box::new(s) as Box<dyn Source<Event>>)
            }),
            SourceConfig::Generator(_) | SourceConfig::Kafka(_) => {
                unreachable!("built by the connectors module")
            }
        };
        let stream = match &event_time {
            Some(t) => stream.assign_timestamps_and_watermarks(watermark_strategy(t)),
            None => stream,
        };
        Ok((stream, dead_id.zip(dead)))
    }

    /// The fields of source `id`'s events that the job reads, when it passes none of its
    /// events on (every reader is a time or count window without a dead-letter output or
    /// a read late output): the event-time field, the windows' keys and aggregated
    /// fields. `None`: the events go on whole.
    fn fields_read(&self, id: &str) -> Option<Vec<String>> {
        let c = &self.config;
        if c.sinks.values().any(|s| s.inputs().iter().any(|i| i == id)) {
            return None;
        }
        let mut fields = Vec::new();
        let mut readers = 0;
        for (tid, t) in &c.transforms {
            if !t.inputs().iter().any(|i| i == id) {
                continue;
            }
            readers += 1;
            let TransformConfig::Window(w) = t else {
                return None;
            };
            if w.dead_letter.is_some() || c.is_read(&format!("{tid}.late")) {
                return None;
            }
            fields.push(w.key.clone());
            for spec in w.aggregates.values() {
                fields.extend(AggKind::parse(spec).ok()?.field().map(str::to_string));
            }
        }
        if readers == 0 {
            return None;
        }
        let time = match c.sources.get(id)? {
            SourceConfig::File(f) => &f.event_time,
            SourceConfig::Stdin(s) => &s.event_time,
            // The raw format builds its events itself.
            SourceConfig::Kafka(k) if k.format == styx_kafka::Format::Json => &k.event_time,
            _ => return None,
        };
        fields.extend(time.as_ref().map(|t| t.field.clone()));
        fields.sort();
        fields.dedup();
        Some(fields)
    }

    /// Whether the job reads the store: lookups, rules, stored models or patterns, or
    /// `config` in an expression.
    fn uses_store(&self) -> bool {
        let uses_config = |e: &str| Expr::compile(e).is_ok_and(|e| e.uses_config());
        self.config.store.is_some()
            || self.config.transforms.values().any(|t| match t {
                TransformConfig::Lookup(_) | TransformConfig::Rules(_) => true,
                TransformConfig::Score(s) => s.model.starts_with(crate::enrich::STORE_PREFIX),
                TransformConfig::Pattern(p) => {
                    p.pattern.is_some()
                        || p.stages.iter().any(|s| {
                            uses_config(&s.condition)
                                || s.or.iter().any(|c| uses_config(c))
                                || s.until.as_deref().is_some_and(uses_config)
                        })
                }
                TransformConfig::Filter(f) => uses_config(&f.condition),
                TransformConfig::Map(m) => m.fields.values().any(|e| uses_config(e)),
                TransformConfig::Window(_)
                | TransformConfig::Notify(_)
                | TransformConfig::Baseline(_) => false,
            })
    }

    /// The job's view of the store, when it uses one.
    fn live(&self) -> Result<Option<Live>, String> {
        if !self.uses_store() {
            return Ok(None);
        }
        Live::open(&self.store_url, self.refresh)
            .map(Some)
            .map_err(|e| format!("store: {e}"))
    }

    fn open_store<'s>(
        &self,
        store: &'s mut Option<styx_store::Store>,
    ) -> Result<&'s styx_store::Store, String> {
        if store.is_none() {
            *store = Some(styx_store::Store::open(&self.store_url).map_err(|e| e.to_string())?);
        }
        Ok(store.as_ref().expect("opened above"))
    }

    /// Pattern transform `id` with the stages and options of the stored pattern
    /// `reference` names.
    fn stored_pattern(
        &self,
        id: &str,
        p: &crate::config::PatternConfig,
        reference: &str,
        store: &mut Option<styx_store::Store>,
    ) -> Result<(crate::config::PatternConfig, crate::pattern::StoredPattern), String> {
        let key = format!("transforms.{id}.pattern");
        let Some(pattern_id) = reference.strip_prefix(crate::enrich::STORE_PREFIX) else {
            return Err(format!("{key}: expected store:ID, not \"{reference}\""));
        };
        if !p.stages.is_empty() {
            return Err(format!(
                "{key}: a pattern from the store has no stages of its own"
            ));
        }
        let store = self.open_store(store).map_err(|e| format!("{key}: {e}"))?;
        let (version, text) = store
            .pattern(pattern_id)
            .map_err(|e| format!("{key}: {e}"))?
            .ok_or_else(|| format!("{key}: the store has no pattern {pattern_id}"))?;
        let spec =
            crate::store::parse_pattern(pattern_id, &text).map_err(|e| format!("{key}: {e}"))?;
        Ok((
            crate::pattern::from_spec(p.inputs.clone(), p.key.clone(), &spec),
            crate::pattern::StoredPattern {
                id: pattern_id.to_string(),
                version,
            },
        ))
    }

    /// Runs the job until its sources end.
    pub fn run(&self, options: &RunOptions) -> Result<(), JobError> {
        let parallelism = options
            .parallelism
            .or(self.config.job.parallelism)
            .unwrap_or(1)
            .max(1);
        let invalid = |p| JobError::Invalid {
            file: self.file.clone(),
            problems: vec![p],
        };
        if let Some(groups) = Groups::join(&self.config, &self.order).map_err(invalid)? {
            return self.run_in_groups(&groups, parallelism, options);
        }
        let env = Environment::new(parallelism);
        if let Some(stop) = &options.stop {
            env.set_stop_handle(stop.clone());
        }
        // The state directory first: a job refused because another one runs there must
        // touch neither that one's working state nor its Kafka transactions.
        let state_dir =
            StateDir::take(self.state_dir(), options.from_savepoint.as_deref()).map_err(invalid)?;
        if let (StateBackendKind::Disk, Some(dir), Some(taken)) =
            (self.config.job.state_backend, self.state_dir(), &state_dir)
        {
            let trees = dir.join(STATE_BACKEND_DIR);
            for stale in std::fs::read_dir(&trees).into_iter().flatten().flatten() {
                if stale.file_name().to_str() != Some(taken.incarnation()) {
                    let path = stale.path();
                    let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
                }
            }
            let backend = StateBackend::disk(trees.join(taken.incarnation()))
                .map_err(|e| invalid(format!("job.state_backend: {e}")))?;
            env.set_state_backend(backend);
        }
        let (resume, exactly_once) = self.resume().map_err(invalid)?;
        let checkpointing = state_dir
            .map(|s| {
                s.enable(
                    &env,
                    self.config.job.checkpoint_interval.map(|d| d.0),
                    resume,
                )
            })
            .transpose()
            .map_err(invalid)?;
        let live = self.live().map_err(invalid)?;
        if let (Some(live), Some(checkpointing)) = (&live, &checkpointing) {
            // Checkpoints record the versions the job used (a restored job reads the
            // store's current ones).
            let in_use = live.in_use();
            checkpointing.annotate(Arc::new(move || {
                let in_use = in_use.lock().unwrap_or_else(|e| e.into_inner());
                in_use.clone()
            }));
        }
        if let (Some(metrics), Some(c)) = (&options.metrics, &checkpointing) {
            metrics.follow_checkpoints(c.statistics());
        }
        let built = Built {
            exactly_once: exactly_once.as_ref(),
            group: None,
            live: live.as_ref(),
            metrics: options.metrics.as_ref(),
        };
        self.build(&env, parallelism, &built).map_err(invalid)?;
        if let Some(live) = &live {
            live.start();
        }
        env.execute().map_err(|error| {
            // A zombie fails on whatever it touches first once continued (a fenced
            // producer, its removed working tree); the cause is that it was fenced.
            let fenced = checkpointing.as_ref().and_then(Checkpointing::fenced);
            let error = match fenced {
                Some(f) if !error.error.to_string().contains("fenced") => RuntimeError::new(
                    error.operator,
                    format!("{f} (what failed: {})", error.error),
                ),
                _ => error,
            };
            JobError::Run {
                file: self.file.clone(),
                error,
            }
        })?;
        if let Some(c) = checkpointing {
            c.finished();
        }
        Ok(())
    }

    /// Runs a job that reads through its process's group memberships (see
    /// [`crate::group`]): each time the groups move partitions, the dataflow starts again
    /// on the new assignment from the committed offsets.
    fn run_in_groups(
        &self,
        groups: &Groups,
        parallelism: usize,
        options: &RunOptions,
    ) -> Result<(), JobError> {
        let invalid = |p| JobError::Invalid {
            file: self.file.clone(),
            problems: vec![p],
        };
        loop {
            let run = groups.plan(parallelism).map_err(invalid)?;
            let env = Environment::new(parallelism);
            if let Some(stop) = &options.stop {
                // Waiting for the group is not idleness of the input: `--until-idle`
                // counts from the start of each run of the dataflow.
                stop.record_activity();
                env.set_stop_handle(stop.clone());
            }
            // Windows that fired before the commits the run starts from stay closed, from
            // the first record on, whichever instance it comes through.
            if let Some(start) = run.start_watermark() {
                env.set_start_watermark(start);
            }
            // Commits wait for the sinks: a window fired but not yet delivered is made
            // again from the input after a crash.
            env.track_deliveries(run.deliveries().clone());
            let live = self.live().map_err(invalid)?;
            let built = Built {
                exactly_once: None,
                group: Some(&run),
                live: live.as_ref(),
                metrics: options.metrics.as_ref(),
            };
            self.build(&env, parallelism, &built).map_err(invalid)?;
            if let Some(live) = &live {
                live.start();
            }
            match env.execute() {
                Ok(()) => return Ok(()),
                Err(_) if groups.reassigned(&run) => {
                    tracing::info!(
                        "the group moved partitions: reading again from the committed offsets"
                    );
                }
                Err(error) => {
                    return Err(JobError::Run {
                        file: self.file.clone(),
                        error,
                    })
                }
            }
        }
    }

    /// Where the job resumes. A job with an exactly-once sink resumes from the snapshot
    /// its last Kafka transaction committed with, or afresh after its committed offsets;
    /// other jobs from their newest checkpoint.
    ///
    /// The exactly-once sink's producer initialises its transactions first, which fences
    /// every earlier incarnation of the job: their open transactions are aborted and they
    /// can commit nothing more, so the committed offsets read next are final.
    fn resume(&self) -> Result<(Resume, Option<ExactlyOnce>), String> {
        let Some((sink_id, sink)) = self
            .config
            .sinks
            .iter()
            .find(|(_, s)| crate::connectors::is_exactly_once(s))
        else {
            return Ok((Resume::Latest, None));
        };
        let producer = crate::connectors::fence(sink_id, sink, &self.config.job)?;
        let sources = self.config.sources.iter().filter_map(|(id, s)| match s {
            SourceConfig::Kafka(k) => Some((id.as_str(), k)),
            _ => None,
        });
        let last = crate::exactly_once::last_commit(sources)?;
        tracing::info!(marker = ?last.marker, "the last committed transaction");
        let resume = match last.marker {
            Marker::Checkpoint { id, incarnation } => Resume::Snapshot { id, incarnation },
            Marker::End | Marker::None => Resume::Afresh,
        };
        let exactly_once = ExactlyOnce {
            producer: std::sync::Mutex::new(producer),
            link: TransactionLink::new(),
            committed: last.committed,
            partitions: last.partitions,
        };
        Ok((resume, Some(exactly_once)))
    }

    /// The job's state directory, if it has one.
    ///
    /// With `state_backend = "disk"` the operators' working state is in its
    /// [`STATE_BACKEND_DIR`] folder.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.config
            .job
            .state_dir
            .as_ref()
            .map(|d| self.base.join(d))
    }
}

/// What a build of the dataflow goes with, beyond the job file.
struct Built<'a> {
    exactly_once: Option<&'a ExactlyOnce>,
    group: Option<&'a GroupRun>,
    live: Option<&'a Live>,
    metrics: Option<&'a Arc<JobMetrics>>,
}

/// Puts the meters of operator `id` on the outputs it added (those not in `before`): its
/// main output (`id`) as records out, `.late` and dead-letter outputs as drops, other
/// side outputs (`.timed_out`) by name; and records `id` as their owner.
fn meter_outputs(
    id: &str,
    op: Option<&OperatorMetrics>,
    before: &HashSet<String>,
    outputs: &mut HashMap<String, Output>,
    owners: &mut HashMap<String, String>,
) {
    let added: Vec<String> = outputs
        .keys()
        .filter(|k| !before.contains(*k))
        .cloned()
        .collect();
    for out_id in added {
        owners.insert(out_id.clone(), id.to_string());
        let Some(op) = op else { continue };
        let output = outputs.get_mut(&out_id).expect("just listed");
        output.stream = if out_id == id {
            op.count_out(&output.stream)
        } else if let Some(side) = out_id.strip_prefix(&format!("{id}.")) {
            match side {
                "late" => op.count_dropped(&output.stream, reason::LATE),
                other => op.count_side(&output.stream, other),
            }
        } else {
            op.count_dropped(&output.stream, reason::DEAD_LETTER)
        };
    }
}

fn union(inputs: &[String], outputs: &HashMap<String, Output>) -> DataStream<Event> {
    let mut streams = inputs.iter().map(|i| &outputs[i].stream);
    let first = streams.next().expect("inputs are checked").clone();
    streams.fold(first, |acc, s| acc.union(s))
}

fn field_time(field: &str) -> TimestampFn<Event> {
    let field = intern(field);
    Arc::new(move |e: &Event| e.get(&field).and_then(Value::as_i64).unwrap_or(i64::MIN))
}

fn watermark_strategy(t: &EventTimeConfig) -> WatermarkStrategy<Event> {
    let ts = field_time(&t.field);
    let mut s =
        WatermarkStrategy::bounded_out_of_orderness(t.max_out_of_orderness.0, move |e| ts(e));
    s = match t.watermarks {
        WatermarkMode::PerEvent => s.with_emission(Emission::PerEvent),
        WatermarkMode::Periodic => s.with_emission(Emission::Periodic(
            t.interval
                .map(|i| i.0)
                .unwrap_or(Duration::from_millis(200)),
        )),
    };
    if let Some(idle) = t.idle_timeout {
        s = s.with_idleness(idle.0);
    }
    s
}

fn window_domain(spec: &WindowSpec) -> Option<TimeDomain> {
    let time = match spec {
        WindowSpec::Tumbling { time, .. }
        | WindowSpec::Sliding { time, .. }
        | WindowSpec::Session { time, .. } => *time,
        WindowSpec::Count { .. } => return None,
    };
    Some(match time {
        TimeKind::Event => TimeDomain::EventTime,
        TimeKind::Processing => TimeDomain::ProcessingTime,
    })
}

/// The longest window size, slide or gap a job may have: a year.
const MAX_WINDOW_MS: i64 = 366 * 24 * 3600 * 1000;

/// The most sliding windows an event may fall in.
const MAX_SLIDING_WINDOWS: i64 = 10_000;

fn check_window(id: &str, w: &WindowConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if w.aggregates.is_empty() {
        problems.push(format!("transforms.{id}.aggregates: names no aggregate"));
    }
    for (name, spec) in &w.aggregates {
        if let Err(e) = AggKind::parse(spec) {
            problems.push(format!("transforms.{id}.aggregates.{name}: {e}"));
        }
    }
    let sane = |what: &str, d: &crate::duration::HumanDuration, problems: &mut Vec<String>| {
        if d.millis() <= 0 {
            problems.push(format!(
                "transforms.{id}.window.{what}: must be at least 1ms"
            ));
        } else if d.millis() > MAX_WINDOW_MS {
            problems.push(format!(
                "transforms.{id}.window.{what}: {} is more than a year, surely a mistake \
                 (\"M\" is months, \"m\" minutes)",
                d.text()
            ));
        }
    };
    match &w.window {
        WindowSpec::Tumbling { size, .. } => sane("size", size, &mut problems),
        WindowSpec::Sliding { size, slide, .. } => {
            sane("size", size, &mut problems);
            sane("slide", slide, &mut problems);
            let per_event = size.millis().max(1) / slide.millis().max(1);
            if slide.millis() > 0 && per_event > MAX_SLIDING_WINDOWS {
                problems.push(format!(
                    "transforms.{id}.window: a size of {} with a slide of {} puts each event \
                     in {per_event} windows, more than {MAX_SLIDING_WINDOWS}: surely a mistake \
                     (\"M\" is months, \"m\" minutes)",
                    size.text(),
                    slide.text()
                ));
            }
        }
        WindowSpec::Session { gap, .. } => sane("gap", gap, &mut problems),
        WindowSpec::Count { size, slide } => {
            if *size == 0 || *slide == Some(0) {
                problems.push(format!(
                    "transforms.{id}.window: count windows need a size and slide of at least 1"
                ));
            }
        }
    }
    problems
}

#[allow(clippy::type_complexity)]
/// The outputs of a window transform: results, late events (time windows), events
/// left out.
struct WindowOutputs {
    results: DataStream<Event>,
    late: Option<DataStream<Event>>,
    dead: DataStream<Event>,
}

fn build_window(
    id: &str,
    input: &DataStream<Event>,
    w: &WindowConfig,
    parallelism: usize,
    policy: &Policy,
    partial: bool,
) -> Result<WindowOutputs, String> {
    let specs = w
        .aggregates
        .iter()
        .map(|(name, spec)| Ok((name.clone(), AggKind::parse(spec)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let aggs = Arc::new(JsonAggregates::new(specs.clone()));
    // The key, the window's bounds and the aggregates.
    let fields = specs.len() + 3;
    let key_field = w.key.clone();
    let key_name = intern(&key_field);
    // The result's names all differ (the usual case): its fields are added without
    // looking for earlier ones of the same name.
    let fresh = match &w.window {
        WindowSpec::Count { .. } => aggs.names_differ_from(&[&key_field]),
        _ => aggs.names_differ_from(&[&key_field, "window_start", "window_end"]),
    };
    let (input, dead) = window_inputs(id, input, w, &specs, policy, partial);
    let input = &input;
    let keyed = {
        let key_name = key_name.clone();
        input.key_by(move |e: &Event| KeyValue::of(e.get(&key_name)))
    };
    let assigner = match &w.window {
        WindowSpec::Tumbling { size, .. } => WindowAssigner::tumbling(size.0),
        WindowSpec::Sliding { size, slide, .. } => WindowAssigner::sliding(size.0, slide.0),
        WindowSpec::Session { gap, .. } => WindowAssigner::session(gap.0),
        WindowSpec::Count { size, slide } => {
            let writer = aggs.clone();
            let results = keyed.sliding_count_window(
                *size,
                slide.unwrap_or(*size),
                JsonAggregates::new(specs),
                move |key: &KeyValue, acc| {
                    let mut out = Event::with_capacity(fields);
                    out.push(key_name.clone(), key.to_value());
                    writer.write(&acc, &mut out, fresh);
                    out
                },
            );
            return Ok(WindowOutputs {
                results,
                late: None,
                dead,
            });
        }
    };
    let domain = window_domain(&w.window).unwrap_or(TimeDomain::EventTime);
    let writer = aggs.clone();
    let (start_name, end_name) = (Name::from("window_start"), Name::from("window_end"));
    let windowed = keyed
        .window(assigner.with_domain(domain))
        .name(&format!("transforms.{id}"))
        .allowed_lateness(w.allowed_lateness.0)
        .parallelism(parallelism)
        .aggregate(
            JsonAggregates::new(specs),
            move |key: &KeyValue, window: TimeWindow, acc| {
                let mut out = Event::with_capacity(fields);
                out.push(key_name.clone(), key.to_value());
                if fresh {
                    out.push(start_name.clone(), Value::from(window.start));
                    out.push(end_name.clone(), Value::from(window.end));
                } else {
                    out.insert(start_name.clone(), Value::from(window.start));
                    out.insert(end_name.clone(), Value::from(window.end));
                }
                writer.write(&acc, &mut out, fresh);
                out
            },
        );
    let results = windowed.results.with_timestamp_fn(Arc::new(|e: &Event| {
        e.get("window_end")
            .and_then(Value::as_i64)
            .map_or(i64::MIN, |end| end - 1)
    }));
    let late = windowed.late.with_timestamps_of(input);
    Ok(WindowOutputs {
        results,
        late: Some(late),
        dead,
    })
}

/// The events a window transform can aggregate, and those it cannot: without a key, or
/// with an aggregated field that holds something else than a number (numeric text
/// included). Those go to the dead-letter output or are reported as failures. An
/// aggregated field that is missing or null leaves the event out of that field's
/// aggregates only, as SQL aggregates skip nulls; such events are counted and
/// summarised in the log.
fn window_inputs(
    id: &str,
    input: &DataStream<Event>,
    w: &WindowConfig,
    specs: &[(String, AggKind)],
    policy: &Policy,
    partial: bool,
) -> (DataStream<Event>, DataStream<Event>) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (_, kind) in specs {
        let (f, name) = match kind {
            AggKind::Count => continue,
            AggKind::Sum(f) => (f, "sum"),
            AggKind::Min(f) => (f, "min"),
            AggKind::Max(f) => (f, "max"),
            AggKind::Avg(f) => (f, "avg"),
        };
        if !fields.iter().any(|(known, _)| known == f) {
            fields.push((f.clone(), format!("{name}({f})")));
        }
    }
    let key = w.key.clone();
    let failures = Failures::of_events(id, policy, partial);
    let missing = Failures::notes_of(
        &format!("transforms.{id}"),
        "left out of those aggregates",
        partial,
    );
    let to_dead = w.dead_letter.is_some();
    let (valid, dead) = input.flat_map_split(
        |_| (),
        move |_, e: Event, out, dead| {
            if failures.job_failed() {
                return;
            }
            match e.get(&key) {
                None => {
                    let reason = format!("the key field `{key}` is missing");
                    return failures.event(&reason, e, to_dead.then_some(dead));
                }
                Some(Value::Null) => {
                    let reason = format!("the key field `{key}` is null");
                    return failures.event(&reason, e, to_dead.then_some(dead));
                }
                Some(_) => {}
            }
            for (field, aggregate) in &fields {
                match e.get(field) {
                    Some(Value::Number(_)) => {}
                    None | Some(Value::Null) => missing.record(
                        &format!("`{field}` is missing or null, left out of {aggregate}"),
                        Some(&e),
                    ),
                    Some(other) => {
                        let reason = format!("{aggregate}: `{field}` is not a number: {other}");
                        return failures.event(&reason, e, to_dead.then_some(dead));
                    }
                }
            }
            out.push(e);
        },
    );
    (valid.with_timestamps_of(input), dead)
}
