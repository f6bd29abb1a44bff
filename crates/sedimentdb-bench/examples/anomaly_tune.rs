//! Runs the pure streaming detector ([`sedimentdb::analytics::detector`]) over an
//! anomaly-bench corpus, without a database: the fast loop for tuning, and the
//! detector's throughput figure.
//!
//! ```text
//! cargo run --release --example anomaly_tune -- --corpus DIR --out DIR [--detector NAME]
//!     [--warmup N] [--alert S] [--mute N] [--calibration N] [--no-seasonal]
//! ```
//!
//! Reads every `DIR/data/<family>/<name>.csv` (`timestamp,value`, timestamps
//! `YYYY-MM-DD HH:MM:SS`), writes `OUT/<family>/<NAME>_<name>.csv` with
//! `timestamp,anomaly_score,kind` (kind: the component that scored), one row per input
//! row, and prints `key=value` figures:
//! points, seconds spent in `Detector::update` and points per second, state bytes.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sedimentdb::analytics::detector::{Detector, DetectorConfig};

type Res<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Res<()> {
    let mut corpus = None;
    let mut out = None;
    let mut name = String::from("sediment");
    let mut config = DetectorConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--corpus" => corpus = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--detector" => name = value()?,
            "--warmup" => config.warmup = value()?.parse()?,
            "--alert" => config.alert_surprise = value()?.parse()?,
            "--mute" => config.mute_points = value()?.parse()?,
            "--calibration" => config.calibration_points = value()?.parse()?,
            "--no-seasonal" => config.seasonal = false,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let corpus = corpus.ok_or("--corpus DIR is required")?;
    let out = out.ok_or("--out DIR is required")?;
    let mut points = 0_u64;
    let mut busy = 0.0_f64;
    let mut state_bytes = 0;
    for (family, file) in series_files(&corpus.join("data"))? {
        let text = fs::read_to_string(&file)?;
        let (stamps, ts, values) = parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut det = Detector::new(config)?;
        let start = Instant::now();
        let scored: Vec<_> = ts
            .iter()
            .zip(&values)
            .map(|(&t, &v)| det.update_scored(t, v))
            .collect();
        busy += start.elapsed().as_secs_f64();
        points += ts.len() as u64;
        state_bytes = det.state_bytes();
        let dir = out.join(&family);
        fs::create_dir_all(&dir)?;
        let stem = file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("bad file name")?;
        let mut body = String::with_capacity(stamps.len() * 32);
        body.push_str("timestamp,anomaly_score,kind\n");
        for (stamp, s) in stamps.iter().zip(&scored) {
            let kind = s.kind.map_or("", |k| k.name());
            body.push_str(&format!("{stamp},{:.9},{kind}\n", s.score));
        }
        fs::write(dir.join(format!("{name}_{stem}")), body)?;
    }
    println!("points={points}");
    println!("detector_seconds={busy:.3}");
    println!("points_per_sec={:.0}", points as f64 / busy.max(1e-9));
    println!("state_bytes={state_bytes}");
    Ok(())
}

/// `(family, path)` of every `data/<family>/<name>.csv`, sorted.
fn series_files(data: &Path) -> Res<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for family in fs::read_dir(data)? {
        let family = family?;
        if !family.file_type()?.is_dir() {
            continue;
        }
        let fam = family.file_name().to_string_lossy().into_owned();
        for file in fs::read_dir(family.path())? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "csv") {
                found.push((fam.clone(), path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The timestamp strings, nanosecond timestamps and values of a `timestamp,value` CSV.
fn parse(text: &str) -> Res<(Vec<&str>, Vec<i64>, Vec<f64>)> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty file")?
        .split(',')
        .map(str::trim)
        .collect();
    let kt = header
        .iter()
        .position(|h| *h == "timestamp")
        .ok_or("no timestamp column")?;
    let kv = header
        .iter()
        .position(|h| *h == "value")
        .ok_or("no value column")?;
    let (mut stamps, mut ts, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let stamp = cols.get(kt).ok_or("short row")?.trim();
        let value = cols.get(kv).ok_or("short row")?.trim();
        stamps.push(stamp);
        ts.push(parse_timestamp(stamp).ok_or_else(|| format!("bad timestamp {stamp}"))?);
        values.push(value.parse().unwrap_or(f64::NAN));
    }
    Ok((stamps, ts, values))
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (UTC) to nanoseconds since the epoch.
fn parse_timestamp(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
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
