//! `burnrate run`: the daemon's command line.

use super::RunArgs;
use super::common::{build_client, load_specs};
use crate::daemon::{self, DaemonConfig};
use crate::duration::PromDuration;
use crate::error::{Error, Result};
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
        spec_paths: args.specs.clone(),
        interval,
        listen,
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
        },
        concurrency: args.concurrency,
        shard: args.shard,
        evaluation: args.evaluation,
        flavor: args.backend.backend_flavor,
        batch: args.batch.max(1),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(daemon::run(config, client, specs))?;
    // Abandoned cycles may still hold sockets: do not wait for them.
    rt.shutdown_timeout(Duration::from_millis(500));
    Ok(0)
}
