//! `sediment report`: headline figures, trends, anomalies, alerts, breakdowns and
//! recommendations over a period, as text, Markdown, JSON or one HTML file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sedimentdb_collector::{parse_rfc3339, AlertRule};
use sedimentdb_report::{render, ReportSpec, ReportType, Reporter};

use crate::commands::series::parse_selector;
use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// `--format` of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Plain text (the default).
    Text,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// JSON, schema sedimentdb-report/1 (documented in the sedimentdb-report crate).
    Json,
    /// One self-contained HTML file with SVG charts (no scripts, no network).
    Html,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// What to report on: performance, health, user-experience, learning, adoption (the
    /// collector's sources and categories) or all.
    #[arg(long = "type", default_value = "all", value_parser = report_type)]
    pub report_type: ReportType,
    /// The period: the last span up to now, e.g. 1h, 24h, 7d.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration, conflicts_with_all = ["start", "end"])]
    pub last: Duration,
    /// Start of the period (RFC 3339, e.g. 2026-11-24T00:00:00Z); needs --end.
    #[arg(long, requires = "end", value_parser = timestamp)]
    pub start: Option<i64>,
    /// End of the period (RFC 3339, exclusive); needs --start.
    #[arg(long, requires = "start", value_parser = timestamp)]
    pub end: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Alert rules (the collector's TOML or JSON rule file) to evaluate over the period,
    /// besides the alerts the collector stored.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Most metrics in the report (the busiest are kept).
    #[arg(long, default_value_t = 200)]
    pub max_metrics: usize,
    /// Only series matching this selector, e.g. `cpu_usage_user{hostname=~"host_[12]"}`
    /// (on a plain engine database, what to report on); narrows `--type`.
    #[arg(long)]
    pub selector: Option<String>,
    /// "Now" (RFC 3339) for `--last` instead of the system clock: for replayed data.
    #[arg(long, value_parser = timestamp, conflicts_with_all = ["start", "end"])]
    pub now: Option<i64>,
}

fn report_type(text: &str) -> Result<ReportType, String> {
    ReportType::parse(text).ok_or_else(|| {
        let names: Vec<&str> = ReportType::ALL.iter().map(|t| t.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

pub(crate) fn timestamp(text: &str) -> Result<i64, String> {
    parse_rfc3339(text)
        .ok_or_else(|| "expected an RFC 3339 time such as 2026-11-24T00:00:00Z".to_string())
}

/// Builds and writes the report.
pub fn run(global: &Global, args: ReportArgs) -> CliResult<Status> {
    let mut spec = ReportSpec::new(args.report_type).max_metrics(args.max_metrics);
    spec = match (args.start, args.end) {
        (Some(start), Some(end)) => spec.between(start, end),
        _ => spec.last(args.last),
    };
    if let Some(now) = args.now {
        spec = spec.now(now);
    }
    if let Some(text) = &args.selector {
        spec = spec.selector(parse_selector(text)?, text.clone());
    }
    if let Some(path) = &args.rules {
        let rules = AlertRule::load(path).map_err(|e| CliError::new(e.to_string()))?;
        spec = spec.rules(rules);
    }
    let db = global.open_for_reading()?;
    let reporter = Reporter::new(db).map_err(report_error)?;
    let report = reporter.report(&spec).map_err(report_error)?;
    let body = match args.format {
        ReportFormat::Text => render::text(&report),
        ReportFormat::Markdown => render::markdown(&report),
        ReportFormat::Json => render::json(&report).map_err(report_error)?,
        ReportFormat::Html => render::html(&report).map_err(report_error)?,
    };
    match &args.out {
        Some(path) => std::fs::write(path, body)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{body}"),
    }
    Ok(Status::Ok)
}

/// A report error as the command's one-line error.
pub fn report_error(e: sedimentdb_report::ReportError) -> CliError {
    match e {
        sedimentdb_report::ReportError::Engine(e) => CliError::from(e),
        e => CliError::new(e.to_string()),
    }
}
