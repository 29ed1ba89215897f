//! `burnrate run`: the daemon. Evaluates every SLO on an interval through the same path as
//! `check`, publishes decisions (metrics, Alertmanager, webhooks; per group of an SLO with
//! `group_by`), keeps `for`/`hold` state across restarts, reloads specs on SIGHUP and exits
//! cleanly on SIGTERM/SIGINT.
//!
//! One cycle task per set of specs measures every owned SLO at once (`cycle`: local
//! history first, batched direct queries for the rest), so a cycle never overlaps the next
//! and requests in flight stay bounded; ticks missed while a backend is slow are skipped,
//! not replayed in a burst.

pub mod cycle;
pub(crate) mod http;
pub(crate) mod metrics;
pub mod shard;
pub(crate) mod state_dir;
pub(crate) mod ui;
pub(crate) mod webconfig;

use crate::backend::PromClient;
use crate::backend::flavor::FlavorArg;
use crate::decision::Decision;
use crate::engine::evaluate::evaluate_groups;
use crate::engine::hysteresis::StateStore;
use crate::engine::{Evaluation, SloEvaluation};
use crate::error::{Error, Result};
use crate::promql::Flavor;
use crate::sinks::alertmanager::{Alertmanager, AlertmanagerConfig};
use crate::sinks::webhook::{WebhookConfig, Webhooks};
use crate::spec::ServiceSpec;
use crate::specfiles::load_sources;
use cycle::{CycleMeasurer, CycleReport, EvaluationMode};
use futures::StreamExt;
use metrics::{DimensionLabels, Metrics, SinkLabels, SloLabels, SourceLabels};
use shard::Shard;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Mutex, RwLock, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

#[derive(Debug, Clone)]
pub(crate) struct DaemonConfig {
    pub(crate) specs: crate::specfiles::SpecSources,
    pub(crate) interval: Duration,
    pub(crate) listen: SocketAddr,
    /// `--web.config.file`, loaded: TLS, basic auth and headers of the listener.
    pub(crate) web: Option<Arc<webconfig::WebConfig>>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) alertmanager: AlertmanagerConfig,
    pub(crate) webhooks: WebhookConfig,
    /// Backend requests in flight at most.
    pub(crate) concurrency: usize,
    /// `--shard i/n`: evaluate only the SLOs this replica owns (all of them when `None`).
    pub(crate) shard: Option<Shard>,
    pub(crate) evaluation: EvaluationMode,
    /// Whose semantics the incremental (local) evaluation follows (`auto`: asked of the
    /// backend by the first cycle that reaches it, once per daemon).
    pub(crate) flavor: FlavorArg,
    /// SLO dimensions per batched direct query.
    pub(crate) batch: usize,
    /// Heap bytes the incremental history may hold (`--max-history-bytes`).
    pub(crate) max_history_bytes: u64,
    /// The web page (`--ui-retention`, graph links).
    pub(crate) ui: ui::UiConfig,
}

/// What the HTTP handlers read.
pub(crate) struct Shared {
    pub(crate) metrics: Metrics,
    /// The spec generation currently running (incremented by each successful reload).
    pub(crate) generation: std::sync::atomic::AtomicU64,
    /// Latest evaluation per SLO instance (`StateStore::instance_key`: `service/slo`, and a
    /// group's labels).
    pub(crate) latest: RwLock<BTreeMap<String, Evaluation>>,
    /// The web page's history, deliveries and specs.
    pub(crate) ui: ui::Ui,
}

fn key(service: &str, slo: &str) -> String {
    StateStore::key(service, slo)
}

/// One cycle's evaluations of one SLO (one per group) and the decision before each (from
/// the state, so it survives restarts).
struct Update {
    /// The spec generation whose task produced it; updates of a replaced generation that
    /// were still queued at reload are dropped.
    generation: u64,
    evaluated: SloEvaluation,
    /// Whether the SLO has `group_by` (it then reports `burnrate_groups_dropped`).
    grouped: bool,
}

/// What every cycle task needs.
struct Context {
    client: PromClient,
    interval: Duration,
    concurrency: usize,
    batch: usize,
    evaluation: EvaluationMode,
    max_history_bytes: u64,
    flavor: FlavorArg,
    /// The flavor once known: given, or detected by the first cycle that reached the backend.
    detected_flavor: Arc<std::sync::OnceLock<Flavor>>,
    store: Arc<Mutex<StateStore>>,
    updates: mpsc::Sender<Update>,
    shard: Option<Shard>,
    shared: Arc<Shared>,
}

/// The cycle task of one set of specs; replaced as a whole on reload.
struct Generation {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The SLOs this generation evaluates (with `--shard`, only the ones this replica owns).
    keys: BTreeSet<String>,
    /// Every SLO of the specs, owned or not.
    total: usize,
}

impl Generation {
    /// Starts the cycle task over the SLOs this replica owns (every SLO without `--shard`).
    fn start(specs: Arc<Vec<ServiceSpec>>, cx: Arc<Context>, id: u64) -> Generation {
        let (stop, stop_rx) = watch::channel(false);
        let mut owned = Vec::new();
        let mut keys = BTreeSet::new();
        let mut total = 0;
        for (si, service) in specs.iter().enumerate() {
            for (i, slo) in service.slos.iter().enumerate() {
                total += 1;
                let k = key(&service.service, &slo.name);
                if cx.shard.is_some_and(|s| !s.owns(&k)) {
                    continue;
                }
                keys.insert(k);
                owned.push((si, i));
            }
        }
        let measurer = CycleMeasurer::new(
            cx.client.clone(),
            specs,
            owned,
            cx.evaluation,
            cx.flavor.fixed().unwrap_or_default(),
            cx.batch,
            cx.concurrency,
        )
        .with_history_budget(cx.max_history_bytes)
        .with_flavor_from(cx.flavor, cx.detected_flavor.clone());
        let tasks = vec![tokio::spawn(cycle_loop(cx, measurer, id, stop_rx))];
        Generation {
            stop,
            tasks,
            keys,
            total,
        }
    }

    fn empty() -> Generation {
        Generation {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
            keys: BTreeSet::new(),
            total: 0,
        }
    }

    /// Stops every task: cycles in flight are abandoned (their queries dropped).
    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

async fn cycle_loop(
    cx: Arc<Context>,
    mut measurer: CycleMeasurer,
    generation: u64,
    mut stop: watch::Receiver<bool>,
) {
    // The previous generation's plan said which SLOs fell back; this one says it anew.
    cx.shared.metrics.local_history_fallback_windows.clear();
    let mut ticker = tokio::time::interval(cx.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let at_ms = crate::time::now_ms();
        let started = Instant::now();
        let (measurements, report) = tokio::select! {
            m = measurer.measure(at_ms) => m,
            _ = stop.wait_for(|s| *s) => return,
        };
        record_cycle(&cx.shared.metrics, &report, started.elapsed());
        for (service, slo, dim, windows) in measurer.history_fallbacks() {
            cx.shared
                .metrics
                .local_history_fallback_windows
                .get_or_create(&DimensionLabels {
                    service: service.service.clone(),
                    slo: slo.name.clone(),
                    group: Vec::new(),
                    dimension: dim.as_str().into(),
                })
                .set(windows as i64);
        }
        let updates: Vec<Update> = {
            let mut store = cx.store.lock().await;
            measurer
                .slos()
                .zip(measurements)
                .map(|((service, slo), measured)| Update {
                    generation,
                    evaluated: evaluate_groups(service, slo, at_ms, measured, &mut store),
                    grouped: !slo.group_by.is_empty(),
                })
                .collect()
        };
        // What is measured after the evaluation (a calendar period's budget; breakdowns and
        // exemplars of what burns), a few SLOs at a time; each
        // update goes out as soon as it and those before it are explained.
        let measurer = &measurer;
        let explained = futures::stream::iter(updates.into_iter().enumerate())
            .map(|(index, mut update)| async move {
                measurer
                    .complete(index, &mut update.evaluated.evals, at_ms)
                    .await;
                update
            })
            .buffered(measurer.concurrency());
        let mut explained = std::pin::pin!(explained);
        loop {
            let update = tokio::select! {
                next = explained.next() => match next {
                    Some(update) => update,
                    None => break,
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            if cx.updates.send(update).await.is_err() {
                return;
            }
        }
    }
}

fn record_cycle(metrics: &Metrics, report: &CycleReport, took: Duration) {
    metrics.backend_requests.inc_by(report.traffic.requests);
    metrics
        .backend_response_bytes
        .inc_by(report.traffic.response_bytes);
    metrics
        .cycle_backend_requests
        .set(report.traffic.requests as i64);
    metrics
        .cycle_backend_response_bytes
        .set(report.traffic.response_bytes as i64);
    metrics.cycle_duration.set(took.as_secs_f64());
    for (source, n) in [("local", report.local), ("direct", report.direct)] {
        metrics
            .cycle_dimensions
            .get_or_create(&SourceLabels {
                source: source.into(),
            })
            .set(n as i64);
    }
    metrics
        .local_history_samples
        .set(report.held_samples as i64);
    metrics.local_history_bytes.set(report.held_bytes as i64);
}

/// Turns updates into metrics, the decisions API, webhooks and alerts.
async fn publish(
    mut updates: mpsc::Receiver<Update>,
    shared: Arc<Shared>,
    webhooks: Webhooks,
    alerts: Option<mpsc::Sender<(Evaluation, Option<Decision>)>>,
) {
    // Failures are logged when they start, change or end, not at every cycle: a backend
    // outage with a thousand SLOs must not flood the log.
    let mut failing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Groups dropped per SLO, warned about when the count changes, not every cycle.
    let mut dropped_before: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(Update {
        generation,
        evaluated,
        grouped,
    }) = updates.recv().await
    {
        if generation != shared.generation.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        // Metrics and the decisions API change together: a reader holding the decisions lock
        // never sees metrics of a newer evaluation than the API shows.
        let mut latest = shared.latest.write().await;
        let (service, slo) = {
            let first = &evaluated.evals[0];
            (first.service.clone(), first.slo.clone())
        };
        let slo_labels = SloLabels {
            service: service.clone(),
            slo: slo.clone(),
        };
        if !grouped {
            // No longer grouped after a reload.
            shared.metrics.groups_dropped.remove(&slo_labels);
        } else {
            shared
                .metrics
                .groups_dropped
                .get_or_create(&slo_labels)
                .set(evaluated.dropped as i64);
            let before = dropped_before.insert(key(&service, &slo), evaluated.dropped);
            if evaluated.dropped > 0 && before != Some(evaluated.dropped) {
                tracing::warn!(%service, %slo, dropped = evaluated.dropped,
                    "groups beyond max_groups are not evaluated (the least traffic)");
            }
        }
        let mut current = BTreeSet::new();
        for (eval, previous) in evaluated.evals.into_iter().zip(evaluated.previous) {
            let k = StateStore::instance_key(&eval.service, &eval.slo, &eval.group);
            current.insert(k.clone());
            publish_one(
                &shared,
                &webhooks,
                alerts.as_ref(),
                &mut failing,
                &k,
                &eval,
                previous,
            );
            latest.insert(k, eval);
        }
        // Instances of this SLO evaluated before but not now (a group that is gone or beyond
        // max_groups, or the SLO as a whole once its groups appear) leave the metrics and the
        // API; an alert they had expires on its own, as one without new data does.
        let slo_key = key(&service, &slo);
        let stale: Vec<String> = latest
            .range(slo_key.clone()..)
            .take_while(|(k, _)| k.starts_with(&slo_key))
            .filter(|(k, e)| e.service == service && e.slo == slo && !current.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(last) = latest.remove(&k) {
                shared.metrics.forget(&last);
            }
            failing.remove(&k);
        }
    }
}

/// Publishes one SLO instance's evaluation: metrics, the failure log, webhooks and alerts.
fn publish_one(
    shared: &Shared,
    webhooks: &Webhooks,
    alerts: Option<&mpsc::Sender<(Evaluation, Option<Decision>)>>,
    failing: &mut BTreeMap<String, Vec<String>>,
    k: &str,
    eval: &Evaluation,
    previous: Option<Decision>,
) {
    shared.metrics.record(eval);
    let name = eval.instance_name();
    if failing.get(k).map(Vec::as_slice).unwrap_or_default() != eval.errors.as_slice() {
        if eval.errors.is_empty() {
            tracing::info!(slo = %name, "queries succeed again");
            failing.remove(k);
        } else {
            for e in &eval.errors {
                tracing::warn!(slo = %name, "{e}");
            }
            failing.insert(k.to_string(), eval.errors.clone());
        }
    }
    // A change, or a first decision that already calls for action. Inside a maintenance
    // window nothing is sent: `previous` stays the last decision receivers heard of, so the
    // first evaluation after the window reports a change only if there is one for them.
    let changed = match previous {
        Some(p) => p != eval.decision,
        None => eval.decision.severity().is_some_and(|s| s > 0),
    };
    shared.ui.record(k, eval, previous, changed);
    if changed && eval.maintenance.is_none() {
        tracing::info!(slo = %name, decision = %eval.decision,
            previous = previous.map(|p| p.as_str()).unwrap_or("none"), "decision changed");
        let mut change = eval.clone();
        change.previous = previous;
        webhooks.send(&change);
    }
    if let Some(tx) = alerts
        && tx.try_send((eval.clone(), previous)).is_err()
    {
        tracing::warn!(slo = %name, "alertmanager sink is behind; this cycle's alert is skipped (the next cycle re-sends it)");
    }
}

async fn deliver_alerts(
    am: Alertmanager,
    mut rx: mpsc::Receiver<(Evaluation, Option<Decision>)>,
    shared: Arc<Shared>,
) {
    while let Some((eval, previous)) = rx.recv().await {
        for (url, outcome) in am.publish(&eval, previous).await {
            shared.ui.alert_delivered(&eval, &url, &outcome);
            let result = if outcome.is_ok() {
                "delivered"
            } else {
                "failed"
            };
            shared
                .metrics
                .sink_deliveries
                .get_or_create(&SinkLabels {
                    sink: "alertmanager".into(),
                    result: result.into(),
                })
                .inc();
        }
    }
}

/// Writes the web page's history when it is due (or `now`); off the async threads, since it
/// can be megabytes, unless `now` (at exit, when nothing else runs).
fn save_ui(shared: &Shared, now: bool) {
    let Some((path, bytes)) = shared.ui.due(now) else {
        return;
    };
    let write = move || {
        if let Err(e) = crate::fsutil::write_atomic(&path, &bytes) {
            tracing::error!(file = %path.display(), "cannot write the web page's history: {e}");
        }
    };
    if now {
        write();
    } else {
        tokio::task::spawn_blocking(write);
    }
}

fn save_state(config: &DaemonConfig, store: &StateStore) {
    if let Some(dir) = &config.state_dir
        && let Err(e) = state_dir::save(dir, store)
    {
        tracing::error!("{e}");
    }
}

/// Runs until SIGTERM or SIGINT.
pub(crate) async fn run(
    config: DaemonConfig,
    client: PromClient,
    specs: Vec<ServiceSpec>,
) -> Result<()> {
    let store = match &config.state_dir {
        Some(dir) => state_dir::load(dir)?,
        None => StateStore::default(),
    };
    let store = Arc::new(Mutex::new(store));
    let shared = Arc::new(Shared {
        metrics: Metrics::new(),
        generation: Default::default(),
        latest: RwLock::new(BTreeMap::new()),
        ui: ui::Ui::new(
            config.ui.clone(),
            config.interval,
            config.state_dir.as_deref(),
        ),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
    let mut http_shutdown = shutdown_rx.clone();
    let stopped = async move {
        let _ = http_shutdown.wait_for(|s| *s).await;
    };
    let mut router = http::router(shared.clone());
    if let Some(web) = &config.web {
        router = router.layer(axum::middleware::from_fn_with_state(
            web.clone(),
            webconfig::guard,
        ));
    }
    let server = match &config.web {
        Some(web) if web.tls_enabled() => {
            let listener = webconfig::TlsListener::start(listener, web.clone())
                .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
            tokio::spawn(
                axum::serve(listener, router)
                    .with_graceful_shutdown(stopped)
                    .into_future(),
            )
        }
        _ => tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .into_future(),
        ),
    };

    let m = shared.clone();
    let webhooks = Webhooks::start(
        config.webhooks.clone(),
        shared.metrics.webhook_queue_dropped.clone(),
        shared.metrics.webhook_outbox.clone(),
        move |attempt: &crate::sinks::webhook::Attempt| {
            m.ui.webhook_delivered(attempt);
            let result = if attempt.failure.is_none() {
                "delivered"
            } else {
                "failed"
            };
            m.metrics
                .sink_deliveries
                .get_or_create(&SinkLabels {
                    sink: "webhook".into(),
                    result: result.into(),
                })
                .inc();
        },
        shutdown_rx.clone(),
    );
    let alerts = if config.alertmanager.urls.is_empty() {
        None
    } else {
        let (tx, rx) = mpsc::channel(4096);
        let am = Alertmanager::new(config.alertmanager.clone());
        tokio::spawn(deliver_alerts(am, rx, shared.clone()));
        Some(tx)
    };
    let (updates, updates_rx) = mpsc::channel(1024);
    let publisher = tokio::spawn(publish(updates_rx, shared.clone(), webhooks, alerts));

    let observed = shared.clone();
    let client = client.with_observer(Arc::new(move |seconds: f64, outcome: &'static str| {
        observed
            .metrics
            .backend_request_duration
            .get_or_create(&metrics::OutcomeLabels {
                outcome: outcome.into(),
            })
            .observe(seconds);
    }));
    let cx = Arc::new(Context {
        client,
        interval: config.interval,
        concurrency: config.concurrency.max(1),
        batch: config.batch.max(1),
        evaluation: config.evaluation,
        max_history_bytes: config.max_history_bytes,
        flavor: config.flavor,
        detected_flavor: Arc::default(),
        store: store.clone(),
        updates,
        shard: config.shard,
        shared: shared.clone(),
    });
    shared
        .metrics
        .local_history_max_bytes
        .set(i64::try_from(config.max_history_bytes).unwrap_or(i64::MAX));
    let specs = Arc::new(specs);
    shared.ui.set_specs(specs.clone());
    let mut generation = Generation::start(specs, cx.clone(), 0);
    shared.metrics.slos.set(generation.keys.len() as i64);
    let shard = config
        .shard
        .map_or_else(|| "none".to_string(), |s| s.to_string());
    tracing::info!(slos = generation.keys.len(), total = generation.total, %shard, listen = %config.listen, interval = ?config.interval, evaluation = ?config.evaluation, max_history_bytes = config.max_history_bytes, "burnrate daemon started");

    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::Internal(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::Internal(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| Error::Internal(e.to_string()))?;
    let mut persist = tokio::time::interval(Duration::from_secs(2));
    persist.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                let report = load_sources(&config.specs);
                if report.has_errors() {
                    for d in &report.diagnostics {
                        tracing::error!("{d}");
                    }
                    tracing::error!(slos = generation.keys.len(), "reload failed: the specs have errors; still running the previous specs");
                    continue;
                }
                for d in &report.diagnostics {
                    tracing::warn!("{d}");
                }
                let old = std::mem::replace(&mut generation, Generation::empty());
                let old_keys = old.keys.clone();
                let id = shared.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                old.stop().await;
                let specs = Arc::new(report.specs);
                shared.ui.set_specs(specs.clone());
                generation = Generation::start(specs, cx.clone(), id);
                shared.metrics.slos.set(generation.keys.len() as i64);
                let removed: BTreeSet<String> = old_keys.difference(&generation.keys).cloned().collect();
                let mut latest = shared.latest.write().await;
                let mut store_guard = store.lock().await;
                latest.retain(|_, last| {
                    let gone = removed.contains(&key(&last.service, &last.slo));
                    if gone {
                        shared.metrics.forget(last);
                        shared.metrics.groups_dropped.remove(&SloLabels {
                            service: last.service.clone(),
                            slo: last.slo.clone(),
                        });
                    }
                    !gone
                });
                for k in &removed {
                    store_guard.remove_slo(k);
                }
                tracing::info!(slos = generation.keys.len(), total = generation.total, removed = removed.len(), "specs reloaded");
            }
            _ = persist.tick() => {
                let snapshot = store.lock().await.clone();
                save_state(&config, &snapshot);
                let (points, bytes) = shared.ui.usage();
                shared.metrics.ui_history_points.set(points as i64);
                shared.metrics.ui_history_bytes.set(bytes as i64);
                save_ui(&shared, false);
            }
        }
    }
    let _ = shutdown.send(true);
    generation.stop().await;
    save_state(&config, &*store.lock().await);
    drop(cx);
    let _ = tokio::time::timeout(Duration::from_secs(1), publisher).await;
    save_ui(&shared, true);
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    tracing::info!("burnrate daemon stopped");
    Ok(())
}
