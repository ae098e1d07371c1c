//! The job file format. Every table rejects keys it does not know.
//!
//! ```toml
//! [job]
//! name = "trends"
//! parallelism = 2
//!
//! [sources.tweets]
//! type = "file"                 # file | stdin | generator | kafka
//! path = "tweets.ndjson"
//! event_time = { field = "ts", max_out_of_orderness = "1s", watermarks = "per_event" }
//! dead_letter = "tweets.dead"   # an output id that sinks may read
//!
//! [transforms.english]
//! type = "filter"               # filter | map | window | score | pattern
//! inputs = ["tweets"]
//! condition = "lang == 'en'"
//!
//! [transforms.counts]
//! type = "window"
//! inputs = ["english"]
//! key = "word"
//! window = { type = "sliding", size = "1m", slide = "10s" }
//! aggregates = { n = "count" }
//!
//! [sinks.out]
//! type = "stdout"               # file | stdout | kafka
//! inputs = ["counts"]
//! ```

use indexmap::IndexMap;
use serde::Deserialize;

use crate::duration::HumanDuration;

/// A whole job file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// The job's name and settings.
    pub job: JobSection,
    /// Where events come from, by id.
    #[serde(default)]
    pub sources: IndexMap<String, SourceConfig>,
    /// Steps over the events, by id.
    #[serde(default)]
    pub transforms: IndexMap<String, TransformConfig>,
    /// Where results go, by id.
    #[serde(default)]
    pub sinks: IndexMap<String, SinkConfig>,
    /// The store of models, rules, patterns, configuration and reference data.
    #[serde(default)]
    pub store: Option<StoreSection>,
}

impl JobFile {
    /// Whether a transform or a sink reads output `id`.
    pub fn is_read(&self, id: &str) -> bool {
        let named = |inputs: &[String]| inputs.iter().any(|i| i == id);
        self.transforms.values().any(|t| named(t.inputs()))
            || self.sinks.values().any(|s| named(s.inputs()))
    }
}

/// The `[store]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite:PATH` or `cassandra://HOST:PORT/KEYSPACE` (default: `$STYX_STORE`, else
    /// `sqlite:styx.db` beside the job file).
    #[serde(default)]
    pub url: Option<String>,
    /// How often the running job looks for changes (default 1s).
    #[serde(default = "default_refresh")]
    pub refresh: HumanDuration,
}

fn default_refresh() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}

/// The `[job]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// The job's name.
    pub name: String,
    /// The number of instances of each keyed operator (default 1).
    #[serde(default)]
    pub parallelism: Option<usize>,
    /// How often to take a checkpoint (absent: never).
    #[serde(default)]
    pub checkpoint_interval: Option<HumanDuration>,
    /// Where checkpoints and savepoints live, relative to the job file.
    #[serde(default)]
    pub state_dir: Option<String>,
    /// Where operators keep their keyed state while the job runs (default: in memory).
    #[serde(default)]
    pub state_backend: StateBackendKind,
    /// What an event that a transform cannot handle, and that no dead-letter output
    /// takes, does to the job (default: it is counted and summarised).
    #[serde(default)]
    pub on_error: OnError,
}

/// The `on_error` of a job.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The event is dropped, counted and summarised in the log.
    #[default]
    Continue,
    /// The first such event stops the job with an error.
    Fail,
}

/// The `state_backend` of a job.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StateBackendKind {
    /// Hash maps on the heap: the fastest, bounded by memory.
    #[default]
    Memory,
    /// An embedded LSM tree in `STATE_DIR/state-backend`, for state larger than memory.
    Disk,
}

/// The format of records in a file or on stdin/stdout.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
}

/// How a source's events get their event time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTimeConfig {
    /// The field holding epoch milliseconds.
    pub field: String,
    /// How far out of order events may arrive (default 0s).
    #[serde(default)]
    pub max_out_of_orderness: HumanDuration,
    /// When watermarks are emitted (default periodic).
    #[serde(default)]
    pub watermarks: WatermarkMode,
    /// The interval of periodic watermarks (default 200ms).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// Mark the source idle after this long without events, so that it does not hold
    /// the watermark back.
    #[serde(default)]
    pub idle_timeout: Option<HumanDuration>,
}

/// When watermarks are emitted.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkMode {
    /// After every event that raises the watermark: deterministic.
    PerEvent,
    /// On a processing-time interval.
    #[default]
    Periodic,
}

/// A source, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// An NDJSON file.
    File(FileSourceConfig),
    /// NDJSON on standard input.
    Stdin(StdinSourceConfig),
    /// A generated stream of realistic events.
    Generator(GeneratorSourceConfig),
    /// A Kafka topic read by a consumer group (the contract's keys; see
    /// [`styx_kafka::config`]).
    Kafka(styx_kafka::KafkaSourceConfig<EventTimeConfig>),
}

impl SourceConfig {
    /// Its `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::File(_) => "file",
            SourceConfig::Stdin(_) => "stdin",
            SourceConfig::Generator(_) => "generator",
            SourceConfig::Kafka(_) => "kafka",
        }
    }
}

/// `type = "file"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// The file, relative to the job file.
    pub path: String,
    /// The record format.
    #[serde(default)]
    pub format: Format,
    /// Event time and watermarks.
    #[serde(default)]
    pub event_time: Option<EventTimeConfig>,
    /// The output id that receives records that cannot be read.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "stdin"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSourceConfig {
    /// The record format.
    #[serde(default)]
    pub format: Format,
    /// Event time and watermarks.
    #[serde(default)]
    pub event_time: Option<EventTimeConfig>,
    /// The output id that receives records that cannot be read.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "generator"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSourceConfig {
    /// What to generate: payments, tweets, clicks, games, vitals, traffic, machines,
    /// transactions.
    pub kind: String,
    /// How many events (absent: without end).
    #[serde(default)]
    pub count: Option<u64>,
    /// Events per second of wall-clock time (absent: as fast as possible).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Events per second of event time (absent: `rate`, else 1000).
    #[serde(default)]
    pub event_rate: Option<f64>,
    /// The first event's time: epoch milliseconds, or `"now"` (absent: 1700000000000).
    #[serde(default)]
    pub start: Option<GeneratorStart>,
    /// Lets about one event in ten arrive up to this late.
    #[serde(default)]
    pub out_of_orderness: Option<HumanDuration>,
    /// The random seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// With `count`: the incidents under way at the last event run to their end.
    #[serde(default)]
    pub whole_incidents: bool,
    /// Event time and watermarks (the generated events carry `ts`).
    #[serde(default)]
    pub event_time: Option<EventTimeConfig>,
}

/// When a generator's event time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GeneratorStart {
    /// Epoch milliseconds.
    Millis(i64),
    /// `"now"`: the wall clock when the job starts.
    Now(Now),
}

/// The word `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Now {
    /// `now`.
    Now,
}

/// A transform, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformConfig {
    /// Keeps the events for which a CEL condition holds.
    Filter(FilterConfig),
    /// Sets fields to the values of CEL expressions.
    Map(MapConfig),
    /// Keyed windows with aggregates.
    Window(WindowConfig),
    /// Scores events with a PMML model (see [`crate::score`]).
    Score(ScoreConfig),
    /// Finds sequences of events, per key, as FlinkCEP does (see [`crate::pattern`]).
    Pattern(PatternConfig),
    /// Adds a row of a reference table of the store to each event.
    Lookup(LookupConfig),
    /// Applies the enabled rules of a ruleset of the store.
    Rules(RulesConfig),
    /// Turns events into notifications someone follows up (see [`crate::notify`]).
    Notify(NotifyConfig),
    /// Adds aggregates of each key's recent past to its events (see [`crate::baseline`]).
    Baseline(BaselineConfig),
}

impl TransformConfig {
    /// Its `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            TransformConfig::Filter(_) => "filter",
            TransformConfig::Map(_) => "map",
            TransformConfig::Window(_) => "window",
            TransformConfig::Score(_) => "score",
            TransformConfig::Pattern(_) => "pattern",
            TransformConfig::Lookup(_) => "lookup",
            TransformConfig::Rules(_) => "rules",
            TransformConfig::Notify(_) => "notify",
            TransformConfig::Baseline(_) => "baseline",
        }
    }

    /// The ids this transform reads.
    pub fn inputs(&self) -> &[String] {
        match self {
            TransformConfig::Filter(c) => &c.inputs,
            TransformConfig::Map(c) => &c.inputs,
            TransformConfig::Window(c) => &c.inputs,
            TransformConfig::Score(c) => &c.inputs,
            TransformConfig::Pattern(c) => &c.inputs,
            TransformConfig::Lookup(c) => &c.inputs,
            TransformConfig::Rules(c) => &c.inputs,
            TransformConfig::Notify(c) => &c.inputs,
            TransformConfig::Baseline(c) => &c.inputs,
        }
    }

    /// The id of the output of events this transform could not handle, and the key
    /// that names it.
    pub fn dead_letter(&self) -> Option<(&str, &'static str)> {
        let declared = match self {
            TransformConfig::Filter(c) => c.dead_letter.as_deref(),
            TransformConfig::Map(c) => c.dead_letter.as_deref(),
            TransformConfig::Window(c) => c.dead_letter.as_deref(),
            TransformConfig::Score(c) => c.dead_letter.as_deref(),
            TransformConfig::Notify(c) => c.dead_letter.as_deref(),
            TransformConfig::Lookup(c) if !["keep", "drop"].contains(&c.missing.as_str()) => {
                return Some((c.missing.as_str(), "missing"));
            }
            TransformConfig::Lookup(_)
            | TransformConfig::Pattern(_)
            | TransformConfig::Rules(_)
            | TransformConfig::Baseline(_) => None,
        };
        declared.map(|d| (d, "dead_letter"))
    }
}

/// `type = "score"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The PMML document, relative to the job file.
    pub model: String,
    /// Model field = event field it reads (default: the event field of the same name).
    #[serde(default)]
    pub fields: IndexMap<String, String>,
    /// Event field = result column it receives (default: every result column, under
    /// its own name).
    #[serde(default)]
    pub outputs: IndexMap<String, String>,
    /// An output id for events the model cannot score.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "notify"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The field that says whose incident it is (account, patient, machine...): the
    /// notification's `key`, and what suppression counts per.
    pub key: String,
    /// The text a person reads: a template (minijinja, Jinja's syntax) over the event's
    /// fields, for example `"Block payment {{ id }} of {{ amount }} EUR"`.
    pub message: String,
    /// The notification's `use_case` (default: the job's name).
    #[serde(default)]
    pub use_case: Option<String>,
    /// At most one notification per key within this much event time (the first one);
    /// none: every event gives one.
    #[serde(default)]
    pub suppress: Option<HumanDuration>,
    /// Fields of the event copied into the notification, under their own names.
    #[serde(default)]
    pub fields: Vec<String>,
    /// An output id for the events whose message cannot be made.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "baseline"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The field whose value keys the history.
    pub key: String,
    /// How far back, in event time, the history of an event reaches.
    pub over: HumanDuration,
    /// The key's events come at most one per period; periods without one count as zero.
    #[serde(default)]
    pub period: Option<HumanDuration>,
    /// Output field = aggregate of the history: `count`, `sum(f)`, `min(f)`, `max(f)`,
    /// `avg(f)`, `stddev(f)`.
    pub aggregates: IndexMap<String, String>,
}

/// `type = "filter"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// A CEL expression over the event's fields that yields a boolean.
    pub condition: String,
    /// An output id for the events whose condition fails to evaluate.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "map"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// Fields to set: name = CEL expression over the event's fields.
    #[serde(default)]
    pub fields: IndexMap<String, String>,
    /// Fields to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// An output id for the events whose fields fail to evaluate.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// `type = "window"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The field whose value keys the windows.
    pub key: String,
    /// The windows.
    pub window: WindowSpec,
    /// How long windows accept late events after firing (default 0s).
    #[serde(default)]
    pub allowed_lateness: HumanDuration,
    /// Output field = aggregate: `count`, `sum(f)`, `min(f)`, `max(f)`, `avg(f)`.
    pub aggregates: IndexMap<String, String>,
    /// An output id for the events left out of the windows: no key, or an aggregated
    /// field that is not a number.
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// Which clock drives a window.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeKind {
    /// The events' own time (the default).
    #[default]
    Event,
    /// The wall clock.
    Processing,
}

/// The windows of a window transform, by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// Fixed, non-overlapping windows.
    Tumbling {
        /// Window length.
        size: HumanDuration,
        /// Which clock.
        #[serde(default)]
        time: TimeKind,
    },
    /// Fixed windows every `slide`.
    Sliding {
        /// Window length.
        size: HumanDuration,
        /// Distance between window starts.
        slide: HumanDuration,
        /// Which clock.
        #[serde(default)]
        time: TimeKind,
    },
    /// Sessions separated by `gap` of inactivity.
    Session {
        /// The inactivity gap.
        gap: HumanDuration,
        /// Which clock.
        #[serde(default)]
        time: TimeKind,
    },
    /// Every `size` events of a key (every `slide` events, if given).
    Count {
        /// Events per window.
        size: usize,
        /// Events between firings (default `size`).
        #[serde(default)]
        slide: Option<usize>,
    },
}

/// A sink, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// An NDJSON file (replaced; parent folders are made).
    File(FileSinkConfig),
    /// NDJSON on standard output.
    Stdout(StdoutSinkConfig),
    /// JSON records to a Kafka topic (see [`styx_kafka::config`]).
    Kafka(styx_kafka::KafkaSinkConfig),
    /// Each record POSTed as JSON to a URL, with retries.
    Webhook(WebhookSinkConfig),
}

impl SinkConfig {
    /// Its `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::File(_) => "file",
            SinkConfig::Stdout(_) => "stdout",
            SinkConfig::Kafka(_) => "kafka",
            SinkConfig::Webhook(_) => "webhook",
        }
    }

    /// The ids this sink reads.
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkConfig::File(c) => &c.inputs,
            SinkConfig::Stdout(c) => &c.inputs,
            SinkConfig::Kafka(c) => &c.inputs,
            SinkConfig::Webhook(c) => &c.inputs,
        }
    }
}

/// `type = "file"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The ids this sink reads.
    pub inputs: Vec<String>,
    /// The file, relative to the job file.
    pub path: String,
    /// The record format.
    #[serde(default)]
    pub format: Format,
}

fn default_retries() -> u32 {
    8
}

fn default_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(200))
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

/// `type = "webhook"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// The ids this sink reads.
    pub inputs: Vec<String>,
    /// The URL each record is POSTed to, as JSON.
    pub url: String,
    /// How many times a failed delivery is tried again.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The wait before the first retry, doubling with each.
    #[serde(default = "default_backoff")]
    pub backoff: HumanDuration,
    /// The longest wait between two tries.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// How long one request may take.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// An NDJSON file for the records that could not be delivered (after the last try),
    /// as `{"reason", "url", "record"}`; without it, such a record fails the job.
    #[serde(default)]
    pub dead_letter_file: Option<String>,
}

/// `type = "stdout"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    /// The ids this sink reads.
    pub inputs: Vec<String>,
    /// The record format.
    #[serde(default)]
    pub format: Format,
}

/// `type = "pattern"`: stages matched in sequence, per key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The field whose value keys the matching (absent: one sequence of all events).
    #[serde(default)]
    pub key: Option<String>,
    /// A match spans less than this much time.
    #[serde(default)]
    pub within: Option<HumanDuration>,
    /// Between which events `within` is measured.
    #[serde(default)]
    pub within_between: WithinBetween,
    /// What a match does to the other partial matches.
    #[serde(default)]
    pub after_match: AfterMatchConfig,
    /// Event time (the default: events matched in timestamp order once the watermark
    /// passes them) or processing time (as they arrive).
    #[serde(default)]
    pub time: TimeKind,
    /// The stages, in order.
    #[serde(default)]
    pub stages: Vec<StageConfig>,
    /// `store:ID`: the stages and options of pattern `ID` in the store, instead of
    /// `stages` and the options here.
    #[serde(default)]
    pub pattern: Option<String>,
}

/// The stages and options of a pattern as the store keeps them (`styx patterns put`):
/// a pattern transform's keys but `pattern`. `inputs` and `type` may be there (a table
/// copied from a job file) and are not used; `key` is used by jobs that give none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    /// `"pattern"`, if given.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Not used: a job's transform names its inputs.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The key field, for jobs whose transform has no `key`.
    #[serde(default)]
    pub key: Option<String>,
    /// A match spans less than this much time.
    #[serde(default)]
    pub within: Option<HumanDuration>,
    /// Between which events `within` is measured.
    #[serde(default)]
    pub within_between: WithinBetween,
    /// What a match does to the other partial matches.
    #[serde(default)]
    pub after_match: AfterMatchConfig,
    /// Event time or processing time.
    #[serde(default)]
    pub time: TimeKind,
    /// The stages, in order.
    pub stages: Vec<StageConfig>,
}

/// `within_between` of a pattern.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WithinBetween {
    /// The first and the last event of a match.
    #[default]
    FirstAndLast,
    /// Each event of the last stage and the event before it.
    PreviousAndCurrent,
}

/// `after_match` of a pattern: a strategy's name, or a table naming the stage to skip to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum AfterMatchConfig {
    /// `no_skip`, `skip_to_next` or `skip_past_last_event`.
    Named(SkipName),
    /// `{ skip_to_first = "STAGE" }` or `{ skip_to_last = "STAGE" }`.
    ToStage(SkipToStage),
}

impl Default for AfterMatchConfig {
    fn default() -> Self {
        AfterMatchConfig::Named(SkipName::NoSkip)
    }
}

/// The after-match strategies that name no stage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SkipName {
    /// Every match is emitted.
    NoSkip,
    /// Partial matches that started with the match's first event are dropped.
    SkipToNext,
    /// Partial matches that started within the match are dropped.
    SkipPastLastEvent,
}

/// The after-match strategies that skip to a stage.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SkipToStage {
    /// Drops partial matches that started before this stage's first event.
    #[serde(default)]
    pub skip_to_first: Option<String>,
    /// Drops partial matches that started before this stage's last event.
    #[serde(default)]
    pub skip_to_last: Option<String>,
}

/// `[[transforms.ID.stages]]`: one stage of a pattern.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The stage's name, unique in the pattern: the key of its events in the output.
    pub name: String,
    /// How the stage follows the one before (not for the first stage).
    #[serde(default)]
    pub follows: Option<FollowsKind>,
    /// A CEL condition on the event; `match.STAGE` lists the events taken so far.
    pub condition: String,
    /// Further conditions, any of which also accepts the event.
    #[serde(default)]
    pub or: Vec<String>,
    /// Exactly N events, or `[FROM, TO]` events.
    #[serde(default)]
    pub times: Option<TimesConfig>,
    /// N or more events.
    #[serde(default)]
    pub times_or_more: Option<i64>,
    /// One or more events.
    #[serde(default)]
    pub one_or_more: bool,
    /// The stage may be skipped.
    #[serde(default)]
    pub optional: bool,
    /// A quantified stage takes as many events as it can.
    #[serde(default)]
    pub greedy: bool,
    /// Contiguity between the events of a quantified stage.
    #[serde(default)]
    pub inner: Option<InnerKind>,
    /// A CEL condition that ends a looping stage.
    #[serde(default)]
    pub until: Option<String>,
}

/// `follows` of a stage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FollowsKind {
    /// The very next event.
    Next,
    /// The next matching event.
    FollowedBy,
    /// Any later matching event.
    FollowedByAny,
    /// The very next event must not match.
    NotNext,
    /// No matching event before the next stage (or within `within`, at the end).
    NotFollowedBy,
}

/// `times` of a stage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum TimesConfig {
    /// Exactly N.
    Exactly(i64),
    /// From FROM to TO.
    Range([i64; 2]),
}

/// `inner` of a quantified stage.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InnerKind {
    /// Other events may come between (the default).
    Relaxed,
    /// The events are contiguous.
    Consecutive,
    /// Any combination of the matching events.
    Combinations,
}

/// `type = "lookup"`: each event enriched with the row of a reference table under the
/// value of one of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The store's table.
    pub table: String,
    /// The event field whose value is looked up.
    pub key: String,
    /// The table's key column (default `id`).
    #[serde(default = "default_key_column")]
    pub key_column: String,
    /// Event field = column (default: every column under its own name).
    #[serde(default)]
    pub fields: IndexMap<String, String>,
    /// What happens to an event whose key has no row: `keep` (the default: the fields
    /// stay absent), `drop`, or the id of a dead-letter output.
    #[serde(default = "default_missing")]
    pub missing: String,
}

fn default_key_column() -> String {
    "id".into()
}

fn default_missing() -> String {
    "keep".into()
}

/// `type = "rules"`: the enabled rules of a ruleset, as they are in the store now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// The ids this transform reads.
    pub inputs: Vec<String>,
    /// The ruleset.
    pub ruleset: String,
    /// `each` (the default: one event per matching rule, with `rule` and the rule's
    /// attributes), `first` (the highest-priority matching rule only) or `all` (the event
    /// once, with `rules`, the ids of the matching rules).
    #[serde(default)]
    pub emit: EmitKind,
}

/// `emit` of a rules transform.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EmitKind {
    /// One event per matching rule.
    #[default]
    Each,
    /// The highest-priority matching rule only.
    First,
    /// The event once, with the ids of every matching rule.
    All,
}
