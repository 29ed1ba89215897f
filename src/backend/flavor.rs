//! Which engine answers behind the URL: Prometheus 2.x, Prometheus 3.x or VictoriaMetrics.
//!
//! Their `rate()`, range selection and lookback differ (PRODUCT.md, "One number"), so every
//! number burnrate computes locally must follow the engine the user's dashboards and rules
//! run on. Detected once at start; `--backend-flavor` overrides it.

use super::PromClient;
use crate::promql::Flavor;
use serde::Deserialize;

/// `--backend-flavor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum FlavorArg {
    /// Ask the backend (`/api/v1/status/buildinfo`, then a VictoriaMetrics-only endpoint).
    #[default]
    Auto,
    #[value(name = "prometheus-2")]
    Prometheus2,
    #[value(name = "prometheus-3")]
    Prometheus3,
    #[value(name = "victoriametrics")]
    VictoriaMetrics,
}

impl FlavorArg {
    /// The flavor given, or `None` for `auto`.
    pub(crate) fn fixed(self) -> Option<Flavor> {
        match self {
            FlavorArg::Auto => None,
            FlavorArg::Prometheus2 => Some(Flavor::Prometheus2),
            FlavorArg::Prometheus3 => Some(Flavor::Prometheus3),
            FlavorArg::VictoriaMetrics => Some(Flavor::VictoriaMetrics),
        }
    }
}

/// The flavor's name as the flag spells it (and outputs show it).
pub(crate) fn flavor_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Prometheus2 => "prometheus-2",
        Flavor::Prometheus3 => "prometheus-3",
        Flavor::VictoriaMetrics => "victoriametrics",
    }
}

#[derive(Deserialize)]
struct BuildInfo {
    #[serde(default)]
    data: Option<BuildInfoData>,
}

#[derive(Deserialize)]
struct BuildInfoData {
    #[serde(default)]
    version: Option<String>,
}

/// What a backend's `buildinfo` version says, if it names a Prometheus major version.
fn from_version(version: &str) -> Option<Flavor> {
    match version.trim_start_matches('v').split('.').next()? {
        "2" => Some(Flavor::Prometheus2),
        "3" => Some(Flavor::Prometheus3),
        _ => None,
    }
}

/// The flavor to follow: the flag's, or the detected one; `None` while the backend cannot
/// be reached (ask again later). A backend that answers but names no engine we know is
/// taken as Prometheus 2.x, with a warning saying how to set it.
pub(crate) async fn resolve(arg: FlavorArg, client: &PromClient) -> Option<Flavor> {
    if let Some(flavor) = arg.fixed() {
        tracing::info!(
            flavor = flavor_name(flavor),
            "backend flavor set by --backend-flavor"
        );
        return Some(flavor);
    }
    match detect(client).await {
        Detection::Known(flavor, how) => {
            tracing::info!(flavor = flavor_name(flavor), how, "backend flavor detected");
            Some(flavor)
        }
        Detection::Unknown => {
            tracing::warn!(
                "{} names no engine burnrate knows; computing locally as prometheus-2 (set --backend-flavor)",
                client.display_url()
            );
            Some(Flavor::Prometheus2)
        }
        Detection::Unreachable => None,
    }
}

enum Detection {
    Known(Flavor, &'static str),
    /// It answered, but not as any engine we know.
    Unknown,
    Unreachable,
}

/// Prometheus answers `buildinfo` with its version (Thanos and Mimir with theirs, whose
/// query engines follow the Prometheus of the same major version line); VictoriaMetrics
/// answers it with no version, and answers `/api/v1/series/count`, which Prometheus lacks.
async fn detect(client: &PromClient) -> Detection {
    let Ok(body) = client.get("/api/v1/status/buildinfo").await else {
        // Some engines lack buildinfo: the second probe tells them from a backend that is down.
        return match client.get("/api/v1/series/count").await {
            Ok(_) => Detection::Known(Flavor::VictoriaMetrics, "/api/v1/series/count"),
            Err(e) if e.is_unavailable() => Detection::Unreachable,
            Err(_) => Detection::Unknown,
        };
    };
    if let Ok(info) = serde_json::from_slice::<BuildInfo>(&body)
        && let Some(version) = info.data.and_then(|d| d.version)
        && let Some(flavor) = from_version(&version)
    {
        return Detection::Known(flavor, "buildinfo version");
    }
    match client.get("/api/v1/series/count").await {
        Ok(_) => Detection::Known(Flavor::VictoriaMetrics, "/api/v1/series/count"),
        Err(_) => Detection::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_their_major_line() {
        assert_eq!(from_version("2.42.0"), Some(Flavor::Prometheus2));
        assert_eq!(from_version("3.5.0"), Some(Flavor::Prometheus3));
        assert_eq!(from_version("v3.0.1"), Some(Flavor::Prometheus3));
        assert_eq!(from_version("0.34.1"), None);
        assert_eq!(from_version(""), None);
    }
}
