//! Import: batches from a reader into a database, each distinct series resolved to a
//! handle once.

use sedimentdb::{Db, SeriesHandle, WriteBatch};

use crate::batch::PointBatch;
use crate::error::{ReadError, Skipped};
use crate::reader::PointReader;

/// Skipped lines kept in a report (the count goes on past it).
pub const MAX_SKIPPED_KEPT: usize = 1000;

/// What an import read, wrote and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Input lines read.
    pub lines: u64,
    /// Input bytes read.
    pub bytes: u64,
    /// Points parsed.
    pub points_read: u64,
    /// Points written (0 on a dry run).
    pub points_written: u64,
    /// Distinct series in the input.
    pub series: u64,
    /// Lines skipped, in all.
    pub skipped_lines: u64,
    /// The first [`MAX_SKIPPED_KEPT`] skipped lines with their reasons.
    pub skipped: Vec<Skipped>,
    /// Series the database refused (its own key limits), with the reason and the points
    /// that were not written.
    pub refused_series: Vec<(String, String, u64)>,
}

impl LoadReport {
    fn note_skipped(&mut self, batch: &PointBatch) {
        self.skipped_lines += batch.skipped.len() as u64;
        let room = MAX_SKIPPED_KEPT.saturating_sub(self.skipped.len());
        self.skipped
            .extend(batch.skipped.iter().take(room).cloned());
    }
}

/// Where a reader-local series stands in the database.
#[derive(Clone, Copy)]
enum Slot {
    Unresolved,
    Handle(SeriesHandle),
    Refused(usize),
}

/// Reads everything from `reader` and writes it to `db` (or, with `db` `None`, only
/// parses: a dry run). One database write per reader batch. `progress` is called after
/// each batch with the report so far.
///
/// Fails on an unreadable input or a database error other than a refused series key;
/// batches written before that stay written.
pub fn load(
    db: Option<&Db>,
    reader: &mut dyn PointReader,
    mut progress: impl FnMut(&LoadReport),
) -> Result<LoadReport, LoadError> {
    let mut report = LoadReport::default();
    let mut batch = PointBatch::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut write = WriteBatch::new();
    while reader.read_batch(&mut batch)? {
        report.points_read += batch.points.len() as u64;
        report.note_skipped(&batch);
        if let Some(db) = db {
            let table = reader.series();
            slots.resize(table.len(), Slot::Unresolved);
            write.clear();
            for p in &batch.points {
                let slot = &mut slots[p.series as usize];
                if let Slot::Unresolved = slot {
                    let key = table.key(p.series);
                    *slot = match db.series(key) {
                        Ok(handle) => Slot::Handle(handle),
                        Err(sedimentdb::Error::InvalidArgument(reason)) => {
                            report.refused_series.push((key.to_string(), reason, 0));
                            Slot::Refused(report.refused_series.len() - 1)
                        }
                        Err(e) => return Err(LoadError::Db(e)),
                    };
                }
                match *slot {
                    Slot::Handle(h) => write.push(h, p.ts, p.value),
                    Slot::Refused(i) => report.refused_series[i].2 += 1,
                    Slot::Unresolved => unreachable!("resolved above"),
                }
            }
            if !write.is_empty() {
                report.points_written += db.write(&write).map_err(LoadError::Db)?.points as u64;
            }
        }
        report.lines = reader.lines_read();
        report.bytes = reader.bytes_read();
        report.series = reader.series().len() as u64;
        progress(&report);
    }
    report.lines = reader.lines_read();
    report.bytes = reader.bytes_read();
    report.series = reader.series().len() as u64;
    Ok(report)
}

/// Why an import stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The input could not be read.
    Read(ReadError),
    /// The database failed.
    Db(sedimentdb::Error),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Read(e) => e.fmt(f),
            LoadError::Db(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read(e) => Some(e),
            LoadError::Db(e) => Some(e),
        }
    }
}

impl From<ReadError> for LoadError {
    fn from(e: ReadError) -> Self {
        LoadError::Read(e)
    }
}
