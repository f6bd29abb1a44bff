//! The admin commands: `verify` (every checksum and chunk statistic; status 1 on damage),
//! `compact`, `retention` and `delete`. The three that change the database open it for
//! writing, so they fail with a clear line while a service holds it open.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use sedimentdb::{Db, Options, TimeRange};

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;
use crate::selectarg::SelectorArgs;
use crate::timearg::{parse_std_duration, parse_time, wall_clock_ns, TimeArg};

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Arguments of `compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Arguments of `retention`.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Keep this much history (e.g. `30d`, `2w`); older segments are deleted.
    #[arg(long, value_parser = parse_std_duration)]
    pub keep: Duration,
    /// Measure `--keep` back from the newest point instead of the wall clock (for
    /// replayed or imported old data).
    #[arg(long)]
    pub from_newest: bool,
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub select: SelectorArgs,
    /// Start of the range (RFC 3339, a date, nanoseconds, or `now-2h`); default: the
    /// beginning of time.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<TimeArg>,
    /// End of the range, exclusive; default: the end of time.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<TimeArg>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

fn open_for_writing(global: &Global, options: Options) -> CliResult<Db> {
    global.require_database()?;
    Ok(Db::open(&global.db, options)?)
}

fn emit_json(value: &impl serde::Serialize) -> CliResult<()> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot encode the report: {e}")))?;
    crate::output::emit(&format!("{json}\n"))
}

/// `sediment verify`: reads every segment, checks every checksum and recomputes every
/// chunk's statistics. Status 1 when anything is damaged, each damage on its own line
/// with the file and offset.
pub fn run_verify(global: &Global, args: VerifyArgs) -> CliResult<Status> {
    global.require_database()?;
    // Damage that stops the database from opening at all (a segment footer, the
    // catalog, the manifest) is a finding of verify, not a failure to run it.
    let db = match Db::open_read_only(&global.db, Options::default()) {
        Ok(db) => db,
        Err(e @ sedimentdb::Error::Corruption { .. }) => {
            if args.format == "json" {
                emit_json(&serde_json::json!({ "opened": false, "damaged": [e.to_string()] }))?;
            } else {
                crate::output::emit(&format!("damaged: {e} (the database does not open)\n"))?;
            }
            return Ok(Status::Finding);
        }
        Err(e) => return Err(e.into()),
    };
    let report = db.verify()?;
    if args.format == "json" {
        emit_json(&report)?;
    } else {
        let mut out = format!(
            "{} segments, {} chunks checked: {}\n",
            report.segments,
            report.chunks,
            if report.damaged.is_empty() {
                "no damage".to_string()
            } else {
                format!("{} damaged", report.damaged.len())
            }
        );
        for d in &report.damaged {
            out.push_str(&format!(
                "damaged: {} at offset {}: {}\n",
                d.file.display(),
                d.offset,
                d.what
            ));
        }
        crate::output::emit(&out)?;
    }
    Ok(if report.damaged.is_empty() {
        Status::Ok
    } else {
        Status::Finding
    })
}

/// `sediment compact`: merges each partition's segments, cold partitions densely.
pub fn run_compact(global: &Global, args: CompactArgs) -> CliResult<Status> {
    let db = open_for_writing(global, Options::default())?;
    let report = db.compact()?;
    db.close()?;
    if args.format == "json" {
        emit_json(&report)?;
    } else {
        crate::output::emit(&format!(
            "compacted {} partitions: {} segments ({} bytes) into {} ({} bytes), {} points, in {:.3} s; {} skipped as damaged\n",
            report.partitions,
            report.input_segments,
            report.input_bytes,
            report.output_segments,
            report.output_bytes,
            report.points,
            report.secs,
            report.skipped.len()
        ))?;
    }
    Ok(if report.skipped.is_empty() {
        Status::Ok
    } else {
        Status::Finding
    })
}

/// `sediment retention`: deletes the segments wholly older than `--keep`.
pub fn run_retention(global: &Global, args: RetentionArgs) -> CliResult<Status> {
    let mut options = Options::default().retention(args.keep);
    if args.from_newest {
        options = options.retention_clock(sedimentdb::RetentionClock::NewestPoint);
    }
    let db = open_for_writing(global, options)?;
    let report = db.apply_retention()?;
    db.close()?;
    if args.format == "json" {
        emit_json(&report)?;
    } else {
        crate::output::emit(&format!(
            "retention: dropped {} segments ({} points, {} bytes) older than {}\n",
            report.segments, report.points, report.bytes, report.cutoff
        ))?;
    }
    Ok(Status::Ok)
}

/// `sediment delete`: deletes the selected series' points in the range, after asking.
pub fn run_delete(global: &Global, args: DeleteArgs) -> CliResult<Status> {
    let selector = args.select.resolve(true)?;
    let now = wall_clock_ns();
    let range = TimeRange::new(
        args.start.map_or(i64::MIN, |t| t.resolve(now)),
        args.end.map_or(i64::MAX, |t| t.resolve(now)),
    );
    if range.start >= range.end {
        return Err(CliError::new("--start must be before --end"));
    }
    let db = open_for_writing(global, Options::default())?;
    let matched = db.list_series(&selector)?.len();
    if matched == 0 {
        db.close()?;
        crate::output::emit(&format!("no series match {selector}: nothing deleted\n"))?;
        return Ok(Status::Ok);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(format!(
                "delete would remove points of {matched} series: add --yes to confirm (stdin is not a terminal to ask)"
            )));
        }
        eprint!("delete the points of {matched} series matching {selector} in the range? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing deleted");
            return Ok(Status::Ok);
        }
    }
    let report = db.delete_series(&selector, range)?;
    db.close()?;
    crate::output::emit(&format!(
        "deleted from {} series ({} left empty) in {:.3} s\n",
        report.series, report.emptied, report.secs
    ))?;
    Ok(Status::Ok)
}
