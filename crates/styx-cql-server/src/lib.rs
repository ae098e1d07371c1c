//! Test support for the store's Cassandra backend: a small CQL server on loopback.
//!
//! Real Cassandra and ScyllaDB cannot run on the project's machines, so the tests of
//! `styx-store`'s Cassandra backend talk to this server instead. It speaks the native
//! protocol v4 (no compression, no authentication, no pushed events) in front of the
//! in-memory single-node engine of the [`kassandra`] crate, which runs one request at a
//! time behind a lock. It answers STARTUP, OPTIONS, REGISTER, QUERY, PREPARE, EXECUTE and
//! BATCH frames; every connection has its own keyspace (`USE`).
//!
//! Its whole state can be kept in a snapshot file ([`Config::data`]): loaded at start,
//! written every [`Config::save_every`] when something changed, and written on SIGTERM or
//! SIGINT before the server stops. A `kill -9` loses what changed since the last write.
//!
//! The engine covers the basics and gets much else silently wrong (range conditions,
//! lightweight transactions, TTLs; see `shared/cassandra/README.md`): it is a test peer,
//! not a Cassandra.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use kassandra::cql::query::{QueryString, QueryValue};
use kassandra::error::DbError;
use kassandra::frame::request::{Request, RequestOpcode};
use kassandra::frame::response::error::Error as CqlError;
use kassandra::frame::response::result::{PreparedMetadata, QueryResult};
use kassandra::frame::response::Response;
use kassandra::frame::{request_stream, response_sink, FrameFlags};
use kassandra::KassandraSession;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// The keyspace a connection uses before its first `USE`: one that cannot exist, so that
/// unqualified table names fail there as they do on Cassandra, instead of landing in the
/// keyspace another connection chose.
const NO_KEYSPACE: &str = "";

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to accept connections on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The snapshot file: loaded at start when it exists, written on SIGTERM / SIGINT and
    /// every [`save_every`](Self::save_every). Without it nothing is kept.
    pub data: Option<PathBuf>,
    /// How often to write the snapshot when something changed (needs `data`).
    pub save_every: Option<Duration>,
}

/// Reads a snapshot file written by this server.
pub fn load_snapshot(path: &Path) -> anyhow::Result<KassandraSession> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    KassandraSession::load_state(&bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading the snapshot {}", path.display()))
}

/// Runs the server until SIGTERM or SIGINT, then writes the snapshot (if any) and returns.
///
/// Once `ready` has been called with the bound address, the port accepts connections.
pub async fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    if config.save_every.is_some() && config.data.is_none() {
        anyhow::bail!("saving every so often needs a snapshot file (--data)");
    }
    // Before anything can be written: a signal from then on ends the server cleanly.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let session = match &config.data {
        Some(path) if path.exists() => load_snapshot(path)?,
        _ => KassandraSession::new(),
    };
    let shared = Arc::new(Shared {
        session: Mutex::new(Some(session)),
        changes: AtomicU64::new(0),
        snapshot: config.data.clone().map(|path| Snapshot {
            path,
            written: Mutex::new(0),
        }),
    });
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data = ?config.data, "CQL server listening");
    ready(addr);

    if let Some(every) = config.save_every {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let shared = shared.clone();
                let saved = tokio::task::spawn_blocking(move || shared.save(false)).await;
                match saved {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("writing the snapshot: {e:#}"),
                    Err(e) => tracing::error!("writing the snapshot: {e}"),
                }
            }
        });
    }

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        if let Err(e) = shared.connection(stream).await {
                            tracing::debug!(%peer, "connection closed: {e:#}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("stopping");
    tokio::task::spawn_blocking(move || shared.save(true)).await??;
    Ok(())
}

/// What the connections share.
struct Shared {
    /// The engine; `None` once the final snapshot was taken.
    session: Mutex<Option<KassandraSession>>,
    /// Counts the requests that may have changed the state.
    changes: AtomicU64,
    snapshot: Option<Snapshot>,
}

struct Snapshot {
    path: PathBuf,
    /// The change count of the state last written; its lock orders the writers.
    written: Mutex<u64>,
}

impl Shared {
    /// Writes the snapshot if something changed since the last write. `last` takes the
    /// engine away, so that nothing is acknowledged after the state that was written.
    fn save(&self, last: bool) -> anyhow::Result<()> {
        let Some(snapshot) = &self.snapshot else {
            if last {
                self.session
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
            }
            return Ok(());
        };
        let (changes, state) = {
            let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
            let changes = self.changes.load(Ordering::SeqCst);
            let unchanged = changes
                == *snapshot
                    .written
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
            let state = match (last, unchanged) {
                (true, _) => session
                    .take()
                    .filter(|_| !unchanged)
                    .map(|s| s.save_state()),
                (false, true) => None,
                (false, false) => session.as_ref().map(KassandraSession::save_state),
            };
            (changes, state)
        };
        let Some(state) = state else { return Ok(()) };
        let mut written = snapshot
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if changes <= *written {
            return Ok(());
        }
        let started = std::time::Instant::now();
        write_atomically(&snapshot.path, &state)?;
        *written = if last { u64::MAX } else { changes };
        tracing::debug!(bytes = state.len(), took = ?started.elapsed(), "snapshot written");
        Ok(())
    }

    /// Answers the requests of one connection, in order, until it closes.
    async fn connection(&self, mut stream: TcpStream) -> anyhow::Result<()> {
        stream.set_nodelay(true)?;
        let (read, write) = stream.split();
        let mut requests = request_stream(read);
        let mut responses = response_sink(write);
        let mut keyspace = None;
        while let Some(frame) = requests.next().await {
            let (params, opcode, body) = frame.map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let response = if params.version.is_unsupported() {
                Response::unsupported_version()
            } else {
                self.answer(opcode, &body, params.flags, &mut keyspace)
            };
            responses
                .send((response, params.stream))
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        }
        Ok(())
    }

    /// Answers one request; a panic of the engine becomes a server error.
    fn answer(
        &self,
        opcode: RequestOpcode,
        body: &[u8],
        flags: FrameFlags,
        keyspace: &mut Option<String>,
    ) -> Response {
        match opcode {
            RequestOpcode::Options => return Response::options(),
            RequestOpcode::Register => return Response::Ready,
            RequestOpcode::AuthResponse => {
                return error(DbError::ProtocolError, "authentication is not supported")
            }
            RequestOpcode::Query | RequestOpcode::Prepare if mentions_frozen(body) => {
                // kassandra's parser overflows the stack on these.
                return error(
                    DbError::SyntaxError,
                    "frozen<...> is not supported by this test server",
                );
            }
            _ => {}
        }
        match catch_unwind(AssertUnwindSafe(|| {
            self.execute(opcode, body, flags, keyspace)
        })) {
            Ok(response) => response,
            Err(panic) => {
                self.changes.fetch_add(1, Ordering::SeqCst);
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".to_owned());
                error(
                    DbError::ServerError,
                    format!("the engine panicked: {message}"),
                )
            }
        }
    }

    fn execute(
        &self,
        opcode: RequestOpcode,
        body: &[u8],
        flags: FrameFlags,
        keyspace: &mut Option<String>,
    ) -> Response {
        let request = match Request::deserialize(opcode, body, flags) {
            Ok(request) => request,
            Err(e) => return Response::Error(e),
        };
        if let Request::StartUp(options) = &request {
            return match options.get("COMPRESSION") {
                Some(algorithm) => error(
                    DbError::ProtocolError,
                    format!("compression ({algorithm}) is not supported"),
                ),
                None => Response::Ready,
            };
        }
        let mut guard = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(session) = guard.as_mut() else {
            return error(DbError::ServerError, "the server is stopping");
        };
        session.use_keyspace(keyspace.as_deref().unwrap_or(NO_KEYSPACE));
        let result = match request {
            Request::Query(query) => {
                let used = match &query.query {
                    QueryString::Use { keyspace } => Some(keyspace.clone()),
                    _ => None,
                };
                let result = session.process(query);
                if result.is_ok() && used.is_some() {
                    *keyspace = used;
                }
                result
            }
            Request::Prepare(query) => {
                let id = prepared_id(keyspace.as_deref(), statement_text(body));
                let mut result = session.prepare_with_id(query.clone(), id);
                if let Ok(QueryResult::Prepared(prepared)) = &mut result {
                    bind_markers_only(&query, &mut prepared.prepared_metadata);
                }
                result
            }
            Request::Execute(execute) => session.execute(execute),
            Request::Batch(batch) => session.process_batch(batch),
            other => {
                return error(
                    DbError::ProtocolError,
                    format!("unexpected request {}", other.opcode()),
                )
            }
        };
        if !matches!(
            result,
            Ok(QueryResult::Rows(_))
                | Ok(QueryResult::SetKeyspace(_))
                | Ok(QueryResult::Prepared(_))
        ) {
            self.changes.fetch_add(1, Ordering::SeqCst);
        }
        drop(guard);
        match result {
            Ok(result) => Response::Result(result),
            Err(e) => {
                let statement = match opcode {
                    RequestOpcode::Query | RequestOpcode::Prepare => {
                        String::from_utf8_lossy(statement_text(body)).into_owned()
                    }
                    _ => format!("{opcode:?}"),
                };
                tracing::debug!(%statement, "failed: {e}");
                Response::Error(e)
            }
        }
    }
}

fn error(kind: DbError, reason: impl ToString) -> Response {
    Response::Error(CqlError::new(kind, reason))
}

/// The statement text at the start of a QUERY or PREPARE body (a `[long string]`).
fn statement_text(body: &[u8]) -> &[u8] {
    let Some(len) = body.get(..4) else {
        return &[];
    };
    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]).max(0) as usize;
    &body[4..body.len().min(4 + len)]
}

/// True when the statement of a QUERY or PREPARE body contains `frozen <`, in any case
/// and spacing.
fn mentions_frozen(body: &[u8]) -> bool {
    let lower = statement_text(body).to_ascii_lowercase();
    lower.windows(6).enumerate().any(|(i, w)| {
        w == b"frozen"
            && lower[i + 6..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'<')
    })
}

/// The id of a prepared statement: a hash of the keyspace and the statement text (as
/// Cassandra's MD5 of them), so that a statement prepared again, after a restart too,
/// gets the id it had. Drivers refuse a re-prepared statement whose id changed.
fn prepared_id(keyspace: Option<&str>, text: &[u8]) -> u128 {
    // FNV-1a, 128 bits: stable across builds, unlike std's hasher.
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let ks = keyspace.unwrap_or_default().as_bytes();
    [ks, &[0xff], text]
        .into_iter()
        .flatten()
        .fold(OFFSET, |hash, byte| {
            (hash ^ u128::from(*byte)).wrapping_mul(PRIME)
        })
}

/// kassandra lists every column of a prepared statement's WHERE clause or VALUES among
/// its bind markers, literals too, and drivers then refuse the values they are given
/// ("Failed to type check query arguments"): the scylla driver's own `SELECT ... FROM
/// system.local WHERE key='local'` among them, so that it never learns the cluster's
/// nodes. This keeps the markers (`?`) only and renumbers the partition key's.
fn bind_markers_only(query: &QueryString, metadata: &mut PreparedMetadata) {
    let is_marker = |(_, value): &(String, QueryValue)| matches!(value, QueryValue::Blankslate);
    let markers: Vec<bool> = match query {
        QueryString::Select(select) => select.r#where.statements.iter().map(is_marker).collect(),
        QueryString::Delete(delete) => delete.r#where.statements.iter().map(is_marker).collect(),
        QueryString::Insert(insert) => insert
            .values
            .iter()
            .map(|value| matches!(value, QueryValue::Blankslate))
            .collect(),
        _ => return,
    };
    if markers.len() != metadata.col_specs.len() || markers.iter().all(|m| *m) {
        return;
    }
    // The position among the markers of each column that is one.
    let positions: Vec<Option<u16>> = markers
        .iter()
        .scan(0u16, |next, is_marker| {
            Some(is_marker.then(|| {
                *next += 1;
                *next - 1
            }))
        })
        .collect();
    let specs = std::mem::take(&mut metadata.col_specs);
    metadata.col_specs = specs
        .into_iter()
        .zip(&markers)
        .filter_map(|(spec, is_marker)| is_marker.then_some(spec))
        .collect();
    metadata.pk_indexes.retain_mut(|pk| {
        match positions.get(usize::from(pk.index)).copied().flatten() {
            Some(position) => {
                pk.index = position;
                true
            }
            None => false,
        }
    });
}

/// Writes `bytes` to `path` through a temporary file beside it, so that a crash leaves the
/// old snapshot or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{mentions_frozen, prepared_id, statement_text};

    fn body(text: &str) -> Vec<u8> {
        let mut body = (text.len() as i32).to_be_bytes().to_vec();
        body.extend_from_slice(text.as_bytes());
        body.extend_from_slice(b"\0\x01frozen<");
        body
    }

    #[test]
    fn frozen_is_found_in_the_statement_only() {
        assert!(mentions_frozen(&body(
            "CREATE TABLE t (a int PRIMARY KEY, b FROZEN <list<int>>)"
        )));
        assert!(mentions_frozen(&body(
            "create table t (b frozen<map<int,int>>)"
        )));
        assert!(!mentions_frozen(&body(
            "INSERT INTO t (a, b) VALUES (?, ?)"
        )));
        assert!(!mentions_frozen(&body("SELECT frozen FROM t")));
        assert!(!mentions_frozen(b"\0\0"));
    }

    #[test]
    fn prepared_ids_depend_on_keyspace_and_text_only() {
        let text = statement_text(&body("SELECT a FROM t WHERE k = ?")).to_vec();
        assert_eq!(text, b"SELECT a FROM t WHERE k = ?");
        let id = prepared_id(Some("ks"), &text);
        assert_eq!(id, prepared_id(Some("ks"), &text));
        assert_ne!(id, prepared_id(None, &text));
        assert_ne!(id, prepared_id(Some("ks2"), &text));
        assert_ne!(id, prepared_id(Some("ks"), b"SELECT b FROM t WHERE k = ?"));
    }
}
