//! OpenSLO alert policies and `burnrate` alert conditions to matrix rules: `threshold` is the
//! burn, `lookbackWindow` the long window, `alertAfter` the SLO's `for`, `severity` the decision.

use super::slo::duration_val;
use super::{IGNORED, Index, origin};
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::import::emit::{RuleDoc, Val};
use crate::spec::fields::{Sink, get, join};
use crate::spec::yaml::Node;
use std::path::Path;

/// One alert rule before the SLO-wide `for` is settled.
pub(super) struct Rule {
    pub(super) doc: RuleDoc,
    pub(super) alert_after: Option<(PromDuration, Val)>,
}

/// The matrix (None: the default ladder) and `for` from the SLO's alert policies.
#[allow(clippy::type_complexity)]
pub(super) fn alert_policies(
    file: &Path,
    spec: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<(Option<Vec<RuleDoc>>, Option<Val>)> {
    let f = join(path, "alertPolicies");
    let items = match get(spec, "alertPolicies") {
        Some(n) => sink.seq(file, n, &f)?,
        None => &[],
    };
    if items.is_empty() {
        notes.push(
            "no OpenSLO alert policies: burnrate's default ladder (SRE Workbook multiwindow \
             rules scaled to the period)."
                .to_string(),
        );
        return Some((None, None));
    }
    let errors_before = sink.errors();
    let mut rules: Vec<Rule> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let pf = format!("{f}[{i}]");
        let Some((pfile, policy, ppath)) = resolve(
            file,
            item,
            &pf,
            "AlertPolicy",
            "alertPolicyRef",
            index,
            sink,
        ) else {
            continue;
        };
        policy_rules(pfile, policy, &ppath, index, sink, &mut rules);
    }
    if sink.errors() != errors_before {
        return None;
    }
    if rules.is_empty() {
        sink.error(
            file,
            spec.pos,
            &f,
            "none of the alert policies alerts on a breach: a burnrate SLO needs at least one rule",
        );
        return None;
    }
    // `for` is per SLO in burnrate: every condition must wait the same time.
    let first = &rules[0].alert_after;
    let millis = |a: &Option<(PromDuration, Val)>| a.as_ref().map_or(0, |(d, _)| d.millis());
    for r in &rules[1..] {
        if millis(&r.alert_after) != millis(first) {
            let (pos, file_, field) = match (&r.alert_after, first) {
                (Some((_, v)), _) | (None, Some((_, v))) => {
                    (v.from.pos, v.from.file.clone(), v.from.field.clone())
                }
                (None, None) => unreachable!("equal when both are absent"),
            };
            let spell = |a: &Option<(PromDuration, Val)>| {
                a.as_ref()
                    .map_or("0m (absent)".to_string(), |(d, _)| d.to_string())
            };
            sink.error(
                &file_,
                pos,
                &field,
                format!(
                    "alertAfter {} differs from {} ({}): burnrate's `for` applies to every rule \
                     of an SLO",
                    spell(&r.alert_after),
                    spell(first),
                    rules[0].doc.note
                ),
            );
            return None;
        }
    }
    let for_ = first
        .as_ref()
        .filter(|(d, _)| d.millis() > 0)
        .map(|(_, v)| v.clone());
    Some((Some(rules.into_iter().map(|r| r.doc).collect()), for_))
}

/// An inline object (`{kind, metadata, spec}`) or a reference (`{REF_KEY: name}`): the file,
/// the spec node and its field path.
#[allow(clippy::too_many_arguments)]
pub(super) fn resolve<'a>(
    file: &'a Path,
    item: &'a Node,
    path: &str,
    kind: &str,
    ref_key: &str,
    index: &'a Index,
    sink: &mut Sink,
) -> Option<(&'a Path, &'a Node, String)> {
    sink.map(file, item, path)?;
    if let Some(r) = get(item, ref_key) {
        sink.unknown_keys(file, item, path, &[ref_key], IGNORED);
        let name = sink.string(file, r, &join(path, ref_key))?;
        let Some(obj) = index.find(kind, &name) else {
            sink.error(
                file,
                r.pos,
                &join(path, ref_key),
                format!("no {kind} named {name:?} in the files given (pass the file that defines it too)"),
            );
            return None;
        };
        let sp = format!("{}.spec", obj.id());
        let spec = sink.required(obj.file, obj.node, "spec", &sp)?;
        sink.map(obj.file, spec, &sp)?;
        return Some((obj.file, spec, sp));
    }
    sink.unknown_keys(
        file,
        item,
        path,
        &["kind", "metadata", "spec", ref_key],
        IGNORED,
    );
    if let Some(k) = get(item, "kind") {
        let text = sink.string(file, k, &join(path, "kind"))?;
        if text != kind {
            sink.error(
                file,
                k.pos,
                &join(path, "kind"),
                format!("expected {kind}, got {text:?}"),
            );
            return None;
        }
    }
    let sp = join(path, "spec");
    let Some(spec) = get(item, "spec") else {
        sink.error(
            file,
            item.pos,
            &sp,
            format!("missing required field ({ref_key} or an inline {kind})"),
        );
        return None;
    };
    sink.map(file, spec, &sp)?;
    Some((file, spec, sp))
}

pub(super) fn policy_rules(
    file: &Path,
    policy: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    out: &mut Vec<Rule>,
) {
    sink.unknown_keys(
        file,
        policy,
        path,
        &[
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        ],
        IGNORED,
    );
    if let Some(n) = get(policy, "alertWhenBreaching")
        && sink.boolean(file, n, &join(path, "alertWhenBreaching")) == Some(false)
    {
        sink.warning(
            file,
            n.pos,
            &join(path, "alertWhenBreaching"),
            "this policy never alerts on a breach: its conditions are not converted",
        );
        return;
    }
    if let Some(n) = get(policy, "alertWhenNoData")
        && sink.boolean(file, n, &join(path, "alertWhenNoData")) == Some(true)
    {
        sink.warning(
            file,
            n.pos,
            &join(path, "alertWhenNoData"),
            "not converted: burnrate never alerts on missing data (the decision is no_data and \
             nothing escalates)",
        );
    }
    if let Some(n) = get(policy, "notificationTargets") {
        sink.warning(
            file,
            n.pos,
            &join(path, "notificationTargets"),
            "not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) \
             in Alertmanager, or use --webhook",
        );
    }
    let cf = join(path, "conditions");
    let Some(conds) = sink.required(file, policy, "conditions", &cf) else {
        return;
    };
    let Some(items) = sink.seq(file, conds, &cf) else {
        return;
    };
    if items.is_empty() {
        sink.error(file, conds.pos, &cf, "must list at least one condition");
    }
    for (j, item) in items.iter().enumerate() {
        let f = format!("{cf}[{j}]");
        let Some((cfile, cspec, cpath)) = resolve(
            file,
            item,
            &f,
            "AlertCondition",
            "conditionRef",
            index,
            sink,
        ) else {
            continue;
        };
        let label = if cpath.starts_with("AlertCondition/") {
            cpath.trim_end_matches(".spec").to_string()
        } else {
            match get(item, "metadata")
                .and_then(|m| get(m, "name"))
                .and_then(|n| n.as_scalar())
            {
                Some(name) => format!("AlertCondition/{name}"),
                None => f.clone(),
            }
        };
        if let Some(rule) = condition(cfile, cspec, &cpath, &label, sink) {
            out.push(rule);
        }
    }
}

pub(super) fn condition(
    file: &Path,
    spec: &Node,
    path: &str,
    label: &str,
    sink: &mut Sink,
) -> Option<Rule> {
    sink.unknown_keys(
        file,
        spec,
        path,
        &["description", "severity", "condition"],
        IGNORED,
    );
    let severity = sink
        .required(file, spec, "severity", &join(path, "severity"))
        .and_then(|n| {
            sink.string(file, n, &join(path, "severity"))
                .map(|s| (s, n))
        });
    let cf = join(path, "condition");
    let c = sink.required(file, spec, "condition", &cf)?;
    sink.map(file, c, &cf)?;
    sink.unknown_keys(
        file,
        c,
        &cf,
        &["kind", "op", "threshold", "lookbackWindow", "alertAfter"],
        IGNORED,
    );
    if let Some(k) = get(c, "kind") {
        let kind = sink.string(file, k, &join(&cf, "kind"))?;
        if kind != "burnrate" {
            sink.error(
                file,
                k.pos,
                &join(&cf, "kind"),
                format!("condition kind {kind:?} is not supported (only burnrate)"),
            );
            return None;
        }
    }
    let op_ok = sink
        .required(file, c, "op", &join(&cf, "op"))
        .is_some_and(
            |n| match sink.string(file, n, &join(&cf, "op")).as_deref() {
                Some("gt" | "gte") => true,
                Some(op @ ("lt" | "lte")) => {
                    sink.error(
                        file,
                        n.pos,
                        &join(&cf, "op"),
                        format!(
                            "op {op}: burnrate rules fire when the burn rate is at or above a \
                         threshold; an alert on a burn rate below it cannot be expressed"
                        ),
                    );
                    false
                }
                Some(op) => {
                    sink.error(
                        file,
                        n.pos,
                        &join(&cf, "op"),
                        format!("must be gt, gte, lt or lte, got {op:?}"),
                    );
                    false
                }
                None => false,
            },
        );
    let threshold = sink
        .required(file, c, "threshold", &join(&cf, "threshold"))
        .and_then(|n| sink.number(file, n, &join(&cf, "threshold")));
    let long = sink
        .required(file, c, "lookbackWindow", &join(&cf, "lookbackWindow"))
        .and_then(|n| duration_val(file, n, &join(&cf, "lookbackWindow"), sink));
    let alert_after = match get(c, "alertAfter") {
        Some(n) => {
            let v = duration_val(file, n, &join(&cf, "alertAfter"), sink)?;
            let d = PromDuration::parse(&v.value).ok()?;
            Some((d, v))
        }
        None => None,
    };
    let (severity, sev_node) = severity?;
    let (decision, known) = decision_for(&severity);
    if !known {
        sink.warning(
            file,
            sev_node.pos,
            &join(path, "severity"),
            format!(
                "severity {severity:?} is not one burnrate knows (page, critical, ticket, \
                 warning, ...): converted to decision warn"
            ),
        );
    }
    if !op_ok {
        return None;
    }
    let long = long?;
    Some(Rule {
        doc: RuleDoc {
            decision,
            burn: threshold?,
            long: long.value,
            short: None,
            from: origin(file, c, &cf),
            note: format!("{label}, severity {severity}"),
        },
        alert_after,
    })
}

/// A severity's decision, and whether the severity was recognized.
pub(super) fn decision_for(severity: &str) -> (Decision, bool) {
    match severity.trim().to_ascii_lowercase().as_str() {
        "circuit_break" | "page" | "critical" | "sev1" | "sev-1" | "p1" | "emergency" => {
            (Decision::CircuitBreak, true)
        }
        "scale" => (Decision::Scale, true),
        "warn" | "warning" | "ticket" | "sev2" | "sev-2" | "sev3" | "sev-3" | "p2" | "p3"
        | "info" => (Decision::Warn, true),
        _ => (Decision::Warn, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities() {
        assert_eq!(decision_for("page"), (Decision::CircuitBreak, true));
        assert_eq!(decision_for("Warning"), (Decision::Warn, true));
        assert_eq!(decision_for("sev4"), (Decision::Warn, false));
    }
}
