//! Errors raised while a job runs.

use std::fmt;

/// A boxed error from user code, a connector or the runtime.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An operator failed, which fails the job.
#[derive(Debug, thiserror::Error)]
pub struct RuntimeError {
    /// The name of the operator that failed.
    pub operator: String,
    /// What went wrong.
    pub error: BoxError,
}

impl RuntimeError {
    /// An error of operator `operator`.
    pub fn new(operator: impl Into<String>, error: impl Into<BoxError>) -> Self {
        RuntimeError {
            operator: operator.into(),
            error: error.into(),
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operator, self.error)
    }
}
