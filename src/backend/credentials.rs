//! Secrets the backend client reads from files: a bearer token and a basic-auth password.
//!
//! They live in files, not flags, so that they never show in `ps` or shell history, and they
//! are re-read when the file changes because Kubernetes rotates projected service-account
//! tokens (hourly) behind a running daemon. Nothing here ever formats a secret: errors name
//! the file and the cause only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// What identifies one version of a file without reading it. The inode is part of it because
/// Kubernetes swaps a symlink to a new file, which may keep the old size and mtime second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

pub(crate) fn stamp(path: &Path) -> std::io::Result<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// A one-line secret in a file, re-read whenever the file's stamp changes.
pub(crate) struct SecretFile {
    path: PathBuf,
    /// The flag that named the file, for messages.
    flag: &'static str,
    cached: Mutex<(Stamp, String)>,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretFile")
            .field("flag", &self.flag)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SecretFile {
    /// Reads the file once; an unreadable or empty file is an error here, at startup, so a
    /// typo in a path never turns into a stream of 401s.
    pub(crate) fn open(flag: &'static str, path: &Path) -> Result<SecretFile, String> {
        let (stamp, secret) = read(flag, path)?;
        Ok(SecretFile {
            path: path.to_path_buf(),
            flag,
            cached: Mutex::new((stamp, secret)),
        })
    }

    /// The secret as the file holds it now. When the file has changed but cannot be read (a
    /// rotation half done, a file briefly missing), the last good value is kept and the
    /// failure logged: the next request looks again.
    pub(crate) fn current(&self) -> String {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        match stamp(&self.path) {
            Ok(now) if now == cached.0 => {}
            _ => match read(self.flag, &self.path) {
                Ok(fresh) => {
                    if fresh.1 != cached.1 {
                        tracing::info!(file = %self.path.display(), flag = self.flag, "re-read a changed secret file");
                    }
                    *cached = fresh;
                }
                Err(why) => tracing::warn!("{why}; keeping the previous value"),
            },
        }
        cached.1.clone()
    }
}

fn read(flag: &str, path: &Path) -> Result<(Stamp, String), String> {
    let fail = |e: std::io::Error| format!("cannot read {flag} {}: {e}", path.display());
    // Stamp first: a change between the two calls makes the next request read again.
    let stamp = stamp(path).map_err(fail)?;
    let text = std::fs::read_to_string(path).map_err(fail)?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("{flag} {} is empty", path.display()));
    }
    if secret.contains(['\r', '\n']) {
        return Err(format!(
            "{flag} {} holds more than one line",
            path.display()
        ));
    }
    Ok((stamp, secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_a_changed_file_and_keeps_the_last_good_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let secret = SecretFile::open("--bearer-token-file", &path).unwrap();
        assert_eq!(secret.current(), "first");
        // A new file (another inode), as Kubernetes' symlink swap makes.
        let next = dir.path().join("token.new");
        std::fs::write(&next, "second-token").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(secret.current(), "second-token");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.current(), "second-token");
    }

    #[test]
    fn errors_name_the_file_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "  \n").unwrap();
        let err = SecretFile::open("--basic-auth-password-file", &path).unwrap_err();
        assert!(err.contains("--basic-auth-password-file") && err.contains("is empty"));
        std::fs::write(&path, "hunter2\nsecond line").unwrap();
        let err = SecretFile::open("--basic-auth-password-file", &path).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let missing = SecretFile::open("--bearer-token-file", &dir.path().join("nope"));
        assert!(missing.unwrap_err().contains("nope"));
    }
}
