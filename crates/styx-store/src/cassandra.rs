//! The Cassandra backend: Apache Cassandra or ScyllaDB through the CQL native protocol.
//!
//! The keyspace (replication factor 1 when it is created here) and the tables are
//! created when absent. The tables need no range queries, TTLs, counters or lightweight
//! transactions: every read is by whole partition key or a paged scan, and every write
//! an upsert of whole rows, bound with `?` in prepared, idempotent statements that the
//! driver retries on timeouts.
//!
//! - `versioned ((kind, id, version))` holds every version of models and patterns, and
//!   `heads ((kind, id))` the newest version of each; `model_names ((kind, id,
//!   version))` the model element a version is scored with, when one was named;
//! - `claims ((kind, id, version))`: who takes a new version. Without lightweight
//!   transactions two writers could both take the head's plus one, so a writer first
//!   claims the first version no one has claimed, waits [`CLAIM_SETTLE`] for a
//!   concurrent claim to land (the later write wins), reads the claim back and tries
//!   the next version if it lost; within one process deploys take turns;
//! - `rules ((ruleset, id))` (`enabled` as an int), `config ((key))`,
//!   `rows ((table_name, key))`;
//! - `revisions ((kind))`: a fresh number per change (the writer's clock in
//!   microseconds, made unique), which readers only compare.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Statement;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::{now_ms, Kind, Latest, Row, Rule, Version};

/// How long a request may take before the driver gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a writer waits after claiming a version before it reads the claim back: far
/// longer than the moment between another writer's check and its write on a live
/// cluster.
const CLAIM_SETTLE: Duration = Duration::from_millis(50);

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS revisions (kind text, revision bigint, PRIMARY KEY ((kind)))",
    "CREATE TABLE IF NOT EXISTS versioned (kind text, id text, version int, body text, \
     stored_ms bigint, PRIMARY KEY ((kind, id, version)))",
    "CREATE TABLE IF NOT EXISTS heads (kind text, id text, version int, stored_ms bigint, \
     PRIMARY KEY ((kind, id)))",
    "CREATE TABLE IF NOT EXISTS claims (kind text, id text, version int, writer text, \
     PRIMARY KEY ((kind, id, version)))",
    "CREATE TABLE IF NOT EXISTS model_names (kind text, id text, version int, name text, \
     PRIMARY KEY ((kind, id, version)))",
    "CREATE TABLE IF NOT EXISTS rules (ruleset text, id text, condition text, enabled int, \
     priority bigint, attributes text, PRIMARY KEY ((ruleset, id)))",
    "CREATE TABLE IF NOT EXISTS config (key text, value text, PRIMARY KEY ((key)))",
    "CREATE TABLE IF NOT EXISTS rows (table_name text, key text, row text, \
     PRIMARY KEY ((table_name, key)))",
];

pub(crate) struct Cassandra {
    runtime: Runtime,
    session: Arc<Session>,
    /// Statements prepared once, by their text.
    prepared: Mutex<HashMap<&'static str, PreparedStatement>>,
    /// Held while a new version is claimed: deploys of one process take turns.
    claiming: Mutex<()>,
    /// This process's name in claims.
    writer: String,
    /// The last revision this process wrote (revisions only grow).
    last_revision: AtomicI64,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Cassandra {
    /// Connects to `hosts` and creates keyspace `keyspace` and its tables when absent.
    pub(crate) fn open(hosts: &[&str], keyspace: &str) -> Result<Cassandra, String> {
        if keyspace.is_empty()
            || !keyspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "bad keyspace name \"{keyspace}\" (letters, digits and _)"
            ));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("store-cql")
            .build()
            .map_err(err)?;
        let session = runtime.block_on(async {
            let session = SessionBuilder::new()
                .known_nodes(hosts)
                .connection_timeout(REQUEST_TIMEOUT)
                .auto_await_schema_agreement(false)
                .build()
                .await
                .map_err(err)?;
            session
                .query_unpaged(
                    format!(
                        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = \
                         {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
                    ),
                    &[],
                )
                .await
                .map_err(err)?;
            session.use_keyspace(keyspace, false).await.map_err(err)?;
            for table in TABLES {
                session.query_unpaged(*table, &[]).await.map_err(err)?;
            }
            Ok::<_, String>(session)
        })?;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Ok(Cassandra {
            runtime,
            session: Arc::new(session),
            prepared: Mutex::new(HashMap::new()),
            claiming: Mutex::new(()),
            writer: format!("{}-{started}", std::process::id()),
            last_revision: AtomicI64::new(0),
        })
    }

    /// `cql` as a prepared, idempotent statement (prepared on first use).
    async fn prepare(&self, cql: &'static str) -> Result<PreparedStatement, String> {
        if let Some(p) = self.cached(cql) {
            return Ok(p);
        }
        let mut statement = Statement::new(cql);
        statement.set_is_idempotent(true);
        statement.set_request_timeout(Some(REQUEST_TIMEOUT));
        let prepared = self.session.prepare(statement).await.map_err(err)?;
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cql, prepared.clone());
        Ok(prepared)
    }

    fn cached(&self, cql: &str) -> Option<PreparedStatement> {
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(cql)
            .cloned()
    }

    /// Runs `cql` with `values`, unpaged (writes and single-partition reads).
    fn run<V>(
        &self,
        cql: &'static str,
        values: V,
    ) -> Result<scylla::response::query_result::QueryResult, String>
    where
        V: scylla::serialize::row::SerializeRow + Send,
    {
        self.runtime.block_on(async move {
            let prepared = self.prepare(cql).await?;
            self.session
                .execute_unpaged(&prepared, values)
                .await
                .map_err(err)
        })
    }

    /// The rows of `cql` with `values`, paged.
    fn scan<V, R>(&self, cql: &'static str, values: V) -> Result<Vec<R>, String>
    where
        V: scylla::serialize::row::SerializeRow + Send,
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + Send + 'static,
    {
        self.runtime.block_on(async move {
            let mut prepared = self.prepare(cql).await?;
            prepared.set_page_size(1000);
            let pager = self
                .session
                .execute_iter(prepared, values)
                .await
                .map_err(err)?;
            pager
                .rows_stream::<R>()
                .map_err(err)?
                .try_collect()
                .await
                .map_err(err)
        })
    }

    /// The single row of a single-partition read.
    fn one<V, R>(&self, cql: &'static str, values: V) -> Result<Option<R>, String>
    where
        V: scylla::serialize::row::SerializeRow + Send,
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        let result = self.run(cql, values)?;
        let rows = result.into_rows_result().map_err(err)?;
        let mut iter = rows.rows::<R>().map_err(err)?;
        iter.next().transpose().map_err(err)
    }

    fn bump(&self, kind: Kind) -> Result<(), String> {
        let now = now_ms() * 1000;
        let next = self
            .last_revision
            .fetch_max(now, Ordering::SeqCst)
            .max(now)
            .wrapping_add(1);
        self.last_revision.store(next, Ordering::SeqCst);
        self.run(
            "INSERT INTO revisions (kind, revision) VALUES (?, ?)",
            (kind.name(), next),
        )
        .map(|_| ())
    }

    pub(crate) fn revision(&self, kind: Kind) -> Result<i64, String> {
        let row: Option<(i64,)> = self.one(
            "SELECT revision FROM revisions WHERE kind = ?",
            (kind.name(),),
        )?;
        Ok(row.map_or(0, |r| r.0))
    }

    /// Stores `body` as the next version of `id`, scored with model element `name` when
    /// one is named.
    pub(crate) fn put_versioned(
        &self,
        kind: Kind,
        id: &str,
        body: &str,
        name: Option<&str>,
    ) -> Result<u32, String> {
        let version = self.claim(kind, id)?;
        let stored = now_ms();
        self.run(
            "INSERT INTO versioned (kind, id, version, body, stored_ms) VALUES (?, ?, ?, ?, ?)",
            (kind.name(), id, version, body, stored),
        )?;
        if let Some(name) = name {
            self.run(
                "INSERT INTO model_names (kind, id, version, name) VALUES (?, ?, ?, ?)",
                (kind.name(), id, version, name),
            )?;
        }
        self.run(
            "INSERT INTO heads (kind, id, version, stored_ms) VALUES (?, ?, ?, ?)",
            (kind.name(), id, version, stored),
        )?;
        self.bump(kind)?;
        Ok(version as u32)
    }

    /// Takes the first version of `id` after the head that no one has claimed.
    fn claim(&self, kind: Kind, id: &str) -> Result<i32, String> {
        let _turn = self.claiming.lock().unwrap_or_else(|e| e.into_inner());
        let mut version = self.head(kind, id)?.map_or(1, |h| h + 1);
        loop {
            if self.holder(kind, id, version)?.is_none() {
                self.run(
                    "INSERT INTO claims (kind, id, version, writer) VALUES (?, ?, ?, ?)",
                    (kind.name(), id, version, &self.writer),
                )?;
                std::thread::sleep(CLAIM_SETTLE);
                if self.holder(kind, id, version)? == Some(self.writer.clone()) {
                    return Ok(version);
                }
            }
            version += 1;
        }
    }

    /// The writer that claimed `version` of `id`, if one did.
    fn holder(&self, kind: Kind, id: &str, version: i32) -> Result<Option<String>, String> {
        let row: Option<(String,)> = self.one(
            "SELECT writer FROM claims WHERE kind = ? AND id = ? AND version = ?",
            (kind.name(), id, version),
        )?;
        Ok(row.map(|r| r.0))
    }

    /// The version the head of `id` names, if it has one.
    fn head(&self, kind: Kind, id: &str) -> Result<Option<i32>, String> {
        let row: Option<(i32,)> = self.one(
            "SELECT version FROM heads WHERE kind = ? AND id = ?",
            (kind.name(), id),
        )?;
        Ok(row.map(|r| r.0))
    }

    /// The newest stored version of `id` from its head on: concurrent writers may write
    /// their heads out of order, so a head can lag behind a version already stored.
    fn newest(&self, kind: Kind, id: &str, head: i32) -> Result<i32, String> {
        let mut version = head;
        loop {
            let next: Option<(i32,)> = self.one(
                "SELECT version FROM versioned WHERE kind = ? AND id = ? AND version = ?",
                (kind.name(), id, version + 1),
            )?;
            if next.is_none() {
                return Ok(version);
            }
            version += 1;
        }
    }

    /// The newest version of `id`: its number, body and model element name.
    pub(crate) fn latest(&self, kind: Kind, id: &str) -> Result<Option<Latest>, String> {
        let Some(head) = self.head(kind, id)? else {
            return Ok(None);
        };
        let version = self.newest(kind, id, head)?;
        let body: Option<(String,)> = self.one(
            "SELECT body FROM versioned WHERE kind = ? AND id = ? AND version = ?",
            (kind.name(), id, version),
        )?;
        let Some((body,)) = body else {
            return Ok(None);
        };
        let name: Option<(String,)> = self.one(
            "SELECT name FROM model_names WHERE kind = ? AND id = ? AND version = ?",
            (kind.name(), id, version),
        )?;
        Ok(Some((version as u32, body, name.map(|n| n.0))))
    }

    pub(crate) fn versions(&self, kind: Kind) -> Result<Vec<Version>, String> {
        let heads: Vec<(String, String, i32, i64)> =
            self.scan("SELECT kind, id, version, stored_ms FROM heads", ())?;
        let mut out = Vec::new();
        for (_, id, head, mut stored_ms) in heads.into_iter().filter(|h| h.0 == kind.name()) {
            let version = self.newest(kind, &id, head)?;
            if version != head {
                let row: Option<(i64,)> = self.one(
                    "SELECT stored_ms FROM versioned WHERE kind = ? AND id = ? AND version = ?",
                    (kind.name(), &id, version),
                )?;
                stored_ms = row.map_or(stored_ms, |r| r.0);
            }
            out.push(Version {
                id,
                version: version as u32,
                stored_ms,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub(crate) fn delete_versioned(&self, kind: Kind, id: &str) -> Result<bool, String> {
        let Some(head) = self.head(kind, id)? else {
            return Ok(false);
        };
        let last = self.newest(kind, id, head)?;
        self.run(
            "DELETE FROM heads WHERE kind = ? AND id = ?",
            (kind.name(), id),
        )?;
        for version in 1..=last {
            for cql in [
                "DELETE FROM versioned WHERE kind = ? AND id = ? AND version = ?",
                "DELETE FROM model_names WHERE kind = ? AND id = ? AND version = ?",
                "DELETE FROM claims WHERE kind = ? AND id = ? AND version = ?",
            ] {
                self.run(cql, (kind.name(), id, version))?;
            }
        }
        self.bump(kind)?;
        Ok(true)
    }

    pub(crate) fn put_rule(&self, rule: &Rule) -> Result<(), String> {
        let attributes = serde_json::to_string(&rule.attributes).map_err(err)?;
        self.run(
            "INSERT INTO rules (ruleset, id, condition, enabled, priority, attributes) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (
                &rule.ruleset,
                &rule.id,
                &rule.condition,
                i32::from(rule.enabled),
                rule.priority,
                attributes,
            ),
        )?;
        self.bump(Kind::Rules)
    }

    pub(crate) fn rules(&self, ruleset: Option<&str>) -> Result<Vec<Rule>, String> {
        let rows: Vec<(String, String, String, i32, i64, String)> = self.scan(
            "SELECT ruleset, id, condition, enabled, priority, attributes FROM rules",
            (),
        )?;
        let mut rules: Vec<Rule> = rows
            .into_iter()
            .filter(|r| ruleset.is_none_or(|s| s == r.0))
            .map(
                |(ruleset, id, condition, enabled, priority, attributes)| Rule {
                    ruleset,
                    id,
                    condition,
                    enabled: enabled != 0,
                    priority,
                    attributes: serde_json::from_str::<BTreeMap<String, String>>(&attributes)
                        .unwrap_or_default(),
                },
            )
            .collect();
        rules.sort_by(|a, b| (&a.ruleset, &a.id).cmp(&(&b.ruleset, &b.id)));
        Ok(rules)
    }

    pub(crate) fn delete_rule(&self, ruleset: &str, id: &str) -> Result<bool, String> {
        let found: Option<(String,)> = self.one(
            "SELECT id FROM rules WHERE ruleset = ? AND id = ?",
            (ruleset, id),
        )?;
        if found.is_none() {
            return Ok(false);
        }
        self.run(
            "DELETE FROM rules WHERE ruleset = ? AND id = ?",
            (ruleset, id),
        )?;
        self.bump(Kind::Rules)?;
        Ok(true)
    }

    pub(crate) fn set_config(&self, key: &str, value: &Value) -> Result<(), String> {
        let text = serde_json::to_string(value).map_err(err)?;
        self.run("INSERT INTO config (key, value) VALUES (?, ?)", (key, text))?;
        self.bump(Kind::Config)
    }

    pub(crate) fn config(&self, key: Option<&str>) -> Result<Vec<(String, Value)>, String> {
        let rows: Vec<(String, String)> = match key {
            Some(key) => self
                .one("SELECT key, value FROM config WHERE key = ?", (key,))?
                .into_iter()
                .collect(),
            None => self.scan("SELECT key, value FROM config", ())?,
        };
        let mut out = rows
            .into_iter()
            .map(|(key, text)| {
                let value =
                    serde_json::from_str(&text).map_err(|e| format!("config {key}: {e}"))?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, String>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    pub(crate) fn load_rows(&self, table: &str, rows: &[(String, Row)]) -> Result<usize, String> {
        let encoded: Vec<(String, String)> = rows
            .iter()
            .map(|(k, row)| Ok((k.clone(), serde_json::to_string(row).map_err(err)?)))
            .collect::<Result<_, String>>()?;
        let table = table.to_string();
        let n = encoded.len();
        self.runtime.block_on(async move {
            let prepared = self
                .prepare("INSERT INTO rows (table_name, key, row) VALUES (?, ?, ?)")
                .await?;
            for (key, row) in &encoded {
                self.session
                    .execute_unpaged(&prepared, (&table, key, row))
                    .await
                    .map_err(err)?;
            }
            Ok::<_, String>(())
        })?;
        self.bump(Kind::Tables)?;
        Ok(n)
    }

    /// The rows under `keys`, read concurrently (one partition each).
    pub(crate) fn rows(&self, table: &str, keys: &[&str]) -> Result<Vec<(String, Row)>, String> {
        let texts: Vec<(String, Option<String>)> = self.runtime.block_on(async {
            let prepared = self
                .prepare("SELECT row FROM rows WHERE table_name = ? AND key = ?")
                .await?;
            let reads = keys.iter().map(|key| {
                let (session, prepared) = (&self.session, &prepared);
                async move {
                    let result = session
                        .execute_unpaged(prepared, (table, *key))
                        .await
                        .map_err(err)?;
                    let rows = result.into_rows_result().map_err(err)?;
                    let row = rows
                        .rows::<(String,)>()
                        .map_err(err)?
                        .next()
                        .transpose()
                        .map_err(err)?;
                    Ok::<_, String>((key.to_string(), row.map(|r| r.0)))
                }
            });
            futures::future::try_join_all(reads).await
        })?;
        texts
            .into_iter()
            .filter_map(|(key, text)| text.map(|t| (key, t)))
            .map(|(key, text)| {
                let row = serde_json::from_str(&text).map_err(|e| format!("{table} {key}: {e}"))?;
                Ok((key, row))
            })
            .collect()
    }
}
