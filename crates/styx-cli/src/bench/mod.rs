//! `styx bench`: benchmarks that print one JSON object as their last line.

mod checkpoint;
mod score;
mod window;

use std::process::ExitCode;

use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// A windowed aggregation job on the engine.
    Window(window::Args),
    /// Scoring records one at a time with a PMML model.
    Score(score::Args),
    /// How long checkpoints of a large keyed state pause processing.
    Checkpoint(checkpoint::Args),
}

/// Runs one benchmark.
pub fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Window(args) => window::run(args),
        Bench::Score(args) => score::run(args),
        Bench::Checkpoint(args) => checkpoint::run(args),
    }
}
