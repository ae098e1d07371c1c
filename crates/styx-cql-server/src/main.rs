//! `styx-cql-server`: a CQL (native protocol v4) server on kassandra's in-memory engine,
//! test support for the store's Cassandra backend (see the library's documentation).
//!
//! Prints `listening on ADDR` on stdout once the port accepts connections; logs go to
//! stderr (`RUST_LOG` filters them). SIGTERM and SIGINT write the snapshot and stop it.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use styx_cql_server::{run, Config};

/// A CQL server for the Cassandra tests of Styx's store (kassandra's engine, in memory).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to accept CQL connections on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:19042")]
    listen: SocketAddr,
    /// Snapshot file: loaded at start if it exists, written on SIGTERM / SIGINT.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also write the snapshot this often (milliseconds) when something changed.
    #[arg(long, value_name = "N", requires = "data")]
    save_every_ms: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kassandra=off")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        listen: args.listen,
        data: args.data,
        save_every: args
            .save_every_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(config, |addr| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {addr}");
            let _ = out.flush();
        }))
}
