//! Inputs that once crashed or stalled burnrate (issue 17), each pinned by running the binary:
//! every one is now a clear error, exit 65 for a bad file (named `file:line:column` where it
//! has lines) or 64 for a bad flag, within a time bound and under a memory cap. The bounds
//! are `src/limits.rs`'s, listed in the README ("Security").
//!
//! Each child runs with its address space capped (`RLIMIT_AS`): the original failures took
//! gigabytes (53 GB of steps, 8 GB of aliases, 1.1 GB of inflated gzip), so an allocation
//! without bound fails the test instead of the machine.

#![allow(unsafe_code, reason = "libc: setrlimit(RLIMIT_AS) in the child")]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use common::{burnrate_cmd, closed_port_url};

/// Address space of each child: far above what a debug build needs for these inputs, far
/// below what any of the original failures allocated.
const ADDRESS_SPACE: u64 = 2 << 30;
/// Wall clock per run (a debug build on a shared machine).
const TIME_BOUND: Duration = Duration::from_secs(20);

const SPEC: &str = "tests/fixtures/faults/two-slos.yaml";
const HISTORY: &str = "tests/fixtures/history/sample.om";

/// Runs `burnrate args...` under the memory cap and the time bound.
fn run(args: &[&str]) -> Output {
    let mut cmd = burnrate_cmd();
    cmd.args(args);
    capped(&mut cmd);
    let started = Instant::now();
    let out = cmd.output().expect("run burnrate");
    assert!(
        started.elapsed() < TIME_BOUND,
        "{args:?} took {:?}",
        started.elapsed()
    );
    out
}

fn capped(cmd: &mut Command) {
    // SAFETY: between fork and exec the closure only calls setrlimit, which is
    // async-signal-safe, and allocates only on its error path.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE as libc::rlim_t,
                rlim_max: ADDRESS_SPACE as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code and that stderr holds every one of `needles`.
fn assert_fails(out: &Output, code: i32, needles: &[&str], what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{what}: exit code\n{err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "{what}: stderr lacks {needle:?}:\n{err}"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SLOTH_HEAD: &str = "version: prometheus/v1\nservice: x\nslos:\n  ";
const OPENSLO_HEAD: &str =
    "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: x\nspec:\n  a:\n  ";

#[test]
fn deep_yaml_nesting_is_an_error_in_every_entry_point_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let deep = "- ".repeat(150_000) + "x\n";
    let native = write(dir.path(), "deep.yaml", &deep);
    let sloth = write(dir.path(), "sloth.yaml", &format!("{SLOTH_HEAD}{deep}"));
    let openslo = write(dir.path(), "openslo.yaml", &format!("{OPENSLO_HEAD}{deep}"));
    let url = closed_port_url();
    let nested = "nested more than 64 levels deep";
    for (args, at) in [
        (vec!["validate", s(&native)], "deep.yaml:1:129:"),
        (vec!["rules", s(&native)], "deep.yaml:1:129:"),
        (
            vec!["check", s(&native), "--prometheus", &url],
            "deep.yaml:1:129:",
        ),
        (vec!["validate", s(&sloth)], "sloth.yaml:4:129:"),
        (vec!["convert", s(&sloth)], "sloth.yaml:4:129:"),
        (vec!["convert", s(&openslo)], "openslo.yaml:7:127:"),
        (
            vec![
                "backtest",
                SPEC,
                "--history",
                HISTORY,
                "--incidents",
                s(&native),
            ],
            "deep.yaml:1:129:",
        ),
    ] {
        assert_fails(&run(&args), 65, &[at, nested], &format!("{args:?}"));
    }
}

/// Eight levels of nine aliases each (506 bytes): 43 million strings once expanded.
fn laughs(indent: &str) -> String {
    let mut text = format!("{indent}a0: &a0 [{}]\n", ["\"lol\""; 9].join(","));
    for i in 1..8 {
        let refs = vec![format!("*a{}", i - 1); 9].join(",");
        text.push_str(&format!("{indent}a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn billion_laughs_fails_fast_in_specs_imports_and_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let native = write(
        dir.path(),
        "native.yaml",
        &format!("apiVersion: burnrate/v1\nservice: x\n{}", laughs("")),
    );
    let sloth = write(
        dir.path(),
        "sloth.yaml",
        &format!("version: prometheus/v1\nservice: x\n{}", laughs("")),
    );
    let openslo = write(
        dir.path(),
        "openslo.yaml",
        &format!(
            "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: x\nspec:\n{}",
            laughs("  ")
        ),
    );
    let incidents = write(
        dir.path(),
        "incidents.yaml",
        &format!(
            "- service: x\n  slo: y\n  start: 1\n  end: 2\n{}",
            laughs("  ")
        ),
    );
    let expands = "aliases expand to more than 1048576 bytes";
    for (args, at) in [
        (vec!["validate", s(&native)], "native.yaml:7:"),
        (vec!["validate", s(&sloth)], "sloth.yaml:7:"),
        (vec!["convert", s(&openslo)], "openslo.yaml:10:"),
        (
            vec![
                "backtest",
                SPEC,
                "--history",
                HISTORY,
                "--incidents",
                s(&incidents),
            ],
            "incidents.yaml:9:",
        ),
    ] {
        assert_fails(&run(&args), 65, &[at, expands], &format!("{args:?}"));
    }
}

#[test]
fn backtest_steps_and_spans_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let history = write(
        dir.path(),
        "wide.om",
        "# TYPE http_requests_total counter\n\
         http_requests_total{job=\"faultsvc\"} 1 -99999999999\n\
         http_requests_total{job=\"faultsvc\"} 2 99999999999\n# EOF\n",
    );
    let out = run(&["backtest", SPEC, "--history", s(&history)]);
    assert_fails(
        &out,
        65,
        &["wide.om", "line 2", "before 0000-01-01"],
        "a history spanning 6,000 years",
    );
    let history = write(
        dir.path(),
        "long.om",
        "# TYPE http_requests_total counter\n\
         http_requests_total{job=\"faultsvc\"} 1 0\n\
         http_requests_total{job=\"faultsvc\"} 2 99999999999\n# EOF\n",
    );
    let out = run(&["backtest", SPEC, "--history", s(&history)]);
    assert_fails(
        &out,
        65,
        &["long.om", "more than the 1000000 a replay may take"],
        "a history spanning 3,000 years",
    );
    let out = run(&[
        "backtest",
        SPEC,
        "--history",
        HISTORY,
        "--from=-9999999999999",
        "--to",
        "9999999999999",
        "--step",
        "1ms",
    ]);
    assert_fails(
        &out,
        64,
        &["--from", "out of range"],
        "--from far in the past",
    );
    let out = run(&[
        "backtest",
        SPEC,
        "--history",
        HISTORY,
        "--from",
        "0",
        "--to",
        "99999999999",
        "--step",
        "1ms",
    ]);
    assert_fails(
        &out,
        64,
        &["more than the 1000000 a replay may take", "--step"],
        "--step 1ms over 3,000 years",
    );
}

#[test]
fn a_gzip_bomb_is_refused_under_the_inflation_cap() {
    let dir = tempfile::tempdir().unwrap();
    // Concatenated gzip members (a valid gzip file) of 1 MiB of newlines each: 1.5 MB that
    // inflate to 1.5 GiB, which the address-space cap would not hold.
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member.write_all(&vec![b'\n'; 1 << 20]).unwrap();
    let member = member.finish().unwrap();
    let bomb: Vec<u8> = member.repeat(1536);
    let path = dir.path().join("bomb.om.gz");
    std::fs::write(&path, &bomb).unwrap();
    let out = run(&["backtest", SPEC, "--history", s(&path)]);
    assert_fails(
        &out,
        65,
        &["bomb.om.gz", "inflates to more than"],
        "a gzip bomb",
    );
}

#[test]
fn durations_beyond_a_year_are_refused_and_promtool_tests_of_a_long_for_finish() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |for_: &str| {
        format!(
            "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    for: {for_}\n    error:\n      \
             objective: 99.9\n      bad: e_total{{job=\"a\"}}\n      total: t_total{{job=\"a\"}}\n"
        )
    };
    let forever = write(dir.path(), "forever.yaml", &spec("292471208y"));
    assert_fails(
        &run(&["validate", s(&forever)]),
        65,
        &["forever.yaml:5:10:", "longer than 1y"],
        "for: 292471208y",
    );
    let rules = dir.path().join("rules.yaml");
    let tests = dir.path().join("tests.yaml");
    assert_fails(
        &run(&[
            "rules",
            s(&forever),
            "-o",
            s(&rules),
            "--promtool-tests",
            s(&tests),
        ]),
        65,
        &["longer than 1y"],
        "rules --promtool-tests with for: 292471208y",
    );
    // The longest `for` accepted: the expected alerts are found by bisection, not by walking
    // 525,600 steps back one at a time per alert.
    let year = write(dir.path(), "year.yaml", &spec("1y"));
    let out = run(&[
        "rules",
        s(&year),
        "-o",
        s(&rules),
        "--promtool-tests",
        s(&tests),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(&tests).unwrap();
    assert!(written.contains("eval_time"), "{written}");
    let out = run(&[
        "check",
        SPEC,
        "--prometheus",
        "http://127.0.0.1:1",
        "--timeout",
        "2y",
    ]);
    assert_fails(&out, 64, &["--timeout", "longer than 1y"], "--timeout 2y");
}

fn regex_spec(dir: &Path, name: &str, field: &str, value: &str) -> PathBuf {
    write(
        dir,
        name,
        &format!(
            "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    error:\n      \
             objective: 99.9\n      {field}: '{value}'\n      {}\n",
            if field == "bad" {
                "total: t_total".to_string()
            } else {
                "total_query: 'sum(rate(t_total[{{.window}}]))'".to_string()
            }
        ),
    )
}

#[test]
fn huge_regexes_are_refused_fast_in_selectors_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let matchers: Vec<String> = (0..40).map(|i| format!(r#"l{i}=~"\\w{{200}}""#)).collect();
    let selector = format!("e_total{{{}}}", matchers.join(","));
    let sel = regex_spec(dir.path(), "selector.yaml", "bad", &selector);
    assert_fails(
        &run(&["validate", s(&sel)]),
        65,
        &["selector.yaml:7:", "too large once compiled"],
        "40 matchers =~\"\\w{200}\" in a selector",
    );
    let query = format!("sum(rate({selector}[{{{{.window}}}}]))");
    let raw = regex_spec(dir.path(), "query.yaml", "bad_query", &query);
    assert_fails(
        &run(&["validate", s(&raw)]),
        65,
        &[
            "query.yaml:7:",
            "beyond burnrate's input limits",
            "too large once compiled",
        ],
        "40 matchers =~\"\\w{200}\" in a raw query",
    );
    let replace = r#"sum(label_replace(rate(e_total[{{.window}}]), "a", "$1", "b", "\\w{200}"))"#;
    let replace = regex_spec(dir.path(), "replace.yaml", "bad_query", replace);
    assert_fails(
        &run(&["validate", s(&replace)]),
        65,
        &[
            "replace.yaml:7:",
            "label_replace",
            "too large once compiled",
        ],
        "label_replace with \\w{200}",
    );
}

#[test]
fn deep_and_long_promql_is_an_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let sel = "sum(rate(e_total[{{.window}}]))";
    for (name, query, needle) in [
        (
            "parens.yaml",
            format!("{}{sel}{}", "(".repeat(20_000), ")".repeat(20_000)),
            "brackets nest more than 64 levels deep",
        ),
        (
            "chain.yaml",
            vec![sel; 5_000].join(" + "),
            "more than 1000 operators",
        ),
        (
            "unary.yaml",
            format!("{}{sel}", "-".repeat(20_000)),
            "more than 1000 operators",
        ),
        (
            "sum.yaml",
            vec![sel; 200].join(" + "),
            "nests 202 levels deep",
        ),
    ] {
        let spec = regex_spec(dir.path(), name, "bad_query", &query);
        assert_fails(
            &run(&["validate", s(&spec)]),
            65,
            &[&format!("{name}:7:"), needle],
            name,
        );
    }
}

#[test]
fn a_state_file_with_timers_at_the_ends_of_i64_is_exit_65_not_a_held_decision() {
    let dir = tempfile::tempdir().unwrap();
    let state = write(
        dir.path(),
        "state.json",
        "{\"slos\": {\"faultsvc/requests\": {\"updated_at\": 1700000000000, \"rules\": {\"error\": \
         {\"circuit_break:14.4:1h:5m\": {\"last_fired\": -9223372036854775808}}}}}}\n",
    );
    let url = closed_port_url();
    let out = run(&[
        "check",
        SPEC,
        "--prometheus",
        &url,
        "--at",
        "1700000060",
        "--state",
        s(&state),
    ]);
    assert_fails(
        &out,
        65,
        &["state.json:1:", "out of range"],
        "a timer at i64::MIN",
    );
}

#[test]
fn flags_out_of_range_are_usage_errors_fast() {
    let url = closed_port_url();
    let out = run(&["check", SPEC, "--prometheus", &url, "--at=-9999999999999"]);
    assert_fails(&out, 64, &["--at", "out of range"], "--at=-9999999999999");
    let started = Instant::now();
    let out = run(&[
        "check",
        SPEC,
        "--prometheus",
        &url,
        "--shard",
        "0/4294967295",
    ]);
    assert_fails(&out, 64, &["at most 1024 replicas"], "--shard 0/4294967295");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Seconds `burnrate args...` takes, the best of two runs.
fn seconds(args: &[&str]) -> f64 {
    (0..2)
        .map(|_| {
            let started = Instant::now();
            let out = run(args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn sloth_slos(n: usize) -> String {
    let mut text = String::from("version: prometheus/v1\nservice: big\nslos:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - name: s{i}\n    objective: 99.9\n    sli:\n      events:\n        \
             error_query: sum(rate(http_requests_total{{job=\"j{i}\",code=~\"5..\"}}[{{{{.window}}}}]))\n        \
             total_query: sum(rate(http_requests_total{{job=\"j{i}\"}}[{{{{.window}}}}]))\n    \
             alerting:\n      page_alert:\n        labels:\n          severity: page\n"
        ));
    }
    text
}

#[test]
fn many_slos_validate_and_export_in_linear_time() {
    // Four times the SLOs may take four times as long, not sixteen (the quadratic lookups
    // of issue 17 made 20,000 Sloth SLOs take 8.7 s to validate). The ratio leaves room for
    // a noisy machine; a quadratic step would exceed it.
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "small.yaml", &sloth_slos(500));
    let large = write(dir.path(), "large.yaml", &sloth_slos(2_000));
    for command in ["validate", "rules"] {
        let (t_small, t_large) = (
            seconds(&[command, s(&small)]),
            seconds(&[command, s(&large)]),
        );
        assert!(
            t_large < 8.0 * t_small.max(0.05),
            "{command}: 500 SLOs took {t_small:.2} s, 2,000 took {t_large:.2} s"
        );
    }
}
