//! What can go wrong while reading or writing points.

use std::fmt;

/// A line (or record) a reader skipped, and why. Skipping never costs the lines around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number in the input (for CSV, the line where the record starts).
    pub line: u64,
    /// What is wrong, e.g. `field "msg" is a string, not a number`.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// An error that stops a reader: the input could not be read at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Reading the input failed.
    Io(std::io::Error),
    /// The input as a whole is unusable (e.g. a CSV header without a value column).
    Invalid {
        /// 1-based line number.
        line: u64,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read the input: {e}"),
            ReadError::Invalid { line, message } => write!(f, "line {line}: {message}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Invalid { .. } => None,
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// An error that stops an export.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// Writing the output failed.
    Io(std::io::Error),
    /// The database failed while reading the points.
    Db(sedimentdb::Error),
    /// A series cannot be written in this format (e.g. a newline in a dimension value in
    /// line protocol, which has no escape for it).
    Unrepresentable {
        /// The series.
        series: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Io(e) => write!(f, "cannot write the output: {e}"),
            WriteError::Db(e) => write!(f, "{e}"),
            WriteError::Unrepresentable { series, reason } => {
                write!(f, "series {series} cannot be written: {reason}")
            }
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Io(e) => Some(e),
            WriteError::Db(e) => Some(e),
            WriteError::Unrepresentable { .. } => None,
        }
    }
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<sedimentdb::Error> for WriteError {
    fn from(e: sedimentdb::Error) -> Self {
        WriteError::Db(e)
    }
}
