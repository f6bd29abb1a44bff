//! The anomaly benchmark through the database: every series of an anomaly-bench corpus
//! is written into a fresh sedimentdb database through the public API, flushed to
//! segments, read back and scored with `Db::anomaly_scores` (the streaming detector's
//! default configuration, the same for every series), and the scores are written in the
//! layout the scorer reads.
//!
//! ```text
//! cargo run --release -p sedimentdb-bench --example anomaly_bench -- \
//!     --corpus DIR --out DIR [--detector NAME]
//! python3 ../shared/anomaly-bench/score.py --corpus DIR --results OUT
//! ```
//!
//! Reads every `DIR/data/<family>/<name>.csv` (`timestamp,value`, timestamps
//! `YYYY-MM-DD HH:MM:SS`), works on any corpus in that layout, and writes
//! `OUT/<family>/<NAME>_<name>.csv` (`timestamp,anomaly_score`; one row per input row,
//! same order, same timestamp strings). A repeated timestamp is moved 1 ns after the one
//! before it, so that every row is kept and scored. Prints `key=value` figures: series,
//! points, moved timestamps, seconds in `anomaly_scores` and points scored per second.

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use sedimentdb::analytics::detector::DetectorConfig;
use sedimentdb::{Db, Durability, Options, Query, SeriesKey, WriteBatch};
use sedimentdb_bench::anomaly_corpus::{series_files, write_results, Rows};

type Res<T> = std::result::Result<T, Box<dyn Error>>;

const METRIC: &str = "anomaly_bench";

fn main() -> Res<()> {
    let mut corpus = None;
    let mut out = None;
    let mut detector = String::from("sedimentdb");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--corpus" => corpus = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--detector" => detector = value()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let corpus = corpus.ok_or("--corpus DIR is required")?;
    let out = out.ok_or("--out DIR is required")?;
    let config = DetectorConfig::default();
    let (mut series, mut points, mut moved, mut scoring) = (0_u64, 0_u64, 0_usize, 0.0_f64);
    for file in series_files(&corpus)? {
        let text = fs::read_to_string(&file.path)?;
        let mut rows = Rows::parse(&text).map_err(|e| format!("{}: {e}", file.path.display()))?;
        moved += rows.make_timestamps_unique();

        // A fresh database per series, as a service would store it. Corpus data may be
        // years old or ahead of this machine's clock: no future bound, no retention.
        let dir = tempfile::tempdir()?;
        let db = Db::open(
            dir.path(),
            Options::default()
                .durability(Durability::None)
                .max_future(None),
        )?;
        let key = SeriesKey::new(METRIC).with("file", &file.name);
        let handle = db.series(&key)?;
        let mut batch = WriteBatch::with_capacity(rows.ts.len());
        for (&ts, &value) in rows.ts.iter().zip(&rows.values) {
            batch.push(handle, ts, value);
        }
        db.write(&batch)?;
        db.flush()?;

        let start = Instant::now();
        let scored = db.anomaly_scores(&Query::metric(METRIC), &config)?;
        scoring += start.elapsed().as_secs_f64();
        let [one] = scored.as_slice() else {
            return Err(
                format!("{}: {} result series, expected 1", file.name, scored.len()).into(),
            );
        };
        // The database must give back every row, in order, with the value written.
        if one.timestamps != rows.ts
            || one
                .values
                .iter()
                .zip(&rows.values)
                .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err(format!(
                "{}: the points read back differ from those written",
                file.name
            )
            .into());
        }
        write_results(&out, &file, &detector, &rows.stamps, &one.scores, None)?;
        db.close()?;
        series += 1;
        points += rows.ts.len() as u64;
    }
    println!("series={series}");
    println!("points={points}");
    println!("timestamps_moved={moved}");
    println!("scoring_seconds={scoring:.3}");
    println!(
        "points_scored_per_sec={:.0}",
        points as f64 / scoring.max(1e-9)
    );
    Ok(())
}
