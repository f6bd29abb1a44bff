//! A batch of parsed points, as readers hand them out.

use crate::error::Skipped;

/// One parsed point: a series of the reader's [`SeriesTable`](crate::SeriesTable), a
/// timestamp in nanoseconds since the Unix epoch and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsedPoint {
    /// Reader-local series id.
    pub series: u32,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Points read from one stretch of input, and the lines skipped in it.
#[derive(Debug, Default)]
pub struct PointBatch {
    /// The points, in input order.
    pub points: Vec<ParsedPoint>,
    /// Lines skipped, with the reason.
    pub skipped: Vec<Skipped>,
}

impl PointBatch {
    /// An empty batch.
    pub fn new() -> Self {
        PointBatch::default()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.points.clear();
        self.skipped.clear();
    }

    pub(crate) fn skip(&mut self, line: u64, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            line,
            reason: reason.into(),
        });
    }
}
