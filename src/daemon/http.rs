//! The daemon's HTTP surface: `/metrics`, `/healthz`, `/api/v1/decisions`, and the web
//! page (`/`, `/slo/...`: `super::ui`).

use super::Shared;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/api/v1/decisions", get(decisions))
        .route("/", get(super::ui::list_page))
        .route("/slo/{*instance}", get(super::ui::slo_page))
        .with_state(shared)
}

/// OpenMetrics when the client asks for it (Prometheus does), the classic text format
/// otherwise.
async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    // The publisher updates metrics while holding this lock: encode a consistent snapshot.
    let _consistent = shared.latest.read().await;
    if wants_openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            shared.metrics.encode(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            shared.metrics.encode_prometheus_text(),
        )
            .into_response()
    }
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// The latest evaluation of every SLO (of every group of one with `group_by`), sorted by
/// service, SLO name and group, each as `check --format json` prints it.
async fn decisions(State(shared): State<Arc<Shared>>) -> Response {
    let latest = shared.latest.read().await;
    let list: Vec<&crate::engine::Evaluation> = latest.values().collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&list).expect("evaluations serialize"),
    )
        .into_response()
}
