//! `styx bench`: benchmarks that print one JSON object as their last line.

mod cep;
mod checkpoint;
mod job;
mod lookup;
mod score;
mod serve;
mod window;

use std::process::ExitCode;

use clap::Subcommand;
use styx_runtime::window::AggregateFunction;

/// The benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// A windowed aggregation job on the engine.
    Window(window::Args),
    /// A pattern (complex event processing) job on the engine.
    Cep(cep::Args),
    /// Enriching events from the store and applying its rules.
    Lookup(lookup::Args),
    /// Scoring records one at a time with a PMML model.
    Score(score::Args),
    /// How long checkpoints of a large keyed state pause processing.
    Checkpoint(checkpoint::Args),
    /// A job file run to its end: events/s, CPU time and peak memory.
    Job(job::Args),
    /// The model server under concurrent clients: requests/s and latencies.
    Serve(serve::Args),
}

/// Runs one benchmark.
pub fn run(bench: Bench) -> anyhow::Result<ExitCode> {
    match bench {
        Bench::Window(args) => window::run(args),
        Bench::Cep(args) => cep::run(args),
        Bench::Lookup(args) => lookup::run(args),
        Bench::Score(args) => score::run(args),
        Bench::Checkpoint(args) => checkpoint::run(args),
        Bench::Job(args) => job::run(args),
        Bench::Serve(args) => serve::run(args),
    }
}

/// Where a benchmark job keeps its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    /// Hash maps on the heap.
    #[default]
    Memory,
    /// The embedded LSM tree, in a temporary folder.
    Disk,
}

/// A state backend as `arg` says, and the temporary folder of a disk backend (deleted
/// when it is dropped, after the job).
fn state_backend(
    arg: BackendArg,
) -> anyhow::Result<(styx_runtime::state::StateBackend, Option<tempfile::TempDir>)> {
    match arg {
        BackendArg::Memory => Ok((styx_runtime::state::StateBackend::Memory, None)),
        BackendArg::Disk => {
            let dir = tempfile::Builder::new()
                .prefix("styx-bench-state-")
                .tempdir()?;
            let backend = styx_runtime::state::StateBackend::disk(dir.path())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((backend, Some(dir)))
        }
    }
}

/// Count and sum of a number read from each record, the aggregate the window benchmarks
/// compute.
struct CountSum<F>(F);

impl<In, F> AggregateFunction<In> for CountSum<F>
where
    F: Fn(&In) -> u64 + Send + Sync + 'static,
{
    type Acc = (u64, u64);
    type Out = (u64, u64);
    fn create(&self) -> (u64, u64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (u64, u64), input: &In) {
        acc.0 += 1;
        acc.1 += (self.0)(input);
    }
    fn merge(&self, acc: &mut (u64, u64), other: &(u64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    fn result(&self, acc: &(u64, u64)) -> (u64, u64) {
        *acc
    }
}
