//! The daemon's web page on its listener (`/` and `/slo/...`, behind the same
//! `--web.config.file` TLS and basic auth as `/metrics`): what the daemon decided, on what
//! numbers, and whether its alerts and webhooks went out.
//!
//! `/api/v1/decisions` answers "now" for programs; people also need "since when" and "did
//! anyone hear about it". So the publisher hands every evaluation to [`Ui::record`], the
//! sinks report every post ([`Ui::alert_delivered`], [`Ui::webhook_delivered`]), and
//! `store` keeps a compact, bounded history of both per SLO instance for `--ui-retention`,
//! saved in `--state-dir` at most every [`SAVE_EVERY`]. `pages` renders them with the same
//! chart as the backtest report; `url` makes addresses safe for any name.

mod pages;
mod store;
mod url;

use super::Shared;
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::engine::hysteresis::StateStore;
use crate::engine::{Evaluation, GroupLabels};
use crate::rules::expr::{Good, burn_rate};
use crate::rules::{Buckets, latency_good};
use crate::sinks::webhook::Attempt;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use store::{Delivery, Store};

pub(crate) use url::link_base;

/// The history file in `--state-dir`.
pub(crate) const FILE: &str = "ui-history.json";
/// The history is written at most this often (and at exit): it is a convenience, not state
/// a decision depends on, so a crash may lose this much of it.
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(30);

/// What `burnrate run` was told about the page.
#[derive(Debug, Clone)]
pub(crate) struct UiConfig {
    /// `--ui-retention`: how far back the SLO pages' charts reach.
    pub(crate) retention: PromDuration,
    /// Where graph links point: `--ui-backend-url`, else the backend's URL without
    /// credentials; `None` draws no links.
    pub(crate) graph_base: Option<String>,
}

pub(crate) struct Ui {
    config: UiConfig,
    interval: Duration,
    store: Mutex<Store>,
    specs: RwLock<Arc<Vec<ServiceSpec>>>,
    file: Option<PathBuf>,
    saved: Mutex<Instant>,
}

fn retention(config: &UiConfig) -> Duration {
    Duration::from_millis(config.retention.millis().max(1000) as u64)
}

impl Ui {
    /// The page's state, with the history an earlier run saved in `state_dir`.
    pub(crate) fn new(
        config: UiConfig,
        interval: Duration,
        state_dir: Option<&std::path::Path>,
    ) -> Ui {
        let file = state_dir.map(|d| d.join(FILE));
        let keep = retention(&config);
        let store = match file.as_deref().map(std::fs::read) {
            None => Store::new(keep),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Store::new(keep),
            Some(Err(e)) => {
                tracing::warn!(file = ?file, "cannot read the web page's history, starting without it: {e}");
                Store::new(keep)
            }
            Some(Ok(bytes)) => match Store::from_file(&bytes, keep, crate::time::now_ms()) {
                Ok((store, skipped)) => {
                    if skipped > 0 {
                        tracing::warn!(file = ?file, skipped, "skipped SLO histories that do not read");
                    }
                    tracing::info!(points = store.points(), "web page history read");
                    store
                }
                Err(e) => {
                    tracing::warn!(file = ?file, "the web page's history does not read, starting without it: {e}");
                    Store::new(keep)
                }
            },
        };
        Ui {
            config,
            interval,
            store: Mutex::new(store),
            specs: RwLock::default(),
            file,
            saved: Mutex::new(Instant::now()),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The specs the pages describe (set at start and by every successful reload); SLOs
    /// that are gone lose their history.
    pub(crate) fn set_specs(&self, specs: Arc<Vec<ServiceSpec>>) {
        let old = std::mem::replace(
            &mut *self.specs.write().unwrap_or_else(|p| p.into_inner()),
            specs.clone(),
        );
        let mut store = self.store();
        for s in old.iter() {
            for slo in &s.slos {
                let kept = specs
                    .iter()
                    .any(|n| n.service == s.service && n.slos.iter().any(|x| x.name == slo.name));
                if !kept {
                    store.remove_slo(&s.service, &slo.name);
                }
            }
        }
    }

    fn specs(&self) -> Arc<Vec<ServiceSpec>> {
        self.specs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One published evaluation of the instance `key`; `change` as the webhooks count it.
    pub(crate) fn record(
        &self,
        key: &str,
        eval: &Evaluation,
        previous: Option<Decision>,
        change: bool,
    ) {
        self.store().record(key, eval, previous, change);
    }

    /// One post to an Alertmanager for `eval` (its alert, or the resolution of it).
    pub(crate) fn alert_delivered(
        &self,
        eval: &Evaluation,
        target: &str,
        result: &Result<(), String>,
    ) {
        let key = StateStore::instance_key(&eval.service, &eval.slo, &eval.group);
        let what = if Decision::ACTIONS.contains(&eval.decision) {
            format!("alert {}", eval.decision)
        } else {
            "resolved".to_string()
        };
        self.store()
            .delivered(&key, delivery("alertmanager", target, what, result));
    }

    /// One attempt of a webhook delivery: whose it is, from its payload.
    pub(crate) fn webhook_delivered(&self, attempt: &Attempt) {
        #[derive(serde::Deserialize)]
        struct Subject {
            service: String,
            slo: String,
            #[serde(default)]
            group: GroupLabels,
            decision: Decision,
            #[serde(default)]
            previous: Option<Decision>,
        }
        let Ok(s) = serde_json::from_str::<Subject>(attempt.body) else {
            return;
        };
        let key = StateStore::instance_key(&s.service, &s.slo, &s.group);
        let what = match s.previous {
            Some(p) => format!("change {p} → {}", s.decision),
            None => format!("change to {}", s.decision),
        };
        let result = attempt.failure.map_or(Ok(()), |f| Err(f.to_string()));
        self.store()
            .delivered(&key, delivery("webhook", attempt.url, what, &result));
    }

    /// What the history holds: points, and heap bytes.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let store = self.store();
        (store.points(), store.heap_bytes())
    }

    /// The history file's path and bytes when it is due (`SAVE_EVERY` since the last write,
    /// or `now`) and changed; expired instances are dropped first.
    pub(crate) fn due(&self, now: bool) -> Option<(PathBuf, Vec<u8>)> {
        let file = self.file.clone()?;
        let mut saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        if !now && saved.elapsed() < SAVE_EVERY {
            return None;
        }
        *saved = Instant::now();
        let mut store = self.store();
        store.expire(crate::time::now_ms());
        store.take_dirty_file().map(|bytes| (file, bytes))
    }

    /// The query of a window's burn rate as `burnrate rules` records it, narrowed to the
    /// group: what the graph link shows.
    fn window_expr(
        slo: &SloSpec,
        dim: Dimension,
        window: &str,
        group: &GroupLabels,
    ) -> Option<String> {
        let w = PromDuration::parse(window).ok()?;
        let good = latency_good(slo, &Buckets::default()).unwrap_or(Good::Bound(0.0));
        let expr = burn_rate(slo, dim, &good, &w);
        if group.is_empty() {
            return Some(expr);
        }
        // `vector(1)` with the group's labels, matched `on` them: only this group's series.
        let mut one = "vector(1)".to_string();
        for (k, v) in group {
            one = format!(
                "label_replace({one}, {}, {}, \"\", \"\")",
                crate::yaml_out::double_quoted(k),
                crate::yaml_out::double_quoted(v)
            );
        }
        let labels: Vec<&str> = group.keys().map(String::as_str).collect();
        Some(format!("({expr}) and on ({}) {one}", labels.join(", ")))
    }
}

fn delivery(sink: &str, target: &str, what: String, result: &Result<(), String>) -> Delivery {
    let now = crate::time::now_ms();
    Delivery {
        first_ms: now,
        last_ms: now,
        count: 1,
        sink: sink.into(),
        target: target.into(),
        what,
        ok: result.is_ok(),
        detail: result.as_ref().err().cloned().unwrap_or_default(),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // The pages run no script and load nothing: say so, so nothing injected could.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `/`: the list.
pub(crate) async fn list_page(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let latest: Vec<Evaluation> = shared.latest.read().await.values().cloned().collect();
    let filters = pages::Filters::parse(uri.query());
    let interval_s = shared.ui.interval.as_secs().max(1);
    html(
        StatusCode::OK,
        pages::list(&latest, &filters, interval_s, crate::time::now_ms()),
    )
}

/// `/slo/<service>/<slo>[?g.<label>=<value>...]`: one instance's page.
pub(crate) async fn slo_page(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let ui = &shared.ui;
    let found = uri
        .path()
        .strip_prefix("/slo/")
        .and_then(|rest| url::parse_slo_page(rest, uri.query()));
    let Some((service, name, group)) = found else {
        return html(StatusCode::NOT_FOUND, pages::not_found("No such page."));
    };
    let refresh = !url::parse_query(uri.query())
        .iter()
        .any(|(k, v)| k == "refresh" && v == "off");
    let specs = ui.specs();
    let Some((spec, slo)) = specs.iter().find_map(|s| {
        (s.service == service)
            .then(|| s.slos.iter().find(|x| x.name == name).map(|x| (s, x)))
            .flatten()
    }) else {
        return html(
            StatusCode::NOT_FOUND,
            pages::not_found(&format!(
                "No SLO {name:?} of service {service:?} in the running specs."
            )),
        );
    };
    let key = StateStore::instance_key(&service, &name, &group);
    let latest = shared.latest.read().await.get(&key).cloned();
    let history = ui.store().get(&key).cloned();
    if latest.is_none() && history.is_none() {
        return html(
            StatusCode::NOT_FOUND,
            pages::not_found("This SLO has no such group, or it has not been evaluated yet."),
        );
    }
    let range = ui.config.retention.to_string();
    let graph = |dim: Dimension, window: &str| {
        let base = ui.config.graph_base.as_deref()?;
        let expr = Ui::window_expr(slo, dim, window, &group)?;
        Some(url::graph(base, &expr, &range))
    };
    html(
        StatusCode::OK,
        pages::slo(&pages::SloPage {
            service: spec,
            slo,
            group: &group,
            latest: latest.as_ref(),
            history: history.as_ref(),
            graph: &graph,
            interval_ms: shared.ui.interval.as_millis() as i64,
            retention: &range,
            refresh,
            now_ms: crate::time::now_ms(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_graph_shows_only_that_group() {
        let yaml = "apiVersion: burnrate/v1\nservice: shop\nslos:\n  - name: api\n    period: 30d\n    group_by: [route]\n    error:\n      objective: 99\n      bad: failures_total\n      total: requests_total\n";
        let (spec, d) = crate::spec::load::load_str(std::path::Path::new("s.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{d:?}"));
        let group = GroupLabels::from([("route".to_string(), "/p\"ay".to_string())]);
        let expr = Ui::window_expr(&spec.slos[0], Dimension::Error, "5m", &group).unwrap();
        assert!(
            expr.ends_with(
                r#") and on (route) label_replace(vector(1), "route", "/p\"ay", "", "")"#
            ),
            "{expr}"
        );
        assert!(
            expr.contains("sum by (route) (rate(failures_total[5m]))"),
            "{expr}"
        );
        promql_parser::parser::parse(&expr).unwrap_or_else(|e| panic!("{e}: {expr}"));
    }
}
