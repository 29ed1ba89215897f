//! Runs Prometheus's own PromQL test scripts (`../shared/promql-tests/`) against burnrate's
//! local evaluator: every case whose expression is inside the evaluator's subset must pass;
//! the others are skipped and counted by reason, so the table printed here is exactly what
//! the scripts prove about the subset.

mod promql_script;

use burnrate::promql::Flavor;
use burnrate::promql::MemStorage;
use promql_script::{Report, run_script, run_script_over};
use std::path::PathBuf;

fn scripts_dir(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join("promql-tests")
        .join(version)
}

fn run_dir(version: &str, flavor: Flavor) -> Option<(Vec<(String, Report)>, Report)> {
    let dir = scripts_dir(version);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let mut per_file = Vec::new();
    let mut total = Report::default();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).expect("read script");
        let r = run_script(&name, &text, flavor);
        total.add(&r);
        if flavor == Flavor::Prometheus2 {
            // The same cases over the daemon's compact blocks must give the same answers.
            let compact = run_script_over(&name, &text, flavor, MemStorage::compact());
            for f in compact.failures {
                total.failures.push(format!("over compact history: {f}"));
            }
        }
        per_file.push((name, r));
    }
    Some((per_file, total))
}

fn print_table(title: &str, per_file: &[(String, Report)], total: &Report) {
    println!("\n{title}");
    println!(
        "{:<24} {:>6} {:>7} {:>7} {:>8}",
        "file", "ran", "passed", "failed", "skipped"
    );
    for (name, r) in per_file {
        println!(
            "{:<24} {:>6} {:>7} {:>7} {:>8}",
            name,
            r.ran,
            r.passed,
            r.failures.len(),
            r.skipped_total()
        );
    }
    println!(
        "{:<24} {:>6} {:>7} {:>7} {:>8}",
        "TOTAL",
        total.ran,
        total.passed,
        total.failures.len(),
        total.skipped_total()
    );
    println!("skipped by reason:");
    let mut reasons: Vec<(&String, &usize)> = total.skipped.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in reasons {
        println!("  {n:>5}  {reason}");
    }
}

#[test]
fn prometheus_2_42_scripts_pass_inside_the_subset() {
    let Some((per_file, total)) = run_dir("v2.42", Flavor::Prometheus2) else {
        panic!(
            "Prometheus test scripts not found at {}",
            scripts_dir("v2.42").display()
        );
    };
    print_table(
        "Prometheus 2.42 PromQL test scripts (Flavor::Prometheus2)",
        &per_file,
        &total,
    );
    for f in &total.parser_rejects {
        println!("parser rejects: {f}");
    }
    for f in &total.failures {
        println!("FAIL {f}");
    }
    assert!(total.ran > 0, "no case ran");
    assert!(
        total.failures.is_empty(),
        "{} of {} cases inside the subset failed:\n{}",
        total.failures.len(),
        total.ran,
        total.failures.join("\n")
    );
}

/// Prometheus 3.x's scripts (v3.14.0's promqltest/testdata) with `Flavor::Prometheus3`: every
/// case inside the subset must pass, as for 2.42 (3.x-only syntax and features outside the
/// subset, and cases reading native-histogram data, are skipped by reason).
#[test]
fn prometheus_3_scripts_pass_inside_the_subset() {
    let Some((per_file, total)) = run_dir("v3", Flavor::Prometheus3) else {
        panic!(
            "Prometheus test scripts not found at {}",
            scripts_dir("v3").display()
        );
    };
    print_table(
        "Prometheus 3.x PromQL test scripts (Flavor::Prometheus3)",
        &per_file,
        &total,
    );
    for f in &total.parser_rejects {
        println!("v3 parser rejects: {f}");
    }
    for f in &total.failures {
        println!("v3 FAIL {f}");
    }
    assert!(total.ran > 0, "no case ran");
    assert!(
        total.failures.is_empty(),
        "{} of {} v3 cases inside the subset failed:\n{}",
        total.failures.len(),
        total.ran,
        total.failures.join("\n")
    );
}
