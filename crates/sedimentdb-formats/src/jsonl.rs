//! The metric-event JSONL schema, one event per line:
//! `{"id","timestamp","source","category","name","value","unit","dimensions":{..},"metadata":{..}}`
//! (the collector's `MetricEvent`).
//!
//! The collector stores `source`, `category` and `unit` as reserved dimensions of the
//! series (an empty unit is left out); the reader does the same, so importing the
//! collector's events gives the series the collector would have written. `timestamp` is
//! RFC 3339 or an integer of nanoseconds; `id` and `metadata` are not stored. JSON has no
//! NaN or infinities: the writer writes them as the strings `"NaN"`, `"+Inf"`, `"-Inf"`
//! and the reader accepts those (the collector itself only takes finite values).
//!
//! The writer takes `source`, `category` and `unit` back out of the dimensions (so they
//! are only written for series that have them) and writes timestamps in RFC 3339 UTC.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};

use sedimentdb::{SeriesKey, SeriesPoints};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::batch::{ParsedPoint, PointBatch};
use crate::error::{ReadError, WriteError};
use crate::lines::Lines;
use crate::number;
use crate::reader::{PointReader, ReadOptions};
use crate::series::SeriesTable;
use crate::timefmt;
use crate::writer::{PointWriter, Sink};

/// The dimensions that are fields of an event.
const ATTRIBUTES: [&str; 3] = ["source", "category", "unit"];

#[derive(Deserialize)]
struct EventLine<'a> {
    timestamp: Stamp,
    #[serde(borrow)]
    name: Cow<'a, str>,
    value: Value,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dimensions: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

struct Stamp(Result<i64, String>);
struct Value(Result<f64, String>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 string or integer nanoseconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp(number::check_range(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stamp, E> {
                Ok(Stamp(
                    i64::try_from(v)
                        .map_err(|_| format!("timestamp {v} is too large"))
                        .and_then(number::check_range),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stamp, E> {
                Ok(Stamp(
                    timefmt::parse_rfc3339(v)
                        .ok_or_else(|| format!("timestamp {v:?} is not RFC 3339"))
                        .and_then(number::check_range),
                ))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or \"NaN\", \"+Inf\", \"-Inf\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value(Ok(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value(Ok(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value(Ok(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value(match v {
                    "NaN" | "+Inf" | "-Inf" | "Inf" => {
                        Ok(number::parse_f64(v.as_bytes()).unwrap_or(f64::NAN))
                    }
                    _ => Err(format!("value {v:?} is not a number")),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads metric-event JSONL; see the [module documentation](self).
pub struct JsonlReader<R> {
    lines: Lines<R>,
    batch_points: usize,
    series: SeriesTable,
}

impl<R: Read> JsonlReader<R> {
    /// A reader over `input`.
    pub fn new(input: R, options: &ReadOptions) -> Self {
        JsonlReader {
            lines: Lines::new(input),
            batch_points: options.batch_points,
            series: SeriesTable::new(options.limits),
        }
    }
}

fn parse_event(line: &[u8], series: &mut SeriesTable) -> Result<ParsedPoint, String> {
    let event: EventLine = serde_json::from_slice(line).map_err(|e| {
        // serde_json's message ends in "at line 1 column N": the column is what helps.
        let msg = e.to_string();
        match msg.rfind(" at line 1 column ") {
            Some(i) => format!("{} (column {})", &msg[..i], &msg[i + 18..]),
            None => msg,
        }
    })?;
    let ts = event.timestamp.0?;
    let value = event.value.0?;
    let mut dims: Vec<(String, String)> = event
        .dimensions
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(s) = event.source {
        dims.push(("source".into(), s.into_owned()));
    }
    if let Some(c) = event.category {
        dims.push(("category".into(), c.into_owned()));
    }
    if let Some(u) = event.unit.filter(|u| !u.is_empty()) {
        dims.push(("unit".into(), u.into_owned()));
    }
    let series = series.intern(SeriesKey::from_parts(event.name.into_owned(), dims))?;
    Ok(ParsedPoint { series, ts, value })
}

impl<R: Read> PointReader for JsonlReader<R> {
    fn read_batch(&mut self, batch: &mut PointBatch) -> Result<bool, ReadError> {
        batch.clear();
        while batch.points.len() < self.batch_points {
            let Some((number, line)) = self.lines.next_line()? else {
                break;
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_event(line, &mut self.series) {
                Ok(p) => batch.points.push(p),
                Err(reason) => batch.skip(number, reason),
            }
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

/// Writes metric-event JSONL; see the [module documentation](self).
pub struct JsonlWriter<W: Write> {
    sink: Sink<W>,
    middle: Vec<u8>,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        JsonlWriter {
            sink: Sink::new(out),
            middle: Vec::new(),
        }
    }
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

impl<W: Write> PointWriter for JsonlWriter<W> {
    fn write_series(&mut self, points: &SeriesPoints) -> Result<(), WriteError> {
        let key = &points.key;
        let m = &mut self.middle;
        m.clear();
        m.extend_from_slice(b"\",");
        for attr in ATTRIBUTES {
            if let Some(v) = key.dimension(attr) {
                json_string(m, attr);
                m.push(b':');
                json_string(m, v);
                m.push(b',');
            }
        }
        m.extend_from_slice(b"\"name\":");
        json_string(m, key.name());
        m.extend_from_slice(b",\"dimensions\":{");
        let mut first = true;
        for (k, v) in key.dimensions() {
            if ATTRIBUTES.contains(&k.as_str()) {
                continue;
            }
            if !first {
                m.push(b',');
            }
            first = false;
            json_string(m, k);
            m.push(b':');
            json_string(m, v);
        }
        m.extend_from_slice(b"},\"value\":");
        for (ts, value) in points.iter() {
            let buf = &mut self.sink.buf;
            buf.extend_from_slice(b"{\"timestamp\":\"");
            timefmt::write_rfc3339(buf, ts);
            buf.extend_from_slice(&self.middle);
            if value.is_finite() {
                number::write_f64(buf, value);
            } else {
                buf.push(b'"');
                number::write_f64(buf, value);
                buf.push(b'"');
            }
            buf.extend_from_slice(b"}\n");
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

    #[test]
    fn events_become_series_with_their_attributes() {
        let text = concat!(
            r#"{"id":"x","timestamp":"2016-01-01T00:00:00Z","source":"system","category":"health","name":"cpu_usage_user","value":89.05,"unit":"%","dimensions":{"hostname":"host_0"},"metadata":{}}"#,
            "\n",
            r#"{"timestamp":5,"name":"m","value":"-Inf"}"#,
            "\n",
            r#"{"timestamp":"soon","name":"m","value":1}"#,
            "\n",
            r#"{"timestamp":5,"name":"m","value":true}"#,
            "\n",
            r#"{"timestamp":5,"name":"m","value":1"#,
            "\n",
        );
        let mut reader = JsonlReader::new(text.as_bytes(), &ReadOptions::default());
        let mut batch = PointBatch::new();
        assert!(reader.read_batch(&mut batch).unwrap());
        let key = SeriesKey::from_parts(
            "cpu_usage_user",
            [
                ("hostname", "host_0"),
                ("source", "system"),
                ("category", "health"),
                ("unit", "%"),
            ],
        );
        assert_eq!(reader.series().key(batch.points[0].series), &key);
        assert_eq!(batch.points[0].ts, 1_451_606_400_000_000_000);
        assert_eq!(batch.points[1].value, f64::NEG_INFINITY);
        let skipped: Vec<String> = batch.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(
            skipped[0].starts_with("line 3: timestamp \"soon\""),
            "{skipped:?}"
        );
        assert!(
            skipped[1].starts_with("line 4: invalid type: boolean"),
            "{skipped:?}"
        );
        assert!(
            skipped[2].starts_with("line 5: EOF while parsing"),
            "{skipped:?}"
        );
    }
}
