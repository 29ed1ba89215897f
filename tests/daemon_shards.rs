//! `--shard i/n`: replicas split the SLOs between them without talking to each other.
//!
//! Two daemons (`burnrate run --shard 0/2` and `--shard 1/2`) run on the same spec directory,
//! each against its own scripted Prometheus stand-in (tests/support/fault_server.rs), so the
//! test sees which replica queried which SLO. Their `/api/v1/decisions` lists must be
//! disjoint and together cover every SLO, each backend must only ever see the queries of its
//! replica's SLOs, `burnrate_slos` is the owned count, and all of it still holds after a
//! SIGHUP that adds and removes SLOs. `burnrate check --shard` splits the same way (one
//! CronJob per shard), and the owner of every SLO is the library's `Shard::owns`.

mod common;
#[path = "support/fault_server.rs"]
mod fault_server;

use burnrate::daemon::shard::Shard;
use common::daemon::Daemon;
use fault_server::{FaultServer, Reply, Script, requested_keys};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A backend answering every tagged part: 100 req/s, 0.05 % of them bad.
fn backend() -> FaultServer {
    FaultServer::start(Script::from_fn(|req, _| {
        let query = req.param("query").unwrap_or_default();
        let result: Vec<serde_json::Value> = requested_keys(&query)
            .into_iter()
            .map(|key| {
                let value = if key.starts_with("bad/") { "0.05" } else { "100" };
                serde_json::json!({ "metric": { "burnrate_key": key }, "value": [1_700_000_000, value] })
            })
            .collect();
        Reply::json(
            200,
            serde_json::json!({ "status": "success", "data": { "resultType": "vector", "result": result } })
                .to_string(),
        )
    }))
}

/// Writes `service`'s spec with `slos` SLOs named `s0..`; each selects `job="<service>-<slo>"`,
/// so a query names the SLO it is for.
fn write_service(dir: &Path, service: &str, slos: usize) {
    let mut yaml = format!("apiVersion: burnrate/v1\nservice: {service}\nslos:\n");
    for i in 0..slos {
        yaml.push_str(&format!(
            "  - name: s{i}\n    period: 30d\n    error:\n      objective: 99.9\n      \
             bad:   http_requests_total{{job=\"{service}-s{i}\",code=~\"5..\"}}\n      \
             total: http_requests_total{{job=\"{service}-s{i}\"}}\n    matrix:\n      error:\n        \
             - {{decision: warn, burn: 1, long: 5m}}\n"
        ));
    }
    std::fs::write(dir.join(format!("{service}.yaml")), yaml).unwrap();
}

fn all_keys(services: &[(&str, usize)]) -> BTreeSet<String> {
    services
        .iter()
        .flat_map(|(s, n)| (0..*n).map(move |i| format!("{s}/s{i}")))
        .collect()
}

/// `service/slo` of every decision the daemon publishes.
fn decided(d: &Daemon) -> BTreeSet<String> {
    d.decisions()
        .iter()
        .map(|v| {
            format!(
                "{}/{}",
                v["service"].as_str().unwrap(),
                v["slo"].as_str().unwrap()
            )
        })
        .collect()
}

/// `service/slo` of every SLO whose query reached `backend` (from the `job` matcher).
fn queried(backend: &FaultServer) -> BTreeSet<String> {
    backend
        .requests()
        .iter()
        .filter_map(|r| r.param("query"))
        .flat_map(|q| {
            let mut keys = Vec::new();
            let mut rest = q.as_str();
            while let Some(i) = rest.find("job=\"") {
                rest = &rest[i + 5..];
                let end = rest.find('"').unwrap();
                let job = &rest[..end];
                let (service, slo) = job.rsplit_once('-').unwrap();
                keys.push(format!("{service}/{slo}"));
                rest = &rest[end..];
            }
            keys
        })
        .collect()
}

fn slos_gauge(d: &Daemon) -> Option<f64> {
    d.metrics().lines().find_map(|l| {
        l.strip_prefix("burnrate_slos ")
            .and_then(|v| v.trim().parse().ok())
    })
}

fn owned(keys: &BTreeSet<String>, shard: Shard) -> BTreeSet<String> {
    keys.iter().filter(|k| shard.owns(k)).cloned().collect()
}

#[test]
fn two_replicas_split_the_slos_and_follow_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let mut services = vec![
        ("checkout", 6),
        ("search", 5),
        ("billing", 4),
        ("ledger", 5),
    ];
    for (s, n) in &services {
        write_service(dir.path(), s, *n);
    }
    let specs = dir.path().to_str().unwrap().to_string();
    let backends = [backend(), backend()];
    let shards = [Shard::parse("0/2").unwrap(), Shard::parse("1/2").unwrap()];
    let daemons: Vec<Daemon> = (0..2)
        .map(|i| {
            let url = backends[i].url();
            let shard = shards[i].to_string();
            Daemon::start(&[
                &specs,
                "--prometheus",
                &url,
                "--interval",
                "1s",
                "--shard",
                &shard,
            ])
        })
        .collect();

    let check_split = |keys: &BTreeSet<String>, phase: &str| {
        let expected: Vec<BTreeSet<String>> = shards.iter().map(|s| owned(keys, *s)).collect();
        assert!(
            expected.iter().all(|e| !e.is_empty()),
            "{phase}: the fixture should give both replicas some SLOs: {expected:?}"
        );
        for (i, d) in daemons.iter().enumerate() {
            let ok = d.wait_for(Duration::from_secs(15), |d| {
                decided(d) == expected[i] && slos_gauge(d) == Some(expected[i].len() as f64)
            });
            assert!(
                ok,
                "{phase}: replica {} decides {:?} (burnrate_slos {:?}), expected {:?}\n{}",
                shards[i],
                decided(d),
                slos_gauge(d),
                expected[i],
                d.log()
            );
        }
        let (a, b) = (decided(&daemons[0]), decided(&daemons[1]));
        assert!(
            a.is_disjoint(&b),
            "{phase}: both replicas decide {:?}",
            a.intersection(&b).collect::<Vec<_>>()
        );
        assert_eq!(
            a.union(&b).cloned().collect::<BTreeSet<_>>(),
            *keys,
            "{phase}: union of the replicas"
        );
        expected
    };

    let keys = all_keys(&services);
    let expected = check_split(&keys, "start");
    for (i, b) in backends.iter().enumerate() {
        let q = queried(b);
        assert_eq!(
            q, expected[i],
            "start: SLOs queried through replica {}'s backend",
            shards[i]
        );
    }
    for (i, d) in daemons.iter().enumerate() {
        let log = d.log();
        let line = log
            .lines()
            .find(|l| l.contains("burnrate daemon started"))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("slos={}", expected[i].len()))
                && line.contains(&format!("total={}", keys.len()))
                && line.contains(&format!("shard={}", shards[i])),
            "start log line of replica {}: {line}",
            shards[i]
        );
    }

    // SIGHUP: a service added, one removed.
    write_service(dir.path(), "payments", 7);
    std::fs::remove_file(dir.path().join("billing.yaml")).unwrap();
    services.retain(|(s, _)| *s != "billing");
    services.push(("payments", 7));
    for d in &daemons {
        d.signal(libc::SIGHUP);
    }
    let keys = all_keys(&services);
    let expected = check_split(&keys, "after SIGHUP");
    for (i, b) in backends.iter().enumerate() {
        let q = queried(b);
        let other = &expected[1 - i];
        assert!(
            q.is_disjoint(other),
            "after SIGHUP: replica {}'s backend saw SLOs of the other replica: {:?}",
            shards[i],
            q.intersection(other).collect::<Vec<_>>()
        );
    }
}

fn check(specs: &str, url: &str, shard: &str) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_burnrate"))
        .args([
            "check",
            specs,
            "--prometheus",
            url,
            "--format",
            "json",
            "--shard",
            shard,
        ])
        .env_remove("BURNRATE_PROMETHEUS_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_shards_partition_the_slos() {
    let dir = tempfile::tempdir().unwrap();
    let services = [
        ("checkout", 6),
        ("search", 5),
        ("billing", 4),
        ("ledger", 5),
    ];
    for (s, n) in &services {
        write_service(dir.path(), s, *n);
    }
    let specs = dir.path().to_str().unwrap();
    let keys = all_keys(&services);
    let b = backend();
    for n in 1..=4u32 {
        let mut union = BTreeSet::new();
        for i in 0..n {
            let shard = Shard { index: i, count: n };
            let (code, lines, stderr) = check(specs, &b.url(), &shard.to_string());
            assert_eq!(code, Some(0), "check --shard {shard}: {stderr}");
            let got: BTreeSet<String> = lines
                .iter()
                .map(|v| {
                    format!(
                        "{}/{}",
                        v["service"].as_str().unwrap(),
                        v["slo"].as_str().unwrap()
                    )
                })
                .collect();
            assert_eq!(got, owned(&keys, shard), "check --shard {shard}");
            assert!(
                union.is_disjoint(&got),
                "check --shard {shard}: evaluated by another shard too"
            );
            union.extend(got);
        }
        assert_eq!(union, keys, "the {n} shards together");
    }
    // A shard that owns nothing has nothing to do: exit 0, not no_data.
    let single = tempfile::tempdir().unwrap();
    write_service(single.path(), "solo", 1);
    let solo = single.path().to_str().unwrap();
    for i in 0..2 {
        let shard = Shard { index: i, count: 2 };
        let (code, lines, stderr) = check(solo, &b.url(), &shard.to_string());
        assert_eq!(code, Some(0), "check --shard {shard}: {stderr}");
        if shard.owns("solo/s0") {
            assert_eq!(lines.len(), 1, "check --shard {shard}");
        } else {
            assert!(lines.is_empty(), "check --shard {shard}: {lines:?}");
            assert!(
                stderr.contains("owns none of the 1 SLO"),
                "check --shard {shard}: {stderr}"
            );
        }
    }
    for (bad, why) in [
        ("3/3", "out of range"),
        ("0/0", "at least 1"),
        ("a/b", "not a whole number"),
        ("2", "expected i/n"),
    ] {
        let (code, lines, stderr) = check(specs, &b.url(), bad);
        assert_eq!(code, Some(64), "--shard {bad}: {stderr}");
        assert!(lines.is_empty());
        assert!(stderr.contains(why), "--shard {bad}: {stderr}");
    }
}
