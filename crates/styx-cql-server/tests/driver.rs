//! The server as the store's Cassandra backend meets it: the `scylla` driver creates a
//! keyspace and tables, writes with prepared statements and bound values, reads by
//! partition, pages through a scan, and finds its data again after the server was stopped
//! with SIGTERM (or killed after a periodic snapshot) and started on the snapshot file.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::response::PagingState;
use scylla::statement::batch::Batch;
use scylla::statement::unprepared::Statement;

/// A server process on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let log = dir.join(format!("server-{}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_styx-cql-server"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start styx-cql-server");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line)
            .expect("read the server's first line");
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!(
                "server did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let addr = addr.parse().expect("address");
        Server { child, addr, log }
    }

    /// Sends `signal` and waits (bounded) for the process to end.
    fn stop(mut self, signal: &str) -> ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session settings this server needs (see shared/cassandra/README.md).
async fn connect(addr: SocketAddr) -> Session {
    SessionBuilder::new()
        .known_node_addr(addr)
        // The driver cannot read this server's peers: awaiting schema agreement after
        // each DDL statement would turn every one into an error (though applied).
        .auto_await_schema_agreement(false)
        .build()
        .await
        .expect("connect to styx-cql-server")
}

const KEYSPACE: &str = "CREATE KEYSPACE IF NOT EXISTS styx_test WITH REPLICATION = \
    {'class': 'SimpleStrategy', 'replication_factor': 1}";
const PAIRS: &str = "CREATE TABLE IF NOT EXISTS styx_test.pairs \
    (a text, b bigint, i int, d double, f boolean, s text, PRIMARY KEY ((a, b)))";
const ITEMS: &str = "CREATE TABLE IF NOT EXISTS styx_test.items \
    (id text, n bigint, i int, d double, f boolean, PRIMARY KEY (id))";

type Pair = (String, i64, i32, f64, bool, String);
type Item = (String, i64, i32, f64, bool);

async fn read_pair(session: &Session, a: &str, b: i64) -> Option<Pair> {
    let select = session
        .prepare("SELECT a, b, i, d, f, s FROM styx_test.pairs WHERE a = ? AND b = ?")
        .await
        .expect("prepare select");
    session
        .execute_unpaged(&select, (a, b))
        .await
        .expect("select pair")
        .into_rows_result()
        .expect("rows")
        .maybe_first_row::<Pair>()
        .expect("typed row")
}

async fn all_items(session: &Session) -> Vec<Item> {
    let mut items: Vec<Item> = session
        .query_unpaged("SELECT id, n, i, d, f FROM styx_test.items", ())
        .await
        .expect("scan items")
        .into_rows_result()
        .expect("rows")
        .rows::<Item>()
        .expect("typed rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    items.sort_by(|x, y| x.0.cmp(&y.0));
    items
}

fn item(k: i64) -> Item {
    (
        format!("item-{k}"),
        k * 1_000_000_000_000,
        k as i32,
        k as f64 / 4.0,
        k % 2 == 0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_round_trip_and_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.ron");
    let data_arg = data.to_str().expect("utf-8 path");
    let server = Server::start(dir.path(), &["--data", data_arg]);
    let session = connect(server.addr).await;

    for ddl in [KEYSPACE, PAIRS, ITEMS] {
        session.query_unpaged(ddl, ()).await.expect(ddl);
    }
    // IF NOT EXISTS: a second time is no error.
    session.query_unpaged(PAIRS, ()).await.expect("PAIRS again");

    // Composite partition key, every type bound with `?`.
    let insert_pair = session
        .prepare("INSERT INTO styx_test.pairs (a, b, i, d, f, s) VALUES (?, ?, ?, ?, ?, ?)")
        .await
        .expect("prepare insert");
    let pairs: Vec<Pair> = vec![
        ("x".into(), 1, 7, 1.5, true, "one".into()),
        ("x".into(), 2, -3, -0.25, false, "two".into()),
        (
            "y".into(),
            1,
            i32::MAX,
            1e300,
            true,
            "três, with ünïcode".into(),
        ),
    ];
    for pair in &pairs {
        session
            .execute_unpaged(&insert_pair, pair)
            .await
            .expect("insert pair");
    }
    for pair in &pairs {
        assert_eq!(
            read_pair(&session, &pair.0, pair.1).await.as_ref(),
            Some(pair)
        );
    }
    assert_eq!(read_pair(&session, "x", 3).await, None);

    // Upsert and update of one partition leave the others alone.
    session
        .execute_unpaged(&insert_pair, ("x", 2i64, 4i32, 2.0f64, true, "two again"))
        .await
        .expect("upsert");
    let update = session
        .prepare("UPDATE styx_test.pairs SET i = ?, s = ? WHERE a = ? AND b = ?")
        .await
        .expect("prepare update");
    session
        .execute_unpaged(&update, (5i32, "updated", "x", 1i64))
        .await
        .expect("update");
    assert_eq!(
        read_pair(&session, "x", 1).await,
        Some(("x".into(), 1, 5, 1.5, true, "updated".into()))
    );
    assert_eq!(
        read_pair(&session, "x", 2).await,
        Some(("x".into(), 2, 4, 2.0, true, "two again".into()))
    );

    // Partition key only; five rows, one of them written in a protocol batch.
    let insert_item = session
        .prepare("INSERT INTO styx_test.items (id, n, i, d, f) VALUES (?, ?, ?, ?, ?)")
        .await
        .expect("prepare insert item");
    for k in 1..=3 {
        session
            .execute_unpaged(&insert_item, item(k))
            .await
            .expect("insert item");
    }
    let mut batch = Batch::default();
    batch.append_statement(insert_item.clone());
    batch.append_statement(insert_item.clone());
    session
        .batch(&batch, (item(4), item(5)))
        .await
        .expect("batch");
    let expected: Vec<Item> = (1..=5).map(item).collect();
    assert_eq!(all_items(&session).await, expected);

    // A scan in pages of two, by hand and through the driver's pager.
    let scan = session
        .prepare(Statement::new("SELECT id, n, i, d, f FROM styx_test.items").with_page_size(2))
        .await
        .expect("prepare scan");
    let mut paging = PagingState::start();
    let mut pages = Vec::new();
    let mut seen: Vec<Item> = Vec::new();
    loop {
        let (result, next) = session
            .execute_single_page(&scan, (), paging)
            .await
            .expect("page");
        let rows: Vec<Item> = result
            .into_rows_result()
            .expect("rows")
            .rows::<Item>()
            .expect("typed rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        pages.push(rows.len());
        seen.extend(rows);
        match next.into_paging_control_flow() {
            ControlFlow::Break(()) => break,
            ControlFlow::Continue(state) => paging = state,
        }
        assert!(pages.len() < 10, "paging does not end: {pages:?}");
    }
    assert!(pages.iter().all(|n| *n <= 2), "pages {pages:?}");
    assert_eq!(
        pages.iter().filter(|n| **n > 0).count(),
        3,
        "pages {pages:?}"
    );
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(seen, expected);

    use futures_util::TryStreamExt as _;
    let mut streamed: Vec<Item> = session
        .execute_iter(scan.clone(), ())
        .await
        .expect("pager")
        .rows_stream::<Item>()
        .expect("typed pager")
        .try_collect()
        .await
        .expect("all pages");
    streamed.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(streamed, expected);

    // A session keyspace (USE on every connection) and unqualified names.
    session.use_keyspace("styx_test", false).await.expect("USE");
    let (n,): (i64,) = session
        .query_unpaged("SELECT n FROM items WHERE id = 'item-3'", ())
        .await
        .expect("unqualified select")
        .into_rows_result()
        .expect("rows")
        .single_row()
        .expect("one row");
    assert_eq!(n, 3_000_000_000_000);
    // The keyspace is the connection's: another session has none.
    let other = connect(server.addr).await;
    assert!(other
        .query_unpaged("SELECT n FROM items WHERE id = 'item-3'", ())
        .await
        .is_err());
    drop(other);

    // A driver with its default settings works too: it awaits schema agreement after DDL,
    // reads the cluster's metadata, and prepares statements that mix literals with
    // markers (its own `... FROM system.local WHERE key='local'` is one). The metadata of
    // a keyspace with a boolean column stays out of its reach: kassandra names the type
    // `bool` in system_schema.columns.
    let defaults = SessionBuilder::new()
        .known_node_addr(server.addr)
        .build()
        .await
        .expect("connect with default settings");
    defaults
        .query_unpaged(
            "CREATE TABLE IF NOT EXISTS styx_test.mixed (k text, n bigint, v text, PRIMARY KEY ((k, n)))",
            (),
        )
        .await
        .expect("DDL with schema agreement");
    defaults.refresh_metadata().await.expect("cluster metadata");
    let insert_mixed = defaults
        .prepare("INSERT INTO styx_test.mixed (k, n, v) VALUES ('fixed', ?, ?)")
        .await
        .expect("prepare insert with a literal");
    defaults
        .execute_unpaged(&insert_mixed, (7i64, "seven"))
        .await
        .expect("insert with a literal");
    let select_mixed = defaults
        .prepare("SELECT v FROM styx_test.mixed WHERE k = 'fixed' AND n = ?")
        .await
        .expect("prepare select with a literal");
    let (v,): (String,) = defaults
        .execute_unpaged(&select_mixed, (7i64,))
        .await
        .expect("select with a literal")
        .into_rows_result()
        .expect("rows")
        .single_row()
        .expect("one row");
    assert_eq!(v, "seven");
    drop(defaults);

    // A delete by partition key.
    let delete = session
        .prepare("DELETE FROM styx_test.items WHERE id = ?")
        .await
        .expect("prepare delete");
    session
        .execute_unpaged(&delete, ("item-5",))
        .await
        .expect("delete");
    let expected: Vec<Item> = (1..=4).map(item).collect();
    assert_eq!(all_items(&session).await, expected);

    // Statements the engine cannot run are errors, and the server carries on.
    for bad in [
        "SELEKT * FROM styx_test.items",
        "CREATE TABLE styx_test.frozen (k int PRIMARY KEY, v frozen<list<int>>)",
        "CREATE TABLE styx_test.tuples (k int PRIMARY KEY, v tuple<int, int>)",
    ] {
        assert!(session.query_unpaged(bad, ()).await.is_err(), "{bad}");
    }
    assert_eq!(all_items(&session).await, expected);
    drop(session);

    // SIGTERM writes the snapshot; a new server started on it has everything.
    let status = server.stop("-TERM");
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    assert!(data.exists(), "no snapshot at {}", data.display());

    let server = Server::start(dir.path(), &["--data", data_arg, "--save-every-ms", "100"]);
    let session = connect(server.addr).await;
    assert_eq!(all_items(&session).await, expected);
    assert_eq!(
        read_pair(&session, "y", 1).await,
        Some((
            "y".into(),
            1,
            i32::MAX,
            1e300,
            true,
            "três, with ünïcode".into()
        ))
    );
    // A statement prepared before the restart still runs: the new server does not know
    // it, the driver prepares it again, and it must get the same id (or the driver fails).
    session
        .execute_unpaged(
            &insert_pair,
            ("z", 9i64, 9i32, 9.0f64, false, "after restart"),
        )
        .await
        .expect("insert after restart");

    // The periodic snapshot keeps that write even through a `kill -9`.
    let before = std::fs::metadata(&data)
        .and_then(|m| m.modified())
        .expect("mtime");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&data)
        .and_then(|m| m.modified())
        .expect("mtime")
        == before
    {
        assert!(
            Instant::now() < deadline,
            "no periodic snapshot:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(session);
    server.stop("-KILL");

    let server = Server::start(dir.path(), &["--data", data_arg]);
    let session = connect(server.addr).await;
    assert_eq!(
        read_pair(&session, "z", 9).await,
        Some(("z".into(), 9, 9, 9.0, false, "after restart".into()))
    );
    assert_eq!(all_items(&session).await, expected);
    drop(session);
    let status = server.stop("-TERM");
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}
