//! `styx`: one binary for running stream jobs, scoring PMML models, benchmarks and
//! event generation.

mod bench;
mod demo;
mod generate;
mod run;
mod savepoint;
mod score;
mod serve;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fast data in Rust: stream jobs, windows, and PMML model scoring.
#[derive(Parser)]
#[command(name = "styx", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job file.
    Run(run::Args),
    /// Take a savepoint of a running job.
    Savepoint(savepoint::SavepointArgs),
    /// Stop a running job.
    Stop(savepoint::StopArgs),
    /// Score a CSV file with a PMML model.
    Score(score::Args),
    /// Serve the store's models over Openscoring's REST API.
    Serve(serve::Args),
    /// Measure the engine.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Run a use case end to end: generated events, the store, its job, notifications.
    Demo(demo::Args),
    /// Generate realistic event streams.
    Generate(generate::Args),
    /// Deploy, list and delete the models of the store.
    #[command(subcommand)]
    Models(store::Models),
    /// Put, list and delete the rules of the store.
    #[command(subcommand)]
    Rules(store::Rules),
    /// Put and list the patterns of the store.
    #[command(subcommand)]
    Patterns(store::Patterns),
    /// Set and get the configuration values of the store.
    #[command(subcommand)]
    Config(store::Config),
    /// Load reference data into the store.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

/// Events are small objects made on one thread and freed on another (a source's, then an
/// operator's): jemalloc's thread caches keep that cheap (3.6 times the events/s of the
/// system allocator on a JSON window job, for a little more memory).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STYX_LOG")
                // The Cassandra driver logs each failed connection as an error; the store
                // reports what the job cannot read itself.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,scylla=off")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Savepoint(args) => savepoint::savepoint(args),
        Command::Stop(args) => savepoint::stop(args),
        Command::Score(args) => score::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(b) => bench::run(b),
        Command::Demo(args) => demo::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Models(c) => store::models(c),
        Command::Rules(c) => store::rules(c),
        Command::Patterns(c) => store::patterns(c),
        Command::Config(c) => store::config(c),
        Command::Store(c) => store::store(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("styx: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
