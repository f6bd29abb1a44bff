//! Deletions: tombstones that hide points of some series in a time range from the
//! segments that existed when the deletion was made.
//!
//! `delete_series` flushes first, so every point written before the call is in a segment
//! with an id up to `max_segment_id`; points written afterwards land in later segments
//! (or the head) and are untouched. Compaction rewrites every segment a tombstone hides
//! points of, applying the tombstones while merging, which removes the points
//! physically; a tombstone is forgotten once no live segment holds a point it hides.

use roaring::RoaringBitmap;

use super::manifest::TombstoneEntry;
use crate::segment::format::ChunkMeta;
use crate::types::TimeRange;

/// One deletion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tombstone {
    pub series: RoaringBitmap,
    pub range: TimeRange,
    /// Applies to segments with an id up to this one.
    pub max_segment_id: u64,
}

/// All live tombstones.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tombstones {
    list: Vec<Tombstone>,
}

impl Tombstones {
    pub(crate) fn from_entries(entries: &[TombstoneEntry]) -> Tombstones {
        Tombstones {
            list: entries
                .iter()
                .map(|e| Tombstone {
                    series: e.series.iter().copied().collect(),
                    range: TimeRange::new(e.start, e.end),
                    max_segment_id: e.max_segment_id,
                })
                .collect(),
        }
    }

    pub(crate) fn to_entries(&self) -> Vec<TombstoneEntry> {
        self.list
            .iter()
            .map(|t| TombstoneEntry {
                series: t.series.iter().collect(),
                start: t.range.start,
                end: t.range.end,
                max_segment_id: t.max_segment_id,
            })
            .collect()
    }

    #[cfg_attr(not(test), allow(dead_code))] // the query engine will skip tombstone checks
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn push(&mut self, tombstone: Tombstone) {
        self.list.push(tombstone);
    }

    fn applicable(&self, series: u32, segment_id: u64) -> impl Iterator<Item = &TimeRange> {
        self.list
            .iter()
            .filter(move |t| segment_id <= t.max_segment_id && t.series.contains(series))
            .map(|t| &t.range)
    }

    /// True when some tombstone hides points of `series` in segment `segment_id`
    /// between `min_ts` and `max_ts` (inclusive): such a chunk cannot be answered from
    /// its statistics.
    #[cfg_attr(not(test), allow(dead_code))] // for the query engine's chunk-statistics path
    pub(crate) fn overlaps(&self, series: u32, segment_id: u64, min_ts: i64, max_ts: i64) -> bool {
        self.applicable(series, segment_id)
            .any(|r| r.overlaps(min_ts, max_ts))
    }

    /// Removes the deleted points from one series' points read from segment `segment_id`.
    pub(crate) fn apply(
        &self,
        series: u32,
        segment_id: u64,
        ts: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) {
        let ranges: Vec<TimeRange> = self.applicable(series, segment_id).copied().collect();
        if ranges.is_empty() {
            return;
        }
        let mut keep = 0;
        for i in 0..ts.len() {
            if !ranges.iter().any(|r| r.contains(ts[i])) {
                ts[keep] = ts[i];
                values[keep] = values[i];
                keep += 1;
            }
        }
        ts.truncate(keep);
        values.truncate(keep);
    }

    /// True when an existing tombstone already hides everything of `series` before `end`
    /// in segments up to `segment_id`: repeating the deletion would change nothing.
    pub(crate) fn covers(&self, series: &RoaringBitmap, end: i64, segment_id: u64) -> bool {
        self.list.iter().any(|t| {
            t.range.start == i64::MIN
                && t.range.end >= end
                && t.max_segment_id >= segment_id
                && series.is_subset(&t.series)
        })
    }

    /// True when some tombstone hides points of segment `segment_id`, judged from its
    /// chunk index (`chunks` sorted by series, as in a segment footer): a chunk of a
    /// deleted series whose time span overlaps the deleted range. Such a segment still
    /// holds deleted points on disk, and compaction must rewrite it.
    pub(crate) fn hides_points_in(&self, segment_id: u64, chunks: &[ChunkMeta]) -> bool {
        self.list
            .iter()
            .any(|t| t.hides_points_in(segment_id, chunks))
    }

    /// Drops the tombstones that hide no point of any of `segments` (the live ones) and
    /// overlap none of `rollups` (`(id, first, last timestamp)` of the live rollup files,
    /// judged by time alone): what they deleted has been rewritten away by compaction or
    /// dropped by retention.
    pub(crate) fn prune<'a>(
        &mut self,
        segments: impl Iterator<Item = (u64, &'a [ChunkMeta])>,
        rollups: &[(u64, i64, i64)],
    ) {
        let segments: Vec<(u64, &[ChunkMeta])> = segments.collect();
        self.list.retain(|t| {
            segments
                .iter()
                .any(|&(id, chunks)| t.hides_points_in(id, chunks))
                || rollups
                    .iter()
                    .any(|&(id, lo, hi)| id <= t.max_segment_id && t.range.overlaps(lo, hi))
        });
    }
}

impl Tombstone {
    fn hides_points_in(&self, segment_id: u64, chunks: &[ChunkMeta]) -> bool {
        if segment_id > self.max_segment_id {
            return false;
        }
        let overlaps = |c: &ChunkMeta| self.range.overlaps(c.stats.min_ts, c.stats.max_ts);
        // Walk whichever is smaller: the deleted series (binary search in the chunk
        // index) or the chunks (bitmap lookups).
        if self.series.len() < chunks.len() as u64 {
            self.series.iter().any(|series| {
                let start = chunks.partition_point(|c| c.series < series);
                chunks[start..]
                    .iter()
                    .take_while(|c| c.series == series)
                    .any(overlaps)
            })
        } else {
            chunks
                .iter()
                .any(|c| self.series.contains(c.series) && overlaps(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tomb(series: &[u32], start: i64, end: i64, max_segment_id: u64) -> Tombstone {
        Tombstone {
            series: series.iter().copied().collect(),
            range: TimeRange::new(start, end),
            max_segment_id,
        }
    }

    #[test]
    fn applies_only_to_older_segments_and_chosen_series() {
        let mut t = Tombstones::default();
        t.push(tomb(&[1, 2], 10, 20, 5));
        let (mut ts, mut vs) = (vec![5, 10, 15, 20], vec![0.0, 1.0, 2.0, 3.0]);
        t.apply(1, 5, &mut ts, &mut vs);
        assert_eq!((ts, vs), (vec![5, 20], vec![0.0, 3.0]));
        let (mut ts, mut vs) = (vec![10], vec![1.0]);
        t.apply(1, 6, &mut ts, &mut vs);
        assert_eq!(ts, vec![10], "a newer segment is not covered");
        t.apply(3, 1, &mut ts, &mut vs);
        assert_eq!(ts, vec![10], "another series is not covered");
        assert!(t.overlaps(2, 1, 0, 10));
        assert!(!t.overlaps(2, 1, 20, 30));
    }

    fn chunk(series: u32, min_ts: i64, max_ts: i64) -> ChunkMeta {
        ChunkMeta {
            series,
            offset: 16,
            len: 1,
            raw_len: 1,
            ts_len: 0,
            crc: 0,
            ts_codec: 0,
            value_codec: 0,
            stats: crate::segment::format::ChunkStats::compute(&[min_ts, max_ts], &[0.0, 0.0]),
        }
    }

    #[test]
    fn finds_the_segments_holding_deleted_points() {
        let mut t = Tombstones::default();
        t.push(tomb(&[7], 0, 100, 3));
        let chunks = [chunk(2, 0, 50), chunk(7, 150, 200), chunk(7, 250, 300)];
        assert!(
            !t.hides_points_in(3, &chunks),
            "series 7 only after the range"
        );
        let chunks = [chunk(2, 0, 50), chunk(7, 90, 120), chunk(9, 0, 10)];
        assert!(t.hides_points_in(3, &chunks));
        assert!(!t.hides_points_in(4, &chunks), "written after the deletion");
        // Many deleted series: the chunk walk gives the same answers.
        let mut many = Tombstones::default();
        many.push(tomb(&(5..100).collect::<Vec<_>>(), 0, 100, 3));
        assert!(many.hides_points_in(3, &chunks));
        assert!(!many.hides_points_in(3, &[chunk(2, 0, 50), chunk(7, 150, 200)]));
    }

    #[test]
    fn entries_round_trip_and_prune() {
        let mut t = Tombstones::default();
        t.push(tomb(&[7], 0, 100, 3));
        t.push(tomb(&[8], 0, 100, 3));
        assert_eq!(Tombstones::from_entries(&t.to_entries()), t);
        let holding = [chunk(7, 50, 60)];
        let other_series = [chunk(9, 50, 60)];
        let mut kept = t.clone();
        kept.prune([(2, &holding[..]), (3, &other_series[..])].into_iter(), &[]);
        assert_eq!(
            kept.to_entries().len(),
            1,
            "the tombstone of series 8 is resolved"
        );
        assert_eq!(kept.to_entries()[0].series, vec![7]);
        // Rewritten (a newer id) or out of the range: nothing left to hide.
        let rewritten = [chunk(7, 50, 60)];
        let later = [chunk(7, 200, 300)];
        t.prune([(4, &rewritten[..]), (1, &later[..])].into_iter(), &[]);
        assert!(t.is_empty());
    }
}
