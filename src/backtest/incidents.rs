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
    /// Incidents entirely inside maintenance windows: not scored (their detection and reset
    /// times are null, and recall leaves them out).
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) incidents_in_maintenance: usize,
    /// Share of alerting time (warn, scale, circuit_break) that fell inside an incident.
    pub(crate) precision: Option<f64>,
    /// Share of the scored incidents during which the policy alerted at least once.
    pub(crate) recall: Option<f64>,
    /// Per incident: incident start to the first alerting decision, maintenance time left out
    /// (null: never detected, or not scored).
    pub(crate) detection_seconds: Vec<Option<f64>>,
    /// Per incident: incident end to the decision being `ok` again outside maintenance,
    /// maintenance time left out (null: not within the range, or not scored).
    pub(crate) reset_seconds: Vec<Option<f64>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn alerting(d: Decision) -> bool {
    matches!(d, Decision::Warn | Decision::Scale | Decision::CircuitBreak)
}

/// The parts of `[start, end)` outside `maintenance` (disjoint spans in time order).
fn outside(start: i64, end: i64, maintenance: &[(i64, i64)]) -> impl Iterator<Item = (i64, i64)> {
    let mut cursor = start;
    let mut spans = maintenance.iter();
    std::iter::from_fn(move || {
        while cursor < end {
            match spans.next() {
                Some(&(_, me)) if me <= cursor => continue,
                Some(&(ms, me)) if ms < end => {
                    let part = (cursor, ms.min(end));
                    cursor = me;
                    if part.1 > part.0 {
                        return Some(part);
                    }
                }
                _ => {
                    let part = (cursor, end);
                    cursor = end;
                    return Some(part);
                }
            }
        }
        None
    })
}

/// Milliseconds of `[start, end)` outside `maintenance`.
fn time_outside(start: i64, end: i64, maintenance: &[(i64, i64)]) -> i64 {
    outside(start, end, maintenance).map(|(s, e)| e - s).sum()
}

/// Scores a replay given as decision intervals `[start, end)`. Time inside `maintenance`
/// (disjoint `[start, end)` spans in time order, the SLO's windows) is not scored: the
/// intervals and incidents are cut to their parts outside it, so it counts neither as
/// alerting time nor as detection or reset time, and an incident with no part outside it is
/// not scored at all.
pub fn score(
    intervals: &[(i64, i64, Decision)],
    incidents: &[Incident],
    maintenance: &[(i64, i64)],
) -> Scores {
    let scored: Vec<(i64, i64, Decision)> = intervals
        .iter()
        .flat_map(|&(s, e, d)| outside(s, e, maintenance).map(move |(s, e)| (s, e, d)))
        .collect();
    let alerts: Vec<(i64, i64)> = scored
        .iter()
        .filter(|(_, _, d)| alerting(*d))
        .map(|&(s, e, _)| (s, e))
        .collect();
    let alert_ms: i64 = alerts.iter().map(|(s, e)| e - s).sum();
    let mut spans: Vec<(i64, i64)> = incidents.iter().map(|i| (i.start_ms, i.end_ms)).collect();
    spans.sort();
    let inside_ms: i64 = alerts
        .iter()
        .map(|&(s, e)| {
            // Incidents may overlap each other: clip against their union.
            let mut covered = 0;
            let mut cursor = s;
            for &(is, ie) in &spans {
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
    let mut in_maintenance = 0;
    for inc in incidents {
        if time_outside(inc.start_ms, inc.end_ms, maintenance) == 0 {
            in_maintenance += 1;
            detection.push(None);
            reset.push(None);
            continue;
        }
        let first_alert = alerts
            .iter()
            .filter(|&&(s, e)| e > inc.start_ms && s <= inc.end_ms)
            .map(|&(s, _)| s.max(inc.start_ms))
            .min();
        detection
            .push(first_alert.map(|t| time_outside(inc.start_ms, t, maintenance) as f64 / 1000.0));
        let back_to_ok = scored
            .iter()
            .filter(|&&(_, e, d)| d == Decision::Ok && e > inc.end_ms)
            .map(|&(s, _, _)| s.max(inc.end_ms))
            .min();
        reset.push(back_to_ok.map(|t| time_outside(inc.end_ms, t, maintenance) as f64 / 1000.0));
    }
    let detected = detection.iter().filter(|d| d.is_some()).count();
    let scored_incidents = incidents.len() - in_maintenance;
    Scores {
        incidents: incidents.len(),
        detected,
        incidents_in_maintenance: in_maintenance,
        precision: (alert_ms > 0).then(|| inside_ms as f64 / alert_ms as f64),
        recall: (scored_incidents > 0).then(|| detected as f64 / scored_incidents as f64),
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
        let s = score(&intervals, &[inc(10, 25), inc(70, 80)], &[]);
        assert_eq!(s.incidents, 2);
        assert_eq!(s.detected, 1);
        assert_eq!(s.recall, Some(0.5));
        // 13 of 28 alerting minutes were inside an incident.
        assert!((s.precision.unwrap() - 13.0 / 28.0).abs() < 1e-12);
        assert_eq!(s.detection_seconds, [Some(120.0), None]);
        assert_eq!(s.reset_seconds, [Some(300.0), Some(0.0)]);
    }

    #[test]
    fn maintenance_time_is_not_scored() {
        // ok until 12, circuit_break 12..30, ok 30..50, warn 50..60, ok after; maintenance
        // over 0..11, 20..22 and 55..90.
        let intervals = [
            (0, 12 * MIN, Ok),
            (12 * MIN, 30 * MIN, CircuitBreak),
            (30 * MIN, 50 * MIN, Ok),
            (50 * MIN, 60 * MIN, Warn),
            (60 * MIN, 100 * MIN, Ok),
        ];
        let maintenance = [(0, 11 * MIN), (20 * MIN, 22 * MIN), (55 * MIN, 90 * MIN)];
        // 5..25: its minutes 5..11 and 20..22 are left out; 70..80: inside, not scored;
        // 45..52: detected at 50, ends in the warn, ok again only after the window at 90.
        let s = score(
            &intervals,
            &[inc(5, 25), inc(70, 80), inc(45, 52)],
            &maintenance,
        );
        assert_eq!(
            (s.incidents, s.incidents_in_maintenance, s.detected),
            (3, 1, 2)
        );
        assert_eq!(s.recall, Some(1.0));
        // Detection: 11..12 outside maintenance (1m) and 45..50 (5m).
        assert_eq!(s.detection_seconds, [Some(60.0), None, Some(300.0)]);
        // Reset: 25..30 (5m); 52..55 before the window, then nothing until ok at 90 (3m).
        assert_eq!(s.reset_seconds, [Some(300.0), None, Some(180.0)]);
        // Alerting outside maintenance: 12..20 and 22..30 (16m), 50..55 (5m); inside an
        // incident: 12..20, 22..25, 50..52 (13m).
        assert!((s.precision.unwrap() - 13.0 / 21.0).abs() < 1e-12);
        // Without maintenance the same function scores as before.
        let plain = score(&intervals, &[inc(5, 25), inc(70, 80), inc(45, 52)], &[]);
        assert_eq!(plain.incidents_in_maintenance, 0);
        assert_eq!(plain.detection_seconds, [Some(420.0), None, Some(300.0)]);
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("incidents_in_maintenance")
        );
    }

    #[test]
    fn outside_cuts_spans_out() {
        let parts = |a: i64, b: i64, m: &[(i64, i64)]| outside(a, b, m).collect::<Vec<_>>();
        assert_eq!(parts(0, 10, &[]), [(0, 10)]);
        assert_eq!(parts(0, 10, &[(2, 4), (6, 8)]), [(0, 2), (4, 6), (8, 10)]);
        assert_eq!(parts(3, 7, &[(0, 4), (6, 20)]), [(4, 6)]);
        assert!(parts(3, 7, &[(0, 20)]).is_empty());
        assert_eq!(parts(5, 10, &[(0, 1), (10, 12)]), [(5, 10)]);
        assert_eq!(time_outside(0, 10, &[(2, 4), (6, 8)]), 6);
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
