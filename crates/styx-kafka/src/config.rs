//! The job-file tables of Kafka sources and sinks.
//!
//! ```toml
//! [sources.payments]
//! type = "kafka"
//! brokers = "${STYX_KAFKA_BROKERS}"   # "${VAR}" expands an environment variable
//! topic = "payments"                   # or topics = ["a", "b"]
//! group = "fraud"
//! start = "earliest"                   # earliest | latest | committed (default)
//! format = "json"                      # json (default) | raw
//! dead_letter = "payments.dead"
//! key = "account"                      # the record key fills this field when absent
//! headers = "headers"                  # the record headers fill this field (an object)
//! properties = { "fetch.min.bytes" = 1024 }   # passed through to librdkafka
//!
//! [sinks.alerts]
//! type = "kafka"
//! inputs = ["big"]
//! brokers = "127.0.0.1:19095"
//! topic = "alerts"
//! delivery = "exactly_once"            # at_least_once (default) | exactly_once
//! key = "account"                      # this field's value becomes the record key
//! headers = { "trace-id" = "trace" }   # header name = field whose value it carries
//! ```
//!
//! Both tables reject keys they do not know. The `type` key is the job file's (it picks
//! the variant) and is not part of these tables; the source's `event_time` table has the
//! job file's own type, hence the type parameter of [`KafkaSourceConfig`].

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::ClientConfig;
use serde::Deserialize;

use crate::error::{Error, Result};

/// `type = "kafka"` in `[sources.*]`.
///
/// `E` is the type of the `event_time` table, which belongs to the job file format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig<E = serde_json::Value> {
    /// Bootstrap servers, `host:port` separated by commas; `${VAR}` expands an
    /// environment variable.
    pub brokers: String,
    /// The topic to read (or use `topics`).
    #[serde(default)]
    pub topic: Option<String>,
    /// Several topics to read as one source (or use `topic`).
    #[serde(default)]
    pub topics: Vec<String>,
    /// The consumer group; it shares the partitions among the source's instances and
    /// holds the committed offsets. Default: `styx-<topic>`.
    #[serde(default)]
    pub group: Option<String>,
    /// Where reading starts the first time a partition is read (default: the group's
    /// committed offset, else the earliest).
    #[serde(default)]
    pub start: StartOffset,
    /// How record values are read.
    #[serde(default)]
    pub format: Format,
    /// The output id that receives records that cannot be read (one JSON object each,
    /// with `reason`, `topic`, `partition`, `offset` and the raw `payload`).
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Event time and watermarks (the job file's table).
    #[serde(default = "no_event_time")]
    pub event_time: Option<E>,
    /// A field that receives the record key (UTF-8 text) when the event lacks it.
    #[serde(default)]
    pub key: Option<String>,
    /// A field that receives the record headers, as an object of name to text.
    #[serde(default)]
    pub headers: Option<String>,
    /// librdkafka consumer properties, passed through as they are (see librdkafka's
    /// CONFIGURATION.md). They override Styx's defaults but may not set what a typed
    /// key controls (`bootstrap.servers`, `group.id`, `auto.offset.reset`).
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyValue>,
}

/// No `event_time` table (without asking `E` for a default).
fn no_event_time<E>() -> Option<E> {
    None
}

/// `type = "kafka"` in `[sinks.*]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// The ids this sink reads (the job file's wiring).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Bootstrap servers, `host:port` separated by commas; `${VAR}` expands an
    /// environment variable.
    pub brokers: String,
    /// The topic written to.
    pub topic: String,
    /// How records are written.
    #[serde(default)]
    pub format: Format,
    /// The delivery guarantee.
    #[serde(default)]
    pub delivery: Delivery,
    /// A field whose value becomes the record key (text as it is, other values as
    /// JSON); events without it are written without a key.
    #[serde(default)]
    pub key: Option<String>,
    /// Record headers: header name = the field whose value it carries (text as it is,
    /// other values as JSON); absent fields add no header.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// librdkafka producer properties, passed through as they are. They override
    /// Styx's defaults but may not set what a typed key controls
    /// (`bootstrap.servers`, `transactional.id`).
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyValue>,
}

/// Where a source starts reading a partition it has no position for yet.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartOffset {
    /// The first record still in the partition, whatever the group committed.
    Earliest,
    /// Only records written after the source started.
    Latest,
    /// The group's committed offset, else the earliest record.
    #[default]
    Committed,
}

impl StartOffset {
    /// The `auto.offset.reset` that goes with this start: what to do when there is no
    /// committed offset (or it is out of range).
    pub fn auto_offset_reset(self) -> &'static str {
        match self {
            StartOffset::Latest => "latest",
            StartOffset::Earliest | StartOffset::Committed => "earliest",
        }
    }
}

/// How record values are read and written.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Each value is one JSON object.
    #[default]
    Json,
    /// Each value is UTF-8 text, carried in the event's `value` field.
    Raw,
}

/// A sink's delivery guarantee.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Every result is written, some possibly twice after a failure (idempotent
    /// producer, `acks=all`).
    #[default]
    AtLeastOnce,
    /// Results are written in transactions committed with the checkpoints; readers with
    /// `isolation.level=read_committed` see each exactly once.
    ExactlyOnce,
}

/// A librdkafka property value as written in TOML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// Text.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Text(s) => f.write_str(s),
            PropertyValue::Integer(i) => write!(f, "{i}"),
            PropertyValue::Float(x) => write!(f, "{x}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for PropertyValue {
    fn from(s: &str) -> Self {
        PropertyValue::Text(s.to_string())
    }
}

/// Consumer properties Styx sets unless `properties` overrides them.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("client.id", "styx"),
    // A group's first join takes half the session timeout on some brokers; a short
    // session also hands a dead member's partitions over quickly.
    ("session.timeout.ms", "6000"),
    ("heartbeat.interval.ms", "500"),
    // Some brokers ignore fetch.max.bytes and answer with very large responses.
    ("receive.message.max.bytes", "500000000"),
    // Offsets are stored by the source once a record is handed on, and committed from
    // the store (periodically, on revocation and on close).
    ("enable.auto.offset.store", "false"),
    ("enable.auto.commit", "true"),
    ("enable.partition.eof", "false"),
    // The consumer lag of each partition, for the job's metrics (see ConsumerLag).
    ("statistics.interval.ms", "1000"),
];

/// Producer properties Styx sets unless `properties` overrides them.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("client.id", "styx"),
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "5"),
];

/// Properties owned by the typed keys of a source: (property, key).
const SOURCE_OWNED: &[(&str, &str)] = &[
    ("bootstrap.servers", "brokers"),
    ("metadata.broker.list", "brokers"),
    ("group.id", "group"),
    ("auto.offset.reset", "start"),
];

/// Properties owned by the typed keys of a sink: (property, key).
const SINK_OWNED: &[(&str, &str)] = &[
    ("bootstrap.servers", "brokers"),
    ("metadata.broker.list", "brokers"),
    ("transactional.id", "delivery"),
];

/// Expands every `${VAR}` in `value` from the environment; `key` names the job-file key
/// for error messages.
pub fn expand_env(key: &str, value: &str) -> Result<String> {
    expand_with(key, value, |var| std::env::var(var).ok())
}

fn expand_with(key: &str, value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(Error::Config {
                key: key.to_string(),
                message: format!("unterminated `${{` in {value:?}"),
            });
        };
        let var = &after[..end];
        if var.is_empty() {
            return Err(Error::Config {
                key: key.to_string(),
                message: format!("empty `${{}}` in {value:?}"),
            });
        }
        match lookup(var) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(Error::MissingEnv {
                    key: key.to_string(),
                    var: var.to_string(),
                })
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_owned(properties: &BTreeMap<String, PropertyValue>, owned: &[(&str, &str)]) -> Result<()> {
    for name in properties.keys() {
        if let Some((property, key)) = owned.iter().find(|(p, _)| p == name) {
            return Err(Error::PropertyCollision {
                property: property.to_string(),
                key: key.to_string(),
            });
        }
    }
    Ok(())
}

fn brokers(raw: &str) -> Result<String> {
    let brokers = expand_env("brokers", raw)?;
    if brokers.trim().is_empty() {
        return Err(Error::Config {
            key: "brokers".into(),
            message: "no bootstrap servers given".into(),
        });
    }
    Ok(brokers)
}

impl<E> KafkaSourceConfig<E> {
    /// The topics to read: `topic` and `topics` together, at least one.
    pub fn topic_list(&self) -> Result<Vec<String>> {
        let mut topics: Vec<String> = self.topic.iter().cloned().collect();
        for t in &self.topics {
            if !topics.contains(t) {
                topics.push(t.clone());
            }
        }
        if topics.is_empty() {
            return Err(Error::Config {
                key: "topic".into(),
                message: "a Kafka source needs `topic` or `topics`".into(),
            });
        }
        if let Some(t) = topics.iter().find(|t| t.trim().is_empty()) {
            return Err(Error::Config {
                key: "topic".into(),
                message: format!("invalid topic name {t:?}"),
            });
        }
        Ok(topics)
    }

    /// The consumer group: `group`, or `styx-<first topic>`.
    pub fn group_id(&self) -> Result<String> {
        match &self.group {
            Some(g) if g.trim().is_empty() => Err(Error::Config {
                key: "group".into(),
                message: "the group id is empty".into(),
            }),
            Some(g) => Ok(g.clone()),
            None => Ok(format!("styx-{}", self.topic_list()?[0])),
        }
    }

    /// Checks the table and returns the librdkafka consumer configuration: Styx's
    /// defaults, then `properties`, then what the typed keys say.
    pub fn client_config(&self) -> Result<ClientConfig> {
        self.topic_list()?;
        check_owned(&self.properties, SOURCE_OWNED)?;
        let mut config = ClientConfig::new();
        for (k, v) in CONSUMER_DEFAULTS {
            config.set(*k, *v);
        }
        for (k, v) in &self.properties {
            config.set(k, v.to_string());
        }
        config
            .set("bootstrap.servers", brokers(&self.brokers)?)
            .set("group.id", self.group_id()?)
            .set("auto.offset.reset", self.start.auto_offset_reset());
        Ok(config)
    }
}

impl KafkaSinkConfig {
    /// Checks the table and returns the librdkafka producer configuration: Styx's
    /// defaults, then `properties`, then what the typed keys say. `transactional_id`
    /// is required with `delivery = "exactly_once"` and must be stable across restarts
    /// of the same sink instance (it fences the instance's previous incarnation).
    pub fn client_config(&self, transactional_id: Option<&str>) -> Result<ClientConfig> {
        if self.topic.trim().is_empty() {
            return Err(Error::Config {
                key: "topic".into(),
                message: "the topic name is empty".into(),
            });
        }
        check_owned(&self.properties, SINK_OWNED)?;
        let mut config = ClientConfig::new();
        for (k, v) in PRODUCER_DEFAULTS {
            config.set(*k, *v);
        }
        for (k, v) in &self.properties {
            config.set(k, v.to_string());
        }
        config.set("bootstrap.servers", brokers(&self.brokers)?);
        match (self.delivery, transactional_id) {
            (Delivery::ExactlyOnce, Some(id)) => {
                config
                    .set("transactional.id", id)
                    .set("enable.idempotence", "true");
            }
            (Delivery::ExactlyOnce, None) => {
                return Err(Error::Config {
                    key: "delivery".into(),
                    message: "exactly_once needs a transactional id for each sink instance".into(),
                })
            }
            (Delivery::AtLeastOnce, _) => {}
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Result<KafkaSourceConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn reads_the_contract_tables() {
        let s = source(
            r#"
            brokers = "127.0.0.1:19095"
            topic = "payments"
            group = "fraud"
            start = "earliest"
            format = "json"
            dead_letter = "payments.dead"
            event_time = { field = "ts", max_out_of_orderness = "1s" }
            "#,
        )
        .unwrap();
        assert_eq!(s.start, StartOffset::Earliest);
        assert_eq!(s.dead_letter.as_deref(), Some("payments.dead"));
        assert_eq!(s.topic_list().unwrap(), ["payments"]);
        let c = s.client_config().unwrap();
        assert_eq!(c.get("group.id"), Some("fraud"));
        assert_eq!(c.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(c.get("session.timeout.ms"), Some("6000"));
        assert_eq!(c.get("heartbeat.interval.ms"), Some("500"));

        let k: KafkaSinkConfig = toml::from_str(
            r#"
            inputs = ["big"]
            brokers = "127.0.0.1:19095"
            topic = "alerts"
            delivery = "exactly_once"
            "#,
        )
        .unwrap();
        assert_eq!(k.delivery, Delivery::ExactlyOnce);
        assert!(k
            .client_config(None)
            .unwrap_err()
            .to_string()
            .contains("delivery"));
        let c = k.client_config(Some("job-alerts-0")).unwrap();
        assert_eq!(c.get("transactional.id"), Some("job-alerts-0"));
    }

    #[test]
    fn defaults() {
        let s = source("brokers = \"b:9092\"\ntopics = [\"a\", \"b\"]").unwrap();
        assert_eq!(s.start, StartOffset::Committed);
        assert_eq!(s.format, Format::Json);
        assert_eq!(s.group_id().unwrap(), "styx-a");
        assert_eq!(s.topic_list().unwrap(), ["a", "b"]);
        let c = s.client_config().unwrap();
        assert_eq!(c.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(c.get("receive.message.max.bytes"), Some("500000000"));
    }

    #[test]
    fn rejects_unknown_keys_and_values() {
        let e = source("brokers = \"b\"\ntopic = \"t\"\ngruop = \"g\"").unwrap_err();
        assert!(e.to_string().contains("gruop"), "{e}");
        let e = source("brokers = \"b\"\ntopic = \"t\"\nstart = \"beginning\"").unwrap_err();
        assert!(e.to_string().contains("beginning"), "{e}");
        let e = source("brokers = \"b\"")
            .unwrap()
            .client_config()
            .unwrap_err();
        assert!(e.to_string().contains("topic"), "{e}");
    }

    #[test]
    fn a_property_may_not_set_what_a_typed_key_sets() {
        let s = source(
            "brokers = \"b\"\ntopic = \"t\"\nproperties = { \"group.id\" = \"x\", \"fetch.min.bytes\" = 10 }",
        )
        .unwrap();
        let e = s.client_config().unwrap_err().to_string();
        assert!(
            e.contains("properties.\"group.id\"") && e.contains("`group`"),
            "{e}"
        );

        let s = source("brokers = \"b\"\ntopic = \"t\"\nproperties = { \"fetch.min.bytes\" = 10, \"session.timeout.ms\" = 10000, \"check.crcs\" = true }").unwrap();
        let c = s.client_config().unwrap();
        assert_eq!(c.get("fetch.min.bytes"), Some("10"));
        assert_eq!(c.get("session.timeout.ms"), Some("10000"));
        assert_eq!(c.get("check.crcs"), Some("true"));

        let k: KafkaSinkConfig = toml::from_str(
            "brokers = \"b\"\ntopic = \"t\"\nproperties = { \"bootstrap.servers\" = \"x\" }",
        )
        .unwrap();
        let e = k.client_config(None).unwrap_err().to_string();
        assert!(
            e.contains("bootstrap.servers") && e.contains("`brokers`"),
            "{e}"
        );
    }

    #[test]
    fn expands_environment_variables() {
        let env = |v: &str| match v {
            "A" => Some("127.0.0.1:1".to_string()),
            "B" => Some("h:2".to_string()),
            _ => None,
        };
        assert_eq!(
            expand_with("brokers", "${A},${B}", env).unwrap(),
            "127.0.0.1:1,h:2"
        );
        assert_eq!(
            expand_with("brokers", "plain:9092", env).unwrap(),
            "plain:9092"
        );
        let e = expand_with("brokers", "${NOPE}", env)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "`brokers`: environment variable `NOPE` is not set");
        assert!(expand_with("brokers", "${A", env).is_err());
    }
}
