//! `--state-dir`: `for`/`hold` timers and last decisions survive a restart.

use crate::engine::hysteresis::StateStore;
use std::path::{Path, PathBuf};

const FILE: &str = "state.json";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the saved state; a missing file is a fresh start, an unreadable one is an error
/// (silently starting over would forget a `hold` the operator relies on).
pub fn load(dir: &Path) -> Result<StateStore, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create --state-dir {}: {e}", dir.display()))?;
    match std::fs::read(path(dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a burnrate state file: {e}", path(dir).display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateStore::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path(dir).display())),
    }
}

/// Writes the state atomically (temp file, fsync, rename).
pub fn save(dir: &Path, store: &StateStore) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(store).expect("state serializes");
    crate::fsutil::write_atomic(&path(dir), &json)
        .map_err(|e| format!("cannot write {}: {e}", path(dir).display()))
}
