//! What a query returns, and what `explain` reports about how it ran.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::types::{SeriesId, SeriesKey, Timestamp};

/// Who a result series stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Labels {
    /// One stored series (the query did not group).
    Series(Arc<SeriesKey>),
    /// A group: `(dimension, value)` for each group-by dimension, in the order the query
    /// named them; the value is `None` for series without that dimension. Empty for
    /// [`crate::Query::group_all`].
    Group(Vec<(String, Option<String>)>),
}

impl Labels {
    /// The value of dimension `key`: from the series key, or from the group labels.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self {
            Labels::Series(k) => k.dimension(key),
            Labels::Group(g) => g
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_deref()),
        }
    }

    /// The series key, for an ungrouped result.
    pub fn series_key(&self) -> Option<&Arc<SeriesKey>> {
        match self {
            Labels::Series(k) => Some(k),
            Labels::Group(_) => None,
        }
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Labels::Series(k) => write!(f, "{k}"),
            Labels::Group(g) => {
                f.write_str("{")?;
                for (i, (k, v)) in g.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match v {
                        Some(v) => write!(f, "{k}={v:?}")?,
                        None => write!(f, "{k}=<absent>")?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

/// One result series, columnar: `timestamps[i]` goes with `values[i]`, timestamps
/// strictly increasing. A NaN value means "no value" (a `Fill::Null` bucket, a standard
/// deviation of one point) — or, in a raw query, a NaN that was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResultSeries {
    /// The series or group.
    pub labels: Labels,
    /// The stored series' id, as [`crate::SeriesHandle::id`] gives it, for an ungrouped
    /// result (so a caller holding handles needs no key lookup); `None` for a group.
    pub series_id: Option<SeriesId>,
    /// How many stored series contributed points.
    pub series_count: u32,
    /// Timestamps: point times, or bucket starts.
    pub timestamps: Vec<Timestamp>,
    /// Values, one per timestamp.
    pub values: Vec<f64>,
}

impl ResultSeries {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True when there is no point.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// `(timestamp, value)` pairs.
    pub fn points(&self) -> impl Iterator<Item = (Timestamp, f64)> + '_ {
        self.timestamps
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

/// The answer to a query: result series in a fixed order (ungrouped: by series id;
/// grouped: by labels; ranked: best first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueryResult {
    /// The result series.
    pub series: Vec<ResultSeries>,
}

impl QueryResult {
    /// Number of result series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series matched or none had points.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Total points over all result series.
    pub fn points(&self) -> usize {
        self.series.iter().map(ResultSeries::len).sum()
    }

    /// The result series.
    pub fn iter(&self) -> std::slice::Iter<'_, ResultSeries> {
        self.series.iter()
    }

    /// The first result series whose labels have `key` = `value`.
    pub fn find(&self, key: &str, value: &str) -> Option<&ResultSeries> {
        self.series
            .iter()
            .find(|s| s.labels.get(key) == Some(value))
    }
}

impl IntoIterator for QueryResult {
    type Item = ResultSeries;
    type IntoIter = std::vec::IntoIter<ResultSeries>;
    fn into_iter(self) -> Self::IntoIter {
        self.series.into_iter()
    }
}

impl<'a> IntoIterator for &'a QueryResult {
    type Item = &'a ResultSeries;
    type IntoIter = std::slice::Iter<'a, ResultSeries>;
    fn into_iter(self) -> Self::IntoIter {
        self.series.iter()
    }
}

/// How a query ran (see [`crate::Db::explain`]): what was pruned, what was answered from
/// chunk statistics and what had to be decoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Explain {
    /// Segments in the snapshot the query read.
    pub segments_total: u64,
    /// Segments skipped because their time span (and so their partition) lies outside
    /// the range.
    pub segments_pruned: u64,
    /// Segments overlapping the range, whose chunk indexes the series lookups use (a
    /// whole-range first/last stops at the first segment that answers it).
    pub segments_scanned: u64,
    /// Series the selectors matched (bitmap operations on the catalog).
    pub series_matched: u64,
    /// Matched series with at least one point in the range.
    pub series_with_data: u64,
    /// Chunks whose statistics answered their bucket without decoding.
    pub chunks_from_stats: u64,
    /// Chunks skipped without decoding because no value in them passes a value filter
    /// (or, in an aggregate, all are NaN).
    pub chunks_skipped: u64,
    /// Chunks decompressed and decoded.
    pub chunks_decoded: u64,
    /// Of the decoded chunks, those decoded because another source overlapped them
    /// (last write wins had to be resolved point by point).
    pub chunks_merged: u64,
    /// Points decoded from chunks.
    pub points_decoded: u64,
    /// Points read from the in-memory head.
    pub head_points: u64,
    /// Compressed chunk bytes read (checksummed and decompressed).
    pub bytes_read: u64,
    /// Partitions answered from rollups instead of raw points (for the series their
    /// rollups hold; see [`crate::Options::rollup`]).
    pub rollup_partitions: u64,
    /// Rollup blocks (one series in one partition) decoded.
    pub rollup_blocks: u64,
    /// Rollup buckets merged into the result.
    pub rollup_buckets: u64,
    /// Result series.
    pub result_series: u64,
    /// Result points.
    pub result_points: u64,
    /// Threads the per-series work ran on.
    pub threads: u64,
    /// Wall-clock microseconds.
    pub micros: u64,
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "segments: {} total, {} pruned by time, {} scanned",
            self.segments_total, self.segments_pruned, self.segments_scanned
        )?;
        writeln!(
            f,
            "series: {} matched, {} with points in range",
            self.series_matched, self.series_with_data
        )?;
        writeln!(
            f,
            "chunks: {} answered from statistics, {} skipped, {} decoded ({} to merge overlaps)",
            self.chunks_from_stats, self.chunks_skipped, self.chunks_decoded, self.chunks_merged
        )?;
        writeln!(
            f,
            "points: {} decoded, {} from the head; {} compressed bytes read",
            self.points_decoded, self.head_points, self.bytes_read
        )?;
        if self.rollup_partitions > 0 {
            writeln!(
                f,
                "rollups: {} partitions, {} blocks decoded, {} buckets read",
                self.rollup_partitions, self.rollup_blocks, self.rollup_buckets
            )?;
        }
        write!(
            f,
            "result: {} series, {} points; {} thread(s), {} us",
            self.result_series, self.result_points, self.threads, self.micros
        )
    }
}
