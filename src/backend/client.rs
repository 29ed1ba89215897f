//! A small client for the Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).
//!
//! It owns what every request needs in production: timeouts on connect and on the whole
//! request (reqwest has none by default), retries with backoff on 5xx and timeouts but never
//! on 4xx, tenant headers, credentials (bearer token or basic auth, re-read from their files
//! when they change), TLS with a private CA and client certificates, and error messages that
//! never carry secrets.

use super::api;
use super::credentials::SecretFile;
use crate::engine::SourceError;
use crate::engine::explain::ExemplarSeries;
use crate::limits::MAX_ABS_SECONDS;
use crate::retry::{RetryPolicy, retryable_status, retryable_transport};
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://prometheus:9090` or `https://mimir/prometheus`.
    pub(crate) base_url: String,
    /// Extra headers (`X-Scope-OrgID` for Mimir, ...); values are treated as secrets.
    pub(crate) headers: Vec<(String, String)>,
    /// File holding a bearer token, re-read when it changes.
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// Basic-auth user and the file holding the password (re-read when it changes).
    pub(crate) basic_auth: Option<(String, PathBuf)>,
    /// PEM CA bundle that replaces the built-in roots (as Prometheus's `ca_file` does).
    pub(crate) ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) and key, for mutual TLS.
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
    /// Per-attempt request timeout.
    pub timeout: Duration,
    /// Attempts after the first one, for 5xx answers, timeouts and refused connections.
    pub retries: u32,
    pub(crate) backoff: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            headers: Vec::new(),
            bearer_token_file: None,
            basic_auth: None,
            ca_file: None,
            client_cert: None,
            timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Why a client could not be built from its configuration. Never carries a secret: URLs are
/// shown redacted, header values and tokens not at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("invalid backend URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("backend URL must be http:// or https://, got {0:?}")]
    Scheme(String),
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    #[error("invalid value for header {0}")]
    HeaderValue(String),
    #[error("the secret in {0} contains characters not allowed in a header")]
    Token(String),
    /// A credential or TLS file that cannot be used; names the flag and the file, never
    /// what it holds.
    #[error("{0}")]
    File(String),
    #[error("pass either --bearer-token-file or --basic-auth-user, not both")]
    TwoCredentials,
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The data of a successful instant query, with the backend's warnings.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    pub samples: Vec<Sample>,
    pub(crate) warnings: Vec<String>,
}

/// Called after every backend request with its duration in seconds and its outcome
/// (`success`, `http_error`, `timeout`, `unreachable`, `bad_response`).
pub(crate) type RequestObserver = Arc<dyn Fn(f64, &'static str) + Send + Sync>;

/// What a client has cost its backend so far: the daemon exports it per cycle and the scale
/// benchmark compares evaluation strategies with it.
#[derive(Debug, Default)]
pub struct Traffic {
    /// HTTP requests sent, retries included.
    pub(crate) requests: AtomicU64,
    /// Bytes of response bodies received.
    pub(crate) response_bytes: AtomicU64,
    /// Samples the backend loaded to answer (`stats=all`, `totalQueryableSamples`); only
    /// counted when the client asks for statistics.
    pub(crate) queryable_samples: AtomicU64,
}

/// A copy of [`Traffic`]'s counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficSnapshot {
    pub requests: u64,
    pub response_bytes: u64,
    pub queryable_samples: u64,
}

impl TrafficSnapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: TrafficSnapshot) -> TrafficSnapshot {
        TrafficSnapshot {
            requests: self.requests - earlier.requests,
            response_bytes: self.response_bytes - earlier.response_bytes,
            queryable_samples: self.queryable_samples - earlier.queryable_samples,
        }
    }
}

impl Traffic {
    pub fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            response_bytes: self.response_bytes.load(Ordering::Relaxed),
            queryable_samples: self.queryable_samples.load(Ordering::Relaxed),
        }
    }
}

/// The `Authorization` a request carries, read from its file at each request.
#[derive(Debug)]
enum Auth {
    Bearer(SecretFile),
    Basic { user: String, password: SecretFile },
}

#[derive(Clone)]
pub struct PromClient {
    http: reqwest::Client,
    /// Shared: clones are per SLO and per task, and the configuration is several paths long.
    config: Arc<ClientConfig>,
    auth: Option<Arc<Auth>>,
    observer: Option<RequestObserver>,
    traffic: Arc<Traffic>,
    /// Ask the backend for query statistics (`stats=all`) to count the samples it touched.
    query_stats: bool,
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

/// A successful response's `data`, its warnings, and the URL as shown to users.
type ApiData<D = api::Data> = (D, Vec<String>, String);

enum Attempt<D = api::Data> {
    Done(Result<ApiData<D>, SourceError>),
    Retry(SourceError),
}

impl PromClient {
    pub fn new(config: ClientConfig) -> Result<PromClient, ClientError> {
        let url = reqwest::Url::parse(config.base_url.trim_end_matches('/')).map_err(|e| {
            ClientError::InvalidUrl {
                url: redact_url(&config.base_url),
                reason: e.to_string(),
            }
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Scheme(redact_url(&config.base_url)));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::HeaderName(name.clone()))?;
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| ClientError::HeaderValue(name.to_string()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let auth = auth(&config)?;
        let builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .timeout(config.timeout)
            .user_agent(concat!("burnrate/", env!("CARGO_PKG_VERSION")));
        let http = tls(builder, &config)?
            .build()
            .map_err(|e| ClientError::Build(innermost(&e).to_string()))?;
        let display_url = redact_url(&config.base_url);
        Ok(PromClient {
            http,
            config: Arc::new(config),
            auth: auth.map(Arc::new),
            observer: None,
            traffic: Arc::default(),
            query_stats: false,
            display_url,
        })
    }

    /// The same client, reporting every request to `observer`.
    pub(crate) fn with_observer(mut self, observer: RequestObserver) -> PromClient {
        self.observer = Some(observer);
        self
    }

    /// The same client, asking for `stats=all` on every query so that
    /// [`Traffic::queryable_samples`] counts what the backend touched.
    pub fn with_query_stats(mut self) -> PromClient {
        self.query_stats = true;
        self
    }

    /// Requests, bytes and samples of this client and of its clones.
    pub fn traffic(&self) -> &Arc<Traffic> {
        &self.traffic
    }

    pub(crate) fn display_url(&self) -> &str {
        &self.display_url
    }

    /// The request with the credentials as their files hold them now; reqwest marks the
    /// header sensitive, so it is never printed by its `Debug`.
    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.auth.as_deref() {
            None => request,
            Some(Auth::Bearer(token)) => request.bearer_auth(token.current()),
            Some(Auth::Basic { user, password }) => {
                request.basic_auth(user, Some(password.current()))
            }
        }
    }

    /// `POST /api/v1/query` at an explicit time (never "now" implicitly); a vector result.
    pub async fn instant(&self, query: &str, at_ms: i64) -> Result<QueryResult, SourceError> {
        let time = format_unix(at_ms);
        let form = [("query", query), ("time", time.as_str())];
        let (data, warnings, shown) = self.post("/api/v1/query", &form).await?;
        Ok(QueryResult {
            samples: parse_vector(data, &shown)?,
            warnings,
        })
    }

    /// `POST /api/v1/query_exemplars`: the exemplars stored in `[start, end]` on the series
    /// `query` selects. A backend without exemplar storage answers none (Prometheus) or
    /// an error (an engine without the endpoint); the caller treats both as none.
    pub(crate) async fn exemplars(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<ExemplarSeries>, SourceError> {
        let (start, end) = (format_unix(start_ms), format_unix(end_ms));
        let form = [
            ("query", query),
            ("start", start.as_str()),
            ("end", end.as_str()),
        ];
        let (series, _, _) = self
            .post_as::<Vec<api::ExemplarSeries>>("/api/v1/query_exemplars", &form)
            .await?;
        Ok(series
            .into_iter()
            .map(|s| ExemplarSeries {
                series: s.series_labels,
                exemplars: s
                    .exemplars
                    .into_iter()
                    .filter(|e| e.timestamp.abs() <= MAX_ABS_SECONDS as f64)
                    .filter_map(|e| {
                        let value = e.value.value()?;
                        Some((e.labels, value, (e.timestamp * 1000.0).round() as i64))
                    })
                    .collect(),
            })
            .collect())
    }

    /// `POST /api/v1/query_range` over `[start, end]` at `step`, in chunks that stay under the
    /// API's 11,000 points per series. Points of one series are merged across chunks.
    pub(crate) async fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<RangeResult, SourceError> {
        self.range_with(query, start_ms, end_ms, step_ms, &[]).await
    }

    /// [`range`](Self::range) evaluated exactly at `start + k * step`. VictoriaMetrics moves
    /// the start and end of a cacheable range query of 50 points or more onto multiples of
    /// the step; `nocache=1` keeps them where asked (Prometheus ignores the parameter).
    pub(crate) async fn range_on_grid(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<RangeResult, SourceError> {
        self.range_with(query, start_ms, end_ms, step_ms, &[("nocache", "1")])
            .await
    }

    async fn range_with(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        extra: &[(&'static str, &str)],
    ) -> Result<RangeResult, SourceError> {
        let step = format!("{}", step_ms as f64 / 1000.0);
        let mut forms = Vec::new();
        let mut chunk_start = start_ms;
        while chunk_start <= end_ms {
            let chunk_end = (chunk_start + step_ms * (MAX_POINTS_PER_QUERY - 1)).min(end_ms);
            let mut form = vec![
                ("query", query.to_string()),
                ("start", format_unix(chunk_start)),
                ("end", format_unix(chunk_end)),
                ("step", step.clone()),
            ];
            form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            forms.push(form);
            chunk_start = chunk_end + step_ms;
        }
        self.matrix_chunks("/api/v1/query_range", forms).await
    }

    /// One `GET` of a small status endpoint (`/api/v1/status/buildinfo`), without retries:
    /// the body of a 2xx answer. For probes whose failure only means "not this engine".
    pub(crate) async fn get(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let shown = format!("{}{path}", self.display_url.trim_end_matches('/'));
        self.traffic.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .authorize(self.http.get(&url))
            .send()
            .await
            .map_err(|e| SourceError::unavailable(format!("GET {shown} failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SourceError::failed(format!(
                "{shown} answered HTTP {}",
                status.as_u16()
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| SourceError::failed(format!("GET {shown} failed: {e}")))?;
        self.traffic
            .response_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(body.to_vec())
    }

    /// The raw samples of every series matching `selector` in `spans` (oldest first), fetched
    /// as range vectors (`SEL[span]` at each span's end) so no sample is resampled or
    /// skipped. Each response's series go to `each` as it arrives, points sorted by time, so
    /// what a fetch costs in memory is one response, not all of them. Range selectors include
    /// both ends, so a sample on the boundary of two spans comes twice: a consumer that keeps
    /// only samples newer than the last one it took ([`SeriesSamples::push`]) keeps it once.
    /// `each` may stop the fetch (`ControlFlow::Break`); the answer then says so.
    ///
    /// [`SeriesSamples::push`]: crate::promql::SeriesSamples::push
    pub(crate) async fn raw_samples_each(
        &self,
        selector: &str,
        spans: &[Span],
        mut each: impl FnMut(RangeSeries) -> ControlFlow<()>,
    ) -> Result<RawFetch, SourceError> {
        let mut fetch = RawFetch::default();
        for span in spans {
            let range = crate::duration::format_millis((span.end_ms - span.start_ms).max(1));
            let query = format!("{selector}[{range}]");
            let time = format_unix(span.end_ms);
            let form = [("query", query.as_str()), ("time", time.as_str())];
            let (data, mut warnings, shown) = self.post("/api/v1/query", &form).await?;
            fetch.warnings.append(&mut warnings);
            for mut series in parse_matrix(data, &shown)? {
                if !series.points.is_sorted_by_key(|p| p.0) {
                    series.points.sort_by_key(|p| p.0);
                }
                if each(series).is_break() {
                    fetch.stopped = true;
                    return Ok(fetch);
                }
            }
        }
        Ok(fetch)
    }

    /// Posts every form, each answering a matrix, and merges the series across them.
    async fn matrix_chunks(
        &self,
        path: &str,
        forms: Vec<Vec<(&str, String)>>,
    ) -> Result<RangeResult, SourceError> {
        let mut merged: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
        let mut warnings = Vec::new();
        for form in forms {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (data, mut w, shown) = self.post(path, &form).await?;
            warnings.append(&mut w);
            for series in parse_matrix(data, &shown)? {
                match merged.entry(series.labels) {
                    Entry::Vacant(e) => {
                        e.insert(series.points);
                    }
                    Entry::Occupied(e) => e.into_mut().extend(series.points),
                }
            }
        }
        Ok(RangeResult {
            series: merge_chunks(merged),
            warnings,
        })
    }

    /// Posts a form and returns the `data` of a successful API response.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<ApiData, SourceError> {
        let result = self.post_as::<api::Data>(path, form).await;
        if let Ok((data, _, _)) = &result
            && let Some(n) = data.queryable_samples()
        {
            self.traffic
                .queryable_samples
                .fetch_add(n, Ordering::Relaxed);
        }
        result
    }

    /// [`post`](Self::post) of an endpoint whose `data` is of another shape
    /// (`/api/v1/query_exemplars`), with the same retries, errors and accounting.
    async fn post_as<D: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<ApiData<D>, SourceError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let shown = format!("{}{path}", self.display_url.trim_end_matches('/'));
        let with_stats: Vec<(&str, &str)>;
        let form = if self.query_stats {
            with_stats = form.iter().copied().chain([("stats", "all")]).collect();
            &with_stats[..]
        } else {
            form
        };
        let policy = RetryPolicy::new(self.config.backoff, self.config.retries as usize);
        // `Err` is an attempt worth repeating; a final answer, success or not, is `Ok`.
        let result = policy
            .run(
                || async {
                    let started = Instant::now();
                    let (result, outcome) = self.attempt(&url, &shown, form).await;
                    if let Some(observe) = &self.observer {
                        observe(started.elapsed().as_secs_f64(), outcome);
                    }
                    match result {
                        Attempt::Done(result) => Ok(result),
                        Attempt::Retry(err) => Err(err),
                    }
                },
                |_| true,
                |err, delay| tracing::debug!(error = %err, ?delay, "retrying backend request"),
            )
            .await;
        match result {
            Ok(result) => result,
            Err(err) => Err(SourceError::unavailable(err.message)),
        }
    }

    /// One request; also says how it went, for the request-duration metric.
    async fn attempt<D: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        shown: &str,
        form: &[(&str, &str)],
    ) -> (Attempt<D>, &'static str) {
        let transport = |e: reqwest::Error| {
            let outcome = if e.is_timeout() {
                "timeout"
            } else {
                "unreachable"
            };
            let err = transport_error(&e, shown, &self.config);
            let tls_failure = tls_hint(&innermost(&e).to_string(), &self.config).is_some();
            let attempt = if retryable_transport(&e) && !tls_failure {
                Attempt::Retry(err)
            } else {
                Attempt::Done(Err(err))
            };
            (attempt, outcome)
        };
        self.traffic.requests.fetch_add(1, Ordering::Relaxed);
        let response = match self.authorize(self.http.post(url)).form(form).send().await {
            Ok(r) => r,
            Err(e) => return transport(e),
        };
        let status = response.status();
        // Bytes, not text: the typed parse reads them in place, with no copy of the body.
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return transport(e),
        };
        self.traffic
            .response_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        if !status.is_success() {
            // Only the error fields: whatever `data` holds, the message is what matters.
            let detail = match serde_json::from_slice::<api::Response<IgnoredAny>>(&body) {
                Ok(api) if api.error.is_some() => format!(
                    "{}: {}",
                    api.error_type.as_deref().unwrap_or("error"),
                    api.error.as_deref().unwrap_or_default()
                ),
                _ => snippet(&body),
            };
            let hint = match status.as_u16() {
                401 | 403 => {
                    " (the backend refused the credentials: check --bearer-token-file or \
                     --basic-auth-user and --basic-auth-password-file)"
                }
                _ => "",
            };
            let message = format!("{shown} answered HTTP {}: {detail}{hint}", status.as_u16());
            let attempt = if retryable_status(status) {
                Attempt::Retry(SourceError::failed(message))
            } else {
                Attempt::Done(Err(SourceError::rejected(message)))
            };
            return (attempt, "http_error");
        }
        let api = match serde_json::from_slice::<api::Response<D>>(&body) {
            Ok(api) if api.status.is_none() => {
                return unparseable(shown, "no \"status\" field", &body);
            }
            Ok(api) => api,
            Err(e) => return unparseable(shown, &e.to_string(), &body),
        };
        let result =
            into_data(api, shown).map(|(data, warnings)| (data, warnings, shown.to_string()));
        let outcome = if result.is_ok() {
            "success"
        } else {
            "http_error"
        };
        (Attempt::Done(result), outcome)
    }
}

/// One series of an instant-query result: its labels and value (already a float).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Query-range points per series the Prometheus API accepts in one request.
const MAX_POINTS_PER_QUERY: i64 = 11_000;

/// One raw-sample request: `SEL[end - start]` evaluated at `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

/// How a [`PromClient::raw_samples_each`] fetch ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawFetch {
    pub(crate) warnings: Vec<String>,
    /// The consumer stopped it before the last span.
    pub(crate) stopped: bool,
}

/// One series of a range or raw-sample query: labels and `(Unix ms, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeSeries {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RangeResult {
    pub(crate) series: Vec<RangeSeries>,
    pub(crate) warnings: Vec<String>,
}

/// Series of several chunked requests, each with its points sorted and the points that two
/// chunks both returned (their shared boundary) kept once.
fn merge_chunks(merged: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>>) -> Vec<RangeSeries> {
    merged
        .into_iter()
        .map(|(labels, mut points)| {
            points.sort_by_key(|p| p.0);
            points.dedup_by_key(|p| p.0);
            RangeSeries { labels, points }
        })
        .collect()
}

fn bad_response(shown: &str, what: &str) -> SourceError {
    SourceError::failed(format!("could not parse the response of {shown}: {what}"))
}

/// A body that is not a Prometheus API response at all.
fn unparseable<D>(shown: &str, why: &str, body: &[u8]) -> (Attempt<D>, &'static str) {
    let err = SourceError::failed(format!(
        "could not parse the response of {shown} as Prometheus API JSON ({why}): {}",
        snippet(body)
    ));
    (Attempt::Done(Err(err)), "bad_response")
}

/// The `data` and warnings of a response whose `status` is `success`.
fn into_data<D>(api: api::Response<D>, shown: &str) -> Result<(D, Vec<String>), SourceError> {
    let status = api.status.as_deref().unwrap_or_default();
    if status != "success" {
        return Err(SourceError::rejected(format!(
            "{shown} answered status {status:?}: {}: {}",
            api.error_type.as_deref().unwrap_or("error"),
            api.error.as_deref().unwrap_or_default()
        )));
    }
    let data = api.data.ok_or_else(|| bad_response(shown, "no data"))?;
    Ok((data, api.warnings))
}

/// The elements of a result that must be of type `expected` (`vector` or `matrix`), none of
/// them with native histograms.
fn result_series(
    data: api::Data,
    shown: &str,
    expected: &str,
) -> Result<Vec<api::Series>, SourceError> {
    match data.result_type.as_deref() {
        None => return Err(bad_response(shown, "no resultType")),
        Some(t) if t != expected => {
            return Err(bad_response(
                shown,
                &format!("expected a {expected} result, got {t:?}"),
            ));
        }
        Some(_) => {}
    }
    match data.result {
        Some(api::Results::Series(items)) if items.iter().any(api::Series::has_histograms) => {
            Err(bad_response(shown, api::NATIVE_HISTOGRAMS))
        }
        Some(api::Results::Series(items)) => Ok(items),
        Some(_) => Err(bad_response(
            shown,
            &format!("a {expected} result that is not a list of series"),
        )),
        None => Err(bad_response(shown, "no result list")),
    }
}

fn parse_vector(data: api::Data, shown: &str) -> Result<Vec<Sample>, SourceError> {
    result_series(data, shown, "vector")?
        .into_iter()
        .map(|item| {
            let value = item
                .value
                .ok_or_else(|| bad_response(shown, "a sample without a [time, \"value\"] pair"))?
                .value;
            Ok(Sample {
                labels: item.metric,
                value,
            })
        })
        .collect()
}

fn parse_matrix(data: api::Data, shown: &str) -> Result<Vec<RangeSeries>, SourceError> {
    result_series(data, shown, "matrix")?
        .into_iter()
        .map(|item| {
            let values = item
                .values
                .ok_or_else(|| bad_response(shown, "a series without values"))?;
            Ok(RangeSeries {
                labels: item.metric,
                // Same layout, so this reuses the allocation.
                points: values.into_iter().map(Into::into).collect(),
            })
        })
        .collect()
}

fn transport_error(e: &reqwest::Error, shown: &str, config: &ClientConfig) -> SourceError {
    if e.is_timeout() {
        return SourceError::failed(format!(
            "request to {shown} timed out after {}",
            humantime(config.timeout)
        ));
    }
    // The innermost cause ("Connection refused (os error 111)") is the useful part;
    // reqwest's own text repeats the URL with any credentials in it.
    let cause = innermost(e);
    let hint = tls_hint(&cause.to_string(), config).unwrap_or_default();
    if e.is_connect() {
        SourceError::failed(format!("could not connect to {shown}: {cause}{hint}"))
    } else {
        SourceError::failed(format!("request to {shown} failed: {cause}{hint}"))
    }
}

/// What to do about a failed TLS handshake, when its cause says. `Some` also means that
/// repeating the request cannot help: certificates do not change between two retries.
fn tls_hint(cause: &str, config: &ClientConfig) -> Option<&'static str> {
    let server_untrusted = ["UnknownIssuer", "invalid peer certificate"];
    // Go's TLS server answers a missing client certificate with `bad_certificate` (TLS 1.3
    // has `certificate_required`, which others send).
    let client_refused = ["BadCertificate", "CertificateRequired", "UnknownCA"];
    if server_untrusted.iter().any(|c| cause.contains(c)) {
        Some(if config.ca_file.is_some() {
            " (the backend's certificate is not signed by the CA in --ca-file, or does not name its host)"
        } else {
            " (the backend's certificate is not signed by a public CA: pass --ca-file with the CA that signed it)"
        })
    } else if client_refused.iter().any(|c| cause.contains(c)) {
        Some(if config.client_cert.is_some() {
            " (the backend refused the client certificate of --cert-file)"
        } else {
            " (the backend asks for a client certificate: pass --cert-file and --key-file)"
        })
    } else {
        None
    }
}

/// The credentials of `config`, each file read once now so that a bad path fails at start.
fn auth(config: &ClientConfig) -> Result<Option<Auth>, ClientError> {
    let header_safe = |flag: &str, secret: &SecretFile| {
        reqwest::header::HeaderValue::from_str(&secret.current())
            .map(|_| ())
            .map_err(|_| ClientError::Token(flag.to_string()))
    };
    match (&config.bearer_token_file, &config.basic_auth) {
        (Some(_), Some(_)) => Err(ClientError::TwoCredentials),
        (Some(path), None) => {
            let token = SecretFile::open("--bearer-token-file", path).map_err(ClientError::File)?;
            header_safe("--bearer-token-file", &token)?;
            Ok(Some(Auth::Bearer(token)))
        }
        (None, Some((user, path))) => {
            if user.contains(':') {
                return Err(ClientError::File(
                    "--basic-auth-user must not contain ':'".into(),
                ));
            }
            let password =
                SecretFile::open("--basic-auth-password-file", path).map_err(ClientError::File)?;
            Ok(Some(Auth::Basic {
                user: user.clone(),
                password,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// The private CA and the client certificate of `config`, if any.
fn tls(
    mut builder: reqwest::ClientBuilder,
    config: &ClientConfig,
) -> Result<reqwest::ClientBuilder, ClientError> {
    let read = |flag: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|e| ClientError::File(format!("cannot read {flag} {}: {e}", path.display())))
    };
    if let Some(path) = &config.ca_file {
        let pem = read("--ca-file", path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ClientError::File(format!(
                "--ca-file {} is not a PEM certificate bundle: {}",
                path.display(),
                innermost(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(ClientError::File(format!(
                "--ca-file {} holds no PEM certificate",
                path.display()
            )));
        }
        // Only this CA, as Prometheus's `ca_file`: a private backend is not vouched for by
        // the public roots, and they should not vouch for an impostor of it either.
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some((cert_path, key_path)) = &config.client_cert {
        let mut pem = read("--key-file", key_path)?;
        pem.push(b'\n');
        pem.extend(read("--cert-file", cert_path)?);
        // The cause only: the PEM parser's messages never quote the key.
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            ClientError::File(format!(
                "cannot use --cert-file {} with --key-file {}: {}",
                cert_path.display(),
                key_path.display(),
                innermost(&e)
            ))
        })?;
        builder = builder.identity(identity);
    }
    Ok(builder)
}

/// The deepest cause of an error: reqwest's outer text repeats the URL (with any credentials
/// in it), the inner one says what went wrong.
fn innermost<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

fn humantime(d: Duration) -> String {
    crate::duration::format_millis(d.as_millis() as i64)
}

fn snippet(body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let trimmed = body.trim();
    let cut: String = trimmed.chars().take(200).collect();
    if cut.len() < trimmed.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Unix seconds with millisecond precision, as the API's `time` parameter.
pub(crate) fn format_unix(at_ms: i64) -> String {
    format!("{}.{:03}", at_ms.div_euclid(1000), at_ms.rem_euclid(1000))
}

/// The URL without `user:password@`, for anything a human or a log will read.
pub(crate) fn redact_url(url: &str) -> String {
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

    fn response(text: &str) -> api::Response {
        serde_json::from_slice(text.as_bytes()).unwrap()
    }

    #[test]
    fn api_errors_and_garbage_become_source_errors() {
        let err = response(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#);
        let msg = into_data(err, "u").unwrap_err().message;
        assert!(
            msg.contains("answered status \"error\": bad_data: parse error"),
            "{msg}"
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let (data, _) = into_data(response(matrix), "u").unwrap();
        let msg = parse_vector(data, "u").unwrap_err().message;
        assert!(
            msg.contains("expected a vector result, got \"matrix\""),
            "{msg}"
        );
        let (data, _) = into_data(response(matrix), "u").unwrap();
        assert!(parse_matrix(data, "u").unwrap().is_empty());
        let nan = response(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]},"warnings":["w"]}"#,
        );
        let (data, warnings) = into_data(nan, "u").unwrap();
        assert!(parse_vector(data, "u").unwrap()[0].value.is_nan());
        assert_eq!(warnings, ["w"]);
    }

    #[test]
    fn matrix_series_keep_their_points_and_reject_histograms() {
        let (data, _) = into_data(
            response(
                r#"{"status":"success","data":{"resultType":"matrix","result":[
                    {"metric":{"job":"a","empty":""},"values":[[1.0004,"1"],[2.5,"+Inf"]]}]}}"#,
            ),
            "u",
        )
        .unwrap();
        let series = parse_matrix(data, "u").unwrap();
        assert_eq!(series[0].points, [(1000, 1.0), (2500, f64::INFINITY)]);
        assert_eq!(series[0].labels.len(), 2);
        let (data, _) = into_data(
            response(
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}}"#,
            ),
            "u",
        )
        .unwrap();
        let msg = parse_matrix(data, "u").unwrap_err().message;
        assert!(msg.contains("native histograms are not supported"), "{msg}");
        let (data, _) = into_data(
            response(
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}}"#,
            ),
            "u",
        )
        .unwrap();
        let msg = parse_matrix(data, "u").unwrap_err().message;
        assert!(msg.contains("a series without values"), "{msg}");
    }
}
