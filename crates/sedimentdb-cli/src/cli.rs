//! The command-line grammar (clap derive): global options and one subcommand per job.
//! Each subcommand's arguments live beside its code in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

/// sediment: query, analyse, import and export sedimentdb time-series databases.
#[derive(Debug, Parser)]
#[command(
    name = "sediment",
    version,
    about,
    after_help = "Exit status: 0 done (alert: nothing firing), 1 a finding (alert: firing; verify: damage found), 2 an error.\n\nExamples:\n  sediment --db ./data stats\n  sediment query 'cpu_usage{host=\"web-1\"}' --last 1h --step 1m --agg max"
)]
pub struct Cli {
    /// The database directory.
    #[arg(
        long,
        global = true,
        env = "SEDIMENT_DB",
        default_value = "./sediment-data"
    )]
    pub db: PathBuf,

    /// When to colour the output: on a terminal by default; NO_COLOR turns it off.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// How a query would run (segments pruned, chunks from statistics or decoded) without
    /// its answer; takes the arguments of `query`.
    #[command(
        after_help = "Example:\n  sediment --db ./data explain 'cpu_usage_user{hostname=\"host_7\"}' --days 1 --step 1m --agg max"
    )]
    Explain(commands::query::QueryArgs),
    /// Check every checksum and recompute every chunk's statistics; status 1 on damage.
    #[command(after_help = "Example:\n  sediment --db ./data verify || echo damaged")]
    Verify(commands::admin::VerifyArgs),
    /// Merge each partition's segments (cold partitions densely); needs write access.
    #[command(after_help = "Example:\n  sediment --db ./data compact")]
    Compact(commands::admin::CompactArgs),
    /// Delete the segments older than --keep; needs write access.
    #[command(after_help = "Example:\n  sediment --db ./data retention --keep 30d")]
    Retention(commands::admin::RetentionArgs),
    /// Delete the selected series' points in a range (asks first unless --yes).
    #[command(
        after_help = "Example:\n  sediment --db ./data delete 'cpu{host=\"web-1\"}' --end 2024-01-01 --yes"
    )]
    Delete(commands::admin::DeleteArgs),
    /// Sizes per tier: series, points, bytes, partitions.
    #[command(after_help = "Example:\n  sediment --db ./data stats --format json")]
    Stats(commands::stats::StatsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  sediment completions bash > /etc/bash_completion.d/sediment"
    )]
    Completions(commands::completions::CompletionsArgs),
    /// A report: per metric the headline figures, change, trend, anomalies and the
    /// values behind the change, plus alerts and recommendations.
    #[command(
        after_help = "Examples:\n  sediment report --type performance --last 7d\n  sediment report --type all --last 24h --format html --out report.html\n  sediment report --start 2026-11-24T00:00:00Z --end 2026-12-01T00:00:00Z --format json"
    )]
    Report(commands::report::ReportArgs),
    /// A terminal dashboard over a live database: metric charts, alerts, anomalies, top
    /// series, recommendations; keys 1/2/3 switch the window, Tab moves, q quits.
    #[command(
        after_help = "Examples:\n  sediment dashboard --refresh 30s\n  sediment dashboard --layout dash.toml --window 24h\n  sediment dashboard --once --format json"
    )]
    Dashboard(commands::dashboard::DashboardArgs),
    /// Serve the Prometheus HTTP API (for Grafana and promtool), read-only, on loopback.
    #[command(
        after_help = "Example:\n  sediment --db ./data serve --listen 127.0.0.1:9090\n  promtool query instant http://127.0.0.1:9090 'rate(cpu_usage_user[5m])'"
    )]
    Serve(crate::serve::ServeArgs),
    /// The series matching a selector, with their attributes.
    #[command(
        after_help = "Example:\n  sediment --db ./data series 'cpu_usage{host=~\"web-.*\"}' --format json"
    )]
    Series(commands::series::SeriesArgs),
    /// Import points: InfluxDB line protocol, OpenMetrics, CSV, metric-event JSONL, or an
    /// `.ai_onboard` directory. Exit status 1 when lines were skipped.
    #[command(
        after_help = "Examples:\n  sediment --db ./data import cpu.lp --precision s\n  sediment --db ./data import metrics.csv --columns ts=time,metric=name,value=v\n  sediment --db ./data import ~/.ai_onboard --dry-run"
    )]
    Import(commands::import::ImportArgs),
    /// Export points of a selection and time range as CSV, JSONL, line protocol or
    /// OpenMetrics, streaming.
    #[command(
        after_help = "Examples:\n  sediment --db ./data export --metric cpu_usage_user --start 2016-01-01 --format csv > cpu.csv\n  sediment --db ./data export --last 24h --format openmetrics --out last-day.om\n  sediment --db ./data export 'cpu_usage_user{hostname=~\"host_[12]\"}' --format jsonl"
    )]
    Export(commands::export::ExportArgs),
    /// Query a selection over a time range: raw points, or downsampled, aggregated,
    /// grouped, filtered and ranked. Read-only: works while a service writes.
    #[command(
        after_help = "Examples:\n  sediment --db ./data query 'cpu_usage{host=\"web-1\"}' --last 1h\n  sediment --db ./data query --metric cpu_usage --last 24h --step 5m --agg p99 --group-by region\n  sediment --db ./data query --metric cpu_usage --days 7 --step 1h --agg max --where '> 90' --top 5\n  sediment --db ./data query --metric cpu_usage --start 2016-01-01 --end now-1h --agg avg --format json\n  sediment --db ./data query --metric cpu_usage --now latest --last 1h --explain"
    )]
    Query(commands::query::QueryArgs),
    /// Evaluate an alert rule (inline or from a rule file) over the stored points and
    /// print what fires. Exit status 0 nothing firing, 1 firing, 2 error.
    #[command(
        after_help = "Exit status: 0 nothing firing, 1 something firing, 2 an error (bad rule, missing database).\n\nExamples:\n  sediment --db ./data alert --threshold 'error_rate > 0.05' --window 5m --group-by service\n  sediment --db ./data alert --threshold 'max(cpu_usage_user) >= 99' --now latest --window 10m\n  sediment --db ./data alert --anomaly cpu_usage_user --window 30m --z 4\n  sediment --db ./data alert --trend request_latency --min-slope 0.5 --window 1h\n  sediment --db ./data alert --rules rules.toml --watch 30s"
    )]
    Alert(commands::alert::AlertArgs),
    /// Per series: slope per unit of time, R², a forecast with its prediction interval,
    /// and a degrading / improving / stable verdict.
    #[command(
        after_help = "Examples:\n  sediment --db ./data trend --metric user_satisfaction --days 7 --step 1h --worse down\n  sediment --db ./data trend 'request_latency{service=\"api\"}' --last 24h --step 5m --horizon 6h --format json\n  sediment --db ./data trend --metric cpu_usage_user --now latest --last 1h --step 1m --group-by hostname"
    )]
    Trend(commands::trend::TrendArgs),
}
