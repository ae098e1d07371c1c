//! The store: the models, rules, patterns, configuration and reference data that running
//! jobs use and that change while they run (the role Cassandra plays in the KFC stack).
//!
//! One interface, [`Store`], over two backends:
//!
//! - `sqlite:PATH`: an embedded SQLite file, the default, shared safely by several
//!   processes (write-ahead log, busy timeout);
//! - `cassandra://HOST:PORT[,HOST:PORT...]/KEYSPACE`: Apache Cassandra or ScyllaDB.
//!
//! The store keeps what it is given; checking that a model compiles or a rule parses is
//! the job of the layer that writes (see `styx-job`'s `store` module), so that nothing
//! invalid gets in. Every write bumps the [revision](Store::revision) of its kind, which
//! running jobs poll to learn that something changed.

mod cassandra;
mod sqlite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// An error of the store: what failed and why.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's address is not one this store understands.
    #[error("bad store url \"{url}\": {reason}")]
    Url {
        /// The address given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend failed.
    #[error("store {url}: {message}")]
    Backend {
        /// The store's address.
        url: String,
        /// What failed.
        message: String,
    },
}

/// A result of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What the store holds; each kind has its own revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// PMML models, versioned.
    Models,
    /// Rules, by ruleset.
    Rules,
    /// Pattern transforms' stages and options, versioned.
    Patterns,
    /// Configuration values.
    Config,
    /// Reference data.
    Tables,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Models,
        Kind::Rules,
        Kind::Patterns,
        Kind::Config,
        Kind::Tables,
    ];

    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Models => "models",
            Kind::Rules => "rules",
            Kind::Patterns => "patterns",
            Kind::Config => "config",
            Kind::Tables => "tables",
        }
    }
}

/// A version of a model or pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The model's or pattern's id.
    pub id: String,
    /// 1, 2, ... per id; the newest is the active one.
    pub version: u32,
    /// When it was stored, in epoch milliseconds.
    pub stored_ms: i64,
}

/// A stored version of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredModel {
    /// 1, 2, ... per id.
    pub version: u32,
    /// The PMML document as it was deployed.
    pub pmml: String,
    /// The `modelName` of the model element it is scored with; `None`: the document's
    /// first scorable model.
    pub model_name: Option<String>,
}

/// The newest version of a model or pattern: its number, body and model element name.
pub(crate) type Latest = (u32, String, Option<String>);

/// A rule: a CEL condition of a ruleset, with attributes for what matching it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The ruleset.
    pub ruleset: String,
    /// The rule's id within its ruleset.
    pub id: String,
    /// The condition, in CEL.
    pub condition: String,
    /// Whether jobs apply it.
    pub enabled: bool,
    /// Higher first.
    pub priority: i64,
    /// What the rule means: action, severity, message...
    pub attributes: BTreeMap<String, String>,
}

/// A row of reference data: named columns.
pub type Row = Map<String, Value>;

/// A store, on one of its backends.
pub struct Store {
    url: String,
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Cassandra(cassandra::Cassandra),
}

/// Calls the same method on whichever backend the store has.
macro_rules! on_backend {
    ($store:expr, $b:ident => $call:expr) => {
        match &$store.backend {
            Backend::Sqlite($b) => $store.wrap($call),
            Backend::Cassandra($b) => $store.wrap($call),
        }
    };
}

/// Where the store is when nothing says: `styx.db` in `dir`.
pub fn default_url(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("styx.db").display())
}

impl Store {
    /// Opens (and creates, when absent) the store at `url`.
    pub fn open(url: &str) -> Result<Store> {
        let backend = if let Some(path) = url.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(StoreError::Url {
                    url: url.into(),
                    reason: "no file after sqlite:".into(),
                });
            }
            Backend::Sqlite(sqlite::Sqlite::open(&PathBuf::from(path)).map_err(|e| {
                StoreError::Backend {
                    url: url.into(),
                    message: e,
                }
            })?)
        } else if let Some(rest) = url.strip_prefix("cassandra://") {
            let Some((hosts, keyspace)) = rest.split_once('/') else {
                return Err(StoreError::Url {
                    url: url.into(),
                    reason: "expected cassandra://HOST:PORT[,HOST:PORT...]/KEYSPACE".into(),
                });
            };
            let hosts: Vec<&str> = hosts.split(',').filter(|h| !h.is_empty()).collect();
            if hosts.is_empty() {
                return Err(StoreError::Url {
                    url: url.into(),
                    reason: "no host".into(),
                });
            }
            Backend::Cassandra(cassandra::Cassandra::open(&hosts, keyspace).map_err(|e| {
                StoreError::Backend {
                    url: url.into(),
                    message: e,
                }
            })?)
        } else {
            return Err(StoreError::Url {
                url: url.into(),
                reason: "expected sqlite:PATH or cassandra://HOST:PORT/KEYSPACE".into(),
            });
        };
        Ok(Store {
            url: url.to_string(),
            backend,
        })
    }

    /// The store's address.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn wrap<T>(&self, r: std::result::Result<T, String>) -> Result<T> {
        r.map_err(|message| StoreError::Backend {
            url: self.url.clone(),
            message,
        })
    }

    /// A number that changes whenever something of `kind` changes.
    pub fn revision(&self, kind: Kind) -> Result<i64> {
        on_backend!(self, s => s.revision(kind))
    }

    /// Stores a new version of model `id` (checked by the caller), scored with its model
    /// element `model_name` (without one, its first scorable model); its version.
    pub fn deploy_model(&self, id: &str, pmml: &str, model_name: Option<&str>) -> Result<u32> {
        on_backend!(self, s => s.put_versioned(Kind::Models, id, pmml, model_name))
    }

    /// The active (newest) version of model `id`.
    pub fn model(&self, id: &str) -> Result<Option<StoredModel>> {
        let latest = on_backend!(self, s => s.latest(Kind::Models, id))?;
        Ok(latest.map(|(version, pmml, model_name)| StoredModel {
            version,
            pmml,
            model_name,
        }))
    }

    /// The active version of every model.
    pub fn models(&self) -> Result<Vec<Version>> {
        on_backend!(self, s => s.versions(Kind::Models))
    }

    /// Deletes every version of model `id`; whether there was one.
    pub fn delete_model(&self, id: &str) -> Result<bool> {
        on_backend!(self, s => s.delete_versioned(Kind::Models, id))
    }

    /// Stores a new version of pattern `id` (checked by the caller); its version.
    pub fn put_pattern(&self, id: &str, spec: &str) -> Result<u32> {
        on_backend!(self, s => s.put_versioned(Kind::Patterns, id, spec, None))
    }

    /// The newest version of pattern `id` and its stages and options.
    pub fn pattern(&self, id: &str) -> Result<Option<(u32, String)>> {
        let latest = on_backend!(self, s => s.latest(Kind::Patterns, id))?;
        Ok(latest.map(|(version, spec, _)| (version, spec)))
    }

    /// The newest version of every pattern.
    pub fn patterns(&self) -> Result<Vec<Version>> {
        on_backend!(self, s => s.versions(Kind::Patterns))
    }

    /// Adds or replaces a rule (checked by the caller).
    pub fn put_rule(&self, rule: &Rule) -> Result<()> {
        on_backend!(self, s => s.put_rule(rule))
    }

    /// The rules of `ruleset`, or of every ruleset, by ruleset and id.
    pub fn rules(&self, ruleset: Option<&str>) -> Result<Vec<Rule>> {
        on_backend!(self, s => s.rules(ruleset))
    }

    /// Deletes a rule; whether there was one.
    pub fn delete_rule(&self, ruleset: &str, id: &str) -> Result<bool> {
        on_backend!(self, s => s.delete_rule(ruleset, id))
    }

    /// Sets configuration value `key`.
    pub fn set_config(&self, key: &str, value: &Value) -> Result<()> {
        on_backend!(self, s => s.set_config(key, value))
    }

    /// Configuration value `key`, or every value, by key.
    pub fn config(&self, key: Option<&str>) -> Result<Vec<(String, Value)>> {
        on_backend!(self, s => s.config(key))
    }

    /// Upserts rows of reference table `table`, each under its key; how many.
    pub fn load_rows(&self, table: &str, rows: &[(String, Row)]) -> Result<usize> {
        on_backend!(self, s => s.load_rows(table, rows))
    }

    /// The rows of `table` under `keys` (absent keys are left out).
    pub fn rows(&self, table: &str, keys: &[&str]) -> Result<Vec<(String, Row)>> {
        on_backend!(self, s => s.rows(table, keys))
    }
}

/// The current time in epoch milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
