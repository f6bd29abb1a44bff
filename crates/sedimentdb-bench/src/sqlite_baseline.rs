//! The SQLite baseline: the same TSBS data, loaded the way a careful embedded user would
//! store time series in SQLite.
//!
//! Settings: WAL journal, `synchronous=FULL` (every commit is fsynced, like sedimentdb's
//! default `Durability::Sync`), one transaction per batch through a prepared statement,
//! series keys in their own table, points in time-major order. `INSERT OR REPLACE` gives
//! the same last-write-wins semantics as sedimentdb.
#![allow(dead_code)] // each includer uses a different part

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use crate::tsbs_data::{metric_name, Checksum, GenPoint, FIELDS};
use crate::tsbs_dataset::Dataset;

/// How the points table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `PRIMARY KEY(series_id, ts) WITHOUT ROWID`: what a careful user picks. The key
    /// (series, time) is the only access path a time-series query needs; clustering the
    /// rows by it stores each point once, makes a range scan of one series read adjacent
    /// pages, and costs one B-tree insert per point. A rowid table needs a second index
    /// on (series_id, ts) for the same queries: the key is stored twice and every point
    /// costs two B-tree inserts.
    WithoutRowid,
    /// A plain rowid table plus a unique index on (series_id, ts): what a typical user
    /// writes first.
    RowidPlusIndex,
}

impl Layout {
    fn schema(self) -> &'static str {
        match self {
            Layout::WithoutRowid => {
                "CREATE TABLE points(
                     series_id INTEGER NOT NULL,
                     ts INTEGER NOT NULL,
                     value REAL NOT NULL,
                     PRIMARY KEY(series_id, ts)
                 ) WITHOUT ROWID;"
            }
            Layout::RowidPlusIndex => {
                "CREATE TABLE points(
                     series_id INTEGER NOT NULL,
                     ts INTEGER NOT NULL,
                     value REAL NOT NULL
                 );
                 CREATE UNIQUE INDEX points_series_ts ON points(series_id, ts);"
            }
        }
    }

    /// Short name used in file names and figure keys.
    pub fn name(self) -> &'static str {
        match self {
            Layout::WithoutRowid => "without_rowid",
            Layout::RowidPlusIndex => "rowid",
        }
    }
}

/// What one SQLite load measured.
#[derive(Debug, Clone)]
pub struct SqliteRun {
    pub points: u64,
    pub series: usize,
    /// Inserting the points, series creation and commits included, data generation excluded.
    pub ingest: Duration,
    /// The final `wal_checkpoint(TRUNCATE)`.
    pub checkpoint: Duration,
    /// Main database file plus WAL file after the checkpoint.
    pub bytes: u64,
    pub db_path: PathBuf,
}

impl SqliteRun {
    pub fn points_per_sec(&self) -> f64 {
        self.points as f64 / self.ingest.as_secs_f64()
    }

    pub fn bytes_per_point(&self) -> f64 {
        self.bytes as f64 / self.points as f64
    }
}

/// Loads `data` into a new SQLite database under `dir`, `batch` points per transaction.
pub fn load(
    dir: &Path,
    layout: Layout,
    data: &Dataset,
    batch: usize,
) -> Result<SqliteRun, Box<dyn Error>> {
    let hosts = data.hosts();
    let db_path = dir.join(format!("sqlite_{}.db", layout.name()));
    let mut conn = Connection::open(&db_path)
        .map_err(|e| format!("opening SQLite database {}: {e}", db_path.display()))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("SQLite refused WAL mode (journal_mode={mode})").into());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE series(
             id INTEGER PRIMARY KEY,
             metric TEXT NOT NULL,
             tags TEXT NOT NULL,
             UNIQUE(metric, tags)
         );",
    )?;
    conn.execute_batch(layout.schema())?;

    // Canonical tag string per host, as a user would store a label set.
    let host_tags: Vec<String> = hosts
        .iter()
        .map(|h| {
            let mut pairs: Vec<(&str, &str)> = h.tag_pairs().collect();
            pairs.sort_unstable();
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let metric_names: Vec<String> = (0..FIELDS.len()).map(metric_name).collect();

    let mut series_ids: Vec<Option<i64>> = vec![None; data.series()];
    let mut stream = data.stream();
    let mut chunk: Vec<GenPoint> = Vec::with_capacity(batch);
    let mut ingest = Duration::ZERO;
    let mut points = 0u64;
    while stream.fill(&mut chunk, batch) {
        let started = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut insert_series =
                tx.prepare_cached("INSERT INTO series(metric, tags) VALUES (?1, ?2)")?;
            let mut insert_point = tx.prepare_cached(
                "INSERT OR REPLACE INTO points(series_id, ts, value) VALUES (?1, ?2, ?3)",
            )?;
            for p in &chunk {
                let slot = &mut series_ids[p.series as usize];
                let id = match *slot {
                    Some(id) => id,
                    None => {
                        let host = p.series as usize / FIELDS.len();
                        let field = p.series as usize % FIELDS.len();
                        insert_series.execute(params![metric_names[field], host_tags[host]])?;
                        let id = tx.last_insert_rowid();
                        *slot = Some(id);
                        id
                    }
                };
                insert_point.execute(params![id, p.ts, p.value])?;
            }
        }
        tx.commit()?;
        ingest += started.elapsed();
        points += chunk.len() as u64;
    }

    let started = Instant::now();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        let busy: i64 = r.get(0)?;
        if busy != 0 {
            eprintln!("warning: SQLite checkpoint reported busy");
        }
        Ok(())
    })?;
    let checkpoint = started.elapsed();
    let bytes = file_len(&db_path)? + file_len(&wal_path(&db_path))?;
    Ok(SqliteRun {
        points,
        series: series_ids.iter().filter(|s| s.is_some()).count(),
        ingest,
        checkpoint,
        bytes,
        db_path,
    })
}

/// Reads every point back and returns their checksum, to prove the load is complete.
pub fn checksum(db_path: &Path) -> Result<Checksum, Box<dyn Error>> {
    let conn = Connection::open(db_path)?;
    let (points, cents): (i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(CAST(round(value * 100) AS INTEGER)), 0) FROM points",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Checksum {
        points: points as u64,
        cents: cents as i128,
    })
}

/// Series count per metric, to check that the series table is what the data implies.
pub fn series_per_metric(db_path: &Path) -> Result<HashMap<String, u64>, Box<dyn Error>> {
    let conn = Connection::open(db_path)?;
    let mut stmt = conn.prepare("SELECT metric, count(*) FROM series GROUP BY metric")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (metric, n) = row?;
        out.insert(metric, n as u64);
    }
    Ok(out)
}

fn wal_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn file_len(path: &Path) -> Result<u64, Box<dyn Error>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("stat {}: {e}", path.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsbs_data::Shape;

    #[test]
    fn both_layouts_load_everything() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(3, 0.25, 5);
        let data = Dataset::generated(shape);
        let expected = Checksum::of_dataset(&shape);
        for layout in [Layout::WithoutRowid, Layout::RowidPlusIndex] {
            let run = load(dir.path(), layout, &data, 64).unwrap();
            assert_eq!(run.points, shape.points());
            assert_eq!(run.series, shape.series());
            assert!(run.bytes > 0);
            assert_eq!(checksum(&run.db_path).unwrap(), expected);
            let per_metric = series_per_metric(&run.db_path).unwrap();
            assert_eq!(per_metric.len(), FIELDS.len());
            assert!(per_metric.values().all(|&n| n == 3));
        }
    }
}
