//! `--web.config.file`: TLS and basic auth for the daemon's listener, in the format every
//! Prometheus exporter reads (exporter-toolkit), so that one file and one scrape config
//! serve burnrate and the node exporter alike.
//!
//! The file and the files it names are re-read when any of them changes (a stat per
//! connection and per request), so a rotated certificate or a new user needs no restart; a
//! change that does not load is logged and the last good configuration kept. A file that does
//! not load at start is a startup error naming it.

use crate::backend::credentials::{Stamp, stamp};
use crate::spec::yaml::{self, Node, Value};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// What one version of the file says, loaded.
struct Loaded {
    tls: Option<Arc<rustls::ServerConfig>>,
    /// User to bcrypt hash.
    users: BTreeMap<String, String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The file and every file it names, as they were when loaded.
    stamps: Vec<(PathBuf, Option<Stamp>)>,
}

/// The configuration in force, reloaded when its files change.
pub(crate) struct WebConfig {
    path: PathBuf,
    current: RwLock<Arc<Loaded>>,
    /// SHA-256 of `user:password` pairs that bcrypt already accepted under the current
    /// users: bcrypt is slow on purpose, and a scrape every few seconds should not pay it.
    verified: Mutex<Vec<[u8; 32]>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the users' hashes.
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// Loads `path`; the error names the file and what is wrong.
    pub(crate) fn load(path: &Path) -> Result<Arc<WebConfig>, String> {
        let loaded =
            load(path).map_err(|e| format!("--web.config.file {}: {e}", path.display()))?;
        Ok(Arc::new(WebConfig {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(loaded)),
            verified: Mutex::default(),
        }))
    }

    pub(crate) fn tls_enabled(&self) -> bool {
        self.current().tls.is_some()
    }

    /// The configuration now, re-read first when one of its files changed.
    fn current(&self) -> Arc<Loaded> {
        let now = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let changed = now
            .stamps
            .iter()
            .any(|(path, was)| stamp(path).ok() != *was);
        if !changed {
            return now;
        }
        match load(&self.path) {
            Ok(fresh) => {
                if fresh.tls.is_some() != now.tls.is_some() {
                    tracing::error!(file = %self.path.display(), "--web.config.file: TLS cannot be switched on or off without a restart; keeping the previous configuration");
                    return now;
                }
                tracing::info!(file = %self.path.display(), "reloaded --web.config.file");
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                self.verified
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                fresh
            }
            Err(e) => {
                // Logged once per change: the stamps are updated to the broken version.
                tracing::error!(file = %self.path.display(), "--web.config.file does not load, keeping the previous configuration: {e}");
                let stamps = now
                    .stamps
                    .iter()
                    .map(|(p, _)| (p.clone(), stamp(p).ok()))
                    .collect();
                let kept = Arc::new(Loaded {
                    tls: now.tls.clone(),
                    users: now.users.clone(),
                    headers: now.headers.clone(),
                    stamps,
                });
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = kept.clone();
                kept
            }
        }
    }

    /// Whether `authorization` holds the basic-auth credentials of a configured user. Every
    /// path runs bcrypt or a constant-time comparison, so the time taken does not tell
    /// whether the user exists.
    async fn authorized(&self, loaded: &Loaded, authorization: Option<&HeaderValue>) -> bool {
        use base64::Engine;
        use sha2::Digest;
        let Some((user, password)) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
        else {
            return false;
        };
        let digest: [u8; 32] = sha2::Sha256::digest(format!("{user}:{password}")).into();
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .fold(false, |hit, known| hit | constant_time_eq(known, &digest));
        if cached && loaded.users.contains_key(&user) {
            return true;
        }
        // A user that does not exist still pays for one bcrypt check.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let known = loaded.users.get(&user).cloned();
        let hash = known.clone().unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| bcrypt::hash("burnrate", bcrypt::DEFAULT_COST).unwrap_or_default())
                .clone()
        });
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
                && known.is_some();
        if ok {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a few users, each with one password at a time.
            if verified.len() >= 64 {
                verified.clear();
            }
            verified.push(digest);
        }
        ok
    }

    /// The TLS configuration for the next connection.
    fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.current().tls.clone()
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: 401 without valid credentials when users are configured, and the
/// configured headers on every response.
pub(crate) async fn guard(
    State(web): State<Arc<WebConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let loaded = web.current();
    let mut response = if loaded.users.is_empty()
        || web
            .authorized(&loaded, request.headers().get(header::AUTHORIZATION))
            .await
    {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"burnrate\"")],
            "Unauthorized\n",
        )
            .into_response()
    };
    for (name, value) in &loaded.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// A TCP listener that hands axum only connections whose TLS handshake completed. Each
/// handshake runs in its own task under a timeout, so a client that never finishes one (or
/// many such clients) cannot hold up the others; a client speaking plain HTTP fails the
/// handshake and is dropped.
pub(crate) struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream, std::net::SocketAddr)>,
    local: std::net::SocketAddr,
}

type TlsStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    /// Starts accepting on `tcp`; the accept task ends with the first connection after the
    /// listener is dropped.
    pub(crate) fn start(
        tcp: tokio::net::TcpListener,
        web: Arc<WebConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let Some(tls) = web.tls() else { continue };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task never ends while this listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn load(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut stamps = vec![(path.to_path_buf(), stamp(path).ok())];
    let root = match yaml::parse(&text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Ok(Loaded {
                tls: None,
                users: BTreeMap::new(),
                headers: Vec::new(),
                stamps,
            });
        }
        Err(e) => return Err(format!("line {}: {}", e.pos.line, e.message)),
    };
    let top = mapping(&root, "the file")?;
    let mut tls = None;
    let mut users = BTreeMap::new();
    let mut headers = Vec::new();
    for (key, value) in top {
        match key.as_str() {
            "tls_server_config" => tls = Some(tls_config(value, base, &mut stamps)?),
            "basic_auth_users" => {
                for (user, hash) in mapping(value, "basic_auth_users")? {
                    let hash = scalar(hash, &format!("basic_auth_users.{user}"))?;
                    // A hash bcrypt cannot parse would refuse everyone: say so now.
                    bcrypt::verify("", &hash).map_err(|e| {
                        format!(
                            "basic_auth_users.{user} (line {}): not a bcrypt hash: {e}",
                            value.pos.line
                        )
                    })?;
                    users.insert(user, hash);
                }
            }
            "http_server_config" => {
                for (field, v) in mapping(value, "http_server_config")? {
                    match field.as_str() {
                        "headers" => {
                            for (name, val) in mapping(v, "http_server_config.headers")? {
                                let val = scalar(val, &format!("header {name}"))?;
                                let name = HeaderName::from_bytes(name.as_bytes())
                                    .map_err(|_| format!("invalid header name {name:?}"))?;
                                let val = HeaderValue::from_str(&val)
                                    .map_err(|_| format!("invalid value for header {name}"))?;
                                headers.push((name, val));
                            }
                        }
                        // Exporter-toolkit's HTTP/2 switch: this listener speaks HTTP/1.1.
                        "http2" => {}
                        other => return Err(format!("unknown field http_server_config.{other}")),
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown field {other:?} (line {})",
                    key_line(&root, other)
                ));
            }
        }
    }
    Ok(Loaded {
        tls,
        users,
        headers,
        stamps,
    })
}

fn key_line(root: &Node, key: &str) -> usize {
    match &root.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map_or(0, |(k, _)| k.pos.line),
        _ => 0,
    }
}

fn mapping<'a>(node: &'a Node, what: &str) -> Result<Vec<(String, &'a Node)>, String> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                k.as_scalar()
                    .map(|k| (k.to_string(), v))
                    .ok_or_else(|| format!("{what} (line {}): keys must be strings", k.pos.line))
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(format!(
            "{what} (line {}) must be a mapping, not {}",
            node.pos.line,
            node.kind_name()
        )),
    }
}

fn scalar(node: &Node, what: &str) -> Result<String, String> {
    node.as_scalar()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} (line {}) must be a string", node.pos.line))
}

fn tls_config(
    node: &Node,
    base: &Path,
    stamps: &mut Vec<(PathBuf, Option<Stamp>)>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut fields = BTreeMap::new();
    for (key, value) in mapping(node, "tls_server_config")? {
        fields.insert(
            key.clone(),
            scalar(value, &format!("tls_server_config.{key}"))?,
        );
    }
    let mut file = |key: &str| -> Result<Option<PathBuf>, String> {
        Ok(fields.get(key).filter(|v| !v.is_empty()).map(|v| {
            let path = base.join(v);
            stamps.push((path.clone(), stamp(&path).ok()));
            path
        }))
    };
    let cert_file = file("cert_file")?.ok_or("tls_server_config.cert_file is required")?;
    let key_file = file("key_file")?.ok_or("tls_server_config.key_file is required")?;
    let client_ca = file("client_ca_file")?;
    for key in fields.keys() {
        if !matches!(
            key.as_str(),
            "cert_file" | "key_file" | "client_ca_file" | "client_auth_type" | "min_version"
        ) {
            return Err(format!("unknown field tls_server_config.{key}"));
        }
    }
    let certs = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cert_file {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "cert_file {}: no PEM certificate",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("key_file {}: {e}", key_file.display()))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        match fields.get("min_version").map(String::as_str) {
            // rustls speaks TLS 1.2 and 1.3 only: an older minimum allows both.
            None | Some("" | "TLS10" | "TLS11" | "TLS12") => {
                &[&rustls::version::TLS13, &rustls::version::TLS12]
            }
            Some("TLS13") => &[&rustls::version::TLS13],
            Some(other) => {
                return Err(format!(
                    "tls_server_config.min_version {other:?}: expected TLS10, TLS11, TLS12 or TLS13"
                ));
            }
        };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?;
    let auth_type = fields
        .get("client_auth_type")
        .map_or("NoClientCert", String::as_str);
    let verifier =
        |optional: bool| -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
            let ca = client_ca
                .as_ref()
                .ok_or(format!("client_auth_type {auth_type} needs client_ca_file"))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?
            {
                roots
                    .add(cert)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            );
            let builder = if optional {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))
        };
    let builder = match auth_type {
        "" | "NoClientCert" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" => builder.with_client_cert_verifier(verifier(false)?),
        "VerifyClientCertIfGiven" => builder.with_client_cert_verifier(verifier(true)?),
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type {other:?}: expected NoClientCert, \
                 VerifyClientCertIfGiven or RequireAndVerifyClientCert (a certificate that is \
                 not verified proves nothing)"
            ));
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "cert_file {} with key_file {}: {e}",
            cert_file.display(),
            key_file.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let err = |text: &str| {
            std::fs::write(&path, text).unwrap();
            WebConfig::load(&path).expect_err("an error")
        };
        assert!(
            err("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n")
                .contains("nope.crt")
        );
        assert!(err("basic_auth_users:\n  u: plain-text\n").contains("not a bcrypt hash"));
        assert!(err("bogus: 1\n").contains("unknown field"));
        assert!(
            err("tls_server_config: {cert_file: a, key_file: b, min_version: TLS9}\n")
                .contains("web.yml")
        );
        let named = WebConfig::load(&path).err().unwrap_or_default();
        assert!(named.contains("--web.config.file"), "{named}");
        std::fs::write(
            &path,
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        )
        .unwrap();
        let web = WebConfig::load(&path).unwrap();
        assert!(!web.tls_enabled());
        assert_eq!(web.current().headers.len(), 1);
    }

    #[tokio::test]
    async fn basic_auth_checks_bcrypt_and_caches_a_success() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("secret", 4).unwrap();
        std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let web = WebConfig::load(&path).unwrap();
        let loaded = web.current();
        let basic = |s: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            ))
            .unwrap()
        };
        assert!(web.authorized(&loaded, Some(&basic("alice:secret"))).await);
        assert!(web.authorized(&loaded, Some(&basic("alice:secret"))).await);
        assert!(!web.authorized(&loaded, Some(&basic("alice:wrong"))).await);
        assert!(!web.authorized(&loaded, Some(&basic("bob:secret"))).await);
        assert!(!web.authorized(&loaded, None).await);
    }
}
