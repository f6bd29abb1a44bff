//! Stage 1 of a series' run: its points from the heads and the chunks of the segments
//! that overlap the range (narrowed for whole-range first/last), planned into steps and
//! fed in time order, chunk statistics standing in for decoding where they answer.

use super::feed::Feeder;
use super::{Counters, Ctx, Narrow, Scratch, SeriesData};
use crate::error::Result;
use crate::points::merge_pieces;
use crate::query::plan::{chunk_action, plan_series_into, ChunkAction, Interval, Needed, Step};
use crate::segment::format::ChunkMeta;
use crate::segment::Segment;
use crate::types::{TimeRange, Timestamp};

/// A rollup part a series reads (its index in `Ctx::rollup_parts`) with the series'
/// head points inside its partition.
type PartRun = (usize, Vec<Timestamp>, Vec<f64>);

/// What one series' read gathered before feeding: the range it covers, its chunks in
/// plan order and its head points.
struct Gathered<'s, 'v> {
    range: TimeRange,
    chunks: &'s [ChunkRef<'v>],
    head_ts: &'s [Timestamp],
    head_vals: &'s [f64],
}

impl<'v> Ctx<'v> {
    /// Reads one series over the range (or the narrowed part of it) into the sink: its
    /// head points, the rollup parts that answer for it, the segment chunks around them,
    /// planned into steps and fed in time order.
    pub(super) fn read_series(
        &self,
        id: u32,
        narrow: Narrow,
        explain: &mut Counters,
        scratch: &mut Scratch<'v>,
    ) -> Result<Option<SeriesData>> {
        let Scratch {
            cursors,
            chunks,
            intervals,
            steps,
            head_ts,
            head_vals,
            ts,
            vals,
        } = scratch;
        self.read_heads(id, head_ts, head_vals, explain)?;
        let parts = self.take_rollup_parts(id, head_ts, head_vals);
        chunks.clear();
        let range = self.gather_chunks(id, narrow, &parts, head_ts, cursors, chunks);
        if narrow != Narrow::None {
            chunks.retain(|c| range.overlaps(c.meta.stats.min_ts, c.meta.stats.max_ts));
            let lo = head_ts.partition_point(|&t| t < range.start);
            let hi = head_ts.partition_point(|&t| t < range.end);
            head_ts.truncate(hi);
            head_vals.truncate(hi);
            head_ts.drain(..lo);
            head_vals.drain(..lo);
        }
        if chunks.is_empty() && head_ts.is_empty() && parts.is_empty() {
            return Ok(None);
        }
        if chunks.len() > 1 {
            chunks.sort_by_key(|c| (c.meta.stats.min_ts, c.rank));
        }
        intervals.clear();
        intervals.extend(chunks.iter().map(|c| Interval {
            rank: c.rank,
            min_ts: c.meta.stats.min_ts,
            max_ts: c.meta.stats.max_ts,
        }));
        plan_series_into(intervals, head_ts, steps);

        let gathered = Gathered {
            range,
            chunks,
            head_ts,
            head_vals,
        };
        let mut feeder = Feeder::new(self);
        let mut parts = parts.into_iter().peekable();
        for step in steps.drain(..) {
            // Parts and steps are disjoint in time: feed the parts that come first.
            let step_start = match &step {
                Step::Head(r) => head_ts[r.start],
                Step::Isolated(i) => chunks[*i].meta.stats.min_ts,
                Step::Overlapping { chunks: cr, .. } => chunks[cr.start].meta.stats.min_ts,
            };
            while let Some((pi, t, v)) =
                parts.next_if(|(pi, ..)| self.rollup_parts[*pi].start < step_start)
            {
                self.feed_part(id, &self.rollup_parts[pi], &t, &v, &mut feeder, explain)?;
            }
            self.feed_step(id, step, &gathered, (ts, vals), &mut feeder, explain)?;
        }
        for (pi, t, v) in parts {
            self.feed_part(id, &self.rollup_parts[pi], &t, &v, &mut feeder, explain)?;
        }
        feeder.finish()
    }

    /// The series' points in the heads overlapping the range, merged (newer heads win).
    fn read_heads(
        &self,
        id: u32,
        head_ts: &mut Vec<Timestamp>,
        head_vals: &mut Vec<f64>,
        explain: &mut Counters,
    ) -> Result<()> {
        head_ts.clear();
        head_vals.clear();
        if self.heads.is_empty() {
            return Ok(());
        }
        let mut pieces = Vec::new();
        for head in &self.heads {
            let (mut t, mut v) = (Vec::new(), Vec::new());
            if head.read_series(id, self.range, &mut t, &mut v) > 0 {
                pieces.push((t, v));
            }
        }
        if pieces.len() == 1 {
            (*head_ts, *head_vals) = pieces.pop().unwrap_or_default();
        } else if pieces.len() > 1 {
            merge_pieces(&pieces, head_ts, head_vals);
        }
        self.charge_read(head_ts.len() as u64)?;
        explain.head_points += head_ts.len() as u64;
        Ok(())
    }

    /// The rollup parts this series reads, each with the head points inside its
    /// partition (taken out of the head run: the part merges them).
    fn take_rollup_parts(
        &self,
        id: u32,
        head_ts: &mut Vec<Timestamp>,
        head_vals: &mut Vec<f64>,
    ) -> Vec<PartRun> {
        let mut parts = Vec::new();
        for (pi, part) in self.rollup_parts.iter().enumerate() {
            if self.uses_rollup(id, part) {
                let (lo, hi) = clip(head_ts, TimeRange::new(part.start, part.end));
                let t: Vec<Timestamp> = head_ts.drain(lo..hi).collect();
                let v: Vec<f64> = head_vals.drain(lo..hi).collect();
                parts.push((pi, t, v));
            }
        }
        parts
    }

    /// Collects the series' chunks outside the rollup parts. A whole-range last (first)
    /// reads from the newest (oldest) segment on and narrows the range as it finds
    /// points; returns the range the read covers.
    fn gather_chunks(
        &self,
        id: u32,
        narrow: Narrow,
        parts: &[PartRun],
        head_ts: &[Timestamp],
        cursors: &mut [usize],
        chunks: &mut Vec<ChunkRef<'v>>,
    ) -> TimeRange {
        let mut range = self.range;
        match narrow {
            Narrow::None => {
                for &si in &self.scanned {
                    if self.segment_part[si].is_some_and(|p| parts.iter().any(|(q, ..)| *q == p)) {
                        continue;
                    }
                    self.collect_chunks(si, id, range, &mut cursors[si], chunks);
                }
            }
            Narrow::Last => {
                if let Some(&t) = head_ts.last() {
                    range.start = range.start.max(t);
                }
                for &si in &self.by_end_desc {
                    if self.segments[si].entry.max_ts < range.start {
                        break;
                    }
                    let from = chunks.len();
                    self.collect_chunks(si, id, range, &mut cursors[si], chunks);
                    if let Some(newest) = chunks[from..].last() {
                        range.start = range.start.max(newest.meta.stats.min_ts);
                    }
                }
            }
            Narrow::First => {
                if let Some(&t) = head_ts.first() {
                    range.end = range.end.min(t.saturating_add(1));
                }
                for &si in &self.by_start_asc {
                    if self.segments[si].entry.min_ts >= range.end {
                        break;
                    }
                    let from = chunks.len();
                    self.collect_chunks(si, id, range, &mut cursors[si], chunks);
                    if let Some(oldest) = chunks.get(from) {
                        range.end = range.end.min(oldest.meta.stats.max_ts.saturating_add(1));
                    }
                }
            }
        }
        range
    }

    /// Feeds one planned step: a run of head points, an isolated chunk (from its
    /// statistics when they answer), or overlapping chunks (and head points) merged.
    fn feed_step(
        &self,
        id: u32,
        step: Step,
        g: &Gathered<'_, 'v>,
        (ts, vals): (&mut Vec<Timestamp>, &mut Vec<f64>),
        feeder: &mut Feeder<'_, 'v>,
        explain: &mut Counters,
    ) -> Result<()> {
        let range = g.range;
        match step {
            Step::Head(r) => feeder.feed(&g.head_ts[r.clone()], &g.head_vals[r])?,
            Step::Isolated(i) => {
                let chunk = &g.chunks[i];
                let needed = Needed {
                    range,
                    aggregate: self.series_aggregate.zip(self.bucketing),
                    transform: self.transform.is_some(),
                    filters: &self.filters,
                };
                let mut action = chunk_action(&chunk.meta.stats, &needed);
                if action == ChunkAction::Stats && self.deleted_within(id, chunk) {
                    action = ChunkAction::Decode;
                }
                match action {
                    ChunkAction::Stats => {
                        explain.chunks_from_stats += 1;
                        feeder.feed_stats(&chunk.meta.stats)?;
                    }
                    ChunkAction::Skip => explain.chunks_skipped += 1,
                    ChunkAction::Decode => {
                        ts.clear();
                        vals.clear();
                        self.decode(chunk, ts, vals, explain)?;
                        self.apply_deletions(id, chunk.segment_id, ts, vals);
                        let (lo, hi) = clip(ts, range);
                        feeder.feed(&ts[lo..hi], &vals[lo..hi])?;
                    }
                }
            }
            Step::Overlapping {
                chunks: cr,
                head: hr,
            } => {
                let group = &g.chunks[cr];
                explain.chunks_merged += group.len() as u32;
                let mut ranks: Vec<u32> = group.iter().map(|c| c.rank).collect();
                ranks.sort_unstable();
                ranks.dedup();
                let mut pieces: Vec<(Vec<i64>, Vec<f64>)> = Vec::with_capacity(ranks.len() + 1);
                for rank in ranks {
                    let (mut t, mut v) = (Vec::new(), Vec::new());
                    // Chunks of one segment come in time order and do not overlap.
                    let mut segment_id = 0;
                    for c in group.iter().filter(|c| c.rank == rank) {
                        self.decode(c, &mut t, &mut v, explain)?;
                        segment_id = c.segment_id;
                    }
                    self.apply_deletions(id, segment_id, &mut t, &mut v);
                    pieces.push((t, v));
                }
                if !hr.is_empty() {
                    pieces.push((g.head_ts[hr.clone()].to_vec(), g.head_vals[hr].to_vec()));
                }
                ts.clear();
                vals.clear();
                merge_pieces(&pieces, ts, vals);
                let (lo, hi) = clip(ts, range);
                feeder.feed(&ts[lo..hi], &vals[lo..hi])?;
            }
        }
        Ok(())
    }

    /// Appends the chunks of series `id` in segment `si` that overlap `range`. `cursor`
    /// remembers where the previous lookup in this segment ended: a worker visits series
    /// in ascending id order, so the next series' chunks are usually right after, and a
    /// galloping search from there costs a few comparisons instead of a binary search
    /// over the whole chunk index.
    fn collect_chunks(
        &self,
        si: usize,
        id: u32,
        range: TimeRange,
        cursor: &mut usize,
        out: &mut Vec<ChunkRef<'v>>,
    ) {
        let segment = &self.segments[si].segment;
        let all = segment.chunks();
        let from = if *cursor <= all.len() && all[..*cursor].last().is_none_or(|c| c.series < id) {
            *cursor
        } else {
            0
        };
        let start = from + gallop(&all[from..], |c| c.series < id);
        let end = start + gallop(&all[start..], |c| c.series == id);
        *cursor = end;
        let series = &all[start..end];
        // A series' chunks in one segment are sorted by time and disjoint, so both ends
        // are monotone.
        let lo = series.partition_point(|c| c.stats.max_ts < range.start);
        let hi = lo + series[lo..].partition_point(|c| c.stats.min_ts < range.end);
        let segment_id = self.segments[si].entry.id;
        out.extend(series[lo..hi].iter().map(|meta| ChunkRef {
            rank: si as u32,
            segment_id,
            segment,
            meta,
        }));
    }

    /// True when a deletion hides some of the chunk's points: its statistics are stale.
    fn deleted_within(&self, id: u32, chunk: &ChunkRef<'_>) -> bool {
        self.tombstones.is_some_and(|t| {
            t.overlaps(
                id,
                chunk.segment_id,
                chunk.meta.stats.min_ts,
                chunk.meta.stats.max_ts,
            )
        })
    }

    /// Removes deleted points from points decoded from segment `segment_id`.
    pub(super) fn apply_deletions(
        &self,
        id: u32,
        segment_id: u64,
        ts: &mut Vec<i64>,
        vals: &mut Vec<f64>,
    ) {
        if let Some(t) = self.tombstones {
            t.apply(id, segment_id, ts, vals);
        }
    }

    pub(super) fn decode(
        &self,
        chunk: &ChunkRef<'_>,
        ts: &mut Vec<Timestamp>,
        vals: &mut Vec<f64>,
        explain: &mut Counters,
    ) -> Result<()> {
        let count = u64::from(chunk.meta.stats.count);
        self.charge_read(count)?;
        chunk.segment.decode_chunk(chunk.meta, ts, vals)?;
        explain.chunks_decoded += 1;
        explain.points_decoded += count;
        explain.bytes_read += u64::from(chunk.meta.len);
        Ok(())
    }
}

/// Number of leading elements of `items` for which `pred` holds (it must hold for a
/// prefix), found by doubling steps from the front and then a binary search: O(log k)
/// for an answer k, cheap when the answer is near the front.
fn gallop<T>(items: &[T], pred: impl Fn(&T) -> bool) -> usize {
    let mut bound = 1;
    while bound <= items.len() && pred(&items[bound - 1]) {
        bound *= 2;
    }
    let lo = bound / 2;
    let hi = bound.min(items.len());
    lo + items[lo..hi].partition_point(&pred)
}

/// A chunk of one series with its segment and age.
pub(super) struct ChunkRef<'v> {
    pub(super) rank: u32,
    pub(super) segment_id: u64,
    pub(super) segment: &'v Segment,
    pub(super) meta: &'v ChunkMeta,
}

/// Index range of the timestamps of sorted `ts` inside `range`.
pub(super) fn clip(ts: &[Timestamp], range: TimeRange) -> (usize, usize) {
    let lo = ts.partition_point(|&t| t < range.start);
    let hi = lo + ts[lo..].partition_point(|&t| t < range.end);
    (lo, hi)
}
