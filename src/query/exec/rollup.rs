//! Rollups in a query: which partitions a rollup answers, and feeding a series' buckets
//! from one (merged with the raw points written to its partition after it).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::feed::Feeder;
use super::read::{clip, ChunkRef};
use super::{Counters, Ctx};
use crate::error::Result;
use crate::head::Head;
use crate::points::merge_pieces;
use crate::query::agg::{Bucketing, Partial};
use crate::query::spec::{Aggregate, Query};
use crate::segment::rollup::RollupBucket;
use crate::types::{TimeRange, Timestamp};
use crate::version::{LiveRollup, Version};

impl<'v> Ctx<'v> {
    /// True when series `id` reads partition `part` from its rollup: the rollup holds
    /// the series, and no deletion touches its buckets unless the raw points are gone
    /// (then the touched buckets are left out instead, see [`Ctx::feed_part`]).
    pub(super) fn uses_rollup(&self, id: u32, part: &RollupPart<'_>) -> bool {
        let Some(block) = part.rollup.rollup.block(id) else {
            return false;
        };
        part.rollup.entry.raw_dropped
            || !self.tombstones.is_some_and(|t| {
                t.overlaps(
                    id,
                    part.rollup.entry.id,
                    block.min_ts,
                    block.max_ts.saturating_add(part.resolution - 1),
                )
            })
    }

    /// Feeds one series' buckets of a rollup part: the rollup's buckets inside the range
    /// (less those a deletion touches), merged with the raw points written to the
    /// partition after the rollup (newer segments, then `head` points), in bucket order.
    pub(super) fn feed_part(
        &self,
        id: u32,
        part: &RollupPart<'v>,
        head_ts: &[Timestamp],
        head_vals: &[f64],
        feeder: &mut Feeder<'_, 'v>,
        explain: &mut Counters,
    ) -> Result<()> {
        let Some(bucketing) = self.bucketing else {
            return Ok(());
        };
        let needs = self.needs;
        let mut partials: BTreeMap<i64, Partial> = BTreeMap::new();
        let rollup = part.rollup;
        if let Some(block) = rollup.rollup.block(id) {
            let mut buckets: Vec<RollupBucket> = Vec::with_capacity(block.buckets as usize);
            self.charge_read(u64::from(block.buckets))?;
            rollup.rollup.decode_block(block, &mut buckets)?;
            explain.rollup_blocks += 1;
            for b in &buckets {
                let end = b.start.saturating_add(part.resolution);
                if b.start < self.range.start || end > self.range.end {
                    continue; // Only where the raw points are gone; see `rollup_parts`.
                }
                if self
                    .tombstones
                    .is_some_and(|t| t.overlaps(id, rollup.entry.id, b.start, end - 1))
                {
                    continue;
                }
                explain.rollup_buckets += 1;
                partials
                    .entry(bucketing.index(b.start))
                    .or_default()
                    .merge(&partial_of(b), needs);
            }
        }
        if !part.newer.is_empty() || !head_ts.is_empty() {
            let mut pieces: Vec<(Vec<i64>, Vec<f64>)> = Vec::new();
            for &si in &part.newer {
                let segment = &self.segments[si];
                let (mut t, mut v) = (Vec::new(), Vec::new());
                for meta in segment.segment.series_chunks(id) {
                    let chunk = ChunkRef {
                        rank: si as u32,
                        segment_id: segment.entry.id,
                        segment: &segment.segment,
                        meta,
                    };
                    self.decode(&chunk, &mut t, &mut v, explain)?;
                }
                self.apply_deletions(id, segment.entry.id, &mut t, &mut v);
                pieces.push((t, v));
            }
            pieces.push((head_ts.to_vec(), head_vals.to_vec()));
            let (mut t, mut v) = (Vec::new(), Vec::new());
            merge_pieces(&pieces, &mut t, &mut v);
            let (lo, hi) = clip(&t, self.range);
            for (&ts, &value) in t[lo..hi].iter().zip(&v[lo..hi]) {
                partials
                    .entry(bucketing.index(ts))
                    .or_default()
                    .push(ts, value, needs);
            }
        }
        for (index, partial) in partials {
            feeder.feed_partial(index, &partial);
        }
        Ok(())
    }
}

/// A partition whose rollup answers the query for the series it holds.
pub(super) struct RollupPart<'v> {
    rollup: &'v LiveRollup,
    resolution: i64,
    /// The partition's span `[start, end)`.
    pub(super) start: Timestamp,
    pub(super) end: Timestamp,
    /// Indices into `Ctx::segments` of the partition's raw segments newer than the
    /// rollup (only when the raw data it summarised is gone): merged into its buckets.
    newer: Vec<usize>,
}

/// The aggregates whose value follows from bucket summaries.
fn rollup_answers(aggregate: Aggregate) -> bool {
    matches!(
        aggregate,
        Aggregate::Count
            | Aggregate::Sum
            | Aggregate::Min
            | Aggregate::Max
            | Aggregate::Avg
            | Aggregate::First
            | Aggregate::Last
            | Aggregate::Stddev
    )
}

/// Chooses, per partition, the rollup that answers the query instead of the raw
/// points, if any. A query qualifies when it aggregates (with one of
/// [`rollup_answers`]) over the whole range or over buckets that are a multiple of a
/// rollup's resolution, with no transform and no value filter. A partition's rollup
/// (the coarsest that qualifies) is used when:
///
/// - its raw segments are still there, no raw segment or head point was written to the
///   partition after it (a later write may overwrite a summarised point), and all its
///   buckets lie inside the range (partitions cut by the range's ends read raw points,
///   which answer exactly); or
/// - its raw data is gone (`raw_dropped`): then it is the only copy, later writes to
///   the partition are merged into its buckets, and of its buckets those inside the
///   range are used (a bucket cut by the range's ends is left out: its points cannot
///   be split).
///
/// Returns the parts by ascending span, and per segment the part of its partition.
pub(super) fn rollup_parts<'v>(
    version: &'v Version,
    query: &Query,
    bucketing: Option<Bucketing>,
    range: TimeRange,
    heads: &[&Head],
) -> (Vec<RollupPart<'v>>, Vec<Option<usize>>) {
    let mut segment_part = vec![None; version.segments.len()];
    let eligible = query.transform.is_none()
        && query.where_values.is_empty()
        && query.aggregate.is_some_and(rollup_answers);
    let Some(bucketing) = bucketing.filter(|_| eligible && !version.rollups.is_empty()) else {
        return (Vec::new(), segment_part);
    };
    let fits = |resolution: i64| match bucketing {
        Bucketing::Whole(_) => true,
        // A rollup's buckets are aligned to the epoch: they fit a grid whose width and
        // offset are multiples of their resolution.
        Bucketing::Every(w, o) => w % resolution == 0 && o % resolution == 0,
    };
    let mut by_partition: BTreeMap<i64, &'v Arc<LiveRollup>> = BTreeMap::new();
    for r in &version.rollups {
        if !fits(r.entry.resolution) || !range.overlaps(r.entry.min_ts, r.entry.max_ts - 1) {
            continue;
        }
        let slot = by_partition.entry(r.entry.partition).or_insert(r);
        // The coarsest resolution reads the fewest buckets; the only copy of dropped raw
        // data wins over everything.
        let better = (r.entry.raw_dropped, r.entry.resolution, r.entry.id)
            > (slot.entry.raw_dropped, slot.entry.resolution, slot.entry.id);
        if better {
            *slot = r;
        }
    }
    let mut parts = Vec::new();
    for (partition, rollup) in by_partition {
        let (start, end) = rollup.span;
        let newer: Vec<usize> = version
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.entry.partition == partition && s.entry.id > rollup.entry.id)
            .map(|(i, _)| i)
            .collect();
        let head_inside = heads.iter().any(|h| {
            h.time_bounds()
                .is_some_and(|(lo, hi)| lo < end && hi >= start)
        });
        let usable = rollup.entry.raw_dropped
            || (newer.is_empty()
                && !head_inside
                && range.start <= rollup.entry.min_ts
                && rollup.entry.max_ts <= range.end);
        if !usable {
            continue;
        }
        for (i, s) in version.segments.iter().enumerate() {
            if s.entry.partition == partition {
                segment_part[i] = Some(parts.len());
            }
        }
        parts.push(RollupPart {
            rollup,
            resolution: rollup.entry.resolution,
            start,
            end,
            newer,
        });
    }
    (parts, segment_part)
}

/// A rollup bucket as a query partial.
fn partial_of(b: &RollupBucket) -> Partial {
    Partial {
        count: b.count,
        sum: b.sum,
        min: b.min,
        max: b.max,
        first_ts: b.first_ts,
        first: b.first,
        last_ts: b.last_ts,
        last: b.last,
        mean: b.sum / b.count as f64,
        m2: b.m2,
        values: Vec::new(),
    }
}
