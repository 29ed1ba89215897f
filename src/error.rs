//! One error type for the CLI, mapped to the documented exit codes (PRODUCT.md).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// Bad flags or arguments: exit 64.
    #[error("{0}")]
    Usage(String),
    /// At least one spec has errors (already printed): exit 65.
    #[error("{0} error(s) in the specs")]
    InvalidSpec(usize),
    /// The backend could not be reached or every query failed: exit 69.
    #[error("{0}")]
    BackendUnavailable(String),
    /// A bug or an unexpected local failure (state file unwritable, ...): exit 70.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 64,
            Error::InvalidSpec(_) => 65,
            Error::BackendUnavailable(_) => 69,
            Error::Internal(_) => 70,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
