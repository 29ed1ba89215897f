//! `burnrate run`: the daemon's command line.

use super::RunArgs;
use super::common::{build_client, load_specs};
use crate::daemon::{self, DaemonConfig};
use crate::duration::PromDuration;
use crate::error::{Error, Result, exit};
use crate::sinks::alertmanager::AlertmanagerConfig;
use crate::sinks::webhook::WebhookConfig;
use std::time::Duration;

fn duration(flag: &str, text: &str) -> Result<Duration> {
    let d = PromDuration::parse(text).map_err(|e| Error::Usage(format!("{flag}: {e}")))?;
    if d.millis() <= 0 {
        return Err(Error::Usage(format!("{flag} must be longer than 0")));
    }
    Ok(Duration::from_millis(d.millis() as u64))
}

pub(crate) fn run(args: RunArgs) -> Result<i32> {
    let interval = duration("--interval", &args.interval)?;
    let listen = args.listen.parse().map_err(|e| {
        Error::Usage(format!(
            "--listen {:?}: {e} (expected e.g. 127.0.0.1:9464)",
            args.listen
        ))
    })?;
    let client = build_client(&args.backend)?;
    let (specs, _) = load_specs(&args.specs)?;
    let sink_timeout = duration("--sink-timeout", &args.sink_timeout)?;
    let config = DaemonConfig {
        specs: args.specs.sources(),
        interval,
        listen,
        web: match &args.web_config_file {
            Some(path) => {
                Some(crate::daemon::webconfig::WebConfig::load(path).map_err(Error::InvalidInput)?)
            }
            None => None,
        },
        state_dir: args.state_dir.clone(),
        alertmanager: AlertmanagerConfig {
            urls: args.alertmanager.clone(),
            timeout: sink_timeout,
            interval,
        },
        webhooks: WebhookConfig {
            urls: args.webhook.clone(),
            timeout: sink_timeout,
            first_backoff: duration("--webhook-backoff", &args.webhook_backoff)?,
            secret: match &args.webhook_secret_file {
                Some(path) => Some(std::sync::Arc::new(
                    crate::backend::credentials::SecretFile::open("--webhook-secret-file", path)
                        .map_err(Error::Usage)?,
                )),
                None => None,
            },
            outbox: args.state_dir.as_ref().map(|d| d.join("webhook-outbox")),
        },
        concurrency: args.concurrency,
        shard: args.shard,
        evaluation: args.evaluation,
        flavor: args.backend.backend_flavor,
        batch: args.batch.max(1),
        max_history_bytes: args.max_history_bytes,
        ui: crate::daemon::ui::UiConfig {
            retention: PromDuration::parse(&args.ui_retention)
                .ok()
                .filter(|d| d.millis() >= 60_000)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--ui-retention {:?}: expected a duration of at least 1m, e.g. 6h",
                        args.ui_retention
                    ))
                })?,
            graph_base: args
                .ui_backend_url
                .as_deref()
                .or(args.backend.prometheus.as_deref())
                .and_then(crate::daemon::ui::link_base),
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(daemon::run(config, client, specs))?;
    // Abandoned cycles may still hold sockets: do not wait for them.
    rt.shutdown_timeout(Duration::from_millis(500));
    Ok(exit::OK)
}

/// A size in bytes: a number with an optional unit, decimal (`kB`, `MB`, `GB`, `TB`) or
/// binary (`KiB`, `MiB`, `GiB`, `TiB`); `B` or none means bytes.
pub(crate) fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit {other:?} (expected B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 512MiB"))?;
    Ok((value * scale as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }
}
