//! `styx serve`: the model server, Openscoring's REST API over the store's models.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use styx_server::config::{base_path, AdminAddresses};
use styx_server::Config;

/// Arguments of `styx serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The address to listen on (port 0 takes a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The path the API is under (`/` for the root).
    #[arg(long, default_value = "/openscoring")]
    base_path: String,
    /// Deploys each `*.pmml` file of this folder at start, under the id of its file name
    /// up to the first dot.
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// The store: sqlite:PATH or cassandra://HOST:PORT/KEYSPACE (default: $STYX_STORE,
    /// else sqlite:styx.db here).
    #[arg(long)]
    store: Option<String>,
    /// The admin token (also $STYX_ADMIN_TOKEN); without one, requests from loopback and
    /// the admin addresses are admin's.
    #[arg(long, env = "STYX_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The user token (also $STYX_USER_TOKEN); without one, every request is a user's.
    #[arg(long, env = "STYX_USER_TOKEN", hide_env_values = true)]
    user_token: Option<String>,
    /// Addresses whose requests are admin's when there is no admin token (`*`: any).
    #[arg(long, value_delimiter = ',', default_value = "localhost")]
    admin_addresses: Vec<String>,
    /// The largest request body (for example `256MiB`).
    #[arg(long, default_value = "256MiB")]
    max_body: String,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config {
        listen: args.listen,
        base_path: base_path(&args.base_path),
        models_dir: args.models,
        store_url: styx_job::store::resolve_url(args.store.as_deref(), std::path::Path::new(".")),
        admin_token: args.admin_token,
        user_token: args.user_token,
        admin_addresses: AdminAddresses::parse(&args.admin_addresses.join(","))
            .map_err(|e| anyhow!(e))?,
        max_body: bytes(&args.max_body).map_err(|e| anyhow!("--max-body: {e}"))?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(styx_server::serve(config, shutdown()))
        .map_err(|e| anyhow!(e))?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A size such as `256MiB`, `10MB`, `4096`.
fn bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 256MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} in {text:?}")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}
