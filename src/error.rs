//! The CLI's error type and the one table of exit codes every command uses (PRODUCT.md: "Every
//! command uses the same table; the README lists it once"). Commands return `Ok(code)` for
//! the codes that are outcomes (a decision, a skipped SLO) and an `Error` for the others;
//! both come from [`exit`], so no command invents a number of its own.

use thiserror::Error;

/// The exit codes. Outcomes first (0-4: the most severe decision for `check`; 0 or 4 for
/// `backtest`), then the BSD `sysexits.h` codes for failures, as the contract says.
pub(crate) mod exit {
    /// Every SLO `ok`; or the command did what it was asked.
    pub(crate) const OK: i32 = 0;
    /// `check`: the most severe decision is `warn`.
    pub(crate) const WARN: i32 = 1;
    /// `check`: the most severe decision is `scale`.
    pub(crate) const SCALE: i32 = 2;
    /// `check`: the most severe decision is `circuit_break`.
    pub(crate) const CIRCUIT_BREAK: i32 = 3;
    /// `check`: some SLO is `no_data` and none is worse than `ok`; `backtest`: some SLO was
    /// skipped (it has no data for the replay, the same meaning).
    pub(crate) const NO_DATA: i32 = 4;
    /// `EX_USAGE`: a bad flag or argument.
    pub(crate) const USAGE: i32 = 64;
    /// `EX_DATAERR`: an invalid input file (spec, history, incidents or state file).
    pub(crate) const INVALID_INPUT: i32 = 65;
    /// `EX_UNAVAILABLE`: the backend could not be reached, or every query failed.
    pub(crate) const UNAVAILABLE: i32 = 69;
    /// `EX_SOFTWARE`: a bug or an unexpected local failure (a file that cannot be written).
    pub(crate) const INTERNAL: i32 = 70;
}

#[derive(Debug, Error)]
pub(crate) enum Error {
    /// Bad flags or arguments.
    #[error("{0}")]
    Usage(String),
    /// At least one spec has errors (each one already printed with its `file:line:col`).
    #[error("{0} error(s) in the specs")]
    InvalidSpec(usize),
    /// A history, incidents or state file that cannot be used; the message names the file
    /// (and its line where it has lines).
    #[error("{0}")]
    InvalidInput(String),
    /// The backend could not be reached or every query failed.
    #[error("{0}")]
    BackendUnavailable(String),
    /// A bug or an unexpected local failure (state file unwritable, ...).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::InvalidSpec(_) | Error::InvalidInput(_) => exit::INVALID_INPUT,
            Error::BackendUnavailable(_) => exit::UNAVAILABLE,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;
