//! Rollup decisions: which series a policy covers, which raw segments the raw retention
//! of a policy lets go, which rollups their own retention drops. Pure, tested without
//! files; the worker does the I/O.
//!
//! When rollups are written: by the compaction that makes a partition cold (a planned
//! cold task or [`crate::Db::compact_partition`] with [`crate::Tier::Cold`]), in the same
//! pass that merges the raw segments, from the merged points with deletions applied.
//! They are swapped in with the merged segment in one manifest write, and replace every
//! earlier rollup of the partition. Warm partitions have none (their raw points are
//! there and fast to read). Where raw retention dropped a partition's raw points, its
//! rollup is the only copy: a later cold compaction of the partition (after late
//! writes) merges the new points into it, a warm one leaves the partition alone, and
//! `compact()` rewrites a rollup-only partition touched by a deletion without the
//! touched buckets.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::index::Catalog;
use crate::options::RollupPolicy;
use crate::types::Selector;
use crate::version::manifest::{RollupEntry, SegmentEntry};

/// Each policy's series: a series belongs to the first policy whose selector matches it.
pub(crate) struct Coverage {
    /// Per policy, in order: its series and the policy.
    pub policies: Vec<(RoaringBitmap, RollupPolicy)>,
}

impl Coverage {
    pub(crate) fn new(catalog: &Catalog, rules: &[(Selector, RollupPolicy)]) -> Coverage {
        let mut taken = RoaringBitmap::new();
        let mut policies = Vec::with_capacity(rules.len());
        for (selector, policy) in rules {
            let mut ids = catalog.select(selector);
            ids -= &taken;
            taken |= &ids;
            policies.push((ids, *policy));
        }
        Coverage { policies }
    }

    /// The policy covering `series`.
    pub(crate) fn policy(&self, series: u32) -> Option<&RollupPolicy> {
        self.policies
            .iter()
            .find(|(ids, _)| ids.contains(series))
            .map(|(_, p)| p)
    }

    /// Distinct resolutions of the policies, ascending.
    pub(crate) fn resolutions(&self) -> Vec<i64> {
        let mut r: Vec<i64> = self.policies.iter().map(|(_, p)| p.resolution).collect();
        r.sort_unstable();
        r.dedup();
        r
    }
}

/// True when raw segment `segment` (holding `series`) may be dropped because every one
/// of its series is covered by a policy whose raw retention has passed for it (its
/// newest point is older than `now - raw_retention`) and by a rollup of its partition at
/// that policy's resolution written after it (`rollups` are the partition's).
pub(crate) fn raw_droppable(
    segment: &SegmentEntry,
    series: &RoaringBitmap,
    coverage: &Coverage,
    rollups: &[&RollupEntry],
    now: i64,
) -> bool {
    if series.is_empty() || rollups.is_empty() {
        return false;
    }
    let mut left = series.clone();
    for (ids, policy) in &coverage.policies {
        let Some(raw_retention) = policy.raw_retention else {
            continue;
        };
        if segment.max_ts >= now.saturating_sub(raw_retention) {
            continue;
        }
        let rolled_up = rollups
            .iter()
            .any(|r| r.resolution == policy.resolution && r.id > segment.id);
        if rolled_up {
            left -= ids;
        }
    }
    left.is_empty()
}

/// Rollups past their retention: the longest retention among the policies of their
/// resolution (kept forever when one of them keeps them forever, or when no policy has
/// that resolution any more). A rollup goes once its last bucket ends before
/// `now - retention`.
pub(crate) fn plan_rollup_retention(
    rollups: &[RollupEntry],
    coverage: &Coverage,
    now: i64,
) -> Vec<u64> {
    let mut keep: BTreeMap<i64, Option<i64>> = BTreeMap::new();
    for (_, p) in &coverage.policies {
        let slot = keep.entry(p.resolution).or_insert(Some(0));
        *slot = match (*slot, p.retention) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    rollups
        .iter()
        .filter(|r| {
            matches!(keep.get(&r.resolution), Some(Some(retention))
                if r.max_ts <= now.saturating_sub(*retention))
        })
        .map(|r| r.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn seg(id: u64, max_ts: i64) -> SegmentEntry {
        SegmentEntry {
            id,
            partition: 0,
            level: 2,
            min_ts: 0,
            max_ts,
            points: 1,
            series: 1,
            bytes: 1,
        }
    }

    fn rollup(id: u64, resolution: i64, max_ts: i64) -> RollupEntry {
        RollupEntry {
            id,
            partition: 0,
            resolution,
            min_ts: 0,
            max_ts,
            buckets: 1,
            series: 1,
            bytes: 1,
            raw_dropped: false,
        }
    }

    fn coverage() -> Coverage {
        let ns = Duration::from_nanos;
        Coverage {
            policies: vec![
                (
                    [1u32, 2].into_iter().collect(),
                    RollupPolicy::new(ns(10))
                        .raw_retention(ns(100))
                        .retention(ns(1000)),
                ),
                ([3u32].into_iter().collect(), RollupPolicy::new(ns(20))),
                (
                    [4u32].into_iter().collect(),
                    RollupPolicy::new(ns(10))
                        .raw_retention(ns(50))
                        .retention(ns(500)),
                ),
            ],
        }
    }

    #[test]
    fn raw_goes_only_when_every_series_is_rolled_up_and_expired() {
        let c = coverage();
        let r10 = rollup(5, 10, 100);
        let s: RoaringBitmap = [1u32, 2].into_iter().collect();
        assert!(raw_droppable(&seg(4, 99), &s, &c, &[&r10], 300));
        // Too recent for the raw retention.
        assert!(!raw_droppable(&seg(4, 99), &s, &c, &[&r10], 150));
        // The rollup is older than the segment: it does not summarise it.
        assert!(!raw_droppable(&seg(6, 99), &s, &c, &[&r10], 300));
        // Series 3's policy keeps raw data; series 9 has no policy.
        let mixed: RoaringBitmap = [1u32, 3].into_iter().collect();
        assert!(!raw_droppable(&seg(4, 99), &mixed, &c, &[&r10], 300));
        let uncovered: RoaringBitmap = [1u32, 9].into_iter().collect();
        assert!(!raw_droppable(&seg(4, 99), &uncovered, &c, &[&r10], 300));
        // No rollup at the policy's resolution.
        assert!(!raw_droppable(
            &seg(4, 99),
            &s,
            &c,
            &[&rollup(5, 20, 100)],
            300
        ));
    }

    #[test]
    fn rollups_keep_the_longest_retention_of_their_resolution() {
        let c = coverage();
        let rollups = [rollup(1, 10, 100), rollup(2, 10, 900), rollup(3, 20, 100)];
        // Resolution 10: longest retention 1000; resolution 20: forever.
        assert_eq!(plan_rollup_retention(&rollups, &c, 1100), vec![1]);
        assert!(plan_rollup_retention(&rollups, &c, 1099).is_empty());
        assert_eq!(plan_rollup_retention(&rollups, &c, 10_000), vec![1, 2]);
        let orphaned = [rollup(9, 30, 0)];
        assert!(plan_rollup_retention(&orphaned, &c, i64::MAX).is_empty());
    }
}
