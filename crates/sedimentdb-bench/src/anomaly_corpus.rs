//! Reading an anomaly-bench corpus (`DIR/data/<family>/<name>.csv`, NAB's layout) and
//! writing result files in the layout its scorer reads
//! (`OUT/<family>/<DETECTOR>_<name>.csv`). Shared by the `anomaly_tune` (pure detector)
//! and `anomaly_bench` (through a database) examples.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

type Res<T> = std::result::Result<T, Box<dyn Error>>;

/// One data file of the corpus.
#[derive(Debug, Clone)]
pub struct SeriesFile {
    /// The family (the directory under `data/`).
    pub family: String,
    /// The file name, e.g. `cpu_01.csv`.
    pub name: String,
    /// The file's path.
    pub path: PathBuf,
}

/// Every `data/<family>/<name>.csv` below `corpus`, sorted by family and name.
pub fn series_files(corpus: &Path) -> Res<Vec<SeriesFile>> {
    let data = corpus.join("data");
    let mut found = Vec::new();
    for family in fs::read_dir(&data).map_err(|e| format!("{}: {e}", data.display()))? {
        let family = family?;
        if !family.file_type()?.is_dir() {
            continue;
        }
        let fam = family.file_name().to_string_lossy().into_owned();
        for file in fs::read_dir(family.path())? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "csv") {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| format!("{}: not a UTF-8 name", path.display()))?
                    .to_owned();
                found.push(SeriesFile {
                    family: fam.clone(),
                    name,
                    path,
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.family, &a.name).cmp(&(&b.family, &b.name)));
    Ok(found)
}

/// The rows of one `timestamp,value` file: the timestamp strings as written (result
/// files must repeat them), nanosecond timestamps and values (NaN where a value does
/// not parse, which the detector treats as missing).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Timestamp strings, one per row.
    pub stamps: Vec<String>,
    /// The same timestamps in nanoseconds since the Unix epoch (UTC).
    pub ts: Vec<i64>,
    /// The values.
    pub values: Vec<f64>,
}

impl Rows {
    /// Parses a `timestamp,value` CSV (columns found by their header names).
    pub fn parse(text: &str) -> Res<Rows> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or("empty file")?
            .split(',')
            .map(str::trim)
            .collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| format!("no {name} column"))
        };
        let (kt, kv) = (column("timestamp")?, column("value")?);
        let mut rows = Rows::default();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split(',').collect();
            let short = || format!("line {}: short row", i + 2);
            let stamp = cols.get(kt).ok_or_else(short)?.trim();
            let value = cols.get(kv).ok_or_else(short)?.trim();
            let ts = parse_timestamp(stamp)
                .ok_or_else(|| format!("line {}: bad timestamp {stamp:?}", i + 2))?;
            rows.stamps.push(stamp.to_owned());
            rows.ts.push(ts);
            rows.values.push(value.parse().unwrap_or(f64::NAN));
        }
        Ok(rows)
    }

    /// Timestamps made strictly increasing by moving a repeated (or earlier) one 1 ns
    /// after its predecessor, so that a database keeps every row (it keeps one point per
    /// series and timestamp). Returns how many were moved.
    pub fn make_timestamps_unique(&mut self) -> usize {
        let mut moved = 0;
        for i in 1..self.ts.len() {
            if self.ts[i] <= self.ts[i - 1] {
                self.ts[i] = self.ts[i - 1].saturating_add(1);
                moved += 1;
            }
        }
        moved
    }
}

/// Writes `OUT/<family>/<detector>_<name>` with `timestamp,anomaly_score` (and a
/// `kind` column when `kinds` is given), one row per input row, same order and
/// timestamp strings.
pub fn write_results(
    out: &Path,
    file: &SeriesFile,
    detector: &str,
    stamps: &[String],
    scores: &[f64],
    kinds: Option<&[&str]>,
) -> Res<()> {
    if stamps.len() != scores.len() {
        return Err(format!(
            "{}: {} rows but {} scores",
            file.path.display(),
            stamps.len(),
            scores.len()
        )
        .into());
    }
    let dir = out.join(&file.family);
    fs::create_dir_all(&dir)?;
    let mut body = String::with_capacity(stamps.len() * 32);
    body.push_str(if kinds.is_some() {
        "timestamp,anomaly_score,kind\n"
    } else {
        "timestamp,anomaly_score\n"
    });
    for (i, (stamp, score)) in stamps.iter().zip(scores).enumerate() {
        body.push_str(stamp);
        body.push_str(&format!(",{score:.9}"));
        if let Some(kind) = kinds.and_then(|k| k.get(i)) {
            body.push(',');
            body.push_str(kind);
        }
        body.push('\n');
    }
    fs::write(dir.join(format!("{detector}_{}", file.name)), body)?;
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (UTC; a `T` in place of the space is accepted) to
/// nanoseconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos = 0_i64;
    if let Some(frac) = s.get(20..).filter(|f| !f.is_empty()) {
        let digits: String = frac.chars().take(9).collect();
        nanos = digits.parse::<i64>().ok()? * 10_i64.pow(9 - digits.len() as u32);
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1_000_000_000) + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2024-02-29 12:30:15.5"),
            Some(1_709_209_815_500_000_000)
        );
        assert_eq!(parse_timestamp("2024-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn repeated_timestamps_keep_every_row() {
        let mut rows = Rows::parse(
            "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:00:00,2\n2020-01-01 00:00:01,x\n",
        )
        .unwrap();
        assert_eq!(rows.make_timestamps_unique(), 1);
        assert_eq!(rows.ts[1], rows.ts[0] + 1);
        assert!(rows.values[2].is_nan());
        assert_eq!(rows.stamps[1], "2020-01-01 00:00:00");
    }
}
