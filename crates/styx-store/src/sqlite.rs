//! The SQLite backend: one file, shared by every process that opens it.
//!
//! The database runs in write-ahead-log mode, so readers never block the writer, and
//! waits up to [`BUSY_TIMEOUT`] for a lock another process holds. Each change is one
//! transaction that also bumps its kind's revision, synchronously written.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use crate::{now_ms, Kind, Latest, Row, Rule, Version};

/// How long a change waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS revisions (kind TEXT PRIMARY KEY, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versioned (
    kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
    body TEXT NOT NULL, stored_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, id, version));
CREATE TABLE IF NOT EXISTS model_names (
    kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (kind, id, version));
CREATE TABLE IF NOT EXISTS rules (
    ruleset TEXT NOT NULL, id TEXT NOT NULL, condition TEXT NOT NULL,
    enabled INTEGER NOT NULL, priority INTEGER NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (ruleset, id));
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    table_name TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (table_name, key));
";

pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Whether SQLite refused because another connection holds a lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Sqlite, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Another process may be creating the same file: switching it to the write-ahead
        // log does not wait for that process's lock, so the whole set-up is tried again
        // until the busy timeout.
        let started = std::time::Instant::now();
        loop {
            match Self::set_up(path) {
                Ok(conn) => {
                    return Ok(Sqlite {
                        conn: Mutex::new(conn),
                    })
                }
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(err(e)),
            }
        }
    }

    fn set_up(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(conn)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one immediate transaction (the write lock taken at once) and bumps
    /// the revision of `kind` with it.
    fn change<T>(
        &self,
        kind: Kind,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, String> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let out = f(&tx).map_err(err)?;
        tx.execute(
            "INSERT INTO revisions (kind, revision) VALUES (?1, 1)
             ON CONFLICT (kind) DO UPDATE SET revision = revision + 1",
            params![kind.name()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    pub(crate) fn revision(&self, kind: Kind) -> Result<i64, String> {
        self.conn()
            .query_row(
                "SELECT revision FROM revisions WHERE kind = ?1",
                params![kind.name()],
                |r| r.get(0),
            )
            .optional()
            .map(|r| r.unwrap_or(0))
            .map_err(err)
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
        self.change(kind, |tx| {
            let last: Option<u32> = tx.query_row(
                "SELECT MAX(version) FROM versioned WHERE kind = ?1 AND id = ?2",
                params![kind.name(), id],
                |r| r.get(0),
            )?;
            let version = last.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO versioned (kind, id, version, body, stored_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind.name(), id, version, body, now_ms()],
            )?;
            if let Some(name) = name {
                tx.execute(
                    "INSERT OR REPLACE INTO model_names (kind, id, version, name)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![kind.name(), id, version, name],
                )?;
            }
            Ok(version)
        })
    }

    /// The newest version of `id`: its number, body and model element name.
    pub(crate) fn latest(&self, kind: Kind, id: &str) -> Result<Option<Latest>, String> {
        self.conn()
            .query_row(
                "SELECT v.version, v.body, n.name FROM versioned v
                 LEFT JOIN model_names n
                   ON n.kind = v.kind AND n.id = v.id AND n.version = v.version
                 WHERE v.kind = ?1 AND v.id = ?2
                 ORDER BY v.version DESC LIMIT 1",
                params![kind.name(), id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(err)
    }

    pub(crate) fn versions(&self, kind: Kind) -> Result<Vec<Version>, String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, version, stored_ms FROM versioned v WHERE kind = ?1
                 AND version = (SELECT MAX(version) FROM versioned w
                                WHERE w.kind = v.kind AND w.id = v.id)
                 ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![kind.name()], |r| {
                Ok(Version {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    stored_ms: r.get(2)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)
    }

    pub(crate) fn delete_versioned(&self, kind: Kind, id: &str) -> Result<bool, String> {
        self.change(kind, |tx| {
            tx.execute(
                "DELETE FROM model_names WHERE kind = ?1 AND id = ?2",
                params![kind.name(), id],
            )?;
            tx.execute(
                "DELETE FROM versioned WHERE kind = ?1 AND id = ?2",
                params![kind.name(), id],
            )
            .map(|n| n > 0)
        })
    }

    pub(crate) fn put_rule(&self, rule: &Rule) -> Result<(), String> {
        let attributes = serde_json::to_string(&rule.attributes).map_err(err)?;
        self.change(Kind::Rules, |tx| {
            tx.execute(
                "INSERT INTO rules (ruleset, id, condition, enabled, priority, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (ruleset, id) DO UPDATE SET condition = ?3, enabled = ?4,
                 priority = ?5, attributes = ?6",
                params![
                    rule.ruleset,
                    rule.id,
                    rule.condition,
                    rule.enabled,
                    rule.priority,
                    attributes
                ],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn rules(&self, ruleset: Option<&str>) -> Result<Vec<Rule>, String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT ruleset, id, condition, enabled, priority, attributes FROM rules
                 WHERE ?1 IS NULL OR ruleset = ?1 ORDER BY ruleset, id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![ruleset], |r| {
                let attributes: String = r.get(5)?;
                Ok(Rule {
                    ruleset: r.get(0)?,
                    id: r.get(1)?,
                    condition: r.get(2)?,
                    enabled: r.get(3)?,
                    priority: r.get(4)?,
                    attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)
    }

    pub(crate) fn delete_rule(&self, ruleset: &str, id: &str) -> Result<bool, String> {
        self.change(Kind::Rules, |tx| {
            tx.execute(
                "DELETE FROM rules WHERE ruleset = ?1 AND id = ?2",
                params![ruleset, id],
            )
            .map(|n| n > 0)
        })
    }

    pub(crate) fn set_config(&self, key: &str, value: &Value) -> Result<(), String> {
        let text = serde_json::to_string(value).map_err(err)?;
        self.change(Kind::Config, |tx| {
            tx.execute(
                "INSERT INTO config (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, text],
            )
            .map(|_| ())
        })
    }

    pub(crate) fn config(&self, key: Option<&str>) -> Result<Vec<(String, Value)>, String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT key, value FROM config WHERE ?1 IS NULL OR key = ?1 ORDER BY key")
            .map_err(err)?;
        let rows = stmt
            .query_map(params![key], |r| {
                let (key, text): (String, String) = (r.get(0)?, r.get(1)?);
                Ok((key, text))
            })
            .map_err(err)?;
        rows.map(|r| {
            let (key, text) = r.map_err(err)?;
            let value = serde_json::from_str(&text).map_err(|e| format!("config {key}: {e}"))?;
            Ok((key, value))
        })
        .collect()
    }

    pub(crate) fn load_rows(&self, table: &str, rows: &[(String, Row)]) -> Result<usize, String> {
        let encoded: Vec<(&str, String)> = rows
            .iter()
            .map(|(k, row)| Ok((k.as_str(), serde_json::to_string(row).map_err(err)?)))
            .collect::<Result<_, String>>()?;
        self.change(Kind::Tables, |tx| {
            let mut stmt = tx.prepare(
                "INSERT INTO rows (table_name, key, row) VALUES (?1, ?2, ?3)
                 ON CONFLICT (table_name, key) DO UPDATE SET row = ?3",
            )?;
            for (key, row) in &encoded {
                stmt.execute(params![table, key, row])?;
            }
            Ok(encoded.len())
        })
    }

    pub(crate) fn rows(&self, table: &str, keys: &[&str]) -> Result<Vec<(String, Row)>, String> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT row FROM rows WHERE table_name = ?1 AND key = ?2")
            .map_err(err)?;
        let mut out = Vec::new();
        for key in keys {
            let row: Option<String> = stmt
                .query_row(params![table, key], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if let Some(text) = row {
                let row = serde_json::from_str(&text).map_err(|e| format!("{table} {key}: {e}"))?;
                out.push((key.to_string(), row));
            }
        }
        Ok(out)
    }
}
