//! `burnrate backtest`: what would these specs have decided over a past range?

use super::common::{build_client, load_specs, now_ms, parse_time, runtime};
use super::{BackendArgs, BacktestArgs};
use crate::backend::PromClient;
use crate::backend::flavor::{self, flavor_name};
use crate::backtest::incidents::{self, Incident};
use crate::backtest::report::{Section, SloChart, render_page, render_slo_section};
use crate::backtest::{SloReplay, replay_slo};
use crate::duration::PromDuration;
use crate::engine::SourceError;
use crate::error::{Error, Result, exit};
use crate::history::parse::load_file;
use crate::limits::MAX_STEPS;
use crate::measure::drilldown::{Sources, complete};
use crate::measure::{MeasurePlan, StepRates, local, range, raw_store};
use crate::output::{Format, json_line, table};
use crate::promql::{Flavor, MemStorage, QueryError, Steps, Storage};
use crate::spec::{ServiceSpec, SloSpec};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// Where a replay's samples come from: `backtest` and `report` take the same flags.
pub(super) enum Origin {
    /// A history file, as the local evaluator's storage.
    History(MemStorage, (i64, i64)),
    Prometheus {
        client: PromClient,
        force_range_query: bool,
    },
}

impl Origin {
    /// The history file or the backend the flags name.
    pub(super) fn open(
        history: Option<&Path>,
        backend: &BackendArgs,
        force_range_query: bool,
    ) -> Result<Origin> {
        match (history, &backend.prometheus) {
            (Some(path), _) => {
                let history = load_file(path).map_err(|e| {
                    Error::InvalidInput(format!("--history {}: {e}", path.display()))
                })?;
                let span = history.span().ok_or_else(|| {
                    Error::InvalidInput(format!("--history {} holds no samples", path.display()))
                })?;
                Ok(Origin::History(local::storage_of(&history), span))
            }
            (None, Some(_)) => Ok(Origin::Prometheus {
                client: build_client(backend)?,
                force_range_query,
            }),
            (None, None) => Err(Error::Usage(
                "give --history FILE or --prometheus URL".into(),
            )),
        }
    }

    /// Whose semantics local evaluation follows: the flag's, else the backend's (a history
    /// file replays as Prometheus 2.x unless told otherwise).
    pub(super) fn flavor(&self, rt: &tokio::runtime::Runtime, backend: &BackendArgs) -> Flavor {
        match self {
            Origin::History(..) => backend
                .backend_flavor
                .fixed()
                .unwrap_or(Flavor::Prometheus2),
            Origin::Prometheus { client, .. } => rt
                .block_on(flavor::resolve(backend.backend_flavor, client))
                .unwrap_or_default(),
        }
    }

    /// Why this origin cannot measure an SLO with `plan`: a history file answers only
    /// queries inside the local evaluator's subset.
    pub(super) fn cannot_answer(&self, plan: &MeasurePlan) -> Option<String> {
        match (self, plan.not_local()) {
            (Origin::History(..), Some(why)) => Some(format!(
                "its query is outside burnrate's PromQL subset ({why}): a history file cannot answer it; use --prometheus"
            )),
            _ => None,
        }
    }
}

pub(crate) fn run(args: BacktestArgs) -> Result<i32> {
    let step = PromDuration::parse(&args.step).map_err(|e| Error::Usage(format!("--step: {e}")))?;
    if step.millis() <= 0 {
        return Err(Error::Usage("--step must be longer than 0".into()));
    }
    let time_flag = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| Error::Usage(format!("{flag}: {e}")))
    };
    let from = time_flag("--from", &args.from)?;
    let to = time_flag("--to", &args.to)?;
    let origin = Origin::open(
        args.history.as_deref(),
        &args.backend,
        args.rates == RatesArg::QueryRange,
    )?;
    let (specs, _) = load_specs(&args.specs)?;
    let incidents = match &args.incidents {
        Some(path) => incidents::load(path).map_err(|e| {
            for problem in &e.problems {
                eprintln!("{problem}");
            }
            Error::InvalidInput(format!("--incidents {}: {e}", path.display()))
        })?,
        None => Vec::new(),
    };
    let steps = match &origin {
        Origin::History(_, (first, last)) => Steps {
            start_ms: from.unwrap_or(*first),
            end_ms: to.unwrap_or(*last),
            step_ms: step.millis(),
        },
        Origin::Prometheus { .. } => {
            let to = to.unwrap_or_else(|| now_ms() / step.millis() * step.millis());
            Steps {
                start_ms: from.unwrap_or(to - WEEK_MS),
                end_ms: to,
                step_ms: step.millis(),
            }
        }
    };
    if steps.count() == 0 {
        return Err(Error::Usage("--from must not be after --to".into()));
    }
    if steps.count() > MAX_STEPS {
        let why = format!(
            "{} to {} at --step {step} is {} steps, more than the {MAX_STEPS} a replay may take: \
             use a longer --step or a shorter range",
            crate::time::format_time(steps.start_ms),
            crate::time::format_time(steps.end_ms),
            steps.count()
        );
        // A range the flags gave is a usage error; one taken from the history's samples is
        // the file's.
        return Err(match (&args.history, &args.from, &args.to) {
            (Some(path), from, to) if from.is_none() || to.is_none() => {
                Error::InvalidInput(format!(
                    "--history {}: its samples span {why} (--from/--to)",
                    path.display()
                ))
            }
            _ => Error::Usage(why),
        });
    }
    let rt = runtime()?;
    let flavor = origin.flavor(&rt, &args.backend);
    let mut sections = Vec::new();
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    let mut skipped = 0;
    let total: usize = specs.iter().map(|s| s.slos.len()).sum();
    for service in &specs {
        for slo in &service.slos {
            let plan = MeasurePlan::new(slo);
            if let Some(reason) = origin.cannot_answer(&plan) {
                eprintln!(
                    "burnrate: {}/{}: skipped: {reason}",
                    service.service, slo.name
                );
                let _ =
                    stdout.write_all(render_skipped(service, slo, &reason, args.format).as_bytes());
                skipped += 1;
                continue;
            }
            let prepared = rt.block_on(prepare(&origin, &plan, slo, steps, flavor));
            let (rates, label, fetched) = match prepared {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("burnrate: {}/{}: {e}", service.service, slo.name);
                    failed += 1;
                    continue;
                }
            };
            for mut replay in replay_slo(
                &rates,
                service,
                slo,
                &label,
                &incidents,
                args.report.is_some(),
            ) {
                replay.summary.backend_flavor = Some(flavor_name(flavor));
                let drill = match (&origin, &fetched) {
                    (Origin::History(storage, _), _) => Sources {
                        local: Some((storage as &dyn Storage, flavor)),
                        backend: None,
                    },
                    (Origin::Prometheus { client, .. }, fetched) => Sources {
                        local: fetched.as_ref().map(|s| (s as &dyn Storage, flavor)),
                        backend: Some(client),
                    },
                };
                rt.block_on(complete_changes(&drill, slo, &mut replay));
                let _ = stdout.write_all(render_replay(&replay, args.format).as_bytes());
                let _ = stdout.flush();
                if args.report.is_some() {
                    sections.push(section(service, slo, &replay, &incidents));
                }
            }
        }
    }
    if let Some(path) = &args.report {
        let subtitle = format!(
            "{} to {}, step {}",
            crate::time::format_time(steps.start_ms),
            crate::time::format_time(steps.time(steps.count() - 1)),
            step
        );
        std::fs::write(path, render_page("burnrate backtest", &subtitle, &sections)).map_err(
            |e| Error::Internal(format!("cannot write --report {}: {e}", path.display())),
        )?;
        eprintln!("burnrate: report written to {}", path.display());
    }
    if failed > 0 && failed + skipped == total {
        return Err(Error::BackendUnavailable("no SLO could be replayed".into()));
    }
    // A skipped SLO (outside the local evaluator's subset, which a history file cannot
    // answer) has no data for the replay: the code `check` gives `no_data`.
    Ok(if skipped > 0 { exit::NO_DATA } else { exit::OK })
}

/// What a backtest prints for an SLO it could not replay.
#[derive(serde::Serialize)]
struct SkippedSummary<'a> {
    summary: bool,
    service: &'a str,
    slo: &'a str,
    labels: &'a BTreeMap<String, String>,
    skipped: &'a str,
}

fn render_skipped(service: &ServiceSpec, slo: &SloSpec, reason: &str, format: Format) -> String {
    match format {
        Format::Json => {
            let summary = SkippedSummary {
                summary: true,
                service: &service.service,
                slo: &slo.name,
                labels: &service.labels,
                skipped: reason,
            };
            serde_json::to_string(&summary).expect("summary serializes") + "\n"
        }
        Format::Table => format!("{}/{}: skipped: {reason}\n", service.service, slo.name),
    }
}

fn section(
    service: &ServiceSpec,
    slo: &SloSpec,
    replay: &SloReplay,
    incidents: &[Incident],
) -> Section {
    let mine: Vec<Incident> = incidents
        .iter()
        .filter(|i| i.service == service.service && i.slo == slo.name)
        .cloned()
        .collect();
    render_slo_section(&SloChart {
        service,
        slo,
        evaluations: &replay.all,
        incidents: &mine,
        summary: &replay.summary,
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

/// Why one SLO's rates could not be prepared: that SLO alone is not replayed.
#[derive(Debug, thiserror::Error)]
pub(super) enum PrepareError {
    #[error("{0}")]
    Source(#[from] SourceError),
    /// The local evaluator failed on a query inside its subset.
    #[error("{}", .0.message)]
    Query(QueryError),
}

impl From<QueryError> for PrepareError {
    fn from(e: QueryError) -> PrepareError {
        PrepareError::Query(e)
    }
}

/// Completes the decision changes of a replay, each at its own instant (a calendar period's
/// budget, contributors, exemplars: `measure::drilldown::complete`), the same evaluations
/// among all the steps kept for the report, and the report's last one (whose budget it
/// shows).
async fn complete_changes(drill: &Sources<'_>, slo: &SloSpec, replay: &mut SloReplay) {
    for change in &mut replay.changes {
        let at_ms = change.at_ms;
        complete(drill, slo, std::slice::from_mut(change), at_ms).await;
        if let Ok(i) = replay.all.binary_search_by_key(&at_ms, |e| e.at_ms) {
            replay.all[i].error.clone_from(&change.error);
            replay.all[i].latency.clone_from(&change.latency);
        }
    }
    if slo.calendar.is_some()
        && let Some(last) = replay.all.last_mut()
        && last.previous.is_none()
    {
        let at_ms = last.at_ms;
        crate::measure::elapsed::calendar_budget(drill, slo, std::slice::from_mut(last), at_ms)
            .await;
    }
}

/// The rates of one SLO at every step, a phrase saying where they came from, and the raw
/// samples fetched for them (breakdowns are evaluated over the same samples).
pub(super) async fn prepare(
    origin: &Origin,
    plan: &MeasurePlan,
    slo: &SloSpec,
    steps: Steps,
    flavor: Flavor,
) -> std::result::Result<(StepRates, String, Option<MemStorage>), PrepareError> {
    match origin {
        Origin::History(storage, _) => Ok((
            local::step_rates(plan, slo, storage, steps, flavor)?,
            "history file (local PromQL evaluator)".into(),
            None,
        )),
        Origin::Prometheus {
            client,
            force_range_query,
        } => {
            if *force_range_query || plan.not_local().is_some() {
                if let (false, Some(why)) = (force_range_query, plan.not_local()) {
                    eprintln!(
                        "burnrate: note: {}: its query is outside burnrate's PromQL subset ({why}): its windows are evaluated with query_range, not locally",
                        slo.name
                    );
                }
                let rates = range::step_rates(client, plan, slo, steps).await?;
                return Ok((rates, "prometheus query_range".into(), None));
            }
            // A calendar period's budget reads from the start of the period holding the
            // first step (`measure::elapsed`), further back than any matrix window.
            let from = match slo.calendar {
                Some(calendar) => calendar.start_ms(steps.start_ms).min(steps.start_ms),
                None => steps.start_ms,
            };
            let storage =
                raw_store::fetch_once(client, &plan.selectors(flavor), from, steps.end_ms).await?;
            match local::step_rates(plan, slo, &storage, steps, flavor) {
                Ok(rates) => Ok((
                    rates,
                    "prometheus raw samples (local PromQL evaluator)".into(),
                    Some(storage),
                )),
                // The evaluator lacks this flavor's semantics for the query: the backend
                // itself answers rather than a number computed the wrong way.
                Err(e) if e.unsupported => {
                    eprintln!(
                        "burnrate: note: {}: {e}: its windows are evaluated with query_range, not locally",
                        slo.name
                    );
                    let rates = range::step_rates(client, plan, slo, steps).await?;
                    Ok((rates, "prometheus query_range".into(), None))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RatesArg {
    /// Fetch raw samples once and evaluate every window locally (queries outside the
    /// local evaluator's subset excepted: those use query_range).
    Local,
    /// Ask the backend for every window with query_range (slower; for comparison).
    QueryRange,
}
