//! Exit statuses and the one error type every command returns.

use std::fmt;
use std::process::ExitCode;

/// What a command found, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: done, nothing to report (`alert`: no rule firing).
    Ok,
    /// 1: done, and something needs attention (`alert`: firing; `verify`: damage).
    Finding,
    /// 2: could not do what was asked.
    Error,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        match status {
            Status::Ok => ExitCode::from(0),
            Status::Finding => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
        }
    }
}

/// A command's failure: one line for stderr, saying what went wrong and how to fix it.
#[derive(Debug)]
pub struct CliError {
    message: String,
}

impl CliError {
    /// An error with this message (no trailing period, no newline).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the source said.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl std::error::Error for CliError {}

impl From<sedimentdb::Error> for CliError {
    fn from(err: sedimentdb::Error) -> Self {
        let hint = match &err {
            sedimentdb::Error::Locked { .. } => {
                " (another process holds the database open for writing; commands that only read open it read-only)"
            }
            _ => "",
        };
        CliError::new(format!("{err}{hint}"))
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::new(err.to_string())
    }
}

/// The result of a command.
pub type CliResult<T> = Result<T, CliError>;
