//! Generated bench inputs cached under `CARGO_TARGET_TMPDIR`, keyed by a hash of the code
//! that generates them, so a rerun does not spend half a minute writing the same history.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// Hash of the generator sources and parameters; part of the cached file's name.
pub fn key(parts: &[&str]) -> String {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// `CARGO_TARGET_TMPDIR/<name>-<key>.<ext>`, created by `make` unless already there.
/// Writes to a temporary name first, so an interrupted run leaves no half file behind.
pub fn cached(name: &str, key: &str, ext: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("create CARGO_TARGET_TMPDIR");
    let path = dir.join(format!("{name}-{key}.{ext}"));
    if !path.exists() {
        // Older generations of the same input are dead weight (hundreds of MB).
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let file = e.file_name().to_string_lossy().into_owned();
                if file.starts_with(&format!("{name}-")) && file.ends_with(&format!(".{ext}")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let partial = dir.join(format!("{name}-{key}.partial.{}", std::process::id()));
        make(&partial);
        std::fs::rename(&partial, &path).expect("rename generated input into place");
    }
    path
}
