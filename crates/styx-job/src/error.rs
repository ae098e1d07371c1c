//! Errors of job files.

use std::path::PathBuf;

use styx_runtime::error::RuntimeError;

/// Why a job could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job file could not be read.
    #[error("{}: cannot read the job file: {source}", file.display())]
    Read {
        /// The job file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The job file is not valid; every problem found is listed, each naming its key.
    #[error("{}: {}", file.display(), render(problems))]
    Invalid {
        /// The job file.
        file: PathBuf,
        /// The problems, each starting with the key it concerns.
        problems: Vec<String>,
    },
    /// The job failed while running.
    #[error("{}: {error}", file.display())]
    Run {
        /// The job file.
        file: PathBuf,
        /// The failure.
        error: RuntimeError,
    },
}

fn render(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => {
            let mut s = format!("{} problems:", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(p);
            }
            s
        }
    }
}
