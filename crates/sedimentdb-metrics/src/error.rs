//! What can go wrong when the recorder is set up.

/// Why the recorder could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// An option is out of range.
    #[error("recorder option {option}: {reason}")]
    InvalidOption {
        /// The option's builder method.
        option: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// Another recorder is already the process's global recorder.
    #[error("a global metrics recorder is already installed")]
    AlreadyInstalled,
    /// The sampling thread could not be started.
    #[error("starting the sampling thread: {0}")]
    Thread(#[from] std::io::Error),
}
