//! The one error type of the crate.
//!
//! Variants are grouped by who must act: the caller (invalid arguments, limits), the
//! operator (I/O, corruption, versions, a second process), or the developers (internal).

use std::path::PathBuf;

/// Result alias used throughout sedimentdb.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in sedimentdb.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What the engine was doing (`"write"`, `"fsync"`, `"rename"`, ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk failed a checksum or structural check.
    #[error("corruption in {} at offset {offset}: {what}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in the file where the damage was detected.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// A file was written by a format version this build cannot read.
    #[error("{} has format version {found}, this build reads up to {supported}", file.display())]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The directory exists but is not a sedimentdb database.
    #[error("{} is not a sedimentdb database: {reason}", path.display())]
    NotADatabase {
        /// The directory.
        path: PathBuf,
        /// Why it was not recognised.
        reason: String,
    },
    /// Another process (or another `Db` in this process) holds the database lock.
    #[error("database {} is locked by another process", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// An argument supplied by the caller is invalid; nothing was written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A configured limit would be exceeded; nothing was written.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The configured value of the limit.
        limit: u64,
    },
    /// A written timestamp is further ahead of the wall clock than
    /// [`crate::Options::max_future`] allows; nothing of the batch was written.
    #[error("timestamp {timestamp} is more than {max_ahead_ns} ns ahead of the wall clock ({now}); Options::max_future sets the bound")]
    FutureTimestamp {
        /// The refused timestamp (nanoseconds since the Unix epoch).
        timestamp: i64,
        /// The wall clock when the batch was checked.
        now: i64,
        /// The configured bound, in nanoseconds.
        max_ahead_ns: i64,
    },
    /// An earlier write or fsync failed; the database refuses writes until it is reopened.
    ///
    /// After a failed fsync the kernel may have dropped dirty pages, so retrying the
    /// fsync could report success for data that is gone (the PostgreSQL "fsyncgate").
    #[error("database is poisoned by an earlier failure ({0}); reopen it")]
    Poisoned(String),
    /// The database has been closed.
    #[error("database is closed")]
    Closed,
    /// The database was opened with [`crate::Db::open_read_only`]: writes, flushes,
    /// compactions, deletions and other changes are refused, and nothing was changed.
    #[error("database {} is open read-only; {op} needs a read-write open", path.display())]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
        /// What was refused (`"write"`, `"flush"`, `"compact"`, ...).
        op: &'static str,
    },
    /// A bug in sedimentdb.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds an [`Error::Corruption`].
    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        what: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// True for errors that mean bytes on disk are damaged.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
