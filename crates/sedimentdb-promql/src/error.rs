//! The one error type of PromQL evaluation, with the Prometheus HTTP API's error type
//! and status code for each kind, so that an HTTP layer maps it without knowing PromQL.

use thiserror::Error;

/// Why a PromQL query could not be answered.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PromError {
    /// The query text is not PromQL (the parser's message).
    #[error("{0}")]
    Parse(String),
    /// Valid PromQL that this evaluator does not implement; names the construct.
    #[error("{construct} is not supported")]
    Unsupported {
        /// What was asked for, e.g. `function "histogram_quantile"` or `subquery`.
        construct: String,
    },
    /// A request parameter or expression is out of its domain (a step of zero, a range
    /// query over a range vector, ...).
    #[error("{0}")]
    BadData(String),
    /// More steps per series than the limit allows (Prometheus: 11,000).
    #[error("exceeded maximum resolution of {limit} points per timeseries. Try decreasing the query resolution (?step=XX)")]
    TooManySteps {
        /// The limit.
        limit: usize,
    },
    /// The query would load more raw samples than the limit allows.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query matched more series than the limit allows.
    #[error("query matched more than {limit} series")]
    TooManySeries {
        /// The limit.
        limit: u64,
    },
    /// Evaluation found data it cannot combine (duplicate series after a function
    /// dropped the metric name, many-to-many matching).
    #[error("{0}")]
    Execution(String),
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(#[source] sedimentdb::Error),
}

impl PromError {
    /// A query construct this evaluator does not implement.
    pub fn unsupported(construct: impl Into<String>) -> Self {
        PromError::Unsupported {
            construct: construct.into(),
        }
    }

    /// The Prometheus API's `errorType`: `bad_data`, `execution` or `internal`.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromError::Parse(_)
            | PromError::Unsupported { .. }
            | PromError::BadData(_)
            | PromError::TooManySteps { .. } => "bad_data",
            PromError::TooManySamples
            | PromError::TooManySeries { .. }
            | PromError::Execution(_) => "execution",
            PromError::Storage(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with for this `errorType`: 400 for
    /// `bad_data`, 422 for `execution`, 500 for `internal`.
    pub fn http_status(&self) -> u16 {
        match self.error_type() {
            "bad_data" => 400,
            "execution" => 422,
            _ => 500,
        }
    }
}

impl From<sedimentdb::Error> for PromError {
    fn from(err: sedimentdb::Error) -> Self {
        match err {
            sedimentdb::Error::LimitExceeded { what, limit } => {
                if what.contains("series") {
                    PromError::TooManySeries { limit }
                } else {
                    PromError::TooManySamples
                }
            }
            other => PromError::Storage(other),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = PromError> = std::result::Result<T, E>;
