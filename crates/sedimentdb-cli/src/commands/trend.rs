//! `sediment trend`: per series (or group), the least-squares slope per unit of time,
//! R², a forecast with its prediction interval and a degrading / improving / stable
//! verdict (the engine's `Db::trend`).

use std::time::Duration;

use clap::{Args, ValueEnum};
use sedimentdb::analytics::{Direction, Verdict};
use sedimentdb::query::{Labels, TrendOptions};
use sedimentdb::{Aggregate, Query};

use crate::exit::{CliError, CliResult, Status};
use crate::output::{emit, Global};
use crate::render::labels::{common, distinguishing, short_name, FlatLabels};
use crate::render::number::human;
use crate::render::table::{Align, Table};
use crate::selectarg::{parse_aggregate, SelectorArgs};
use crate::timearg::{parse_std_duration, rfc3339, RangeArgs};

/// Arguments of `trend`.
#[derive(Debug, Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub select: SelectorArgs,

    #[command(flatten)]
    pub range: RangeArgs,

    /// Fit bucket values of this width (smooths noise; default: the raw points).
    #[arg(long, value_parser = parse_std_duration)]
    pub step: Option<Duration>,

    /// The aggregate of each bucket with --step (default avg).
    #[arg(long, value_parser = parse_aggregate)]
    pub agg: Option<Aggregate>,

    /// One trend per value of these dimensions (needs --step).
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,

    /// Forecast this far past each series' last point.
    #[arg(long, value_parser = parse_std_duration, default_value = "1h")]
    pub horizon: Duration,

    /// Probability of the forecast's prediction interval.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,

    /// Which way is bad (for the verdict).
    #[arg(long, value_enum, default_value_t = Worse::Up)]
    pub worse: Worse,

    /// The smallest |slope| per second that counts as a trend.
    #[arg(long, default_value_t = 0.0)]
    pub min_slope: f64,

    /// The smallest R² that counts as a trend.
    #[arg(long, default_value_t = 0.5)]
    pub min_r2: f64,

    /// The time unit slopes are shown per (table).
    #[arg(long, value_parser = parse_std_duration, default_value = "1h")]
    pub per: Duration,

    /// `table` (default) or `json` (the engine's `SeriesTrend` per series: labels,
    /// trend {slope_per_sec, r_squared, n, ...}, forecast {ts, value, lower, upper,
    /// confidence}, verdict).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// `--worse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Worse {
    /// Growth is bad (latency, errors, memory).
    Up,
    /// Decline is bad (throughput, free space, satisfaction).
    Down,
}

/// Fits and prints the trends.
pub fn run(global: &Global, args: TrendArgs) -> CliResult<Status> {
    let selector = args.select.resolve(true)?;
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        return Err(CliError::new(
            "--confidence must lie strictly between 0 and 1",
        ));
    }
    let db = global.open_for_reading()?;
    let range = args.range.resolve_with_now(&db, &selector)?.range;
    let mut q = Query::select(selector.clone()).range(range);
    match (args.step, args.agg) {
        (Some(step), agg) => q = q.downsample(step, agg.unwrap_or(Aggregate::Avg)),
        (None, Some(_)) => return Err(CliError::new("--agg needs --step (the bucket width)")),
        (None, None) => {}
    }
    if !args.group_by.is_empty() {
        if args.step.is_none() {
            return Err(CliError::new("--group-by needs --step"));
        }
        q = q.group_by(args.group_by.iter().cloned());
    }
    let opts = TrendOptions {
        horizon: args.horizon,
        confidence: args.confidence,
        direction: match args.worse {
            Worse::Up => Direction::IncreasingIsBad,
            Worse::Down => Direction::DecreasingIsBad,
        },
        min_slope_per_sec: args.min_slope,
        min_r2: args.min_r2,
    };
    let trends = db
        .trend(&q, &opts)
        .map_err(|e| CliError::new(format!("trend: {e}")))?;
    if trends.is_empty() && db.list_series(&selector)?.is_empty() {
        return Err(CliError::new(format!(
            "no series matches {selector} (list them with `sediment series`)"
        )));
    }
    if args.format == "json" {
        let list: Vec<serde_json::Value> = trends
            .iter()
            .map(|s| {
                let l = FlatLabels::new(&s.labels);
                let labels: serde_json::Map<String, serde_json::Value> = l
                    .dims
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.clone().map_or(serde_json::Value::Null, Into::into),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "metric": l.metric,
                    "labels": labels,
                    "points": s.trend.n,
                    "slope_per_sec": s.trend.slope_per_sec,
                    "r_squared": s.trend.r_squared,
                    "residual_stddev": s.trend.residual_stddev,
                    "forecast": s.forecast.as_ref().map(|f| serde_json::json!({
                        "ts": f.ts, "value": f.value, "lower": f.lower, "upper": f.upper,
                        "confidence": f.confidence,
                    })),
                    "verdict": verdict_name(s.verdict),
                })
            })
            .collect();
        let json = serde_json::to_string_pretty(&list)
            .map_err(|e| CliError::new(format!("cannot encode the trends: {e}")))?;
        emit(&format!("{json}\n"))?;
    } else {
        let per = args.per.as_secs_f64();
        let per_text = humantime::format_duration(args.per).to_string();
        let mut t = Table::new(&[
            ("SERIES", Align::Left),
            ("POINTS", Align::Right),
            (&format!("SLOPE/{per_text}"), Align::Right),
            ("R²", Align::Right),
            ("FORECAST", Align::Right),
            ("INTERVAL", Align::Left),
            ("AT", Align::Left),
            ("VERDICT", Align::Left),
        ]);
        let rows: Vec<FlatLabels> = trends.iter().map(|s| FlatLabels::new(&s.labels)).collect();
        let population: Vec<FlatLabels> = db
            .list_series(&selector)?
            .iter()
            .map(|k| FlatLabels::new(&Labels::Series(k.clone())))
            .collect();
        let shown = distinguishing(&rows, &common(&rows), &population);
        for (s, l) in trends.iter().zip(&rows) {
            let name = short_name(l, &shown);
            let (forecast, interval, at) = match &s.forecast {
                Some(f) => (
                    human(f.value),
                    format!("[{}, {}]", human(f.lower), human(f.upper)),
                    rfc3339(f.ts),
                ),
                None => ("-".into(), String::new(), String::new()),
            };
            let verdict = verdict_name(s.verdict);
            t.row(vec![
                name,
                s.trend.n.to_string(),
                human(s.trend.slope_per_sec * per),
                format!("{:.2}", s.trend.r_squared),
                forecast,
                interval,
                at,
                verdict.into(),
            ]);
        }
        emit(&t.render(global.color))?;
    }
    db.close()?;
    Ok(Status::Ok)
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Degrading => "degrading",
        Verdict::Improving => "improving",
        _ => "stable",
    }
}
