//! The collector's error type.

use std::path::PathBuf;

use super::validate::Rejection;

/// Everything that can go wrong in the collection layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorError {
    /// The event was refused by validation; nothing of it was stored.
    #[error("event rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sedimentdb::Error),
    /// Asynchronous mode shed the event (queue full or store failing); it is counted in
    /// [`CollectorStats::dropped`](super::CollectorStats::dropped).
    #[error("event shed: {0}")]
    Shed(&'static str),
    /// The caller's role does not allow this.
    #[error("access denied to {who}: {reason}")]
    AccessDenied {
        /// The principal.
        who: String,
        /// Why.
        reason: String,
    },
    /// A file of the collection layer (audit log, alert log, rule file, import) failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value (rule file, privacy key, ...) is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file of the collection layer failed its checksum.
    #[error("corruption in {} at line {line}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        what: String,
    },
    /// The collector was shut down.
    #[error("collector is shut down")]
    Closed,
}

impl CollectorError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectorError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
