//! `sediment dashboard`: a terminal dashboard over a live database, refreshed on an
//! interval; `--once` prints one refresh's data (JSON) or screen (text) instead.

mod app;
pub mod ui;
#[cfg(test)]
mod ui_tests;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use sedimentdb::Selector;
use sedimentdb_report::{DashboardData, DashboardSpec, Layout, Reporter};

use crate::commands::report::report_error;
use crate::commands::series::parse_selector;
use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// `--format` of `dashboard --once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DashboardFormat {
    /// The data of the panels, schema sedimentdb-dashboard/1.
    Json,
    /// The screen as text (120 x 40 unless --width/--height).
    Text,
}

/// Arguments of `dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// How often to reopen the database and redraw.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub refresh: Duration,
    /// The time window to start with (keys 1/2/3 switch to 1h/24h/7d).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
    /// Panels to show (TOML; see the sedimentdb-report dashboard docs). Default: the
    /// busiest metrics, alerts, anomalies, top series, recommendations.
    #[arg(long)]
    pub layout: Option<PathBuf>,
    /// Compute one refresh, print it and exit.
    #[arg(long)]
    pub once: bool,
    /// What `--once` prints.
    #[arg(long, value_enum, default_value_t = DashboardFormat::Json, requires = "once")]
    pub format: DashboardFormat,
    /// Screen width of `--once --format text`.
    #[arg(long, default_value_t = 120, requires = "once")]
    pub width: u16,
    /// Screen height of `--once --format text`.
    #[arg(long, default_value_t = 40, requires = "once")]
    pub height: u16,
    /// Only series matching this selector, e.g. `cpu_usage_user{region="eu-west-1"}`:
    /// every panel, and which metrics the default panels show.
    #[arg(long)]
    pub selector: Option<String>,
    /// "Now" (RFC 3339) instead of the system clock: for replaying old data.
    #[arg(long, value_parser = crate::commands::report::timestamp)]
    pub now: Option<i64>,
}

/// What a refresh needs.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub global: Global,
    pub layout: Option<Layout>,
    pub now: Option<i64>,
    pub selector: Option<Selector>,
}

impl Source {
    /// Opens the database, computes the panels over `window` and closes it again, so
    /// that the dashboard holds nothing open between refreshes.
    pub fn refresh(&self, window: Duration) -> CliResult<DashboardData> {
        let db = self.global.open_for_reading()?;
        let reporter = Reporter::new(db).map_err(report_error)?;
        let mut spec = DashboardSpec::new(window);
        if let Some(layout) = &self.layout {
            spec = spec.panels(layout.panels.clone());
        }
        if let Some(now) = self.now {
            spec = spec.now(now);
        }
        if let Some(selector) = &self.selector {
            spec = spec.selector(selector.clone());
        }
        let data = reporter.dashboard(&spec).map_err(report_error)?;
        reporter
            .into_collector()
            .db()
            .close()
            .map_err(CliError::from)?;
        Ok(data)
    }
}

/// Runs the dashboard (or one refresh of it).
pub fn run(global: &Global, args: DashboardArgs) -> CliResult<Status> {
    if args.refresh < Duration::from_millis(100) {
        return Err(CliError::new("--refresh must be at least 100ms"));
    }
    let layout = match &args.layout {
        Some(path) => Some(Layout::load(path).map_err(report_error)?),
        None => None,
    };
    let window = args
        .window
        .or_else(|| layout.as_ref().and_then(Layout::window))
        .unwrap_or(Duration::from_secs(3600));
    let selector = args.selector.as_deref().map(parse_selector).transpose()?;
    global.require_database()?;
    let source = Source {
        global: global.clone(),
        layout,
        now: args.now,
        selector,
    };
    if args.once {
        let data = source.refresh(window)?;
        let out = match args.format {
            DashboardFormat::Json => serde_json::to_string_pretty(&data)
                .map_err(|e| CliError::new(format!("cannot encode the dashboard: {e}")))?,
            DashboardFormat::Text => {
                let state = ui::UiState {
                    selected: 0,
                    window: app::window_label(window),
                    refresh: humantime::format_duration(args.refresh).to_string(),
                    refreshes: 1,
                    error: None,
                };
                ui::render_text(&data, &state, args.width.max(40), args.height.max(10))?
                    .trim_end()
                    .to_string()
            }
        };
        println!("{out}");
        return Ok(Status::Ok);
    }
    app::run(source, window, args.refresh)?;
    Ok(Status::Ok)
}
