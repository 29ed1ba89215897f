//! Instants as users write them (RFC 3339 or Unix seconds) and as outputs print them.

/// Parses `--at`-style times: RFC 3339 or Unix seconds (fractions allowed). Unix ms.
pub fn parse_time(text: &str) -> std::result::Result<i64, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs.abs() < 1e13 {
            return Ok((secs * 1000.0).round() as i64);
        }
        return Err(format!("time {t:?} is out of range"));
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            format!(
                "not a time: {t:?} (expected RFC 3339 like 2026-11-17T10:00:00Z, or Unix seconds)"
            )
        })
}

/// RFC 3339 in UTC, with milliseconds only when the instant has them.
pub fn format_time(at_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    if at_ms % 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// The wall clock, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
