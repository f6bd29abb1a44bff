//! The per-series iterator behind [`crate::Db::select`].

use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::index::Catalog;
use crate::points::merge_pieces;
use crate::types::{SeriesId, SeriesKey, TimeRange};
use crate::version::Version;

/// The points of one series, columnar and sorted by time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoints {
    /// The series id.
    pub id: SeriesId,
    /// The series key.
    pub key: Arc<SeriesKey>,
    /// Timestamps, strictly increasing.
    pub timestamps: Vec<i64>,
    /// Values, one per timestamp.
    pub values: Vec<f64>,
}

impl SeriesPoints {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True when there is no point.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The points as `(timestamp, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.timestamps
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

/// Iterator over the series a selection matched; see [`crate::Db::select`]. It reads
/// from the snapshot taken when it was created, so concurrent flushes do not disturb it.
pub struct SelectIter {
    catalog: Arc<Catalog>,
    version: Arc<Version>,
    ids: roaring::bitmap::IntoIter,
    range: TimeRange,
    pieces: Vec<(Vec<i64>, Vec<f64>)>,
}

impl SelectIter {
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        version: Arc<Version>,
        ids: RoaringBitmap,
        range: TimeRange,
    ) -> Self {
        SelectIter {
            catalog,
            version,
            ids: ids.into_iter(),
            range,
            pieces: Vec::new(),
        }
    }

    /// Reads one series; `None` when it has no point in range.
    fn read(&mut self, id: u32) -> Result<Option<SeriesPoints>> {
        let range = self.range;
        self.pieces.clear();
        for live in &self.version.segments {
            let e = &live.entry;
            if !range.overlaps(e.min_ts, e.max_ts) {
                continue;
            }
            let seg = &live.segment;
            let (mut t, mut v) = (Vec::new(), Vec::new());
            for chunk in seg.series_chunks(id) {
                if !range.overlaps(chunk.stats.min_ts, chunk.stats.max_ts) {
                    continue;
                }
                let from = t.len();
                seg.decode_chunk(chunk, &mut t, &mut v)?;
                if chunk.stats.min_ts < range.start || chunk.stats.max_ts >= range.end {
                    let lo = from + t[from..].partition_point(|&x| x < range.start);
                    let hi = from + t[from..].partition_point(|&x| x < range.end);
                    t.drain(hi..);
                    v.drain(hi..);
                    t.drain(from..lo);
                    v.drain(from..lo);
                }
            }
            self.version.tombstones.apply(id, e.id, &mut t, &mut v);
            if !t.is_empty() {
                self.pieces.push((t, v));
            }
        }
        for head in self
            .version
            .frozen
            .iter()
            .chain(std::iter::once(&self.version.live))
        {
            if !head
                .time_bounds()
                .is_some_and(|(lo, hi)| range.overlaps(lo, hi))
            {
                continue;
            }
            let (mut t, mut v) = (Vec::new(), Vec::new());
            if head.read_series(id, range, &mut t, &mut v) > 0 {
                self.pieces.push((t, v));
            }
        }
        if self.pieces.is_empty() {
            return Ok(None);
        }
        let (mut timestamps, mut values) = (Vec::new(), Vec::new());
        if self.pieces.len() == 1 {
            let (t, v) = self.pieces.pop().unwrap_or_default();
            timestamps = t;
            values = v;
        } else {
            merge_pieces(&self.pieces, &mut timestamps, &mut values);
        }
        let Some(key) = self.catalog.key(SeriesId(id)) else {
            return Err(crate::Error::Internal(format!(
                "series {id} has points but no key"
            )));
        };
        Ok(Some(SeriesPoints {
            id: SeriesId(id),
            key,
            timestamps,
            values,
        }))
    }
}

impl Iterator for SelectIter {
    type Item = Result<SeriesPoints>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let id = self.ids.next()?;
            match self.read(id) {
                Ok(Some(points)) => return Some(Ok(points)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
