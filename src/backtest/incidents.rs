//! Known incidents (`--incidents FILE`) and how well a replayed policy caught them: the four
//! scores of the SRE Workbook (precision, recall, detection time, reset time).

use crate::decision::Decision;
use crate::spec::yaml::{self, Node, Value};
use crate::time::parse_time;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub service: String,
    pub slo: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Every problem of an incidents file, each one a line starting with its `file:line:column`
/// (or the file alone when it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s)", .problems.len())]
pub struct InvalidIncidents {
    pub problems: Vec<String>,
}

impl From<Vec<String>> for InvalidIncidents {
    fn from(problems: Vec<String>) -> InvalidIncidents {
        InvalidIncidents { problems }
    }
}

/// Reads a YAML list of `{service, slo, start, end}` (times RFC 3339 or Unix seconds;
/// `description` and other keys are allowed and ignored). Every problem is reported with
/// its `file:line:column`.
pub(crate) fn load(path: &Path) -> Result<Vec<Incident>, InvalidIncidents> {
    let text = std::fs::read_to_string(path).map_err(|e| InvalidIncidents {
        problems: vec![format!("{}: cannot read: {e}", path.display())],
    })?;
    parse(path, &text)
}

/// [`load`] of a text already read; `path` names it in every problem.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Incident>, InvalidIncidents> {
    let at = |n: &Node| format!("{}:{}:{}", path.display(), n.pos.line, n.pos.col);
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            return Err(vec![format!(
                "{}:{}:{}: YAML syntax error: {}",
                path.display(),
                e.pos.line,
                e.pos.col,
                e.message
            )]
            .into());
        }
    };
    let Value::Seq(items) = &root.value else {
        return Err(vec![format!("{}: expected a list of incidents", at(&root))].into());
    };
    let mut errors = Vec::new();
    let mut incidents = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Map(entries) = &item.value else {
            errors.push(format!("{}: incidents[{i}]: expected a mapping", at(item)));
            continue;
        };
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.as_scalar() == Some(key))
                .map(|(_, v)| v)
        };
        let mut text_of = |key: &str| -> Option<(&Node, String)> {
            match get(key) {
                Some(n) => match n.as_scalar() {
                    Some(s) => Some((n, s.to_string())),
                    None => {
                        errors.push(format!(
                            "{}: incidents[{i}].{key}: expected a string",
                            at(n)
                        ));
                        None
                    }
                },
                None => {
                    errors.push(format!(
                        "{}: incidents[{i}].{key}: missing required field",
                        at(item)
                    ));
                    None
                }
            }
        };
        let service = text_of("service");
        let slo = text_of("slo");
        let start = text_of("start");
        let end = text_of("end");
        let mut time = |field: &str, v: Option<(&Node, String)>| -> Option<i64> {
            let (n, s) = v?;
            parse_time(&s)
                .map_err(|e| errors.push(format!("{}: incidents[{i}].{field}: {e}", at(n))))
                .ok()
        };
        let start_ms = time("start", start);
        let end_ms = time("end", end.clone());
        if let (Some(s), Some(e), Some((n, _))) = (start_ms, end_ms, &end)
            && e <= s
        {
            errors.push(format!(
                "{}: incidents[{i}].end: must be after start",
                at(n)
            ));
            continue;
        }
        if let (Some((_, service)), Some((_, slo)), Some(start_ms), Some(end_ms)) =
            (service, slo, start_ms, end_ms)
        {
            incidents.push(Incident {
                service,
                slo,
                start_ms,
                end_ms,
            });
        }
    }
    if errors.is_empty() {
        Ok(incidents)
    } else {
        Err(errors.into())
    }
}

/// Scores of one SLO's replay against its incidents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub(crate) incidents: usize,
    pub(crate) detected: usize,
    /// Share of alerting time (warn, scale, circuit_break) that fell inside an incident.
    pub(crate) precision: Option<f64>,
    /// Share of incidents during which the policy alerted at least once.
    pub(crate) recall: Option<f64>,
    /// Per incident: incident start to the first alerting decision (null: never detected).
    pub(crate) detection_seconds: Vec<Option<f64>>,
    /// Per incident: incident end to the decision being `ok` again (null: not within the range).
    pub(crate) reset_seconds: Vec<Option<f64>>,
}

fn alerting(d: Decision) -> bool {
    matches!(d, Decision::Warn | Decision::Scale | Decision::CircuitBreak)
}

/// Scores a replay given as decision intervals `[start, end)`.
pub fn score(intervals: &[(i64, i64, Decision)], incidents: &[Incident]) -> Scores {
    let alerts: Vec<(i64, i64)> = intervals
        .iter()
        .filter(|(_, _, d)| alerting(*d))
        .map(|&(s, e, _)| (s, e))
        .collect();
    let alert_ms: i64 = alerts.iter().map(|(s, e)| e - s).sum();
    let inside_ms: i64 = alerts
        .iter()
        .map(|&(s, e)| {
            // Incidents may overlap each other: clip against their union.
            let mut covered = 0;
            let mut cursor = s;
            let mut spans: Vec<(i64, i64)> =
                incidents.iter().map(|i| (i.start_ms, i.end_ms)).collect();
            spans.sort();
            for (is, ie) in spans {
                let lo = is.max(cursor);
                let hi = ie.min(e);
                if hi > lo {
                    covered += hi - lo;
                    cursor = hi;
                }
            }
            covered
        })
        .sum();
    let mut detection = Vec::new();
    let mut reset = Vec::new();
    for inc in incidents {
        let first_alert = alerts
            .iter()
            .filter(|&&(s, e)| e > inc.start_ms && s <= inc.end_ms)
            .map(|&(s, _)| s.max(inc.start_ms))
            .min();
        detection.push(first_alert.map(|t| (t - inc.start_ms) as f64 / 1000.0));
        let back_to_ok = intervals
            .iter()
            .filter(|&&(_, e, d)| d == Decision::Ok && e > inc.end_ms)
            .map(|&(s, _, _)| s.max(inc.end_ms))
            .min();
        reset.push(back_to_ok.map(|t| (t - inc.end_ms) as f64 / 1000.0));
    }
    let detected = detection.iter().filter(|d| d.is_some()).count();
    Scores {
        incidents: incidents.len(),
        detected,
        precision: (alert_ms > 0).then(|| inside_ms as f64 / alert_ms as f64),
        recall: (!incidents.is_empty()).then(|| detected as f64 / incidents.len() as f64),
        detection_seconds: detection,
        reset_seconds: reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    const MIN: i64 = 60_000;

    fn inc(start: i64, end: i64) -> Incident {
        Incident {
            service: "s".into(),
            slo: "x".into(),
            start_ms: start * MIN,
            end_ms: end * MIN,
        }
    }

    #[test]
    fn scores_follow_the_workbook_definitions() {
        // ok until 12, circuit_break 12..30, ok 30..50, warn 50..60 (a false alarm), ok after.
        let intervals = [
            (0, 12 * MIN, Ok),
            (12 * MIN, 30 * MIN, CircuitBreak),
            (30 * MIN, 50 * MIN, Ok),
            (50 * MIN, 60 * MIN, Warn),
            (60 * MIN, 100 * MIN, Ok),
        ];
        let s = score(&intervals, &[inc(10, 25), inc(70, 80)]);
        assert_eq!(s.incidents, 2);
        assert_eq!(s.detected, 1);
        assert_eq!(s.recall, Some(0.5));
        // 13 of 28 alerting minutes were inside an incident.
        assert!((s.precision.unwrap() - 13.0 / 28.0).abs() < 1e-12);
        assert_eq!(s.detection_seconds, [Some(120.0), None]);
        assert_eq!(s.reset_seconds, [Some(300.0), Some(0.0)]);
    }

    #[test]
    fn parses_incidents_with_positions() {
        let ok = parse(
            Path::new("i.yaml"),
            "- {service: s, slo: x, start: 2026-11-03T14:00:00Z, end: 1793800000}\n",
        )
        .unwrap();
        assert_eq!(
            (ok[0].start_ms, ok[0].end_ms),
            (1_793_714_400_000, 1_793_800_000_000)
        );
        let err = parse(
            Path::new("i.yaml"),
            "- service: s\n  slo: x\n  start: yesterday\n  end: 2026-11-03T14:00:00Z\n",
        )
        .unwrap_err()
        .problems;
        assert_eq!(err.len(), 1);
        assert!(
            err[0].starts_with("i.yaml:3:10: incidents[0].start: not a time"),
            "{err:?}"
        );
    }
}
