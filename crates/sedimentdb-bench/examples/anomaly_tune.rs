//! Runs the pure streaming detector ([`sedimentdb::analytics::detector`]) over an
//! anomaly-bench corpus, without a database: the fast loop for tuning, and the
//! detector's throughput figure.
//!
//! ```text
//! cargo run --release -p sedimentdb-bench --example anomaly_tune -- --corpus DIR --out DIR [--detector NAME]
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
use std::path::PathBuf;
use std::time::Instant;

use sedimentdb::analytics::detector::{Detector, DetectorConfig};
use sedimentdb_bench::anomaly_corpus::{series_files, write_results, Rows};

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
    for file in series_files(&corpus)? {
        let text = fs::read_to_string(&file.path)?;
        let rows = Rows::parse(&text).map_err(|e| format!("{}: {e}", file.path.display()))?;
        let mut det = Detector::new(config)?;
        let start = Instant::now();
        let scored: Vec<_> = rows
            .ts
            .iter()
            .zip(&rows.values)
            .map(|(&t, &v)| det.update_scored(t, v))
            .collect();
        busy += start.elapsed().as_secs_f64();
        points += rows.ts.len() as u64;
        state_bytes = det.state_bytes();
        let scores: Vec<f64> = scored.iter().map(|s| s.score).collect();
        let kinds: Vec<&str> = scored
            .iter()
            .map(|s| s.kind.map_or("", |k| k.name()))
            .collect();
        write_results(&out, &file, &name, &rows.stamps, &scores, Some(&kinds))?;
    }
    println!("points={points}");
    println!("detector_seconds={busy:.3}");
    println!("points_per_sec={:.0}", points as f64 / busy.max(1e-9));
    println!("state_bytes={state_bytes}");
    Ok(())
}
