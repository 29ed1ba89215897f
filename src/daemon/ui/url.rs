//! The web page's addresses: the SLO page of an instance, the list's filters, and the
//! backend's graph page of a window's expression.
//!
//! Service names, SLO names and group values are whatever a spec or a backend's labels say
//! (`/pay`, `a&b`, `x y`, non-ASCII), so every one is percent-encoded where it goes into a
//! URL and decoded from the raw path and query here, by hand: the router sees the raw path,
//! and axum's query extractor is not compiled in. An SLO page is
//! `/slo/<service>/<slo>`, a group's adds `?g.<label>=<value>` per group label.

use crate::engine::GroupLabels;
use std::fmt::Write;

/// Characters left as they are in a URL component (RFC 3986's unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `text` percent-encoded as one URL component (a path segment or a query value).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes a percent-encoded component; `+` is a space in a query (forms send that). Bytes
/// that are not UTF-8 are replaced, never an error: a wrong link finds nothing.
pub(crate) fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a query string, decoded, in order.
pub(crate) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// A query string (with its `?`) of `pairs`, empty for none.
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The prefix of a group label's query parameter on an SLO page.
const GROUP_PREFIX: &str = "g.";

/// The SLO page of one instance.
pub(crate) fn slo_page(service: &str, slo: &str, group: &GroupLabels) -> String {
    let params: Vec<(String, &str)> = group
        .iter()
        .map(|(k, v)| (format!("{GROUP_PREFIX}{k}"), v.as_str()))
        .collect();
    format!(
        "/slo/{}/{}{}",
        encode(service),
        encode(slo),
        query_string(params.iter().map(|(k, v)| (k.as_str(), *v)))
    )
}

/// The instance an SLO page's raw path (after `/slo/`) and query name: service, SLO and
/// group; `None` for a path of another shape.
pub(crate) fn parse_slo_page(
    rest: &str,
    query: Option<&str>,
) -> Option<(String, String, GroupLabels)> {
    let (service, slo) = rest.split_once('/')?;
    if service.is_empty() || slo.is_empty() || slo.contains('/') {
        return None;
    }
    let group = parse_query(query)
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(GROUP_PREFIX)?.to_string(), v)))
        .collect();
    Some((decode(service, false), decode(slo, false), group))
}

/// The backend's graph page of `expr` over `range` (a Prometheus duration), as Prometheus's
/// own UI links it (VictoriaMetrics and Thanos read the same parameters).
pub(crate) fn graph(base: &str, expr: &str, range: &str) -> String {
    format!(
        "{}/graph{}",
        base.trim_end_matches('/'),
        query_string([
            ("g0.expr", expr),
            ("g0.tab", "0"),
            ("g0.range_input", range)
        ])
    )
}

/// The base of graph links from a backend URL: without credentials, query or fragment,
/// which a browser must never be handed.
pub(crate) fn link_base(backend: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(backend).ok()?;
    url.set_username("").ok()?;
    url.set_password(None).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_name_survives_the_round_trip() {
        let group = GroupLabels::from([
            ("route".to_string(), "/search?q=a&b c".to_string()),
            ("zone".to_string(), "é+%".to_string()),
        ]);
        let page = slo_page("shop & co", "req/uests", &group);
        assert_eq!(
            page,
            "/slo/shop%20%26%20co/req%2Fuests?g.route=%2Fsearch%3Fq%3Da%26b%20c&g.zone=%C3%A9%2B%25"
        );
        let (path, query) = page.split_once('?').unwrap();
        let parsed = parse_slo_page(path.strip_prefix("/slo/").unwrap(), Some(query));
        assert_eq!(
            parsed,
            Some(("shop & co".into(), "req/uests".into(), group))
        );
        assert_eq!(parse_slo_page("only-one", None), None);
        assert_eq!(decode("a+b%2", true), "a b%2");
        assert_eq!(decode("%zz%41", false), "%zzA");
    }

    #[test]
    fn graph_links_carry_no_credentials() {
        assert_eq!(
            link_base("https://u:secret@prom.example:9090/prefix/?token=x").as_deref(),
            Some("https://prom.example:9090/prefix")
        );
        assert_eq!(
            graph("http://p:9090", "sum(rate(x[5m]))", "6h"),
            "http://p:9090/graph?g0.expr=sum%28rate%28x%5B5m%5D%29%29&g0.tab=0&g0.range_input=6h"
        );
    }
}
