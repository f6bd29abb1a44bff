//! Pure decisions: what to compact and what retention drops. No I/O, tested without files.

use std::collections::BTreeSet;

use crate::version::manifest::SegmentEntry;

use crate::version::partition::{LEVEL_COLD, LEVEL_WARM};

/// Encoding targets for one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TierTarget {
    pub level: u8,
    pub zstd_level: i32,
    pub chunk_points: usize,
}

/// The policy compaction follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompactionPolicy {
    /// Partitions at or after this one are warm; older ones are cold.
    pub first_warm_partition: i64,
    pub warm: TierTarget,
    pub cold: TierTarget,
}

/// One unit of compaction work: merge `inputs` (all the segments of `partition`) into
/// one segment encoded for `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompactionTask {
    pub partition: i64,
    /// Segment ids, ascending.
    pub inputs: Vec<u64>,
    pub target: TierTarget,
}

/// Chooses the partitions to compact: a warm partition with more than one segment is
/// merged into one warm segment; a cold partition is merged and re-encoded densely
/// unless it already is one cold segment. A partition with a segment in `dirty` (one
/// holding points that tombstones hide) is rewritten even when settled, so that deleted
/// points leave the disk; it keeps its tier (a partition made wholly cold stays cold).
/// Oldest partitions first.
pub(crate) fn plan_compaction(
    segments: &[SegmentEntry],
    policy: &CompactionPolicy,
    dirty: &BTreeSet<u64>,
) -> Vec<CompactionTask> {
    let mut by_partition: std::collections::BTreeMap<i64, Vec<&SegmentEntry>> = Default::default();
    for s in segments {
        by_partition.entry(s.partition).or_default().push(s);
    }
    let mut tasks = Vec::new();
    for (partition, mut segs) in by_partition {
        segs.sort_by_key(|s| s.id);
        let has_deleted_points = segs.iter().any(|s| dirty.contains(&s.id));
        let all_cold = segs.iter().all(|s| s.level >= LEVEL_COLD);
        let target = if partition < policy.first_warm_partition || (has_deleted_points && all_cold)
        {
            policy.cold
        } else {
            policy.warm
        };
        if !has_deleted_points {
            let settled = segs.len() == 1 && segs[0].level >= target.level;
            // A lone warm flush segment is already what a warm read wants; merging it
            // alone would only re-encode it.
            if settled || (target.level == LEVEL_WARM && segs.len() == 1) {
                continue;
            }
        }
        tasks.push(CompactionTask {
            partition,
            inputs: segs.iter().map(|s| s.id).collect(),
            target,
        });
    }
    tasks
}

/// A task that compacts one partition into `target`, whatever its current state
/// (`None` when it has no segment, or is already one segment of that level holding no
/// deleted point, i.e. none in `dirty`).
pub(crate) fn plan_partition(
    segments: &[SegmentEntry],
    partition: i64,
    target: TierTarget,
    dirty: &BTreeSet<u64>,
) -> Option<CompactionTask> {
    let mut inputs: Vec<&SegmentEntry> = segments
        .iter()
        .filter(|s| s.partition == partition)
        .collect();
    inputs.sort_by_key(|s| s.id);
    let settled =
        inputs.len() == 1 && inputs[0].level == target.level && !dirty.contains(&inputs[0].id);
    if inputs.is_empty() || settled {
        return None;
    }
    Some(CompactionTask {
        partition,
        inputs: inputs.iter().map(|s| s.id).collect(),
        target,
    })
}

/// The segments of the partitions wholly older than `cutoff` (a timestamp): partitions
/// every segment of which has its newest point before it. Retention drops them by
/// deleting files, without rewriting anything.
///
/// A partition goes whole or not at all. Dropping only its expired segments could drop
/// a late rewrite of a timestamp (flushed into a small segment of old points) while an
/// older segment of the same partition, kept for its newer points, still holds the value
/// that rewrite replaced: reads would return the overwritten value.
pub(crate) fn plan_retention(segments: &[SegmentEntry], cutoff: i64) -> Vec<u64> {
    let unexpired: std::collections::BTreeSet<i64> = segments
        .iter()
        .filter(|s| s.max_ts >= cutoff)
        .map(|s| s.partition)
        .collect();
    segments
        .iter()
        .filter(|s| s.max_ts < cutoff && !unexpired.contains(&s.partition))
        .map(|s| s.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, partition: i64, level: u8) -> SegmentEntry {
        SegmentEntry {
            id,
            partition,
            level,
            min_ts: partition * 100,
            max_ts: partition * 100 + 99,
            points: 10,
            series: 1,
            bytes: 100,
        }
    }

    fn policy() -> CompactionPolicy {
        CompactionPolicy {
            first_warm_partition: 10,
            warm: TierTarget {
                level: LEVEL_WARM,
                zstd_level: 3,
                chunk_points: 2048,
            },
            cold: TierTarget {
                level: LEVEL_COLD,
                zstd_level: 9,
                chunk_points: 8192,
            },
        }
    }

    #[test]
    fn warm_partitions_merge_only_when_split() {
        let segs = vec![seg(1, 10, 0), seg(2, 11, 0), seg(3, 11, 0)];
        let tasks = plan_compaction(&segs, &policy(), &BTreeSet::new());
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].partition, 11);
        assert_eq!(tasks[0].inputs, vec![2, 3]);
        assert_eq!(tasks[0].target.level, LEVEL_WARM);
    }

    #[test]
    fn cold_partitions_are_reencoded_once() {
        let segs = vec![
            seg(4, 3, 0),
            seg(5, 4, LEVEL_WARM),
            seg(6, 5, LEVEL_COLD),
            seg(7, 5, 0),
        ];
        let tasks = plan_compaction(&segs, &policy(), &BTreeSet::new());
        let parts: Vec<_> = tasks
            .iter()
            .map(|t| (t.partition, t.inputs.clone()))
            .collect();
        assert_eq!(parts, vec![(3, vec![4]), (4, vec![5]), (5, vec![6, 7])]);
        assert!(tasks.iter().all(|t| t.target.level == LEVEL_COLD));
        // Once compacted, nothing is left to do.
        let done = vec![
            seg(8, 3, LEVEL_COLD),
            seg(9, 4, LEVEL_COLD),
            seg(10, 5, LEVEL_COLD),
        ];
        assert!(plan_compaction(&done, &policy(), &BTreeSet::new()).is_empty());
    }

    #[test]
    fn one_partition_on_request() {
        let segs = vec![seg(1, 7, 0), seg(2, 7, 0), seg(3, 8, LEVEL_COLD)];
        let t = plan_partition(&segs, 7, policy().cold, &BTreeSet::new()).unwrap();
        assert_eq!(t.inputs, vec![1, 2]);
        assert!(plan_partition(&segs, 8, policy().cold, &BTreeSet::new()).is_none());
        assert_eq!(
            plan_partition(&segs, 8, policy().warm, &BTreeSet::new())
                .unwrap()
                .inputs,
            vec![3]
        );
        assert!(plan_partition(&segs, 9, policy().cold, &BTreeSet::new()).is_none());
    }

    #[test]
    fn partitions_holding_deleted_points_are_rewritten_in_their_tier() {
        let segs = vec![
            seg(1, 3, LEVEL_COLD),
            seg(2, 4, LEVEL_COLD),
            seg(3, 10, 0),
            seg(4, 11, LEVEL_WARM),
            seg(5, 12, LEVEL_COLD), // made cold on request inside the warm window
            seg(6, 13, 0),
        ];
        assert!(plan_compaction(&segs, &policy(), &BTreeSet::new()).is_empty());
        let dirty: BTreeSet<u64> = [2, 3, 4, 5].into();
        let tasks = plan_compaction(&segs, &policy(), &dirty);
        let got: Vec<_> = tasks
            .iter()
            .map(|t| (t.partition, t.inputs.clone(), t.target.level))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, vec![2], LEVEL_COLD),
                (10, vec![3], LEVEL_WARM),
                (11, vec![4], LEVEL_WARM),
                (12, vec![5], LEVEL_COLD),
            ]
        );
        let t = plan_partition(&segs, 4, policy().cold, &dirty).unwrap();
        assert_eq!(t.inputs, vec![2]);
        assert!(plan_partition(&segs, 3, policy().cold, &dirty).is_none());
    }

    #[test]
    fn retention_drops_only_wholly_expired_segments() {
        let segs = vec![seg(1, 1, 2), seg(2, 2, 2), seg(3, 3, 0)];
        assert_eq!(plan_retention(&segs, 300), vec![1, 2]);
        assert_eq!(plan_retention(&segs, 299), vec![1]);
        assert!(plan_retention(&segs, i64::MIN).is_empty());
    }

    #[test]
    fn retention_keeps_an_expired_segment_of_a_partition_not_wholly_expired() {
        // Partition 1: segment 1 ends at 199, segment 4 (late writes) at 120.
        let mut late = seg(4, 1, 0);
        late.max_ts = 120;
        let segs = vec![seg(1, 1, 2), seg(2, 2, 2), seg(3, 3, 0), late];
        assert_eq!(plan_retention(&segs, 150), Vec::<u64>::new());
        assert_eq!(plan_retention(&segs, 200), vec![1, 4]);
        assert_eq!(plan_retention(&segs, 300), vec![1, 2, 4]);
    }
}
