//! The command line: argument definitions and dispatch. Each command lives in its own file
//! and returns `Result<i32>`; `run` maps errors to the documented exit codes.

mod backtest;
mod check;
mod common;
mod convert;
mod dashboard;
mod report;
mod rules;
mod run;
mod validate;

use crate::error::{Error, exit};
use crate::output::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "burnrate",
    version,
    about = "Burn-rate SLO evaluator: evaluate, decide, act, backtest"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse and check specs; print every problem (exit 0 or 65).
    Validate {
        #[command(flatten)]
        specs: SpecPaths,
    },
    /// Evaluate every SLO once; the exit code is the most severe decision.
    Check(CheckArgs),
    /// Replay the specs over a past range and score the policy.
    Backtest(BacktestArgs),
    /// What an SLO review needs over a month, week, quarter or range: attainment, budget
    /// spent, events, time in each decision and the worst day, per SLO and dimension.
    Report(ReportArgs),
    /// The daemon: evaluate on an interval, expose /metrics, alert and call webhooks.
    Run(RunArgs),
    /// Print Prometheus recording and alerting rules equivalent to the specs.
    Rules(RulesArgs),
    /// Convert Sloth, OpenSLO and Pyrra specs to burnrate/v1 YAML.
    Convert(ConvertArgs),
    /// Print a Grafana dashboard of the SLOs (JSON, to import).
    Dashboard(DashboardArgs),
}

/// The specs a command loads, and the Sloth alert windows they use: one option set for
/// every command, so a spec loads the same wherever it is given.
#[derive(Debug, Clone, Args)]
pub(crate) struct SpecPaths {
    /// Spec files or directories (every *.yaml / *.yml inside): burnrate/v1, Sloth, OpenSLO
    /// or Pyrra.
    #[arg(required = true)]
    pub(crate) specs: Vec<PathBuf>,
    /// Sloth `AlertWindows` files or directories (what `sloth generate -w` takes): the page
    /// and ticket windows of the Sloth SLOs whose period is the file's `sloPeriod`, instead of
    /// Sloth's defaults (repeatable).
    #[arg(long = "windows", short = 'w', value_name = "PATH")]
    pub(crate) windows: Vec<PathBuf>,
}

impl SpecPaths {
    pub(crate) fn sources(&self) -> crate::specfiles::SpecSources {
        crate::specfiles::SpecSources {
            paths: self.specs.clone(),
            windows: self.windows.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DashboardArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    /// The series the panels read: the metrics of `burnrate run`, or the recording rules of
    /// `burnrate rules`.
    #[arg(long, value_enum, default_value = "daemon")]
    pub(crate) source: crate::dashboard::Source,
    /// With --source rules: the histograms' bucket bounds, as given to `burnrate rules`
    /// (latency contributors read the same good bucket).
    #[arg(long = "buckets", value_name = "[HISTOGRAM=]LE,LE,...")]
    pub(crate) buckets: Vec<String>,
    /// The dashboard's title (default: from the services and the source).
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// Write the dashboard to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    /// Write one `SERVICE.yaml` per service into DIR instead of printing to stdout.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,
    /// Overwrite files that already exist in --output-dir.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    /// A Prometheus rule file, or the same groups in a Prometheus Operator PrometheusRule.
    #[arg(long, value_enum, default_value = "prometheus")]
    pub(crate) format: rules::RulesFormat,
    /// Evaluation interval of the rule groups.
    #[arg(long, default_value = "30s")]
    pub(crate) interval: String,
    /// Bucket bounds of a histogram (`NAME=LE,LE,...`, repeatable) or of every histogram
    /// (`LE,LE,...`): a latency threshold between two bounds is then interpolated. Without
    /// it the threshold is assumed to be a bucket bound.
    #[arg(long = "buckets", value_name = "[HISTOGRAM=]LE,LE,...")]
    pub(crate) buckets: Vec<String>,
    /// Write the rules to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Also write a `promtool test rules` file for the rules (needs --output).
    #[arg(long, value_name = "FILE")]
    pub(crate) promtool_tests: Option<PathBuf>,
    /// Map `hold` to the alerts' `keep_firing_for` (Prometheus >= 2.42).
    #[arg(long)]
    pub(crate) keep_firing_for: bool,
    /// With --format prometheus-operator: metadata.name (default: derived from the service).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// With --format prometheus-operator: metadata.namespace.
    #[arg(long)]
    pub(crate) namespace: Option<String>,
    /// With --format prometheus-operator: a metadata label `KEY=VALUE` (repeatable), e.g. the
    /// one your Prometheus's ruleSelector matches.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// Time between two evaluations of an SLO.
    #[arg(long, default_value = "30s")]
    pub(crate) interval: String,
    /// Address of /metrics, /healthz and /api/v1/decisions.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub(crate) listen: String,
    /// TLS, basic auth and headers of that listener, in the Prometheus exporters' format
    /// (`tls_server_config`, `basic_auth_users`, `http_server_config`); re-read when it
    /// changes.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub(crate) web_config_file: Option<PathBuf>,
    /// Directory where `for`/`hold` timers and last decisions survive restarts.
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// Alertmanager base URL (API v2), repeatable.
    #[arg(long)]
    pub(crate) alertmanager: Vec<String>,
    /// URL receiving one POST per decision change, repeatable.
    #[arg(long)]
    pub(crate) webhook: Vec<String>,
    /// File holding the key of each webhook's `X-Burnrate-Signature-256: sha256=HEX` header
    /// (HMAC-SHA256 of the body); re-read when it changes.
    #[arg(long)]
    pub(crate) webhook_secret_file: Option<PathBuf>,
    /// Backend requests in flight at most.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Timeout of each Alertmanager or webhook request.
    #[arg(long, default_value = "10s")]
    pub(crate) sink_timeout: String,
    /// Shortest wait before the first retry of a failed webhook delivery (doubles up to 1m;
    /// each wait is stretched by up to as much again at random).
    #[arg(long, default_value = "1s")]
    pub(crate) webhook_backoff: String,
    /// Replica `i` of `n` (e.g. `0/3`): evaluate only the SLOs this replica owns
    /// (rendezvous hashing of `service/slo`); replicas need no coordination.
    #[arg(long, value_name = "I/N", value_parser = common::parse_shard)]
    pub(crate) shard: Option<crate::daemon::shard::Shard>,
    /// `incremental`: keep raw samples between cycles and compute windows locally (one
    /// short request per fetch group per cycle); `direct`: query every window every cycle.
    #[arg(long, value_enum, default_value = "incremental")]
    pub(crate) evaluation: crate::daemon::cycle::EvaluationMode,
    /// SLO dimensions per batched query (direct queries join them with `or`; Prometheus
    /// spends more CPU per dimension on long `or` chains, see the README).
    #[arg(long, default_value_t = 5)]
    pub(crate) batch: usize,
    /// Memory the incremental history's raw samples may take (`512MiB`, `2GiB`, `300MB`, or
    /// bytes). When the SLOs' windows would need more, the SLOs with the longest windows
    /// take those from direct queries instead (logged, and counted in
    /// `burnrate_local_history_fallback_windows`).
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = run::parse_bytes)]
    pub(crate) max_history_bytes: u64,
    /// How far back the web page's charts reach (kept in memory, at most 2160 points per
    /// SLO and group; saved in --state-dir).
    #[arg(long, value_name = "DURATION", default_value = "6h")]
    pub(crate) ui_retention: String,
    /// The backend's address as browsers reach it, for the web page's graph links
    /// (default: --prometheus without credentials).
    #[arg(long, value_name = "URL")]
    pub(crate) ui_backend_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// History file instead of a backend: OpenMetrics text with timestamps, or a saved
    /// query_range JSON response (gzip accepted).
    #[arg(long, conflicts_with = "prometheus")]
    pub(crate) history: Option<PathBuf>,
    /// Start of the replay (RFC 3339 or Unix seconds); default: the history's first sample,
    /// or 7 days before --to.
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// End of the replay; default: the history's last sample, or now.
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Time between two evaluations.
    #[arg(long, default_value = "1m")]
    pub(crate) step: String,
    /// YAML list of known incidents {service, slo, start, end}: adds precision, recall,
    /// detection and reset times to each summary.
    #[arg(long)]
    pub(crate) incidents: Option<PathBuf>,
    /// Write a self-contained HTML report with a chart per SLO.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: Format,
    /// With --prometheus: how windows are computed.
    #[arg(long, value_enum, default_value = "local")]
    pub(crate) rates: backtest::RatesArg,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("range")
        .required(true)
        .args(["month", "week", "quarter", "from"])
))]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// History file instead of a backend: OpenMetrics text with timestamps, or a saved
    /// query_range JSON response (gzip accepted).
    #[arg(long, conflicts_with = "prometheus")]
    pub(crate) history: Option<PathBuf>,
    /// A calendar month in --timezone, e.g. 2026-11.
    #[arg(long, value_name = "YYYY-MM")]
    pub(crate) month: Option<String>,
    /// An ISO week (from Monday) in --timezone, e.g. 2026-W47.
    #[arg(long, value_name = "YYYY-Www")]
    pub(crate) week: Option<String>,
    /// A quarter in --timezone, e.g. 2026-Q4.
    #[arg(long, value_name = "YYYY-Qn")]
    pub(crate) quarter: Option<String>,
    /// Start of an explicit range (RFC 3339 or Unix seconds), with --to.
    #[arg(long, requires = "to")]
    pub(crate) from: Option<String>,
    /// End of an explicit range (exclusive).
    #[arg(long, requires = "from")]
    pub(crate) to: Option<String>,
    /// IANA time zone of the calendar periods and of the days the worst day is chosen from
    /// (default: the specs' `timezone`, else UTC).
    #[arg(long)]
    pub(crate) timezone: Option<String>,
    /// Step of the replay that measures the time in each decision.
    #[arg(long, default_value = "5m")]
    pub(crate) step: String,
    #[arg(long, value_enum, default_value = "markdown")]
    pub(crate) format: crate::report::render::ReportFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) specs: SpecPaths,
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// Evaluation time: RFC 3339 or Unix seconds (default: now).
    #[arg(long)]
    pub(crate) at: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: Format,
    /// File that carries `for`/`hold` timers across runs (created if missing).
    #[arg(long)]
    pub(crate) state: Option<PathBuf>,
    /// How many SLOs to evaluate at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// Replica `i` of `n` (e.g. `0/3`): evaluate only the SLOs this shard owns, as
    /// `burnrate run --shard` does (one CronJob per shard).
    #[arg(long, value_name = "I/N", value_parser = common::parse_shard)]
    pub(crate) shard: Option<crate::daemon::shard::Shard>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct BackendArgs {
    /// Prometheus-compatible base URL (Prometheus, VictoriaMetrics, Thanos, Mimir).
    #[arg(long, env = "BURNRATE_PROMETHEUS_URL", hide_env_values = true)]
    pub(crate) prometheus: Option<String>,
    /// Extra request header, `Name: value` (repeatable), e.g. `X-Scope-OrgID: tenant`.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// File holding a bearer token sent as `Authorization: Bearer ...`; re-read when it
    /// changes (rotated service-account tokens).
    #[arg(long, conflicts_with = "basic_auth_user")]
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// Basic-auth user; the password comes from --basic-auth-password-file.
    #[arg(long, requires = "basic_auth_password_file")]
    pub(crate) basic_auth_user: Option<String>,
    /// File holding the basic-auth password; re-read when it changes.
    #[arg(long, requires = "basic_auth_user")]
    pub(crate) basic_auth_password_file: Option<PathBuf>,
    /// PEM CA bundle to verify the backend's certificate with, instead of the built-in roots.
    #[arg(long)]
    pub(crate) ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with --key-file).
    #[arg(long, requires = "key_file")]
    pub(crate) cert_file: Option<PathBuf>,
    /// PEM private key of --cert-file.
    #[arg(long, requires = "cert_file")]
    pub(crate) key_file: Option<PathBuf>,
    /// Timeout of each backend request (Prometheus duration).
    #[arg(long, default_value = "30s")]
    pub(crate) timeout: String,
    /// Whose semantics local computations follow: detected from the backend (`auto`), or
    /// given; a history file replays as given (`auto`: prometheus-2).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) backend_flavor: crate::backend::flavor::FlavorArg,
}

/// Parses the arguments and runs the command; returns the process exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::OK,
                _ => exit::USAGE,
            };
        }
    };
    common::init_logging(cli.log_format);
    let result = match cli.command {
        Command::Validate { specs } => validate::run(&specs),
        Command::Check(args) => check::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Report(args) => report::run(args),
        Command::Run(args) => run::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Dashboard(args) => dashboard::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if !matches!(e, Error::InvalidSpec(_)) {
                eprintln!("burnrate: {e}");
            }
            e.exit_code()
        }
    }
}
