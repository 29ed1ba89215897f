//! `burnrate backtest`: what would these specs have decided over a past range?

use super::BacktestArgs;
use super::common::{build_client, load_specs, now_ms, parse_time, runtime};
use crate::backend::PromClient;
use crate::backtest::incidents::{self, Incident};
use crate::backtest::report::{SloChart, render_page, render_slo_section};
use crate::backtest::step_rates::{StepRates, Steps, computable_locally};
use crate::backtest::{SloReplay, replay_slo};
use crate::duration::PromDuration;
use crate::engine::evaluate::windows_to_measure;
use crate::error::{Error, Result};
use crate::history::{History, Sample, Series, parse::load_file};
use crate::output::{Format, json_line, table};
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use std::collections::BTreeMap;
use std::io::Write;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

enum Origin {
    History(History),
    Prometheus {
        client: PromClient,
        force_range_query: bool,
    },
}

pub fn run(args: BacktestArgs) -> Result<i32> {
    let step = PromDuration::parse(&args.step).map_err(|e| Error::Usage(format!("--step: {e}")))?;
    if step.millis() <= 0 {
        return Err(Error::Usage("--step must be longer than 0".into()));
    }
    let from = args
        .from
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| Error::Usage(format!("--from: {e}")))?;
    let to = args
        .to
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| Error::Usage(format!("--to: {e}")))?;
    let origin = match (&args.history, &args.backend.prometheus) {
        (Some(path), _) => Origin::History(
            load_file(path)
                .map_err(|e| Error::Usage(format!("--history {}: {e}", path.display())))?,
        ),
        (None, Some(_)) => Origin::Prometheus {
            client: build_client(&args.backend)?,
            force_range_query: args.rates == RatesArg::QueryRange,
        },
        (None, None) => {
            return Err(Error::Usage(
                "give --history FILE or --prometheus URL".into(),
            ));
        }
    };
    let (specs, _) = load_specs(&args.specs)?;
    let incidents = match &args.incidents {
        Some(path) => incidents::load(path).map_err(|errors| {
            for e in &errors {
                eprintln!("{e}");
            }
            Error::Usage(format!(
                "--incidents {}: {} error(s)",
                path.display(),
                errors.len()
            ))
        })?,
        None => Vec::new(),
    };
    let steps = match &origin {
        Origin::History(h) => {
            let (first, last) = h
                .span()
                .ok_or_else(|| Error::Usage("--history holds no samples".into()))?;
            Steps {
                from_ms: from.unwrap_or(first),
                to_ms: to.unwrap_or(last),
                step_ms: step.millis(),
            }
        }
        Origin::Prometheus { .. } => {
            let to = to.unwrap_or_else(|| now_ms() / step.millis() * step.millis());
            Steps {
                from_ms: from.unwrap_or(to - WEEK_MS),
                to_ms: to,
                step_ms: step.millis(),
            }
        }
    };
    if steps.count() == 0 {
        return Err(Error::Usage("--from must not be after --to".into()));
    }
    if let Origin::History(_) = &origin {
        let raw: Vec<String> = specs
            .iter()
            .flat_map(|s| {
                s.slos
                    .iter()
                    .filter(|slo| !computable_locally(slo))
                    .map(move |slo| format!("{}/{}", s.service, slo.name))
            })
            .collect();
        if !raw.is_empty() {
            return Err(Error::Usage(format!(
                "{} use raw PromQL (bad_query/total_query), which a history file cannot answer; replay them with --prometheus",
                raw.join(", ")
            )));
        }
    }

    let rt = runtime()?;
    let mut sections = Vec::new();
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    let total: usize = specs.iter().map(|s| s.slos.len()).sum();
    for service in &specs {
        for slo in &service.slos {
            let prepared = rt.block_on(prepare(&origin, slo, steps));
            let (rates, label) = match prepared {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("burnrate: {}/{}: {e}", service.service, slo.name);
                    failed += 1;
                    continue;
                }
            };
            let replay = rt.block_on(replay_slo(
                &rates,
                service,
                slo,
                steps,
                &label,
                &incidents,
                args.report.is_some(),
            ));
            let _ = stdout.write_all(render_replay(&replay, args.format).as_bytes());
            let _ = stdout.flush();
            if args.report.is_some() {
                sections.push(section(service, slo, &replay, &incidents));
            }
        }
    }
    if let Some(path) = &args.report {
        let subtitle = format!(
            "{} to {}, step {}",
            crate::time::format_time(steps.from_ms),
            crate::time::format_time(steps.at(steps.count() - 1)),
            step
        );
        std::fs::write(path, render_page("burnrate backtest", &subtitle, &sections)).map_err(
            |e| Error::Internal(format!("cannot write --report {}: {e}", path.display())),
        )?;
        eprintln!("burnrate: report written to {}", path.display());
    }
    if failed > 0 && failed == total {
        return Err(Error::BackendUnavailable("no SLO could be replayed".into()));
    }
    Ok(0)
}

fn section(
    service: &ServiceSpec,
    slo: &SloSpec,
    replay: &SloReplay,
    incidents: &[Incident],
) -> String {
    let mine: Vec<Incident> = incidents
        .iter()
        .filter(|i| i.service == service.service && i.slo == slo.name)
        .cloned()
        .collect();
    let summary = serde_json::to_value(&replay.summary).expect("summary serializes");
    render_slo_section(&SloChart {
        service,
        slo,
        evaluations: &replay.all,
        incidents: &mine,
        summary: &summary,
    })
}

fn render_replay(replay: &SloReplay, format: Format) -> String {
    match format {
        Format::Json => {
            let mut out: String = replay.changes.iter().map(|e| json_line(e) + "\n").collect();
            out.push_str(&serde_json::to_string(&replay.summary).expect("summary serializes"));
            out.push('\n');
            out
        }
        Format::Table => table::render_replay(&replay.changes, &replay.summary),
    }
}

/// The rates of one SLO at every step, and a phrase saying where they came from.
async fn prepare(
    origin: &Origin,
    slo: &SloSpec,
    steps: Steps,
) -> std::result::Result<(StepRates, String), String> {
    match origin {
        Origin::History(history) => Ok((
            StepRates::from_history(history, slo, steps)?,
            "history file (local rate engine)".into(),
        )),
        Origin::Prometheus {
            client,
            force_range_query,
        } => {
            if *force_range_query || !computable_locally(slo) {
                if !force_range_query {
                    eprintln!(
                        "burnrate: note: {} uses raw PromQL: its windows are evaluated with query_range, not locally",
                        slo.name
                    );
                }
                let rates = StepRates::from_range_query(client, slo, steps)
                    .await
                    .map_err(|e| e.message)?;
                return Ok((rates, "prometheus query_range".into()));
            }
            let history = fetch_raw(client, slo, steps).await?;
            Ok((
                StepRates::from_history(&history, slo, steps)?,
                "prometheus raw samples (local rate engine)".into(),
            ))
        }
    }
}

/// Every raw sample the SLO's windows need: from the first step minus the longest window,
/// to the last step. Series fetched by two selectors are kept once.
async fn fetch_raw(
    client: &PromClient,
    slo: &SloSpec,
    steps: Steps,
) -> std::result::Result<History, String> {
    let mut selectors = Vec::new();
    let mut longest = 0;
    for dim in slo.dimensions() {
        longest = windows_to_measure(slo, dim)
            .iter()
            .map(|w| w.millis())
            .max()
            .unwrap_or(0)
            .max(longest);
        match dim {
            Dimension::Error => {
                if let Some(ErrorEvents::Selectors { bad, total }) =
                    slo.error.as_ref().map(|e| &e.events)
                {
                    selectors.push(bad.clone());
                    selectors.push(total.clone());
                }
            }
            Dimension::Latency => {
                let h = &slo.latency.as_ref().expect("dimension present").histogram;
                selectors.extend(h.with_suffix("_bucket"));
                selectors.extend(h.with_suffix("_count"));
            }
        }
    }
    let mut series: BTreeMap<BTreeMap<String, String>, Vec<Sample>> = BTreeMap::new();
    let (start, end) = (steps.from_ms - longest, steps.to_ms);
    for sel in selectors {
        let result = client
            .raw_samples(&sel.to_promql(), start, end)
            .await
            .map_err(|e| e.message)?;
        for s in result.series {
            series.entry(s.labels).or_insert_with(|| {
                s.points
                    .iter()
                    .map(|&(t_ms, value)| Sample { t_ms, value })
                    .collect()
            });
        }
    }
    Ok(History {
        series: series
            .into_iter()
            .map(|(labels, samples)| Series { labels, samples })
            .collect(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RatesArg {
    /// Fetch raw samples once and compute every window locally (raw-PromQL SLIs excepted).
    Local,
    /// Ask the backend for every window with query_range (slower; for comparison).
    QueryRange,
}
