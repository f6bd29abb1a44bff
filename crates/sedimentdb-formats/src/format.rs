//! The formats by name and file extension, and the reader or writer of each.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use crate::csv_long::{CsvReader, CsvWriter};
use crate::influx::{InfluxReader, InfluxWriter};
use crate::jsonl::{JsonlReader, JsonlWriter};
use crate::openmetrics::{OpenMetricsReader, OpenMetricsWriter};
use crate::reader::{PointReader, ReadOptions};
use crate::writer::PointWriter;

/// A text format of points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// InfluxDB line protocol ([`crate::influx`]).
    Influx,
    /// OpenMetrics / Prometheus text exposition ([`crate::openmetrics`]).
    OpenMetrics,
    /// CSV long format ([`crate::csv_long`]).
    Csv,
    /// Metric-event JSON lines ([`crate::jsonl`]).
    Jsonl,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [
        Format::Influx,
        Format::OpenMetrics,
        Format::Csv,
        Format::Jsonl,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Influx => "influx",
            Format::OpenMetrics => "openmetrics",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format a file name's extension suggests: `.lp`/`.influx`/`.line`,
    /// `.om`/`.prom`/`.openmetrics`/`.txt`, `.csv`, `.jsonl`/`.ndjson`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "lp" | "influx" | "line" => Some(Format::Influx),
            "om" | "prom" | "openmetrics" | "txt" => Some(Format::OpenMetrics),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// A reader of this format over `input`.
    pub fn reader<'a, R: Read + 'a>(
        self,
        input: R,
        options: &ReadOptions,
    ) -> Box<dyn PointReader + 'a> {
        match self {
            Format::Influx => Box::new(InfluxReader::new(input, options)),
            Format::OpenMetrics => Box::new(OpenMetricsReader::new(input, options)),
            Format::Csv => Box::new(CsvReader::new(input, options)),
            Format::Jsonl => Box::new(JsonlReader::new(input, options)),
        }
    }

    /// A writer of this format into `out`; `dimension_keys` are the CSV columns (the
    /// other formats ignore them).
    pub fn writer<'a, W: Write + 'a>(
        self,
        out: W,
        dimension_keys: impl IntoIterator<Item = String>,
    ) -> Box<dyn PointWriter + 'a> {
        match self {
            Format::Influx => Box::new(InfluxWriter::new(out)),
            Format::OpenMetrics => Box::new(OpenMetricsWriter::new(out)),
            Format::Csv => Box::new(CsvWriter::new(out, dimension_keys)),
            Format::Jsonl => Box::new(JsonlWriter::new(out)),
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "influx" | "lp" | "line-protocol" => Ok(Format::Influx),
            "openmetrics" | "prometheus" | "om" => Ok(Format::OpenMetrics),
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            other => Err(format!(
                "unknown format {other:?} (formats: influx, openmetrics, csv, jsonl)"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
