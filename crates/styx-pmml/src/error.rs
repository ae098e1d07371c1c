//! Errors: refusing a document at load time, failing a record at scoring time, and
//! failing a CSV scoring job.

/// A document that cannot be used: unreadable, malformed XML, invalid PMML, or PMML that
/// uses an element or attribute value this evaluator does not support. The message names
/// the element.
#[derive(Debug, thiserror::Error)]
pub enum PmmlError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not well-formed XML.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The document breaks a PMML rule (a missing required attribute, an unknown field
    /// reference, a duplicate name, ...).
    #[error("invalid PMML: element <{element}>: {message}")]
    Invalid {
        /// The element at fault.
        element: String,
        /// What is wrong with it.
        message: String,
    },
    /// The document uses a PMML element or attribute value that this evaluator does not
    /// implement; it is refused rather than scored wrongly.
    #[error("unsupported PMML: element <{element}>: {message}")]
    Unsupported {
        /// The element at fault.
        element: String,
        /// What is not supported.
        message: String,
    },
}

impl PmmlError {
    pub(crate) fn invalid(element: impl Into<String>, message: impl Into<String>) -> Self {
        PmmlError::Invalid {
            element: element.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(element: impl Into<String>, message: impl Into<String>) -> Self {
        PmmlError::Unsupported {
            element: element.into(),
            message: message.into(),
        }
    }
}

/// A record that the model cannot evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// An input value is invalid for its field (not parseable as the field's data type,
    /// or outside the declared values) and the field's `invalidValueTreatment` is
    /// `returnInvalid`.
    #[error("field \"{field}\" cannot accept invalid value \"{value}\"")]
    InvalidValue {
        /// The field name.
        field: String,
        /// The offending value.
        value: String,
    },
    /// A missing input under `missingValueTreatment="returnInvalid"`, or a missing value
    /// where the model requires one (e.g. a support vector input).
    #[error("the value for field \"{field}\" is missing")]
    MissingValue {
        /// The field name.
        field: String,
    },
    /// Any other evaluation failure (an undefined result, a cyclic field definition...).
    #[error("{0}")]
    Evaluation(String),
}

/// An [`EvalError`] on the scoring path, boxed so that a `Result<Val, Fail>` stays two
/// machine words and is returned in registers.
pub(crate) type Fail = Box<EvalError>;

impl From<Box<EvalError>> for EvalError {
    fn from(e: Box<EvalError>) -> Self {
        *e
    }
}

/// A failed CSV scoring job.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] PmmlError),
    /// Reading the input or writing the output failed.
    #[error("{0}")]
    Io(String),
    /// The input CSV is malformed.
    #[error("input CSV: {0}")]
    Csv(String),
    /// A data row could not be evaluated.
    #[error("row {row} (line {line} of the input): {error}")]
    Row {
        /// 1-based data row number (the header is not counted).
        row: u64,
        /// 1-based line number in the input file.
        line: u64,
        /// Why it failed.
        error: EvalError,
    },
}
