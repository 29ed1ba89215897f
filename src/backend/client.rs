//! A small client for the Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).
//!
//! It owns what every request needs in production: timeouts on connect and on the whole
//! request (reqwest has none by default), retries with backoff on 5xx and timeouts but never
//! on 4xx, tenant headers and bearer tokens, and error messages that never carry secrets.

use super::query::{Sample, parse_float};
use crate::engine::SourceError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://prometheus:9090` or `https://mimir/prometheus`.
    pub base_url: String,
    /// Extra headers (`X-Scope-OrgID` for Mimir, ...); values are treated as secrets.
    pub headers: Vec<(String, String)>,
    pub bearer_token: Option<String>,
    /// Per-attempt request timeout.
    pub timeout: Duration,
    /// Attempts after the first one, for 5xx answers, timeouts and refused connections.
    pub retries: u32,
    pub backoff: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            headers: Vec::new(),
            bearer_token: None,
            timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(250),
        }
    }
}

/// The data of a successful instant query, with the backend's warnings.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    pub samples: Vec<Sample>,
    pub warnings: Vec<String>,
}

#[derive(Clone)]
pub struct PromClient {
    http: reqwest::Client,
    config: ClientConfig,
    /// The base URL without credentials, for messages.
    display_url: String,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromClient")
            .field("url", &self.display_url)
            .finish_non_exhaustive()
    }
}

enum Attempt {
    Done(Result<QueryResult, SourceError>),
    Retry(SourceError),
}

impl PromClient {
    pub fn new(config: ClientConfig) -> Result<PromClient, String> {
        let url = reqwest::Url::parse(config.base_url.trim_end_matches('/')).map_err(|e| {
            format!(
                "invalid backend URL {:?}: {e}",
                redact_url(&config.base_url)
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "backend URL must be http:// or https://, got {:?}",
                redact_url(&config.base_url)
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name}"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(token) = &config.bearer_token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| {
                    "the bearer token contains characters not allowed in a header".to_string()
                })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .timeout(config.timeout)
            .user_agent(concat!("burnrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let display_url = redact_url(&config.base_url);
        Ok(PromClient {
            http,
            config,
            display_url,
        })
    }

    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// `GET|POST /api/v1/query` at an explicit time (never "now" implicitly).
    pub async fn instant(&self, query: &str, at_ms: i64) -> Result<QueryResult, SourceError> {
        let time = format_unix(at_ms);
        let form = [("query", query), ("time", time.as_str())];
        self.post("/api/v1/query", &form).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<QueryResult, SourceError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let shown = format!("{}{path}", self.display_url.trim_end_matches('/'));
        let mut delay = self.config.backoff;
        let mut attempt = 0;
        loop {
            match self.attempt(&url, &shown, form).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(err) if attempt >= self.config.retries => return Err(err),
                Attempt::Retry(err) => {
                    tracing::debug!(error = %err, attempt, "retrying backend request");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, url: &str, shown: &str, form: &[(&str, &str)]) -> Attempt {
        let response = match self.http.post(url).form(form).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(transport_error(&e, shown, self.config.timeout)),
        };
        let status = response.status();
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(transport_error(&e, shown, self.config.timeout)),
        };
        let parsed: Result<ApiResponse, _> = serde_json::from_str(&body);
        if !status.is_success() {
            let detail = match &parsed {
                Ok(api) if api.error.is_some() => format!(
                    "{}: {}",
                    api.error_type.as_deref().unwrap_or("error"),
                    api.error.as_deref().unwrap_or_default()
                ),
                _ => snippet(&body),
            };
            let err = SourceError::new(format!(
                "{shown} answered HTTP {}: {detail}",
                status.as_u16()
            ));
            return if status.is_server_error() {
                Attempt::Retry(err)
            } else {
                Attempt::Done(Err(err))
            };
        }
        let api = match parsed {
            Ok(api) => api,
            Err(e) => {
                return Attempt::Done(Err(SourceError::new(format!(
                    "could not parse the response of {shown} as Prometheus API JSON ({e}): {}",
                    snippet(&body)
                ))));
            }
        };
        Attempt::Done(api.into_result(shown))
    }
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

impl ApiResponse {
    fn into_result(self, shown: &str) -> Result<QueryResult, SourceError> {
        if self.status != "success" {
            return Err(SourceError::new(format!(
                "{shown} answered status {:?}: {}: {}",
                self.status,
                self.error_type.as_deref().unwrap_or("error"),
                self.error.as_deref().unwrap_or_default()
            )));
        }
        let bad = |what: &str| {
            SourceError::new(format!("could not parse the response of {shown}: {what}"))
        };
        let data = self.data.ok_or_else(|| bad("no data"))?;
        let result_type = data
            .get("resultType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no resultType"))?;
        if result_type != "vector" {
            return Err(bad(&format!(
                "expected a vector result, got {result_type:?}"
            )));
        }
        let items = data
            .get("result")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no result list"))?;
        let mut samples = Vec::with_capacity(items.len());
        for item in items {
            let labels: BTreeMap<String, String> = item
                .get("metric")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let value = item
                .get("value")
                .and_then(Value::as_array)
                .and_then(|pair| pair.get(1))
                .and_then(Value::as_str)
                .and_then(parse_float)
                .ok_or_else(|| bad("a sample without a [time, \"value\"] pair"))?;
            samples.push(Sample { labels, value });
        }
        Ok(QueryResult {
            samples,
            warnings: self.warnings,
        })
    }
}

fn transport_error(e: &reqwest::Error, shown: &str, timeout: Duration) -> SourceError {
    if e.is_timeout() {
        return SourceError::new(format!(
            "request to {shown} timed out after {}",
            humantime(timeout)
        ));
    }
    // The innermost cause ("Connection refused (os error 111)") is the useful part;
    // reqwest's own text repeats the URL with any credentials in it.
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        SourceError::new(format!("could not connect to {shown}: {cause}"))
    } else {
        SourceError::new(format!("request to {shown} failed: {cause}"))
    }
}

fn humantime(d: Duration) -> String {
    crate::duration::format_millis(d.as_millis() as i64)
}

fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    let cut: String = trimmed.chars().take(200).collect();
    if cut.len() < trimmed.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Unix seconds with millisecond precision, as the API's `time` parameter.
pub fn format_unix(at_ms: i64) -> String {
    format!("{}.{:03}", at_ms.div_euclid(1000), at_ms.rem_euclid(1000))
}

/// The URL without `user:password@`, for anything a human or a log will read.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
            }
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => match url.split_once('@') {
            Some((_, rest)) => format!("<redacted>@{rest}"),
            None => url.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact_url("http://user:pw@prom:9090/x"),
            "http://prom:9090/x"
        );
        assert_eq!(redact_url("http://prom:9090/"), "http://prom:9090");
    }

    #[test]
    fn unix_time_keeps_milliseconds() {
        assert_eq!(format_unix(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_unix(-1), "-1.999");
    }

    #[test]
    fn api_errors_and_garbage_become_source_errors() {
        let err: ApiResponse = serde_json::from_str(
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
        .unwrap();
        let msg = err.into_result("u").unwrap_err().message;
        assert!(msg.contains("bad_data") && msg.contains("parse error"));
        let matrix: ApiResponse = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        )
        .unwrap();
        assert!(matrix.into_result("u").is_err());
        let nan: ApiResponse = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]},"warnings":["w"]}"#,
        )
        .unwrap();
        let r = nan.into_result("u").unwrap();
        assert!(r.samples[0].value.is_nan());
        assert_eq!(r.warnings, ["w"]);
    }
}
