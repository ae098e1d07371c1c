//! `styx bench score`: evaluate records one at a time, as a stream operator calls the
//! model, cycling through the rows of a CSV file parsed before the clock starts. The
//! same records are scored for a warm-up first (caches, branch predictors and the CPU's
//! clock settle, as a JVM's warm-up lets its compiler settle).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The PMML document.
    #[arg(long)]
    pub model: PathBuf,
    /// The rows to score (header row; comma, semicolon or tab separated).
    #[arg(long)]
    pub input: PathBuf,
    /// How many records to evaluate.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Seconds of scoring before the clock starts (at most `--records` records).
    #[arg(long, default_value_t = 0.5)]
    pub warmup_s: f64,
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = styx_pmml::Model::from_path(&args.model)
        .with_context(|| format!("cannot use the model {}", args.model.display()))?;
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let rows = styx_pmml::rows_from_csv(&model, file)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    anyhow::ensure!(
        !rows.is_empty(),
        "{} has no data rows",
        args.input.display()
    );
    let mut scratch = model.scratch();
    let warmup = Instant::now();
    for i in 0..args.records {
        if i % 1024 == 0 && warmup.elapsed().as_secs_f64() >= args.warmup_s {
            break;
        }
        let _ = model.evaluate(&rows[i as usize % rows.len()], &mut scratch);
    }
    let mut errors = 0u64;
    let mut predicted = 0u64;
    let start = Instant::now();
    for i in 0..args.records {
        let row = &rows[(i % rows.len() as u64) as usize];
        match model.evaluate(row, &mut scratch) {
            Ok(()) => {
                if model.result(&scratch, 0) != styx_pmml::ResultValue::Missing {
                    predicted += 1;
                }
            }
            Err(_) => errors += 1,
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let rate = if wall > 0.0 {
        args.records as f64 / wall
    } else {
        0.0
    };
    println!(
        "{}",
        serde_json::json!({
            "records": args.records,
            "wall_s": wall,
            "records_per_s": rate,
            "predicted": predicted,
            "errors": errors,
        })
    );
    Ok(ExitCode::SUCCESS)
}
