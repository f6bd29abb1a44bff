//! `sediment export`: the points of a selection in a time range, in a text format, to
//! stdout or a file, streaming (one series in memory at a time).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use sedimentdb::{Matcher, Selector, TimeRange};
use sedimentdb_formats::{export, Format, WriteError};

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A selector, e.g. `cpu_usage_user{hostname="host_2",region=~"eu-.*"}` (matchers
    /// `=`, `!=`, `=~`, `!~`). Default: every series. --metric and --dim narrow it.
    pub selector: Option<String>,

    /// Only this metric (default: every metric).
    #[arg(long)]
    pub metric: Option<String>,

    /// Only series with this dimension value, `key=value` (repeatable).
    #[arg(long = "dim", value_name = "KEY=VALUE", value_parser = parse_dim)]
    pub dims: Vec<(String, String)>,

    /// From this time: RFC 3339 (`2016-01-01T06:00:00Z`), a date (`2016-01-01`) or
    /// integer nanoseconds since the epoch. Default: the beginning.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<i64>,

    /// Up to (excluding) this time; same forms as --start. Default: the end.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<i64>,

    /// The last this long before now (`24h`, `7d`, `1h30m`); instead of --start.
    #[arg(long, value_parser = parse_duration, conflicts_with = "start")]
    pub last: Option<i64>,

    /// The output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Csv)]
    pub format: OutputFormat,

    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// `--format` of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// CSV long format `ts,metric,dims...,value` (nanosecond timestamps).
    Csv,
    /// Metric-event JSON lines.
    Jsonl,
    /// InfluxDB line protocol (nanosecond timestamps, field `value`).
    Influx,
    /// OpenMetrics text (decimal-second timestamps, `# EOF`).
    Openmetrics,
}

impl OutputFormat {
    fn format(self) -> Format {
        match self {
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Jsonl => Format::Jsonl,
            OutputFormat::Influx => Format::Influx,
            OutputFormat::Openmetrics => Format::OpenMetrics,
        }
    }
}

fn parse_dim(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

/// RFC 3339, a date, or integer nanoseconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(ns) = text.parse::<i64>() {
        return Ok(ns);
    }
    let with_time = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let t = humantime::parse_rfc3339_weak(&with_time)
        .map_err(|e| format!("{text:?} is not a time ({e}; use RFC 3339 like 2016-01-01T06:00:00Z, a date, or nanoseconds)"))?;
    system_time_ns(t).ok_or_else(|| format!("{text:?} is out of range"))
}

fn parse_duration(text: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}; e.g. 90s, 1h30m, 7d)"))?;
    i64::try_from(d.as_nanos()).map_err(|_| format!("{text:?} is too long"))
}

fn system_time_ns(t: std::time::SystemTime) -> Option<i64> {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Runs the export.
pub fn run(global: &Global, args: ExportArgs) -> CliResult<Status> {
    let parsed: Selector = match &args.selector {
        Some(text) => text
            .parse()
            .map_err(|e| CliError::new(format!("bad selector {text:?}: {e}")))?,
        None => Selector::any(),
    };
    let mut selector = match (&args.metric, parsed.metric_name()) {
        (Some(m), Some(n)) if m != n => {
            return Err(CliError::new(format!(
                "the selector names metric {n:?} and --metric {m:?}: give one"
            )))
        }
        (Some(m), None) => parsed
            .matchers()
            .iter()
            .fold(Selector::metric(m.clone()), |s, m| s.with(m.clone())),
        _ => parsed,
    };
    for (k, v) in &args.dims {
        selector = selector.with(Matcher::eq(k.clone(), v.clone()));
    }
    let all = TimeRange::all();
    let end = args.end.unwrap_or(all.end);
    let start = match args.last {
        Some(ago) => system_time_ns(std::time::SystemTime::now())
            .unwrap_or(0)
            .saturating_sub(ago),
        None => args.start.unwrap_or(all.start),
    };
    if start >= end {
        return Err(CliError::new(
            "the time range is empty (--start must be before --end)",
        ));
    }
    let range = TimeRange::new(start, end);
    // Open the output before the database, so that an unwritable path fails fast.
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).map_err(|e| {
            CliError::new(format!(
                "cannot write {}: {e} (check the directory exists and is writable)",
                path.display()
            ))
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let db = global.open_for_reading()?;
    let started = Instant::now();
    let report = export(
        &db,
        &selector,
        range,
        args.format.format(),
        BufWriter::with_capacity(1 << 20, out),
        |_| {},
    )
    .map_err(|e| match (&e, &args.out) {
        (WriteError::Io(io), _) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            CliError::new("the output was closed early (broken pipe)")
        }
        (WriteError::Io(io), Some(path)) => {
            CliError::new(format!("cannot write {}: {io}", path.display()))
        }
        _ => CliError::new(e.to_string()),
    })?;
    let secs = started.elapsed().as_secs_f64();
    if args.out.is_some() || !global.stdout_is_terminal {
        eprintln!(
            "exported {} points of {} series in {secs:.2} s ({:.2} M points/s)",
            report.points,
            report.series,
            report.points as f64 / secs.max(1e-9) / 1e6
        );
    }
    db.close()?;
    Ok(Status::Ok)
}
