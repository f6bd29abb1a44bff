//! The OpenMetrics reader. Per sample it hashes the raw `name{labels}` text once; a
//! series seen before costs no allocation.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use sedimentdb::SeriesKey;

use crate::batch::{ParsedPoint, PointBatch};
use crate::error::ReadError;
use crate::lines::Lines;
use crate::number::{self, Precision};
use crate::reader::{PointReader, ReadOptions};
use crate::series::SeriesTable;

/// What the `# TYPE`, `# HELP` and `# UNIT` lines said about a metric family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, ... as written.
    pub kind: Option<String>,
    /// The help text (escapes resolved).
    pub help: Option<String>,
    /// The unit.
    pub unit: Option<String>,
}

/// Suffixes a sample name may add to its family's name.
const SUFFIXES: [&str; 8] = [
    "_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info",
];

/// Reads OpenMetrics / Prometheus text; see the [module documentation](super).
pub struct OpenMetricsReader<R> {
    lines: Lines<R>,
    precision: Precision,
    now: i64,
    batch_points: usize,
    series: SeriesTable,
    cache: HashMap<Box<[u8]>, Result<u32, String>, ahash::RandomState>,
    families: BTreeMap<String, Family>,
    eof_line: Option<u64>,
}

impl<R: Read> OpenMetricsReader<R> {
    /// A reader over `input`.
    pub fn new(input: R, options: &ReadOptions) -> Self {
        OpenMetricsReader {
            lines: Lines::new(input),
            precision: options.precision.unwrap_or(Precision::Seconds),
            now: options.now,
            batch_points: options.batch_points,
            series: SeriesTable::new(options.limits),
            cache: HashMap::default(),
            families: BTreeMap::new(),
            eof_line: None,
        }
    }

    /// The metric families described by `# TYPE`, `# HELP` and `# UNIT` lines so far.
    pub fn families(&self) -> &BTreeMap<String, Family> {
        &self.families
    }

    /// True once `# EOF` was read.
    pub fn saw_eof(&self) -> bool {
        self.eof_line.is_some()
    }
}

impl<R: Read> PointReader for OpenMetricsReader<R> {
    fn read_batch(&mut self, batch: &mut PointBatch) -> Result<bool, ReadError> {
        batch.clear();
        while batch.points.len() < self.batch_points {
            let Some((number, line)) = self.lines.next_line()? else {
                break;
            };
            if line.iter().all(|&b| b == b' ' || b == b'\t') {
                continue;
            }
            if let Some(eof) = self.eof_line {
                batch.skip(number, format!("content after `# EOF` (line {eof})"));
                continue;
            }
            if line[0] == b'#' {
                if let Err(reason) = descriptor(line, &mut self.families).map(|eof| {
                    if eof {
                        self.eof_line = Some(number);
                    }
                }) {
                    batch.skip(number, reason);
                }
                continue;
            }
            let sample = Sample {
                precision: self.precision,
                now: self.now,
                series: &mut self.series,
                cache: &mut self.cache,
                families: &self.families,
            };
            match sample.parse(line) {
                Ok((series, ts, value)) => batch.points.push(ParsedPoint { series, ts, value }),
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

/// A `#` line: records TYPE/HELP/UNIT; true for `# EOF`. Other comments are ignored.
fn descriptor(line: &[u8], families: &mut BTreeMap<String, Family>) -> Result<bool, String> {
    let text = String::from_utf8_lossy(line);
    let rest = text[1..].trim_start();
    if rest.trim_end() == "EOF" {
        return Ok(true);
    }
    let mut parts = rest.splitn(3, ' ');
    let (Some(word), Some(name)) = (parts.next(), parts.next()) else {
        return Ok(false);
    };
    let arg = parts.next().unwrap_or("").trim_end();
    let family = || Family::default();
    match word {
        "TYPE" => {
            if arg.is_empty() {
                return Err(format!("`# TYPE {name}` has no type"));
            }
            families.entry(name.to_string()).or_insert_with(family).kind = Some(arg.to_string());
        }
        "HELP" => {
            families.entry(name.to_string()).or_insert_with(family).help = Some(unescape_help(arg));
        }
        "UNIT" if !arg.is_empty() => {
            families.entry(name.to_string()).or_insert_with(family).unit = Some(arg.to_string());
        }
        _ => {}
    }
    Ok(false)
}

fn unescape_help(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\\\", "\\")
}

struct Sample<'a> {
    precision: Precision,
    now: i64,
    series: &'a mut SeriesTable,
    cache: &'a mut HashMap<Box<[u8]>, Result<u32, String>, ahash::RandomState>,
    families: &'a BTreeMap<String, Family>,
}

impl Sample<'_> {
    fn parse(self, line: &[u8]) -> Result<(u32, i64, f64), String> {
        let key_end = series_end(line)?;
        let raw_key = &line[..key_end];
        let rest = &line[key_end..];
        let mut tokens = rest
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|t| !t.is_empty());
        let value_text = tokens.next().ok_or("the sample has no value")?;
        let value = number::parse_f64(value_text).ok_or_else(|| {
            format!(
                "value {:?} is not a number",
                String::from_utf8_lossy(value_text)
            )
        })?;
        let ts = match tokens.next() {
            None => self.now,
            Some(t) if t.starts_with(b"#") => self.now,
            Some(t) => number::parse_decimal_timestamp(t, self.precision)?,
        };
        if let Some(extra) = tokens.next() {
            if !extra.starts_with(b"#") {
                return Err(format!(
                    "unexpected {:?} after the timestamp",
                    String::from_utf8_lossy(extra)
                ));
            }
        }
        let series = match self.cache.get(raw_key) {
            Some(known) => known.clone()?,
            None => {
                let id =
                    parse_series(raw_key, self.families).and_then(|key| self.series.intern(key));
                self.cache.insert(raw_key.into(), id.clone());
                id?
            }
        };
        Ok((series, ts, value))
    }
}

/// The end of `name` or `name{...}` (quoted label values may hold `}` and spaces).
fn series_end(line: &[u8]) -> Result<usize, String> {
    let name_end = line
        .iter()
        .position(|&b| b == b'{' || b == b' ' || b == b'\t')
        .ok_or("the sample has no value")?;
    if name_end == 0 {
        return Err("the sample has no metric name".into());
    }
    if line[name_end] != b'{' {
        return Ok(name_end);
    }
    let mut i = name_end + 1;
    let mut quoted = false;
    while i < line.len() {
        match line[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'}' if !quoted => return Ok(i + 1),
            _ => {}
        }
        i += 1;
    }
    Err("the label set has no closing `}`".into())
}

/// `name{k="v",...}` as a key, the family's unit added as the `unit` dimension.
fn parse_series(raw: &[u8], families: &BTreeMap<String, Family>) -> Result<SeriesKey, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the series is not UTF-8".to_string())?;
    let (name, labels) = match text.find('{') {
        Some(i) => (&text[..i], &text[i + 1..text.len() - 1]),
        None => (text, ""),
    };
    let mut dims: Vec<(String, String)> = Vec::new();
    let bytes = labels.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b',') {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let eq = labels[i..]
            .find('=')
            .map(|j| i + j)
            .ok_or_else(|| format!("label {:?} has no `=\"value\"`", &labels[i..]))?;
        let key = labels[i..eq].trim();
        if bytes.get(eq + 1) != Some(&b'"') {
            return Err(format!("the value of label {key:?} is not quoted"));
        }
        let mut value = String::new();
        let mut j = eq + 2;
        loop {
            match bytes.get(j) {
                None => return Err(format!("the value of label {key:?} is not closed")),
                Some(b'"') => break,
                Some(b'\\') => {
                    match bytes.get(j + 1) {
                        Some(b'n') => value.push('\n'),
                        Some(b'"') => value.push('"'),
                        Some(b'\\') => value.push('\\'),
                        _ => {
                            return Err(format!("the value of label {key:?} has an unknown escape"))
                        }
                    }
                    j += 2;
                }
                Some(_) => {
                    let ch = labels[j..].chars().next().unwrap_or('\u{fffd}');
                    value.push(ch);
                    j += ch.len_utf8();
                }
            }
        }
        dims.push((key.to_string(), value));
        i = j + 1;
        if i < bytes.len() && bytes[i] != b',' {
            return Err(format!("expected `,` or `}}` after label {key:?}"));
        }
    }
    if !dims.iter().any(|(k, _)| k == "unit") {
        if let Some(unit) = family_of(name, families).and_then(|f| f.unit.clone()) {
            dims.push(("unit".into(), unit));
        }
    }
    Ok(SeriesKey::from_parts(name, dims))
}

fn family_of<'a>(name: &str, families: &'a BTreeMap<String, Family>) -> Option<&'a Family> {
    families.get(name).or_else(|| {
        SUFFIXES
            .iter()
            .find_map(|s| name.strip_suffix(s).and_then(|base| families.get(base)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (series, timestamp, value) of every point read.
    type Read3 = Vec<(String, i64, f64)>;

    fn read_all(text: &str) -> (Read3, Vec<String>, BTreeMap<String, Family>) {
        let mut reader = OpenMetricsReader::new(text.as_bytes(), &ReadOptions::default().now(9));
        let mut batch = PointBatch::new();
        let (mut points, mut skipped) = (Vec::new(), Vec::new());
        while reader.read_batch(&mut batch).unwrap() {
            for p in &batch.points {
                points.push((reader.series().key(p.series).to_string(), p.ts, p.value));
            }
            skipped.extend(batch.skipped.iter().map(|s| s.to_string()));
        }
        (points, skipped, reader.families().clone())
    }

    #[test]
    fn samples_families_and_units() {
        let (points, skipped, families) = read_all(
            "# HELP http_requests Requests.\n\
             # TYPE http_requests counter\n\
             # UNIT http_requests requests\n\
             http_requests_total{code=\"200\",path=\"/a \\\"b\\\"\"} 10 1451606400.5\n\
             http_requests_total{code=\"500\",} 1 1451606400 # {trace=\"x\"} 1\n\
             temp -Inf\n\
             up NaN 10\n\
             # EOF\n",
        );
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(families["http_requests"].kind.as_deref(), Some("counter"));
        assert_eq!(families["http_requests"].help.as_deref(), Some("Requests."));
        let key = SeriesKey::from_parts(
            "http_requests_total",
            [("code", "200"), ("path", "/a \"b\""), ("unit", "requests")],
        );
        assert_eq!(
            points[0],
            (key.to_string(), 1_451_606_400_500_000_000, 10.0)
        );
        assert_eq!(points[1].1, 1_451_606_400_000_000_000);
        assert_eq!(points[2], ("temp".into(), 9, f64::NEG_INFINITY));
        assert!(points[3].2.is_nan() && points[3].1 == 10_000_000_000);
    }

    #[test]
    fn bad_samples_name_their_line() {
        let (points, skipped, _) = read_all(
            "a 1 1\n\
             b{x=\"1\" 2\n\
             c{x=1} 2\n\
             d abc\n\
             e 1 1 2\n\
             # EOF\n\
             f 1\n",
        );
        assert_eq!(points.len(), 1);
        let expected = [
            "line 2: the label set has no closing `}`",
            "line 3: the value of label \"x\" is not quoted",
            "line 4: value \"abc\" is not a number",
            "line 5: unexpected \"2\" after the timestamp",
            "line 7: content after `# EOF` (line 6)",
        ];
        assert_eq!(skipped, expected);
    }
}
