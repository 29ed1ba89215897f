//! `burnrate report`: the numbers of an SLO review over a calendar month, week or quarter
//! (or any range), from the backend or a history file, as Markdown, HTML, JSON or CSV.
//!
//! The samples come from where a backtest takes them (`backtest::Origin`, `prepare`): the
//! replay behind the time in each decision is a backtest's. The numbers over the range and
//! its days are measured by the backend itself with `--prometheus` (instant queries), by
//! the local evaluator over the file with `--history` (`report::report_slo`).

use super::ReportArgs;
use super::backtest::{Origin, prepare};
use super::common::{load_specs, parse_time, runtime, write_atomic};
use crate::backend::flavor::flavor_name;
use crate::backtest::replay_slo;
use crate::duration::PromDuration;
use crate::error::{Error, Result, exit};
use crate::limits::MAX_STEPS;
use crate::measure::MeasurePlan;
use crate::measure::drilldown::Sources;
use crate::promql::{Steps, Storage};
use crate::report::calendar::{CalendarUnit, ReportRange, parse_timezone};
use crate::report::render::{Run, Unreported, render};
use crate::report::{ReplayInfo, html, report_slo, window};
use crate::spec::ServiceSpec;
use crate::time::format_time;
use std::io::Write;

/// The range the flags name, in the time zone they name, else the one of the specs'
/// calendar periods (when they agree), else UTC.
fn range_of(args: &ReportArgs, specs: &[ServiceSpec]) -> Result<ReportRange> {
    let timezone = match &args.timezone {
        Some(name) => parse_timezone(name).map_err(|e| Error::Usage(format!("--timezone: {e}")))?,
        None => {
            let mut zones: Vec<chrono_tz::Tz> = specs
                .iter()
                .flat_map(|s| &s.slos)
                .filter_map(|slo| slo.calendar.map(|c| c.timezone))
                .collect();
            zones.sort_by_key(|z| z.name());
            zones.dedup();
            match zones.as_slice() {
                [] => chrono_tz::UTC,
                [one] => *one,
                _ => {
                    return Err(Error::Usage(format!(
                        "the specs' calendar periods are in {} time zones ({}): give --timezone",
                        zones.len(),
                        zones
                            .iter()
                            .map(|z| z.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    let calendar = |flag: &str, period: CalendarUnit, text: &str| {
        ReportRange::calendar(period, text, timezone)
            .map_err(|e| Error::Usage(format!("{flag}: {e}")))
    };
    let range = match (&args.month, &args.week, &args.quarter, &args.from, &args.to) {
        (Some(month), ..) => calendar("--month", CalendarUnit::Month, month)?,
        (_, Some(week), ..) => calendar("--week", CalendarUnit::Week, week)?,
        (_, _, Some(quarter), ..) => calendar("--quarter", CalendarUnit::Quarter, quarter)?,
        (_, _, _, Some(from), Some(to)) => {
            let at = |flag: &str, text: &str| {
                parse_time(text).map_err(|e| Error::Usage(format!("{flag}: {e}")))
            };
            ReportRange::explicit(at("--from", from)?, at("--to", to)?, timezone)
        }
        _ => {
            return Err(Error::Usage(
                "give --month, --week, --quarter, or --from and --to".into(),
            ));
        }
    };
    if range.to_ms <= range.from_ms {
        return Err(Error::Usage("--from must be before --to".into()));
    }
    // The range is one window of a query: at most as long as any window may be.
    window(range.from_ms, range.to_ms).map_err(|e| {
        Error::Usage(format!(
            "{} to {}: {e}",
            format_time(range.from_ms),
            format_time(range.to_ms)
        ))
    })?;
    Ok(range)
}

pub(crate) fn run(args: ReportArgs) -> Result<i32> {
    let step = PromDuration::parse(&args.step).map_err(|e| Error::Usage(format!("--step: {e}")))?;
    if step.millis() <= 0 {
        return Err(Error::Usage("--step must be longer than 0".into()));
    }
    let origin = Origin::open(args.history.as_deref(), &args.backend, false)?;
    let (specs, _) = load_specs(&args.specs)?;
    let range = range_of(&args, &specs)?;
    // Each step stands for the time until the next: the last one starts before the end.
    let steps = Steps {
        start_ms: range.from_ms,
        end_ms: range.from_ms + (range.to_ms - range.from_ms - 1) / step.millis() * step.millis(),
        step_ms: step.millis(),
    };
    if steps.count() > MAX_STEPS {
        return Err(Error::Usage(format!(
            "the range at --step {step} is {} steps, more than the {MAX_STEPS} a replay may take: use a longer --step",
            steps.count()
        )));
    }
    let rt = runtime()?;
    let flavor = origin.flavor(&rt, &args.backend);
    let html = args.format == crate::report::render::ReportFormat::Html;
    let (mut reports, mut sections, mut unreported) = (Vec::new(), Vec::new(), Vec::new());
    let mut failed = 0;
    let total: usize = specs.iter().map(|s| s.slos.len()).sum();
    for service in &specs {
        for slo in &service.slos {
            let mut not_reported = |why: String| {
                eprintln!(
                    "burnrate: {}/{}: not reported: {why}",
                    service.service, slo.name
                );
                unreported.push(Unreported {
                    service: service.service.clone(),
                    slo: slo.name.clone(),
                    skipped: why,
                });
            };
            let plan = MeasurePlan::new(slo);
            if let Some(why) = origin.cannot_answer(&plan) {
                not_reported(why);
                continue;
            }
            let (rates, label, _) = match rt.block_on(prepare(&origin, &plan, slo, steps, flavor)) {
                Ok(prepared) => prepared,
                Err(e) => {
                    not_reported(e.to_string());
                    failed += 1;
                    continue;
                }
            };
            let replays = replay_slo(&rates, service, slo, &label, &[], true);
            drop(rates);
            // The backend itself answers what it can: the report's numbers are its own.
            let sources = match &origin {
                Origin::History(storage, _) => Sources {
                    local: Some((storage as &dyn Storage, flavor)),
                    backend: None,
                },
                Origin::Prometheus { client, .. } => Sources {
                    local: None,
                    backend: Some(client),
                },
            };
            let info = ReplayInfo {
                step_ms: step.millis(),
                rates: &label,
                backend_flavor: flavor_name(flavor),
            };
            match rt.block_on(report_slo(
                &sources, service, slo, &range, replays, &info, html,
            )) {
                Ok(mut mine) => {
                    for report in &mut mine {
                        if html {
                            sections.push(html::section(service, slo, report));
                        }
                        // Charts drawn: the evaluations of every step can go.
                        report.replay = None;
                    }
                    reports.extend(mine);
                }
                Err(e) => {
                    not_reported(e.to_string());
                    failed += 1;
                }
            }
        }
    }
    let run = Run {
        range: &range,
        step_ms: step.millis(),
        unreported: &unreported,
    };
    let text = render(args.format, &reports, &sections, &run);
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes()).map_err(|e| {
            Error::Internal(format!("cannot write --output {}: {e}", path.display()))
        })?,
        None => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
    }
    if failed > 0 && unreported.len() == total {
        return Err(Error::BackendUnavailable("no SLO could be reported".into()));
    }
    // An SLO left out has no numbers in the review: the code `check` gives `no_data`.
    Ok(if unreported.is_empty() {
        exit::OK
    } else {
        exit::NO_DATA
    })
}
