//! `styx score`: score a CSV file with a PMML model (Openscoring's CSV conventions; see
//! the score-cli contract).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The PMML document.
    #[arg(long)]
    pub model: PathBuf,
    /// The input table (header row; comma, semicolon or tab separated).
    #[arg(long)]
    pub input: PathBuf,
    /// The result table (written only when every row could be scored).
    #[arg(long)]
    pub output: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = styx_pmml::Model::from_path(&args.model)
        .with_context(|| format!("cannot use the model {}", args.model.display()))?;
    let summary = styx_pmml::score_csv_file(&model, &args.input, &args.output)
        .with_context(|| format!("cannot score {}", args.input.display()))?;
    if !summary.missing_columns.is_empty() {
        eprintln!(
            "warning: {} has no column {}, which the model reads: it is missing in every row \
             (treated as the model's mining schema says for missing values)",
            args.input.display(),
            summary
                .missing_columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    eprintln!(
        "scored {} rows into {}",
        summary.rows,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
