//! The deployment examples in deploy/ stay runnable: their specs validate and their command
//! lines parse with the current CLI.

use burnrate::cli::Cli;
use clap::Parser;

/// The `args:` list items of a container in a Kubernetes manifest.
fn container_args(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_args = false;
    let mut indent = 0;
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        if trimmed == "args:" {
            in_args = true;
            indent = line.len() - trimmed.len();
            continue;
        }
        if in_args {
            let this = line.len() - trimmed.len();
            match trimmed.strip_prefix("- ") {
                Some(arg) if this >= indent => out.push(arg.trim().to_string()),
                _ => in_args = false,
            }
        }
    }
    out
}

fn parses(args: &[String]) {
    let argv = std::iter::once("burnrate".to_string()).chain(args.iter().cloned());
    if let Err(e) = Cli::try_parse_from(argv) {
        panic!("{args:?} does not parse: {e}");
    }
}

#[test]
fn kubernetes_manifests_use_valid_command_lines() {
    for file in [
        "deploy/kubernetes/deployment.yaml",
        "deploy/kubernetes/cronjob.yaml",
    ] {
        let args = container_args(&std::fs::read_to_string(file).unwrap());
        assert!(args.len() >= 3, "{file}: {args:?}");
        parses(&args);
    }
}

#[test]
fn systemd_unit_uses_a_valid_command_line() {
    let unit = std::fs::read_to_string("deploy/systemd/burnrate.service").unwrap();
    let exec = unit
        .split("ExecStart=")
        .nth(1)
        .unwrap()
        .split("\nExecReload")
        .next()
        .unwrap();
    let words: Vec<String> = exec
        .replace("\\\n", " ")
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    assert_eq!(words[0], "run");
    parses(&words);
}

#[test]
fn configmap_spec_is_valid() {
    let manifest = std::fs::read_to_string("deploy/kubernetes/configmap.yaml").unwrap();
    let body = manifest.split("map-update.yaml: |\n").nth(1).unwrap();
    let spec: String = body
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let (loaded, diagnostics) =
        burnrate::spec::load::load_str(std::path::Path::new("configmap"), &spec);
    assert!(loaded.is_some(), "{diagnostics:?}");
}
