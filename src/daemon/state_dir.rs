//! `--state-dir`: `for`/`hold` timers and last decisions survive a restart. The same file
//! format is `check --state`'s, so both read it here.

use crate::engine::hysteresis::StateStore;
use crate::error::Error;
use std::path::{Path, PathBuf};
use thiserror::Error;

const FILE: &str = "state.json";

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Why a state file could not be read or written.
#[derive(Debug, Error)]
pub(crate) enum StateError {
    /// The file exists but is not a state file: the operator's input is wrong (exit 65).
    #[error("{}:{line}:{column}: not a burnrate state file: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        source: serde_json::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create --state-dir {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<StateError> for Error {
    fn from(e: StateError) -> Error {
        match e {
            StateError::Corrupt { .. } => Error::InvalidInput(e.to_string()),
            _ => Error::Internal(e.to_string()),
        }
    }
}

/// Reads a state file; a missing file is a fresh start, an unreadable one is an error
/// (silently starting over would forget a `hold` the operator relies on).
pub(crate) fn read(file: &Path) -> Result<StateStore, StateError> {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
            path: file.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateStore::default()),
        Err(source) => Err(StateError::Read {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Writes a state file atomically (temp file, fsync, rename).
pub(crate) fn write(file: &Path, store: &StateStore) -> Result<(), StateError> {
    let json = serde_json::to_vec_pretty(store).expect("state serializes");
    crate::fsutil::write_atomic(file, &json).map_err(|source| StateError::Write {
        path: file.to_path_buf(),
        source,
    })
}

/// Reads the state saved in `dir`, creating the directory on a first start.
pub(crate) fn load(dir: &Path) -> Result<StateStore, StateError> {
    std::fs::create_dir_all(dir).map_err(|source| StateError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    read(&path(dir))
}

/// Writes the state into `dir`.
pub(crate) fn save(dir: &Path, store: &StateStore) -> Result<(), StateError> {
    write(&path(dir), store)
}
