//! `styx bench lookup`: events through a job that enriches each one with a row of the
//! store (`lookup`) and applies a ruleset (`rules`), on either backend.
//!
//! The job reads generated payments (20,000 accounts), looks each one's account up in a
//! table of as many customers, and applies `--rules` rules (each compares the amount
//! with a threshold; `emit = "all"`), writing to a file sink that discards. With
//! `--cache off` the rows are read from the store for every event. The last line
//! printed is one JSON object.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value};
use styx_job::{Job, RunOptions};
use styx_store::{Rule, Store};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The number of events.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// The store: sqlite:PATH or cassandra://HOST:PORT/KEYSPACE (default: a new SQLite
    /// file in a temporary folder).
    #[arg(long)]
    store: Option<String>,
    /// Whether lookups are cached (for the store's refresh interval, 1 s) or read
    /// from the store for each event.
    #[arg(long, value_parser = ["on", "off"], default_value = "on")]
    cache: String,
    /// How many rules the rules transform applies (0: no rules transform).
    #[arg(long, default_value_t = 0)]
    rules: u32,
}

const ACCOUNTS: u32 = 20_000;

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let dir = tempfile::Builder::new()
        .prefix("styx-bench-lookup-")
        .tempdir()?;
    let url = args
        .store
        .clone()
        .unwrap_or_else(|| styx_store::default_url(dir.path()));
    let store = Store::open(&url).map_err(|e| anyhow!("{e}"))?;
    let rows: Vec<(String, Map<String, Value>)> = (0..ACCOUNTS)
        .map(|a| {
            let id = format!("acct-{a:05}");
            let segment = ["gold", "silver", "basic"][a as usize % 3];
            let Value::Object(row) = json!({
                "id": id,
                "segment": segment,
                "credit_limit": 1000 + (a % 50) * 100,
            }) else {
                unreachable!()
            };
            (id, row)
        })
        .collect();
    store
        .load_rows("customers", &rows)
        .map_err(|e| anyhow!("{e}"))?;
    for r in 0..args.rules {
        store
            .put_rule(&Rule {
                ruleset: "bench".into(),
                id: format!("r{r:04}"),
                condition: format!("amount > double(credit_limit) * {}.0 / 100.0", 50 + r % 200),
                enabled: true,
                priority: i64::from(r),
                attributes: Default::default(),
            })
            .map_err(|e| anyhow!("{e}"))?;
    }
    let refresh = if args.cache == "on" { "1s" } else { "1ms" };
    let rules = if args.rules > 0 {
        "[transforms.flagged]\ntype = \"rules\"\ninputs = [\"customer\"]\nruleset = \"bench\"\n\
         emit = \"all\"\n"
    } else {
        ""
    };
    let last = if args.rules > 0 {
        "flagged"
    } else {
        "customer"
    };
    let job = format!(
        "[job]\nname = \"bench-lookup\"\n[store]\nurl = \"{url}\"\nrefresh = \"{refresh}\"\n\
         [sources.payments]\ntype = \"generator\"\nkind = \"payments\"\ncount = {}\nseed = 1\n\
         [transforms.customer]\ntype = \"lookup\"\ninputs = [\"payments\"]\ntable = \"customers\"\n\
         key = \"account\"\n{rules}\
         [sinks.out]\ntype = \"file\"\ninputs = [\"{last}\"]\npath = \"/dev/null\"\n",
        args.events
    );
    let path = dir.path().join("job.toml");
    std::fs::write(&path, &job)?;
    let job = Job::load(&path).map_err(|e| anyhow!("{e}"))?;
    let start = Instant::now();
    job.run(&RunOptions::default())
        .context("the benchmark job failed")?;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "events": args.events,
            "wall_s": wall,
            "events_per_s": args.events as f64 / wall,
            "store": url.split(':').next(),
            "cache": args.cache,
            "rules": args.rules,
        })
    );
    Ok(ExitCode::SUCCESS)
}
