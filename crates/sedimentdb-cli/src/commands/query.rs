//! `sediment query`: a selection over a time range, optionally downsampled, aggregated,
//! grouped, filtered and ranked, printed as a table or as JSON, JSON lines or CSV. The
//! database is opened read-only, so it works beside a service that writes.

use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::time::Duration;

use clap::Args;
use sedimentdb::query::{Explain, Parallelism, QueryResult, ValueFilter};
use std::sync::Arc;

use sedimentdb::{Aggregate, Query, Selector, SeriesKey};

use crate::exit::{CliError, CliResult, Status};
use crate::output::{Format, Global};
use crate::result_out::{write_csv, write_json, write_jsonl, write_table, Answer};
use crate::selectarg::{parse_aggregate, parse_value_filter, SelectorArgs};
use crate::timearg::{parse_std_duration, RangeArgs};

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub select: SelectorArgs,

    #[command(flatten)]
    pub range: RangeArgs,

    /// Downsample into buckets this wide (`1m`, `5m`, `1h`), aligned to the epoch.
    #[arg(long, value_parser = parse_std_duration)]
    pub step: Option<Duration>,

    /// The aggregate of each bucket (with --step) or of the whole range: count, sum, min,
    /// max, avg, first, last, stddev, median, p90, p99, q0.25. Default with --step: avg.
    #[arg(long, value_parser = parse_aggregate)]
    pub agg: Option<Aggregate>,

    /// One result series per value of these dimensions (comma-separated or repeated);
    /// needs --agg or --step.
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,

    /// Keep only values passing this condition, e.g. "> 90" (the buckets' values when
    /// aggregating, else the points').
    #[arg(long = "where", value_parser = parse_value_filter, allow_hyphen_values = true)]
    pub filter: Option<ValueFilter>,

    /// Keep the N series with the largest values (ranked by --agg, or by max).
    #[arg(long)]
    pub top: Option<usize>,

    /// Also report how the query ran (segments pruned, chunks decoded...): on stderr,
    /// and under "explain" in --format json.
    #[arg(long)]
    pub explain: bool,

    /// table (default on a terminal), json, jsonl (default when piped) or csv.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Queries of at most this many series run on the calling thread.
const SERIAL_SERIES: usize = 64;

/// Builds the engine query the arguments describe.
pub fn build_query(
    selector: Selector,
    range: sedimentdb::TimeRange,
    args: &QueryArgs,
) -> CliResult<Query> {
    let mut q = Query::select(selector).range(range);
    let aggregate = match (args.step, args.agg) {
        (Some(step), agg) => {
            let agg = agg.unwrap_or(Aggregate::Avg);
            q = q.downsample(step, agg);
            Some(agg)
        }
        (None, Some(agg)) => {
            q = q.aggregate(agg);
            Some(agg)
        }
        (None, None) => None,
    };
    if !args.group_by.is_empty() {
        if aggregate.is_none() {
            return Err(CliError::new(
                "--group-by needs --agg or --step (e.g. --step 5m --agg max --group-by host)",
            ));
        }
        q = q.group_by(args.group_by.iter().cloned());
    }
    if let Some(f) = args.filter {
        q = if aggregate.is_some() {
            q.having(f)
        } else {
            q.where_value(f)
        };
    }
    if let Some(k) = args.top {
        if k == 0 {
            return Err(CliError::new("--top needs at least 1"));
        }
        q = q.top_k(k, aggregate.unwrap_or(Aggregate::Max));
    }
    Ok(q)
}

/// The unit of each result series: its series' `unit` attribute; for a group, the one
/// unit every matched series shares (none if they differ).
fn units(matched: &[Arc<SeriesKey>], result: &QueryResult) -> Vec<Option<String>> {
    let grouped = result
        .series
        .iter()
        .any(|s| s.labels.series_key().is_none());
    let shared = if grouped {
        let found: BTreeSet<Option<String>> = matched
            .iter()
            .map(|k| k.dimension("unit").map(str::to_string))
            .collect();
        if found.len() == 1 {
            found.into_iter().next().flatten()
        } else {
            None
        }
    } else {
        None
    };
    result
        .series
        .iter()
        .map(|s| match s.labels.series_key() {
            Some(k) => k.dimension("unit").map(str::to_string),
            None => shared.clone(),
        })
        .collect()
}

/// Runs the query and prints the answer.
pub fn run(global: &Global, args: QueryArgs) -> CliResult<Status> {
    let selector = args.select.resolve(true)?;
    let db = global.open_for_reading()?;
    let resolved = args.range.resolve_with_now(&db, &selector)?;
    let range = resolved.range;
    let mut query = build_query(selector.clone(), range, &args)?;
    // A short-lived process pays for starting the thread pool on its first parallel
    // query (milliseconds on a busy machine): a few series run on this thread.
    let matched = db.list_series(&selector)?;
    if matched.len() <= SERIAL_SERIES {
        query = query.parallelism(Parallelism::Off);
    }
    let (result, explain) = db
        .query_explained(&query)
        .map_err(|e| CliError::new(format!("query: {e}")))?;
    if explain.series_matched == 0 {
        return Err(CliError::new(format!(
            "no series matches {selector} (list them with `sediment series`)"
        )));
    }
    let answer = Answer {
        selector: selector.to_string(),
        range,
        ends_now: resolved.ends_now,
        step_ns: query.bucket_ns(),
        aggregate: query.aggregate_fn().map(Aggregate::name),
        units: units(&matched, &result),
        result: &result,
        explain: args.explain.then_some(&explain),
        matched: &matched,
    };
    let format = Format::resolve(args.format, global);
    let written = print(&answer, format, global.color);
    if args.explain {
        print_explain(&explain);
    }
    db.close()?;
    match written {
        Ok(()) => Ok(Status::Ok),
        // The reader went away (`| head`): not an error of the query.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Status::Ok),
        Err(e) => Err(CliError::new(format!("cannot write the output: {e}"))),
    }
}

fn print(answer: &Answer<'_>, format: Format, color: bool) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Table => write_table(&mut out, answer, color)?,
        Format::Json => write_json(&mut out, answer)?,
        Format::Jsonl => write_jsonl(&mut out, answer)?,
        Format::Csv => write_csv(&mut out, answer)?,
    }
    out.flush()
}

fn print_explain(explain: &Explain) {
    for line in explain.to_string().lines() {
        eprintln!("explain: {line}");
    }
}
