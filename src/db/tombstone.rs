//! Deletions: tombstones that hide points of some series in a time range from the
//! segments that existed when the deletion was made.
//!
//! `delete_series` flushes first, so every point written before the call is in a segment
//! with an id up to `max_segment_id`; points written afterwards land in later segments
//! (or the head) and are untouched. Compaction applies tombstones while merging, which
//! removes the points physically; a tombstone is forgotten once no segment it covers is
//! left.

use roaring::RoaringBitmap;

use crate::partition::manifest::{SegmentEntry, TombstoneEntry};
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

    /// Drops tombstones that no longer cover any live segment.
    pub(crate) fn prune(&mut self, segments: &[SegmentEntry]) {
        self.list.retain(|t| {
            segments
                .iter()
                .any(|s| s.id <= t.max_segment_id && t.range.overlaps(s.min_ts, s.max_ts))
        });
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

    #[test]
    fn entries_round_trip_and_prune() {
        let mut t = Tombstones::default();
        t.push(tomb(&[7], 0, 100, 3));
        assert_eq!(Tombstones::from_entries(&t.to_entries()), t);
        let seg = |id, min_ts, max_ts| SegmentEntry {
            id,
            partition: 0,
            level: 0,
            min_ts,
            max_ts,
            points: 1,
            series: 1,
            bytes: 1,
        };
        let mut kept = t.clone();
        kept.prune(&[seg(2, 50, 60)]);
        assert!(!kept.is_empty());
        t.prune(&[seg(4, 50, 60), seg(1, 200, 300)]);
        assert!(t.is_empty());
    }
}
