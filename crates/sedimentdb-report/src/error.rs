//! The report crate's error type.

/// Everything that can stop a report or a dashboard refresh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The database failed or refused a query.
    #[error("{0}")]
    Engine(#[from] sedimentdb::Error),
    /// The collection layer failed (recommendations, alert rules).
    #[error("{0}")]
    Collector(#[from] sedimentdb_collector::CollectorError),
    /// The report or dashboard was asked for something that does not make sense.
    #[error("{0}")]
    Invalid(String),
    /// A dashboard layout file is malformed.
    #[error("layout {path}: {message}")]
    Layout {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Drawing a chart failed.
    #[error("chart: {0}")]
    Chart(String),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, ReportError>;

impl ReportError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ReportError::Invalid(message.into())
    }
}
