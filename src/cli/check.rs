//! `burnrate check`: one evaluation of every SLO (of every group of one with `group_by`); the
//! exit code is the most severe decision.

use super::CheckArgs;
use super::common::{build_client, load_specs, now_ms, parse_time, runtime};
use crate::daemon::state_dir;
use crate::decision::Decision;
use crate::engine::hysteresis::StateStore;
use crate::engine::{Evaluation, evaluate_all};
use crate::error::{Error, Result, exit};
use crate::measure::PrometheusSource;
use crate::measure::drilldown::{Sources, complete};
use crate::output::render;
use std::collections::BTreeMap;
use std::io::Write;

pub(crate) fn run(args: CheckArgs) -> Result<i32> {
    let at_ms = match &args.at {
        Some(t) => parse_time(t).map_err(|e| Error::Usage(format!("--at: {e}")))?,
        None => now_ms(),
    };
    let client = build_client(&args.backend)?;
    let (mut specs, _) = load_specs(&args.specs)?;
    if let Some(shard) = args.shard {
        let total: usize = specs.iter().map(|s| s.slos.len()).sum();
        for service in &mut specs {
            let name = service.service.clone();
            service
                .slos
                .retain(|slo| shard.owns(&StateStore::key(&name, &slo.name)));
        }
        specs.retain(|s| !s.slos.is_empty());
        let owned: usize = specs.iter().map(|s| s.slos.len()).sum();
        tracing::info!(%shard, owned, total, "evaluating the SLOs of this shard");
        if owned == 0 {
            // Not `no_data`: nothing is missing, this shard simply has nothing to do.
            eprintln!("burnrate: note: shard {shard} owns none of the {total} SLO(s)");
            return Ok(exit::OK);
        }
    }
    let slos = || specs.iter().flat_map(|s| &s.slos);
    if args.state.is_none() && slos().any(|s| s.for_.millis() > 0) {
        eprintln!(
            "burnrate: note: `for` needs --state to carry its timer between runs; \
             without it, rules with `for` are reported as pending"
        );
    }
    if args.state.is_none()
        && slos().any(|s| s.no_data.as_ref().is_some_and(|p| p.after.millis() > 0))
    {
        eprintln!(
            "burnrate: note: `no_data.after` needs --state to carry the time without data \
             between runs; without it, a dimension without data stays no_data"
        );
    }
    let mut state = match &args.state {
        Some(path) => state_dir::read(path)?,
        None => StateStore::default(),
    };
    let source = PrometheusSource::new(client);
    let rt = runtime()?;
    let mut per_slo = rt.block_on(evaluate_all(
        &source,
        &specs,
        at_ms,
        &mut state,
        args.concurrency,
    ));
    let drill = Sources {
        local: None,
        backend: Some(source.client()),
    };
    for (slo, e) in specs.iter().flat_map(|s| &s.slos).zip(&mut per_slo) {
        rt.block_on(complete(&drill, slo, &mut e.evals, at_ms));
    }
    for (slo, e) in specs.iter().flat_map(|s| &s.slos).zip(&per_slo) {
        if e.dropped > 0 {
            eprintln!(
                "burnrate: warning: {}/{}: {} group(s) beyond max_groups ({}) not evaluated (the least traffic)",
                e.evals[0].service, slo.name, e.dropped, slo.max_groups
            );
        }
    }
    let evals: Vec<Evaluation> = per_slo.into_iter().flat_map(|e| e.evals).collect();

    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(render(&evals, args.format).as_bytes());
    let _ = stdout.flush();

    // One line per distinct failure, naming every SLO it hit.
    let mut failures: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in &evals {
        for err in &e.errors {
            failures.entry(err).or_default().push(e.instance_name());
        }
    }
    for (err, slos) in failures {
        eprintln!("burnrate: {err} (SLO {})", slos.join(", "));
    }
    if let Some(path) = &args.state {
        state_dir::write(path, &state)?;
    }
    if !evals.is_empty() && evals.iter().all(|e| e.all_queries_failed()) {
        return Err(Error::BackendUnavailable(format!(
            "every query to {} failed",
            source.client().display_url()
        )));
    }
    Ok(Decision::overall(evals.iter().map(|e| e.decision)).exit_code())
}
