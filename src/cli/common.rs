//! Pieces every command shares: logging, loading specs, building the backend client,
//! parsing times.

use super::{BackendArgs, LogFormat, SpecPaths};
use crate::backend::{ClientConfig, PromClient};
use crate::daemon::shard::Shard;
use crate::duration::PromDuration;
use crate::error::{Error, Result};
use crate::limits::MAX_SHARDS;
use crate::spec::ServiceSpec;
use crate::specfiles::{LoadReport, load_sources};

pub(crate) use crate::time::{now_ms, parse_time};
use std::time::Duration;

pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BURNRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => {
            use std::io::IsTerminal;
            builder
                .with_target(false)
                .without_time()
                .with_ansi(std::io::stderr().is_terminal())
                .try_init()
        }
    };
}

/// Loads the specs and prints every diagnostic to stderr; fails with exit 65 on errors.
pub(crate) fn load_specs(paths: &SpecPaths) -> Result<(Vec<ServiceSpec>, LoadReport)> {
    let mut report = load_sources(&paths.sources());
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    if report.has_errors() {
        let n = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::spec::Severity::Error)
            .count();
        eprintln!("burnrate: {n} error(s); nothing was evaluated");
        return Err(Error::InvalidSpec(n));
    }
    let specs = std::mem::take(&mut report.specs);
    Ok((specs, report))
}

pub(crate) fn build_client(args: &BackendArgs) -> Result<PromClient> {
    let url = args
        .prometheus
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            Error::Usage("no backend: pass --prometheus URL or set BURNRATE_PROMETHEUS_URL".into())
        })?;
    let mut config = ClientConfig::new(url);
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| Error::Usage("--header must look like 'Name: value'".into()))?;
        config
            .headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }
    config.bearer_token_file = args.bearer_token_file.clone();
    if let (Some(user), Some(path)) = (&args.basic_auth_user, &args.basic_auth_password_file) {
        config.basic_auth = Some((user.clone(), path.clone()));
    }
    config.ca_file = args.ca_file.clone();
    if let (Some(cert), Some(key)) = (&args.cert_file, &args.key_file) {
        config.client_cert = Some((cert.clone(), key.clone()));
    }
    let timeout =
        PromDuration::parse(&args.timeout).map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
    if timeout.millis() <= 0 {
        return Err(Error::Usage("--timeout must be longer than 0".into()));
    }
    config.timeout = Duration::from_millis(timeout.millis() as u64);
    PromClient::new(config).map_err(|e| Error::Usage(e.to_string()))
}

/// `--shard i/n` of `check` and `run`, with at most [`MAX_SHARDS`] replicas: every SLO is
/// scored once per replica, so `0/4294967295` would take seconds per SLO.
pub(crate) fn parse_shard(text: &str) -> std::result::Result<Shard, String> {
    let shard = Shard::parse(text).map_err(|e| e.to_string())?;
    if shard.count > MAX_SHARDS {
        return Err(format!(
            "{text:?}: at most {MAX_SHARDS} replicas (every SLO is scored once per replica)"
        ));
    }
    Ok(shard)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

pub(crate) use crate::fsutil::write_atomic;
