//! CSV in long format: `ts,metric,dimension...,value`, one point per row.
//!
//! The header names the columns. By default the timestamp is the first column named
//! `ts`, `timestamp` or `time` (else column 1), the metric the first named `metric` or
//! `name` (else column 2), the value the last named `value` (else the last column); every
//! other column is a dimension named by its header, and an empty cell means the series
//! has no such dimension (so an empty dimension value reads back as absent). A
//! [`ColumnMap`] (`--columns ts=time,metric=name,value=v,ignore=note`) names them instead.
//! Timestamps are integers in the reader's precision (default nanoseconds) or RFC 3339.
//! Values are decimal or scientific, `NaN`, `+Inf`, `-Inf`.
//!
//! The writer writes a header of `ts`, `metric`, the dimension keys of the selection
//! (sorted), `value`, timestamps as integer nanoseconds, and quotes cells as RFC 4180
//! says (a comma, quote, CR or LF inside).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::str::FromStr;

use sedimentdb::{SeriesKey, SeriesPoints};

use crate::batch::{ParsedPoint, PointBatch};
use crate::error::{ReadError, WriteError};
use crate::number::{self, Precision};
use crate::reader::{PointReader, ReadOptions};
use crate::series::SeriesTable;
use crate::timefmt;
use crate::writer::{PointWriter, Sink};

/// Which header column holds the timestamp, the metric and the value, and which columns
/// to ignore; unnamed roles are found by the defaults of the [module](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnMap {
    /// The timestamp column.
    pub ts: Option<String>,
    /// The metric column.
    pub metric: Option<String>,
    /// The value column.
    pub value: Option<String>,
    /// Columns that are neither a role nor a dimension.
    pub ignore: Vec<String>,
}

impl FromStr for ColumnMap {
    type Err = String;

    /// `role=column,...` with roles `ts`, `metric`, `value` and `ignore` (repeatable).
    fn from_str(text: &str) -> Result<Self, String> {
        let mut map = ColumnMap::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, column) = part.split_once('=').ok_or_else(|| {
                format!("{part:?} is not role=column (roles: ts, metric, value, ignore)")
            })?;
            let column = column.trim().to_string();
            match role.trim() {
                "ts" | "time" | "timestamp" => map.ts = Some(column),
                "metric" | "name" => map.metric = Some(column),
                "value" => map.value = Some(column),
                "ignore" => map.ignore.push(column),
                other => {
                    return Err(format!(
                        "unknown role {other:?} (roles: ts, metric, value, ignore)"
                    ))
                }
            }
        }
        Ok(map)
    }
}

/// Where each role sits in the header.
struct Layout {
    ts: usize,
    metric: usize,
    value: usize,
    dims: Vec<(usize, String)>,
    width: usize,
}

fn layout(header: &csv::ByteRecord, map: &ColumnMap) -> Result<Layout, String> {
    let names: Vec<String> = header
        .iter()
        .map(|c| String::from_utf8_lossy(c).trim().to_string())
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let named = |role: &str, asked: &Option<String>| -> Result<Option<usize>, String> {
        match asked {
            Some(col) => find(col)
                .map(Some)
                .ok_or_else(|| format!("the header has no column {col:?} for the {role}")),
            None => Ok(None),
        }
    };
    let ts = named("timestamp", &map.ts)?
        .or_else(|| ["ts", "timestamp", "time"].iter().find_map(|n| find(n)))
        .unwrap_or(0);
    let metric = named("metric", &map.metric)?
        .or_else(|| ["metric", "name"].iter().find_map(|n| find(n)))
        .unwrap_or(1);
    let value = named("value", &map.value)?
        .or_else(|| names.iter().rposition(|n| n == "value"))
        .unwrap_or(names.len().saturating_sub(1));
    if names.len() < 3
        || ts == metric
        || ts == value
        || metric == value
        || value >= names.len()
        || metric >= names.len()
    {
        return Err(format!(
            "the header {:?} needs distinct timestamp, metric and value columns (see --columns)",
            names.join(",")
        ));
    }
    let dims = names
        .iter()
        .enumerate()
        .filter(|(i, n)| ![ts, metric, value].contains(i) && !map.ignore.contains(n))
        .map(|(i, n)| (i, n.clone()))
        .collect();
    Ok(Layout {
        ts,
        metric,
        value,
        dims,
        width: names.len(),
    })
}

/// Reads CSV long format; see the [module documentation](self).
pub struct CsvReader<R: Read> {
    csv: csv::Reader<R>,
    map: ColumnMap,
    layout: Option<Layout>,
    record: csv::ByteRecord,
    precision: Precision,
    batch_points: usize,
    series: SeriesTable,
    cache: HashMap<Box<[u8]>, Result<u32, String>, ahash::RandomState>,
    raw_key: Vec<u8>,
    lines: u64,
}

impl<R: Read> CsvReader<R> {
    /// A reader over `input`.
    pub fn new(input: R, options: &ReadOptions) -> Self {
        CsvReader {
            csv: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(1 << 20)
                .from_reader(input),
            map: options.columns.clone(),
            layout: None,
            record: csv::ByteRecord::new(),
            precision: options.precision.unwrap_or(Precision::Nanos),
            batch_points: options.batch_points,
            series: SeriesTable::new(options.limits),
            cache: HashMap::default(),
            raw_key: Vec::new(),
            lines: 0,
        }
    }

    fn row(&mut self, layout: &Layout) -> Result<ParsedPoint, String> {
        let rec = &self.record;
        if rec.len() != layout.width {
            return Err(format!(
                "{} cells where the header has {}",
                rec.len(),
                layout.width
            ));
        }
        let ts_text = trim(&rec[layout.ts]);
        let ts = if ts_text
            .first()
            .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
            && ts_text.iter().skip(1).all(u8::is_ascii_digit)
        {
            number::parse_int_timestamp(ts_text, self.precision)?
        } else {
            std::str::from_utf8(ts_text)
                .ok()
                .and_then(timefmt::parse_rfc3339)
                .ok_or_else(|| {
                    format!(
                        "timestamp {:?} is neither an integer nor RFC 3339",
                        String::from_utf8_lossy(ts_text)
                    )
                })
                .and_then(number::check_range)?
        };
        let value_text = trim(&rec[layout.value]);
        let value = number::parse_f64(value_text).ok_or_else(|| {
            format!(
                "value {:?} is not a number",
                String::from_utf8_lossy(value_text)
            )
        })?;
        self.raw_key.clear();
        self.raw_key.extend_from_slice(&rec[layout.metric]);
        for (i, _) in &layout.dims {
            self.raw_key.push(0xff);
            self.raw_key.extend_from_slice(&rec[*i]);
        }
        let series = match self.cache.get(self.raw_key.as_slice()) {
            Some(known) => known.clone()?,
            None => {
                let metric = String::from_utf8_lossy(&rec[layout.metric]).into_owned();
                let dims = layout.dims.iter().filter_map(|(i, name)| {
                    let cell = &rec[*i];
                    (!cell.is_empty())
                        .then(|| (name.clone(), String::from_utf8_lossy(cell).into_owned()))
                });
                let id = self.series.intern(SeriesKey::from_parts(metric, dims));
                self.cache
                    .insert(self.raw_key.as_slice().into(), id.clone());
                id?
            }
        };
        Ok(ParsedPoint { series, ts, value })
    }
}

fn trim(cell: &[u8]) -> &[u8] {
    let start = cell
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &cell[start..end]
}

impl<R: Read> PointReader for CsvReader<R> {
    fn read_batch(&mut self, batch: &mut PointBatch) -> Result<bool, ReadError> {
        batch.clear();
        let csv_error = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(io) => ReadError::Io(io),
            other => ReadError::Invalid {
                line: 0,
                message: format!("{other:?}"),
            },
        };
        if self.layout.is_none() {
            if !self
                .csv
                .read_byte_record(&mut self.record)
                .map_err(csv_error)?
            {
                return Ok(false);
            }
            self.lines = self.csv.position().line();
            let layout = layout(&self.record, &self.map)
                .map_err(|message| ReadError::Invalid { line: 1, message })?;
            self.layout = Some(layout);
        }
        let layout = self.layout.take().unwrap_or_else(|| unreachable!());
        let result = (|| {
            while batch.points.len() < self.batch_points {
                if !self
                    .csv
                    .read_byte_record(&mut self.record)
                    .map_err(csv_error)?
                {
                    break;
                }
                let line = self.record.position().map_or(0, |p| p.line());
                self.lines = self.csv.position().line();
                if self.record.len() == 1 && self.record[0].is_empty() {
                    continue;
                }
                match self.row(&layout) {
                    Ok(p) => batch.points.push(p),
                    Err(reason) => batch.skip(line, reason),
                }
            }
            Ok(!batch.points.is_empty() || !batch.skipped.is_empty())
        })();
        self.layout = Some(layout);
        result
    }

    fn series(&self) -> &SeriesTable {
        &self.series
    }

    fn bytes_read(&self) -> u64 {
        self.csv.position().byte()
    }

    fn lines_read(&self) -> u64 {
        self.lines
    }
}

/// Writes CSV long format; see the [module documentation](self).
pub struct CsvWriter<W: Write> {
    sink: Sink<W>,
    dims: Vec<String>,
    middle: Vec<u8>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer into `out` whose dimension columns are `dimension_keys` (sorted and
    /// de-duplicated here); writes the header at once.
    pub fn new(out: W, dimension_keys: impl IntoIterator<Item = String>) -> Self {
        let mut dims: Vec<String> = dimension_keys.into_iter().collect();
        dims.sort();
        dims.dedup();
        let mut sink = Sink::new(out);
        sink.buf.extend_from_slice(b"ts,metric,");
        for d in &dims {
            quote_into(&mut sink.buf, d);
            sink.buf.push(b',');
        }
        sink.buf.extend_from_slice(b"value\n");
        CsvWriter {
            sink,
            dims,
            middle: Vec::new(),
        }
    }
}

fn quote_into(out: &mut Vec<u8>, cell: &str) {
    if cell
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || cell.starts_with(char::is_whitespace)
        || cell.ends_with(char::is_whitespace)
    {
        out.push(b'"');
        for b in cell.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

impl<W: Write> PointWriter for CsvWriter<W> {
    fn write_series(&mut self, points: &SeriesPoints) -> Result<(), WriteError> {
        let key = &points.key;
        self.middle.clear();
        self.middle.push(b',');
        quote_into(&mut self.middle, key.name());
        self.middle.push(b',');
        let mut used = 0;
        for d in &self.dims {
            if let Some(v) = key.dimension(d) {
                quote_into(&mut self.middle, v);
                used += 1;
            }
            self.middle.push(b',');
        }
        if used != key.dimensions().len() {
            return Err(WriteError::Unrepresentable {
                series: key.to_string(),
                reason: "it has a dimension the CSV header was not given".into(),
            });
        }
        for (ts, value) in points.iter() {
            let buf = &mut self.sink.buf;
            number::write_i64(buf, ts);
            buf.extend_from_slice(&self.middle);
            number::write_f64(buf, value);
            buf.push(b'\n');
            self.sink.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), WriteError> {
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (series, timestamp, value) of every point read.
    type Read3 = Vec<(String, i64, f64)>;

    fn read_all(text: &str, opts: ReadOptions) -> Result<(Read3, Vec<String>), ReadError> {
        let mut reader = CsvReader::new(text.as_bytes(), &opts);
        let mut batch = PointBatch::new();
        let (mut points, mut skipped) = (Vec::new(), Vec::new());
        while reader.read_batch(&mut batch)? {
            for p in &batch.points {
                points.push((reader.series().key(p.series).to_string(), p.ts, p.value));
            }
            skipped.extend(batch.skipped.iter().map(|s| s.to_string()));
        }
        Ok((points, skipped))
    }

    #[test]
    fn header_roles_dimensions_and_timestamps() {
        let (points, skipped) = read_all(
            "ts,metric,host,dc,value\n\
             1,cpu,a,,1.5\n\
             2016-01-01T00:00:00Z,cpu,\"b,c\",x,-Inf\n\
             3,cpu,a,,nope\n\
             4,cpu,a\n\
             yesterday,cpu,a,,1\n",
            ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(points[0], (r#"cpu{host="a"}"#.into(), 1, 1.5));
        assert_eq!(
            points[1],
            (
                r#"cpu{dc="x",host="b,c"}"#.into(),
                1_451_606_400_000_000_000,
                f64::NEG_INFINITY
            )
        );
        assert_eq!(
            skipped,
            [
                "line 4: value \"nope\" is not a number",
                "line 5: 3 cells where the header has 5",
                "line 6: timestamp \"yesterday\" is neither an integer nor RFC 3339",
            ]
        );
    }

    #[test]
    fn a_column_map_names_the_roles() {
        let map: ColumnMap = "ts=when,metric=what,value=v,ignore=note".parse().unwrap();
        let (points, _) = read_all(
            "v,what,note,host,when\n2.5,mem,hello,h,7\n",
            ReadOptions::default()
                .columns(map)
                .precision(Precision::Seconds),
        )
        .unwrap();
        assert_eq!(
            points,
            vec![(r#"mem{host="h"}"#.into(), 7_000_000_000, 2.5)]
        );
        assert!("bogus=x".parse::<ColumnMap>().is_err());
        let err = read_all("a,b\n1,2\n", ReadOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("line 1: the header"), "{err}");
    }
}
