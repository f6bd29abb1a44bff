//! `sediment import`: points from files in a text format (or an `.ai_onboard` directory
//! of the original system) into the database, with a progress bar and a summary of what
//! was skipped and why.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sedimentdb::{Db, Options};
use sedimentdb_formats::csv_long::ColumnMap;
use sedimentdb_formats::{load, Format, LoadReport, Precision, ReadOptions};

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import (`-` for stdin), or an `.ai_onboard` directory.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,

    /// The input format; by default from the extension (.lp .influx, .om .prom, .csv,
    /// .jsonl; a directory is ai-onboard).
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,

    /// Unit of integer timestamps: s, ms, us, ns. Default: ns for line protocol and
    /// CSV, s for OpenMetrics (decimal seconds).
    #[arg(long, value_parser = parse_precision)]
    pub precision: Option<Precision>,

    /// CSV: which columns hold what, e.g. `ts=time,metric=name,value=v,ignore=note`.
    #[arg(long, value_parser = parse_columns)]
    pub columns: Option<ColumnMap>,

    /// Parse and report, write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Points per database write.
    #[arg(long, default_value_t = 100_000)]
    pub batch_points: usize,

    /// fsync every batch before going on (Durability::Sync). By default the WAL is
    /// synced once a second and everything at the end: a crash loses at most the last
    /// second of the import, which running it again rewrites (same points, last write
    /// wins).
    #[arg(long)]
    pub sync: bool,

    /// Skipped lines to list in the summary (all are counted).
    #[arg(long, default_value_t = 10)]
    pub show_skipped: usize,
}

/// `--format` of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// InfluxDB line protocol.
    Influx,
    /// OpenMetrics / Prometheus text exposition.
    Openmetrics,
    /// CSV long format `ts,metric,dims...,value`.
    Csv,
    /// Metric-event JSON lines.
    Jsonl,
    /// The original system's `.ai_onboard` directory (through the collector's migration).
    AiOnboard,
}

fn parse_columns(text: &str) -> Result<ColumnMap, String> {
    text.parse()
}

fn parse_precision(text: &str) -> Result<Precision, String> {
    Precision::parse(text).ok_or_else(|| format!("{text:?} is not one of s, ms, us, ns"))
}

/// Runs the import. Exit status 1 when lines were skipped.
pub fn run(global: &Global, args: ImportArgs) -> CliResult<Status> {
    let mut plan = Vec::new();
    for input in &args.inputs {
        plan.push((input, input_format(input, args.format)?));
    }
    let db = if args.dry_run {
        None
    } else {
        let durability = if args.sync {
            sedimentdb::Durability::Sync
        } else {
            sedimentdb::Durability::Periodic(std::time::Duration::from_secs(1))
        };
        Some(Db::open(
            &global.db,
            Options::default().durability(durability),
        )?)
    };
    let mut skipped_any = false;
    for (input, format) in plan {
        let skipped = match format {
            InputFormat::AiOnboard => import_ai_onboard(db.as_ref(), input, &args)?,
            other => import_file(db.as_ref(), input, text_format(other), &args)?,
        };
        skipped_any |= skipped;
    }
    if let Some(db) = db {
        // Settle the head into segments: a reader (`sediment query`) then maps segment
        // files instead of replaying the WAL's points into memory on every open.
        db.flush()?;
        db.close()?;
    }
    Ok(if skipped_any {
        Status::Finding
    } else {
        Status::Ok
    })
}

fn input_format(input: &Path, asked: Option<InputFormat>) -> CliResult<InputFormat> {
    if let Some(f) = asked {
        return Ok(f);
    }
    if input.is_dir() {
        return Ok(InputFormat::AiOnboard);
    }
    match Format::from_path(input) {
        Some(Format::Influx) => Ok(InputFormat::Influx),
        Some(Format::OpenMetrics) => Ok(InputFormat::Openmetrics),
        Some(Format::Csv) => Ok(InputFormat::Csv),
        Some(_) => Ok(InputFormat::Jsonl),
        None => Err(CliError::new(format!(
            "cannot tell the format of {} from its name (give --format influx|openmetrics|csv|jsonl|ai-onboard)",
            input.display()
        ))),
    }
}

fn text_format(f: InputFormat) -> Format {
    match f {
        InputFormat::Influx => Format::Influx,
        InputFormat::Openmetrics => Format::OpenMetrics,
        InputFormat::Csv => Format::Csv,
        _ => Format::Jsonl,
    }
}

fn import_file(
    db: Option<&Db>,
    input: &Path,
    format: Format,
    args: &ImportArgs,
) -> CliResult<bool> {
    let (source, total): (Box<dyn Read>, Option<u64>) = if input == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(input)
            .map_err(|e| CliError::new(format!("cannot open {}: {e}", input.display())))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len)
    };
    let mut options = ReadOptions::default().batch_points(args.batch_points);
    if let Some(p) = args.precision {
        options = options.precision(p);
    }
    if let Some(c) = &args.columns {
        options = options.columns(c.clone());
    }
    let mut reader = format.reader(source, &options);
    let bar = progress_bar(total);
    let started = Instant::now();
    let report = load(db, reader.as_mut(), |r| {
        if let Some(bar) = &bar {
            bar.set_position(r.bytes);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{} points, {:.2} M points/s",
                r.points_read,
                r.points_read as f64 / secs / 1e6
            ));
        }
    })
    .map_err(|e| CliError::new(format!("{}: {e}", input.display())))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summarise(
        input,
        &report,
        started.elapsed().as_secs_f64(),
        db.is_none(),
        args.show_skipped,
    );
    Ok(report.skipped_lines > 0 || !report.refused_series.is_empty())
}

/// A bar on stderr when it is a terminal; none when piped.
fn progress_bar(total: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn summarise(input: &Path, r: &LoadReport, secs: f64, dry_run: bool, show: usize) {
    let verb = if dry_run {
        "read (dry run, nothing written)"
    } else {
        "imported"
    };
    let written = if dry_run {
        r.points_read
    } else {
        r.points_written
    };
    eprintln!(
        "{}: {verb} {written} points of {} series from {} lines in {secs:.2} s ({:.2} M points/s)",
        input.display(),
        r.series,
        r.lines,
        written as f64 / secs.max(1e-9) / 1e6,
    );
    if r.skipped_lines > 0 {
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        for s in &r.skipped {
            *by_reason.entry(reason_kind(&s.reason)).or_default() += 1;
        }
        eprintln!("{}: skipped {} lines:", input.display(), r.skipped_lines);
        if by_reason.len() > 1 {
            for (kind, n) in &by_reason {
                eprintln!("  {n} x {kind}");
            }
        }
        for s in r.skipped.iter().take(show) {
            eprintln!("  {}:{s}", input.display());
        }
        if r.skipped_lines > show as u64 {
            eprintln!(
                "  ... and {} more",
                r.skipped_lines - show.min(r.skipped.len()) as u64
            );
        }
    }
    for (series, reason, points) in &r.refused_series {
        eprintln!(
            "{}: the database refused series {series} ({reason}); {points} points not written",
            input.display()
        );
    }
}

/// The reason without the quoted specifics, to count lines by kind of problem.
fn reason_kind(reason: &str) -> String {
    reason.split('"').step_by(2).collect::<Vec<_>>().join("…")
}

fn import_ai_onboard(db: Option<&Db>, dir: &Path, args: &ImportArgs) -> CliResult<bool> {
    use sedimentdb_collector::{CollectorConfig, PrivacyConfig, UnifiedMetricsCollector};
    if !dir.is_dir() {
        return Err(CliError::new(format!(
            "{} is not a directory (ai-onboard imports an .ai_onboard directory)",
            dir.display()
        )));
    }
    // A dry run migrates into a scratch database, so that it reports exactly what a real
    // run would store.
    let scratch;
    let target = match db {
        Some(db) => db.clone(),
        None => {
            scratch = tempfile::tempdir()?;
            Db::open(
                scratch.path(),
                Options::default().durability(sedimentdb::Durability::None),
            )?
        }
    };
    let privacy = match std::env::var("SEDIMENT_PRIVACY_SECRET") {
        Ok(secret) => Some(
            PrivacyConfig::with_secret(secret)
                .map_err(|e| CliError::new(format!("SEDIMENT_PRIVACY_SECRET: {e}")))?,
        ),
        Err(_) => None,
    };
    let collector = UnifiedMetricsCollector::new(
        target,
        CollectorConfig {
            privacy,
            ..CollectorConfig::default()
        },
    )
    .map_err(|e| CliError::new(e.to_string()))?;
    let started = Instant::now();
    let report = sedimentdb_collector::migrate::import_ai_onboard(&collector, dir)
        .map_err(|e| CliError::new(format!("{}: {e}", dir.display())))?;
    let verb = if db.is_none() {
        "would store (dry run)"
    } else {
        "stored"
    };
    eprintln!(
        "{}: {verb} {} events from {} files in {:.2} s",
        dir.display(),
        report.stored(),
        report.files.iter().filter(|f| f.found).count(),
        started.elapsed().as_secs_f64()
    );
    let mut skipped = 0;
    for (file, issue) in report.issues() {
        if skipped < args.show_skipped {
            eprintln!(
                "  {}:line {}: {}",
                dir.join(file).display(),
                issue.line,
                issue.reason
            );
        }
        skipped += 1;
    }
    if skipped > args.show_skipped {
        eprintln!("  ... and {} more", skipped - args.show_skipped);
    }
    Ok(skipped > 0)
}
