//! A query result written out: an aligned table with units and sparklines for people,
//! or JSON, JSON lines and CSV for programs (field names are stable).

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use sedimentdb::query::{Explain, QueryResult};
use sedimentdb::TimeRange;

use crate::render::labels::{common, distinguishing, short_name, FlatLabels};
use crate::render::number::human;
use crate::render::sparkline::sparkline;
use crate::render::table::{Align, Table};
use crate::timearg::rfc3339;

/// A result with what describes it.
pub struct Answer<'a> {
    /// The selector as text.
    pub selector: String,
    /// The range read.
    pub range: TimeRange,
    /// "Now", when the range ends at it (inclusive).
    pub ends_now: Option<sedimentdb::Timestamp>,
    /// The bucket width, when downsampled.
    pub step_ns: Option<i64>,
    /// The aggregate's name, when aggregated.
    pub aggregate: Option<String>,
    /// The result.
    pub result: &'a QueryResult,
    /// Each result series' unit (the `unit` attribute of its series).
    pub units: Vec<Option<String>>,
    /// How the query ran, when asked.
    pub explain: Option<&'a Explain>,
    /// The series the selector matched (to choose the labels that name a table's rows).
    pub matched: &'a [std::sync::Arc<sedimentdb::SeriesKey>],
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn labels_json(l: &FlatLabels) -> Value {
    let mut m = Map::new();
    for (k, v) in &l.dims {
        m.insert(k.clone(), v.clone().map_or(Value::Null, Value::String));
    }
    Value::Object(m)
}

/// One JSON document: `{"selector", "start", "end", "step_ns", "aggregate", "series":
/// [{"metric", "labels", "unit", "series_count", "timestamps", "values"}], "explain"?}`.
/// Timestamps are integer nanoseconds; a missing value (NaN) is `null`.
pub fn write_json(out: &mut dyn Write, a: &Answer<'_>) -> io::Result<()> {
    let series: Vec<Value> = a
        .result
        .series
        .iter()
        .zip(&a.units)
        .map(|(s, unit)| {
            let l = FlatLabels::new(&s.labels);
            json!({
                "metric": l.metric,
                "labels": labels_json(&l),
                "unit": unit,
                "series_count": s.series_count,
                "timestamps": s.timestamps,
                "values": s.values.iter().map(|&v| number(v)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = json!({
        "selector": a.selector,
        "start": a.range.start,
        "end": a.range.end,
        "step_ns": a.step_ns,
        "aggregate": a.aggregate,
        "series": series,
    });
    if let Some(e) = a.explain {
        doc["explain"] = serde_json::to_value(e).map_err(io::Error::other)?;
    }
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

/// One JSON object per point: `{"metric", "labels", "unit", "ts", "value"}`.
pub fn write_jsonl(out: &mut dyn Write, a: &Answer<'_>) -> io::Result<()> {
    for (s, unit) in a.result.series.iter().zip(&a.units) {
        let l = FlatLabels::new(&s.labels);
        let head = json!({ "metric": l.metric, "labels": labels_json(&l), "unit": unit });
        for (t, v) in s.points() {
            let mut row = head.clone();
            row["ts"] = json!(t);
            row["value"] = number(v);
            serde_json::to_writer(&mut *out, &row).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: `ts,metric,<every label dimension>,value`, one row per point; a missing value
/// is an empty cell.
pub fn write_csv(out: &mut dyn Write, a: &Answer<'_>) -> io::Result<()> {
    let flat: Vec<FlatLabels> = a
        .result
        .series
        .iter()
        .map(|s| FlatLabels::new(&s.labels))
        .collect();
    let mut dims: Vec<&String> = flat.iter().flat_map(|l| l.dims.keys()).collect();
    dims.sort();
    dims.dedup();
    let mut header = vec!["ts".to_string(), "metric".to_string()];
    header.extend(dims.iter().map(|d| csv_field(d)));
    header.push("value".into());
    writeln!(out, "{}", header.join(","))?;
    for (s, l) in a.result.series.iter().zip(&flat) {
        let mut prefix = csv_field(l.metric.as_deref().unwrap_or(""));
        for d in &dims {
            prefix.push(',');
            if let Some(Some(v)) = l.dims.get(*d) {
                prefix.push_str(&csv_field(v));
            }
        }
        for (t, v) in s.points() {
            if v.is_nan() {
                writeln!(out, "{t},{prefix},")?;
            } else {
                writeln!(out, "{t},{prefix},{v}")?;
            }
        }
    }
    Ok(())
}

/// For people: a line saying the range and what is common to every row, then one row
/// per result series: its distinguishing labels, then its value with the unit (one
/// point each) or its points, min, avg, max and last with the unit and a sparkline.
pub fn write_table(out: &mut dyn Write, a: &Answer<'_>, color: bool) -> io::Result<()> {
    let flat: Vec<FlatLabels> = a
        .result
        .series
        .iter()
        .map(|s| FlatLabels::new(&s.labels))
        .collect();
    let shared = common(&flat);
    let population: Vec<FlatLabels> = a
        .matched
        .iter()
        .map(|k| FlatLabels::new(&sedimentdb::query::Labels::Series(k.clone())))
        .collect();
    let shown = distinguishing(&flat, &shared, &population);
    let mut what = a.selector.clone();
    if let Some(agg) = &a.aggregate {
        what.push_str(&format!(", {agg}"));
        if let Some(step) = a.step_ns {
            what.push_str(&format!(
                " per {}",
                humantime::format_duration(std::time::Duration::from_nanos(step as u64))
            ));
        }
    }
    let start = if a.range.start <= sedimentdb::MIN_TIMESTAMP {
        "the beginning".to_string()
    } else {
        rfc3339(a.range.start)
    };
    let end = if let Some(now) = a.ends_now {
        format!("{} (now)", rfc3339(now))
    } else if a.range.end > sedimentdb::MAX_TIMESTAMP {
        "the end".to_string()
    } else {
        rfc3339(a.range.end)
    };
    writeln!(out, "{what} from {start} to {end}")?;
    if !shared.is_empty() {
        let text: Vec<String> = shared.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let what = if flat.len() == 1 {
            "labels"
        } else {
            "all series"
        };
        writeln!(out, "{what}: {}", text.join(", "))?;
    }
    if a.result.is_empty() {
        writeln!(out, "no points")?;
        return Ok(());
    }
    let single = a.result.series.iter().all(|s| s.len() <= 1);
    let unit_of = |u: &Option<String>| u.clone().unwrap_or_default();
    let table = if single {
        let mut t = Table::new(&[
            ("SERIES", Align::Left),
            ("VALUE", Align::Right),
            ("UNIT", Align::Left),
            ("AT", Align::Left),
        ]);
        for ((s, l), u) in a.result.series.iter().zip(&flat).zip(&a.units) {
            t.row(vec![
                short_name(l, &shown),
                human(s.values[0]),
                unit_of(u),
                rfc3339(s.timestamps[0]),
            ]);
        }
        t
    } else {
        let mut t = Table::new(&[
            ("SERIES", Align::Left),
            ("POINTS", Align::Right),
            ("MIN", Align::Right),
            ("AVG", Align::Right),
            ("MAX", Align::Right),
            ("LAST", Align::Right),
            ("UNIT", Align::Left),
            ("TREND", Align::Left),
        ]);
        for ((s, l), u) in a.result.series.iter().zip(&flat).zip(&a.units) {
            let finite: Vec<f64> = s.values.iter().copied().filter(|v| !v.is_nan()).collect();
            let min = finite.iter().copied().fold(f64::NAN, f64::min);
            let max = finite.iter().copied().fold(f64::NAN, f64::max);
            let avg = if finite.is_empty() {
                f64::NAN
            } else {
                finite.iter().sum::<f64>() / finite.len() as f64
            };
            let last = finite.last().copied().unwrap_or(f64::NAN);
            let spark = sparkline(&s.values, 30);
            t.row(vec![
                short_name(l, &shown),
                s.len().to_string(),
                human(min),
                human(avg),
                human(max),
                human(last),
                unit_of(u),
                if color {
                    format!("\x1b[36m{spark}\x1b[0m")
                } else {
                    spark
                },
            ]);
        }
        t
    };
    out.write_all(table.render(color).as_bytes())
}
