//! The line-protocol reader. Per line it hashes the raw `measurement,tags` bytes once to
//! find the tag set it has seen before; new tag sets and fields are parsed and validated
//! once, so a line of known series costs no allocation.

use std::collections::HashMap;
use std::io::Read;

use sedimentdb::SeriesKey;

use crate::batch::{ParsedPoint, PointBatch};
use crate::error::ReadError;
use crate::lines::Lines;
use crate::number::{self, Precision};
use crate::reader::{PointReader, ReadOptions};
use crate::series::SeriesTable;

/// Raw field keys of a tag set and the series of each (or why the key is unusable).
type FieldSeries = Vec<(Box<[u8]>, Result<u32, String>)>;

/// A tag set seen before, with the series of each of its fields.
struct TagSet {
    /// The measurement and tags unescaped, or why they are unusable.
    parsed: Result<(String, Vec<(String, String)>), String>,
    /// Raw field key -> series id (or why the key is unusable).
    fields: FieldSeries,
}

/// Reads line protocol; see the [module documentation](super).
pub struct InfluxReader<R> {
    lines: Lines<R>,
    precision: Precision,
    now: i64,
    batch_points: usize,
    series: SeriesTable,
    tag_sets: HashMap<Box<[u8]>, u32, ahash::RandomState>,
    sets: Vec<TagSet>,
    /// The fields of the current line: (raw key, value or why not).
    line_fields: Vec<(std::ops::Range<usize>, Result<f64, String>)>,
}

impl<R: Read> InfluxReader<R> {
    /// A reader over `input`.
    pub fn new(input: R, options: &ReadOptions) -> Self {
        InfluxReader {
            lines: Lines::new(input),
            precision: options.precision.unwrap_or(Precision::Nanos),
            now: options.now,
            batch_points: options.batch_points,
            series: SeriesTable::new(options.limits),
            tag_sets: HashMap::default(),
            sets: Vec::new(),
            line_fields: Vec::new(),
        }
    }
}

impl<R: Read> PointReader for InfluxReader<R> {
    fn read_batch(&mut self, batch: &mut PointBatch) -> Result<bool, ReadError> {
        batch.clear();
        while batch.points.len() < self.batch_points {
            let Some((number, line)) = self.lines.next_line()? else {
                break;
            };
            // Borrow juggling: `line` borrows `self.lines`; the rest of self is separate.
            let state = State {
                precision: self.precision,
                now: self.now,
                series: &mut self.series,
                tag_sets: &mut self.tag_sets,
                sets: &mut self.sets,
                line_fields: &mut self.line_fields,
            };
            state.parse_line(line, number, batch);
        }
        Ok(!batch.points.is_empty() || !batch.skipped.is_empty())
    }

    fn series(&self) -> &SeriesTable {
        &self.series
    }

    fn bytes_read(&self) -> u64 {
        self.lines.bytes()
    }

    fn lines_read(&self) -> u64 {
        self.lines.line()
    }
}

struct State<'a> {
    precision: Precision,
    now: i64,
    series: &'a mut SeriesTable,
    tag_sets: &'a mut HashMap<Box<[u8]>, u32, ahash::RandomState>,
    sets: &'a mut Vec<TagSet>,
    line_fields: &'a mut Vec<(std::ops::Range<usize>, Result<f64, String>)>,
}

impl State<'_> {
    fn parse_line(self, line: &[u8], number: u64, batch: &mut PointBatch) {
        let start = line
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(line.len());
        let line = &line[start..];
        if line.is_empty() || line[0] == b'#' {
            return;
        }
        if let Err(reason) = self.parse_points(line, batch) {
            batch.skip(number, reason);
        }
    }

    fn parse_points(self, line: &[u8], batch: &mut PointBatch) -> Result<(), String> {
        let key_end = find_unescaped(line, 0, |b| b == b' ')
            .ok_or("no field set (expected `measurement[,tags] field=value [timestamp]`)")?;
        let fields_start = key_end + 1;
        let (fields_end, ts_text) = split_fields(line, fields_start)?;
        let ts = match ts_text {
            Some(text) => number::parse_int_timestamp(text, self.precision)?,
            None => self.now,
        };
        self.line_fields.clear();
        parse_field_set(line, fields_start, fields_end, self.line_fields)?;

        let raw_key = &line[..key_end];
        let set_id = match self.tag_sets.get(raw_key) {
            Some(&id) => id,
            None => {
                let id = self.sets.len() as u32;
                self.sets.push(TagSet {
                    parsed: parse_series_part(raw_key),
                    fields: Vec::new(),
                });
                self.tag_sets.insert(raw_key.into(), id);
                id
            }
        };
        let set = &mut self.sets[set_id as usize];
        let (measurement, tags) = set.parsed.as_ref().map_err(Clone::clone)?;
        let mut problems: Vec<String> = Vec::new();
        for (i, (key_range, value)) in self.line_fields.iter().enumerate() {
            let raw_field = &line[key_range.clone()];
            // Lines of one tag set usually list the same fields in the same order.
            let slot = match set.fields.get(i) {
                Some((k, _)) if **k == *raw_field => i,
                _ => match set.fields.iter().position(|(k, _)| **k == *raw_field) {
                    Some(j) => j,
                    None => {
                        let field = unescape(raw_field);
                        let metric = if field == "value" {
                            measurement.clone()
                        } else {
                            format!("{measurement}_{field}")
                        };
                        let key = SeriesKey::from_parts(metric, tags.iter().cloned());
                        let id = self.series.intern(key);
                        set.fields.push((raw_field.into(), id));
                        set.fields.len() - 1
                    }
                },
            };
            match (&set.fields[slot].1, value) {
                (Ok(series), Ok(value)) => batch.points.push(ParsedPoint {
                    series: *series,
                    ts,
                    value: *value,
                }),
                (Err(reason), _) | (_, Err(reason)) => problems.push(format!(
                    "field {:?}: {reason}",
                    String::from_utf8_lossy(raw_field)
                )),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The first position at or after `from` where `stop` holds for an unescaped byte.
fn find_unescaped(line: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = from;
    while i < line.len() {
        let b = line[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if stop(b) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Where the field set ends, and the timestamp text after it (if any). Quoted string
/// values may hold spaces and commas.
fn split_fields(line: &[u8], from: usize) -> Result<(usize, Option<&[u8]>), String> {
    let mut i = from;
    let mut quoted = false;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 1,
            b'"' => quoted = !quoted,
            b' ' if !quoted => break,
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return Err("unterminated string field value".into());
    }
    let end = i.min(line.len());
    let rest = line.get(end..).unwrap_or(&[]);
    let rest = trim_spaces(rest);
    Ok((end, if rest.is_empty() { None } else { Some(rest) }))
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ').map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Splits `field=value,field=value` into (key range, value).
fn parse_field_set(
    line: &[u8],
    start: usize,
    end: usize,
    out: &mut Vec<(std::ops::Range<usize>, Result<f64, String>)>,
) -> Result<(), String> {
    if start >= end {
        return Err("empty field set".into());
    }
    let mut i = start;
    while i < end {
        let eq = find_unescaped(&line[..end], i, |b| b == b'=' || b == b',')
            .filter(|&j| line[j] == b'=')
            .ok_or_else(|| {
                format!(
                    "field {:?} has no `=value`",
                    String::from_utf8_lossy(&line[i..end])
                )
            })?;
        if eq == i {
            return Err("a field has an empty name".into());
        }
        let key = i..eq;
        let v = eq + 1;
        let (value, next) = if line.get(v) == Some(&b'"') {
            let close = find_unescaped(&line[..end], v + 1, |b| b == b'"')
                .ok_or("unterminated string field value")?;
            (Err("is a string, not a number".to_string()), close + 1)
        } else {
            let stop = memchr::memchr(b',', &line[v..end]).map_or(end, |j| v + j);
            (parse_field_value(&line[v..stop]), stop)
        };
        out.push((key, value));
        if next < end && line[next] != b',' {
            return Err(format!(
                "unexpected {:?} after a field value",
                line[next] as char
            ));
        }
        i = next + 1;
        if next + 1 == end {
            return Err("the field set ends with a comma".into());
        }
    }
    Ok(())
}

fn parse_field_value(text: &[u8]) -> Result<f64, String> {
    let bad = || format!("value {:?} is not a number", String::from_utf8_lossy(text));
    match text {
        [] => Err("has no value".into()),
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => Ok(1.0),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => Ok(0.0),
        [digits @ .., b'i'] => number::parse_i64(digits).map(|n| n as f64).ok_or_else(bad),
        [digits @ .., b'u'] if !digits.starts_with(b"-") => std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok())
            .map(|n| n as f64)
            .ok_or_else(bad),
        _ => number::parse_f64(text).ok_or_else(bad),
    }
}

/// `measurement,tag=value,...` unescaped.
fn parse_series_part(raw: &[u8]) -> Result<(String, Vec<(String, String)>), String> {
    let m_end = find_unescaped(raw, 0, |b| b == b',').unwrap_or(raw.len());
    if m_end == 0 {
        return Err("the measurement name is empty".into());
    }
    let measurement = unescape(&raw[..m_end]);
    let mut tags = Vec::new();
    let mut i = m_end + 1;
    while i <= raw.len() && m_end < raw.len() {
        let end = find_unescaped(raw, i, |b| b == b',').unwrap_or(raw.len());
        let pair = &raw[i..end];
        let eq = find_unescaped(pair, 0, |b| b == b'=')
            .ok_or_else(|| format!("tag {:?} has no `=value`", String::from_utf8_lossy(pair)))?;
        if eq == 0 {
            return Err("a tag has an empty key".into());
        }
        if eq + 1 == pair.len() {
            return Err(format!(
                "tag {:?} has an empty value",
                unescape(&pair[..eq])
            ));
        }
        tags.push((unescape(&pair[..eq]), unescape(&pair[eq + 1..])));
        i = end + 1;
    }
    Ok((measurement, tags))
}

/// Removes the escapes: a backslash before `,`, `=`, space, `"` or `\` stands for that
/// byte; before anything else it is kept.
fn unescape(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\'
            && i + 1 < raw.len()
            && matches!(raw[i + 1], b',' | b'=' | b' ' | b'"' | b'\\')
        {
            out.push(raw[i + 1]);
            i += 2;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Vec<(String, i64, f64)>, Vec<String>) {
        let mut reader = InfluxReader::new(text.as_bytes(), &ReadOptions::default().now(7));
        let mut batch = PointBatch::new();
        let (mut points, mut skipped) = (Vec::new(), Vec::new());
        while reader.read_batch(&mut batch).unwrap() {
            for p in &batch.points {
                points.push((reader.series().key(p.series).to_string(), p.ts, p.value));
            }
            skipped.extend(batch.skipped.iter().map(|s| s.to_string()));
        }
        (points, skipped)
    }

    #[test]
    fn fields_become_series_and_tags_dimensions() {
        let (points, skipped) = read_all(
            "cpu,host=a,region=eu usage_user=1.5,usage_system=2i 1000\n\
             # a comment\n\n\
             mem value=3u\n\
             up,host=a ok=true,down=F 5\n",
        );
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            points,
            vec![
                ("cpu_usage_user{host=\"a\",region=\"eu\"}".into(), 1000, 1.5),
                (
                    "cpu_usage_system{host=\"a\",region=\"eu\"}".into(),
                    1000,
                    2.0
                ),
                ("mem".into(), 7, 3.0),
                ("up_ok{host=\"a\"}".into(), 5, 1.0),
                ("up_down{host=\"a\"}".into(), 5, 0.0),
            ]
        );
    }

    #[test]
    fn escapes_in_tags_and_fields() {
        let (points, skipped) = read_all("m,k=a\\,b\\=c\\\\\\ d,z=p\\q f=1 1\n");
        assert!(skipped.is_empty(), "{skipped:?}");
        let key = SeriesKey::from_parts("m_f", [("k", "a,b=c\\ d"), ("z", "p\\q")]);
        assert_eq!(points, vec![(key.to_string(), 1, 1.0)]);
    }

    #[test]
    fn bad_lines_are_skipped_with_their_number_and_reason() {
        let (points, skipped) = read_all(
            "cpu f=1 1\n\
             cpu\n\
             cpu f=abc 1\n\
             cpu f=1 12x\n\
             cpu,host f=1 1\n\
             cpu s=\"a b, c\",f=2 3\n\
             cpu f=1,\n\
             2cpu f=1 1\n\
             cpu f=1 99999999999999999999\n",
        );
        assert_eq!(points.len(), 2, "{points:?}");
        assert_eq!(points[1], ("cpu_f".into(), 3, 2.0));
        let expected = [
            "line 2: no field set",
            "line 3: field \"f\": value \"abc\" is not a number",
            "line 4: timestamp \"12x\" is not an integer",
            "line 5: tag \"host\" has no `=value`",
            "line 6: field \"s\": is a string, not a number",
            "line 7: the field set ends with a comma",
            "line 8: field \"f\": metric name \"2cpu_f\"",
            "line 9: timestamp \"99999999999999999999\" is not an integer",
        ];
        assert_eq!(skipped.len(), expected.len(), "{skipped:#?}");
        for (got, want) in skipped.iter().zip(expected) {
            assert!(
                got.starts_with(want),
                "{got:?} does not start with {want:?}"
            );
        }
    }

    #[test]
    fn precision_scales_timestamps() {
        let opts = ReadOptions::default().precision(Precision::Seconds);
        let mut reader = InfluxReader::new(&b"cpu f=1 1451606400\n"[..], &opts);
        let mut batch = PointBatch::new();
        assert!(reader.read_batch(&mut batch).unwrap());
        assert_eq!(batch.points[0].ts, 1_451_606_400_000_000_000);
        assert!(!reader.read_batch(&mut batch).unwrap());
    }
}
