//! The reader interface every input format implements, and its options.

use sedimentdb::KeyLimits;

use crate::batch::PointBatch;
use crate::csv_long::ColumnMap;
use crate::error::ReadError;
use crate::number::Precision;
use crate::series::SeriesTable;

/// A streaming reader of points: each call parses the next stretch of input into a batch.
pub trait PointReader {
    /// Clears `batch` and fills it with about [`ReadOptions::batch_points`] points and the
    /// lines skipped among them. `Ok(false)`: the input is exhausted and `batch` is empty.
    fn read_batch(&mut self, batch: &mut PointBatch) -> Result<bool, ReadError>;

    /// The series seen so far; the points of a batch name them by id.
    fn series(&self) -> &SeriesTable;

    /// Input bytes consumed so far (for progress).
    fn bytes_read(&self) -> u64;

    /// Input lines consumed so far.
    fn lines_read(&self) -> u64;
}

/// Options shared by the readers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Unit of integer timestamps. Default: nanoseconds for line protocol and CSV,
    /// seconds for OpenMetrics (whose timestamps are decimal seconds).
    pub precision: Option<Precision>,
    /// Timestamp given to points that have none (line protocol, OpenMetrics allow that):
    /// nanoseconds since the epoch; default: the time the reader was made.
    pub now: i64,
    /// Points per batch. Default: 65 536.
    pub batch_points: usize,
    /// Limits new series are checked against (a breaking key skips its lines). Default:
    /// the engine's default limits.
    pub limits: KeyLimits,
    /// CSV: which column holds what. Default: from the header names.
    pub columns: ColumnMap,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            precision: None,
            now: now_ns(),
            batch_points: 1 << 16,
            limits: KeyLimits::default(),
            columns: ColumnMap::default(),
        }
    }
}

impl ReadOptions {
    /// Sets the precision of integer timestamps.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Sets the timestamp of points that carry none.
    pub fn now(mut self, now: i64) -> Self {
        self.now = now;
        self
    }

    /// Sets the number of points per batch (at least 1).
    pub fn batch_points(mut self, points: usize) -> Self {
        self.batch_points = points.max(1);
        self
    }

    /// Sets the key limits.
    pub fn limits(mut self, limits: KeyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the CSV column mapping.
    pub fn columns(mut self, columns: ColumnMap) -> Self {
        self.columns = columns;
        self
    }
}

fn now_ns() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}
