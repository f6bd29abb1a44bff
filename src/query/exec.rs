//! Running a query: prune segments, select series with bitmaps, read each series
//! (statistics where they answer, decoding where they do not), then group, fill, rank.
//!
//! Per-series work is independent and runs on the rayon pool when there are enough
//! series; its outputs are collected in series-id order and every merge after that runs
//! in that order on one thread, so results do not depend on the number of threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::agg::{Bucketing, Needs, Partial};
use super::plan::{chunk_action, plan_series_into, ChunkAction, Interval, Needed, Step};
use super::result::{Explain, Labels, QueryResult, ResultSeries};
use super::spec::{
    Aggregate, Fill, Grouping, Parallelism, Query, QueryLimits, RankOrder, Resolved, Transform,
    ValueFilter,
};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::index::Catalog;
use crate::points::merge_pieces;
use crate::segment::format::{ChunkMeta, ChunkStats};
use crate::segment::rollup::RollupBucket;
use crate::segment::Segment;
use crate::types::{SeriesId, TimeRange, Timestamp};
use crate::version::{LiveRollup, LiveSegment, Tombstones, Version};

/// Fewer series than this are never split between threads.
const PARALLEL_MIN_SERIES: usize = 2;

/// Projected remaining work above which a query spreads its remaining series over the
/// pool; below it, waking the pool's threads costs about as much as it saves.
const PARALLEL_MIN_WORK: std::time::Duration = std::time::Duration::from_micros(200);

/// Runs `query` against a snapshot. Returns the result and how it ran.
pub(crate) fn execute(
    catalog: &Catalog,
    version: &Version,
    query: &Query,
) -> Result<(QueryResult, Explain)> {
    // Pooled groups merge the series' bucket partials; everything else only needs each
    // series' finished bucket values, which are cheaper to keep.
    let keep_partials = query.grouping != Grouping::None && query.across.is_none();
    let scan = scan(catalog, version, query, keep_partials)?;
    scan.finish(catalog, query)
}

/// A query read series by series, before grouping and the stages after it.
pub(crate) struct Scan<'v> {
    ctx: Ctx<'v>,
    outs: Vec<SeriesOut>,
    pub(crate) explain: Explain,
    started: Instant,
}

/// Reads every series `query` selects: stages 1 to 5 of the pipeline, per series. With
/// `keep_partials`, an aggregating query keeps each series' mergeable bucket partials
/// (for groups); otherwise each bucket is finished as soon as the stream passes it.
pub(crate) fn scan<'v>(
    catalog: &Catalog,
    version: &'v Version,
    query: &Query,
    keep_partials: bool,
) -> Result<Scan<'v>> {
    let started = Instant::now();
    let resolved = query.resolve()?;
    let mut explain = Explain::default();
    let mut ctx = Ctx::new(version, query, resolved, &mut explain);
    ctx.keep_partials = keep_partials;
    let mut ids = RoaringBitmap::new();
    // An empty clamped range is valid but outside every storable timestamp: no series
    // can have a point in it.
    if !resolved.range.is_empty() {
        for selector in &query.selectors {
            ids |= catalog.select(selector);
        }
    }
    explain.series_matched = ids.len();
    if ids.len() > query.limits.max_series {
        return Err(Error::LimitExceeded {
            what: "series matched by a query",
            limit: query.limits.max_series,
        });
    }
    let ids: Vec<u32> = ids.iter().collect();
    // Start on this thread, one series at a time; hand the rest to the pool once the
    // time they are projected to take is worth the hand-off (waking the pool's threads
    // costs tens of microseconds, as much as a whole query answered from statistics).
    // Each series' output does not depend on the thread that computed it, and outputs
    // stay in id order.
    let may_parallel = query.parallelism != Parallelism::Off
        && ids.len() >= PARALLEL_MIN_SERIES
        && rayon::current_num_threads() > 1;
    let serial_first = query.parallelism == Parallelism::Auto;
    let mut outs: Vec<SeriesOut> = Vec::with_capacity(ids.len());
    let mut scratch = ctx.scratch();
    let mut next = 0;
    let serial_start = Instant::now();
    while next < ids.len() {
        if may_parallel && !serial_first {
            break;
        }
        let left = ids.len() - next;
        if may_parallel && next > 0 && left >= PARALLEL_MIN_SERIES {
            // Projected time for the rest on this thread, from the series read so far.
            let spent = serial_start.elapsed();
            let projected = spent.mul_f64(left as f64 / next as f64);
            if projected >= PARALLEL_MIN_WORK {
                break;
            }
        }
        outs.extend(ctx.run_series(ids[next], &mut scratch)?);
        next += 1;
    }
    explain.threads = 1;
    if next < ids.len() {
        let rest: Vec<Result<Option<SeriesOut>>> = ids[next..]
            .par_iter()
            .map_init(|| ctx.scratch(), |scratch, &id| ctx.run_series(id, scratch))
            .collect();
        for out in rest {
            outs.extend(out?);
        }
        explain.threads = rayon::current_num_threads() as u64;
    }
    for out in &outs {
        out.counters.add_to(&mut explain);
    }
    explain.series_with_data = outs.len() as u64;
    Ok(Scan {
        ctx,
        outs,
        explain,
        started,
    })
}

impl Scan<'_> {
    /// Groups as the query says, then fill, having, ranking and limit.
    pub(crate) fn finish(self, catalog: &Catalog, query: &Query) -> Result<(QueryResult, Explain)> {
        let Scan {
            ctx,
            outs,
            mut explain,
            started,
        } = self;
        let mut series = ctx.assemble(catalog, outs, &query.grouping)?;
        post_process(&mut series, query, &ctx)?;
        let result = QueryResult { series };
        explain.result_series = result.len() as u64;
        explain.result_points = result.points() as u64;
        explain.micros = started.elapsed().as_micros() as u64;
        Ok((result, explain))
    }

    /// The scanned series grouped by `grouping` (the query's own grouping is ignored),
    /// with the query's fill; for analytics that look at one scan several ways. Needs a
    /// scan of an aggregating query that kept its partials.
    pub(crate) fn grouped(
        &self,
        catalog: &Catalog,
        grouping: &Grouping,
    ) -> Result<Vec<ResultSeries>> {
        let outs: Vec<SeriesOut> = self
            .outs
            .iter()
            .filter_map(|o| match &o.data {
                SeriesData::Buckets(parts) => Some(SeriesOut {
                    id: o.id,
                    data: SeriesData::Buckets(parts.clone()),
                    counters: Counters::default(),
                }),
                SeriesData::Points(..) => None,
            })
            .collect();
        let mut series = self.ctx.assemble(catalog, outs, grouping)?;
        fill_all(&mut series, &self.ctx)?;
        Ok(series)
    }

    /// Each series' `(sum, count)` of its non-NaN points over all its buckets, by series
    /// id; needs a scan of an aggregating query that kept its partials.
    pub(crate) fn series_sums(&self) -> Vec<(u32, f64, u64)> {
        self.outs
            .iter()
            .filter_map(|o| match &o.data {
                SeriesData::Buckets(parts) => {
                    let (mut sum, mut count) = (0.0, 0);
                    for (_, p) in parts {
                        sum += p.sum;
                        count += p.count;
                    }
                    Some((o.id, sum, count))
                }
                SeriesData::Points(..) => None,
            })
            .collect()
    }
}

/// Which end of the range a whole-range first/last may narrow the read to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrow {
    None,
    /// Read only from the newest chunk on; widen back if that finds no point.
    Last,
    /// Read only up to the oldest chunk's end; widen back if that finds no point.
    First,
}

/// Everything the per-series workers share.
struct Ctx<'v> {
    segments: &'v [Arc<LiveSegment>],
    /// Indices into `segments` of those overlapping the range, ascending (oldest first).
    scanned: Vec<usize>,
    /// `scanned` by descending end time, for `Narrow::Last`.
    by_end_desc: Vec<usize>,
    /// `scanned` by ascending start time, for `Narrow::First`.
    by_start_asc: Vec<usize>,
    /// Heads overlapping the range, oldest first (frozen, then live).
    heads: Vec<&'v Head>,
    /// Deletions hiding points of older segments; `None` when there are none.
    tombstones: Option<&'v Tombstones>,
    /// Partitions whose rollups can answer the query, by ascending span.
    rollup_parts: Vec<RollupPart<'v>>,
    /// Per segment (indexed like `segments`): the rollup part of its partition, if any.
    segment_part: Vec<Option<usize>>,
    range: TimeRange,
    /// `None` for raw queries.
    bucketing: Option<Bucketing>,
    /// The aggregate applied to each series' buckets.
    series_aggregate: Option<Aggregate>,
    needs: Needs,
    transform: Option<Transform>,
    filters: Vec<ValueFilter>,
    narrow: Narrow,
    /// Keep bucket partials (see [`scan`]).
    keep_partials: bool,
    limits: QueryLimits,
    points_read: AtomicU64,
    result_points: AtomicU64,
    query_aggregate: Option<Aggregate>,
    across: Option<Aggregate>,
    fill: Fill,
}

/// What one series produced.
struct SeriesOut {
    id: u32,
    data: SeriesData,
    counters: Counters,
}

/// What reading one series cost; summed into the query's [`Explain`].
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    chunks_from_stats: u32,
    chunks_skipped: u32,
    chunks_decoded: u32,
    chunks_merged: u32,
    points_decoded: u64,
    head_points: u64,
    bytes_read: u64,
    rollup_blocks: u32,
    rollup_buckets: u64,
}

impl Counters {
    fn add_to(&self, e: &mut Explain) {
        e.chunks_from_stats += u64::from(self.chunks_from_stats);
        e.chunks_skipped += u64::from(self.chunks_skipped);
        e.chunks_decoded += u64::from(self.chunks_decoded);
        e.chunks_merged += u64::from(self.chunks_merged);
        e.points_decoded += self.points_decoded;
        e.head_points += self.head_points;
        e.bytes_read += self.bytes_read;
        e.rollup_blocks += u64::from(self.rollup_blocks);
        e.rollup_buckets += self.rollup_buckets;
    }
}

enum SeriesData {
    /// Raw points, or finished bucket values at their labels.
    Points(Vec<Timestamp>, Vec<f64>),
    /// Non-empty partials by ascending bucket index.
    Buckets(Vec<(i64, Partial)>),
}

impl<'v> Ctx<'v> {
    fn new(
        version: &'v Version,
        query: &Query,
        resolved: Resolved,
        explain: &mut Explain,
    ) -> Ctx<'v> {
        let range = resolved.range;
        let segments = &version.segments[..];
        let scanned: Vec<usize> = segments
            .iter()
            .enumerate()
            .filter(|(_, s)| range.overlaps(s.entry.min_ts, s.entry.max_ts))
            .map(|(i, _)| i)
            .collect();
        explain.segments_total = segments.len() as u64;
        explain.segments_scanned = scanned.len() as u64;
        explain.segments_pruned = explain.segments_total - explain.segments_scanned;
        let mut by_end_desc = scanned.clone();
        by_end_desc.sort_by_key(|&i| std::cmp::Reverse(segments[i].entry.max_ts));
        let mut by_start_asc = scanned.clone();
        by_start_asc.sort_by_key(|&i| segments[i].entry.min_ts);
        let heads: Vec<&Head> = version
            .frozen
            .iter()
            .chain(std::iter::once(&version.live))
            .map(|h| &**h)
            .filter(|h| {
                h.time_bounds()
                    .is_some_and(|(lo, hi)| range.overlaps(lo, hi))
            })
            .collect();

        let bucketing = query.aggregate.map(|_| match query.bucket {
            Some(w) => Bucketing::Every(w),
            None => Bucketing::Whole(resolved.requested.start),
        });
        let series_aggregate = query.aggregate;
        let (rollup_parts, segment_part) = rollup_parts(version, query, bucketing, range, &heads);
        explain.rollup_partitions = rollup_parts.len() as u64;
        let narrow = match (query.aggregate, query.bucket, query.transform) {
            _ if !rollup_parts.is_empty() => Narrow::None,
            (Some(Aggregate::Last), None, None) => Narrow::Last,
            (Some(Aggregate::First), None, None) => Narrow::First,
            _ => Narrow::None,
        };
        // Pooled groups merge the series' partials, so each must carry what the group's
        // aggregate needs; with across_series, the series aggregate decides.
        let needs = match series_aggregate {
            Some(agg) => Needs::of(agg),
            None => Needs::default(),
        };
        Ctx {
            segments,
            tombstones: (!version.tombstones.is_empty()).then_some(&*version.tombstones),
            rollup_parts,
            segment_part,
            scanned,
            by_end_desc,
            by_start_asc,
            heads,
            range,
            bucketing,
            series_aggregate,
            needs,
            transform: query.transform,
            filters: query.where_values.clone(),
            narrow,
            keep_partials: false,
            limits: query.limits,
            points_read: AtomicU64::new(0),
            result_points: AtomicU64::new(0),
            query_aggregate: query.aggregate,
            across: query.across,
            fill: query.fill,
        }
    }

    /// Counts points about to be read against the query's limit.
    fn charge_read(&self, points: u64) -> Result<()> {
        let total = self.points_read.fetch_add(points, Ordering::Relaxed) + points;
        if total > self.limits.max_points_read {
            return Err(Error::LimitExceeded {
                what: "points read by a query",
                limit: self.limits.max_points_read,
            });
        }
        Ok(())
    }

    /// Counts result points against the query's limit.
    fn charge_result(&self, points: u64) -> Result<()> {
        let total = self.result_points.fetch_add(points, Ordering::Relaxed) + points;
        if total > self.limits.max_result_points {
            return Err(Error::LimitExceeded {
                what: "points in a query result",
                limit: self.limits.max_result_points,
            });
        }
        Ok(())
    }

    /// Fresh per-worker state.
    fn scratch(&self) -> Scratch<'v> {
        Scratch {
            cursors: vec![0; self.segments.len()],
            chunks: Vec::new(),
            intervals: Vec::new(),
            steps: Vec::new(),
            head_ts: Vec::new(),
            head_vals: Vec::new(),
            ts: Vec::new(),
            vals: Vec::new(),
        }
    }

    fn run_series(&self, id: u32, scratch: &mut Scratch<'v>) -> Result<Option<SeriesOut>> {
        let mut counters = Counters::default();
        if self.narrow != Narrow::None {
            if let Some(data) = self.read_series(id, self.narrow, &mut counters, scratch)? {
                return Ok(Some(SeriesOut { id, data, counters }));
            }
        }
        Ok(self
            .read_series(id, Narrow::None, &mut counters, scratch)?
            .map(|data| SeriesOut { id, data, counters }))
    }

    /// Reads one series over the range (or the narrowed part of it) into the sink.
    fn read_series(
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
        // Head points, merged across heads (newer heads win).
        head_ts.clear();
        head_vals.clear();
        if !self.heads.is_empty() {
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
        }

        let mut range = self.range;
        chunks.clear();
        // The rollup parts this series reads, each with the head points inside its
        // partition (taken out of the head run: the part merges them).
        let mut parts: Vec<(usize, Vec<Timestamp>, Vec<f64>)> = Vec::new();
        for (pi, part) in self.rollup_parts.iter().enumerate() {
            if self.uses_rollup(id, part) {
                let (lo, hi) = clip(head_ts, TimeRange::new(part.start, part.end));
                let t: Vec<Timestamp> = head_ts.drain(lo..hi).collect();
                let v: Vec<f64> = head_vals.drain(lo..hi).collect();
                parts.push((pi, t, v));
            }
        }
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

        let needed = Needed {
            range,
            aggregate: self.series_aggregate.zip(self.bucketing),
            transform: self.transform.is_some(),
            filters: &self.filters,
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
            match step {
                Step::Head(r) => feeder.feed(&head_ts[r.clone()], &head_vals[r])?,
                Step::Isolated(i) => {
                    let chunk = &chunks[i];
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
                    let group = &chunks[cr];
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
                        pieces.push((head_ts[hr.clone()].to_vec(), head_vals[hr].to_vec()));
                    }
                    ts.clear();
                    vals.clear();
                    merge_pieces(&pieces, ts, vals);
                    let (lo, hi) = clip(ts, range);
                    feeder.feed(&ts[lo..hi], &vals[lo..hi])?;
                }
            }
        }
        for (pi, t, v) in parts {
            self.feed_part(id, &self.rollup_parts[pi], &t, &v, &mut feeder, explain)?;
        }
        feeder.finish()
    }

    /// True when series `id` reads partition `part` from its rollup: the rollup holds
    /// the series, and no deletion touches its buckets unless the raw points are gone
    /// (then the touched buckets are left out instead, see [`Ctx::feed_part`]).
    fn uses_rollup(&self, id: u32, part: &RollupPart<'_>) -> bool {
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
    fn feed_part(
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
    fn apply_deletions(&self, id: u32, segment_id: u64, ts: &mut Vec<i64>, vals: &mut Vec<f64>) {
        if let Some(t) = self.tombstones {
            t.apply(id, segment_id, ts, vals);
        }
    }

    fn decode(
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

/// Buffers a worker reuses from series to series.
struct Scratch<'v> {
    /// Per segment (indexed like `Ctx::segments`): where the last chunk lookup ended.
    cursors: Vec<usize>,
    chunks: Vec<ChunkRef<'v>>,
    intervals: Vec<Interval>,
    steps: Vec<Step>,
    head_ts: Vec<Timestamp>,
    head_vals: Vec<f64>,
    ts: Vec<Timestamp>,
    vals: Vec<f64>,
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
struct ChunkRef<'v> {
    rank: u32,
    segment_id: u64,
    segment: &'v Segment,
    meta: &'v ChunkMeta,
}

/// A partition whose rollup answers the query for the series it holds.
struct RollupPart<'v> {
    rollup: &'v LiveRollup,
    resolution: i64,
    /// The partition's span `[start, end)`.
    start: Timestamp,
    end: Timestamp,
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
fn rollup_parts<'v>(
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
        Bucketing::Every(w) => w % resolution == 0,
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

/// Index range of the timestamps of sorted `ts` inside `range`.
fn clip(ts: &[Timestamp], range: TimeRange) -> (usize, usize) {
    let lo = ts.partition_point(|&t| t < range.start);
    let hi = lo + ts[lo..].partition_point(|&t| t < range.end);
    (lo, hi)
}

/// Takes one series' merged points in time order through transform, filters and sink.
struct Feeder<'c, 'v> {
    ctx: &'c Ctx<'v>,
    /// The previous non-NaN point, for rate and derivative.
    prev: Option<(Timestamp, f64)>,
    xf_ts: Vec<Timestamp>,
    xf_vals: Vec<f64>,
    flt_ts: Vec<Timestamp>,
    flt_vals: Vec<f64>,
    sink: Sink<'c, 'v>,
}

/// Where a series' points end up.
struct Sink<'c, 'v> {
    ctx: &'c Ctx<'v>,
    /// Raw points, or finished bucket values.
    out_ts: Vec<Timestamp>,
    out_vals: Vec<f64>,
    /// Bucket partials, when the context keeps them.
    buckets: Vec<(i64, Partial)>,
    /// The index of the bucket being filled in `current`, when the context does not
    /// keep partials.
    current_index: Option<i64>,
    /// Reused from bucket to bucket.
    current: Partial,
}

impl<'c, 'v> Feeder<'c, 'v> {
    fn new(ctx: &'c Ctx<'v>) -> Self {
        Feeder {
            ctx,
            prev: None,
            xf_ts: Vec::new(),
            xf_vals: Vec::new(),
            flt_ts: Vec::new(),
            flt_vals: Vec::new(),
            sink: Sink {
                ctx,
                out_ts: Vec::new(),
                out_vals: Vec::new(),
                buckets: Vec::new(),
                current_index: None,
                current: Partial::default(),
            },
        }
    }

    fn feed(&mut self, ts: &[Timestamp], vals: &[f64]) -> Result<()> {
        if ts.is_empty() {
            return Ok(());
        }
        let (mut ts, mut vals) = (ts, vals);
        if let Some(kind) = self.ctx.transform {
            self.xf_ts.clear();
            self.xf_vals.clear();
            transform(
                kind,
                &mut self.prev,
                ts,
                vals,
                &mut self.xf_ts,
                &mut self.xf_vals,
            );
            ts = &self.xf_ts;
            vals = &self.xf_vals;
        }
        if !self.ctx.filters.is_empty() {
            self.flt_ts.clear();
            self.flt_vals.clear();
            for (&t, &v) in ts.iter().zip(vals) {
                if self.ctx.filters.iter().all(|f| f.test(v)) {
                    self.flt_ts.push(t);
                    self.flt_vals.push(v);
                }
            }
            ts = &self.flt_ts;
            vals = &self.flt_vals;
        }
        let Some(bucketing) = self.ctx.bucketing else {
            self.ctx.charge_result(ts.len() as u64)?;
            self.sink.out_ts.extend_from_slice(ts);
            self.sink.out_vals.extend_from_slice(vals);
            return Ok(());
        };
        let needs = self.ctx.needs;
        let Some(&last) = ts.last() else {
            return Ok(());
        };
        let mut i = 0;
        let mut index = bucketing.index(ts[0]);
        let mut end = bucketing.end(index);
        while i < ts.len() {
            if ts[i] >= end {
                // The next bucket is usually the one after; otherwise divide.
                let next = bucketing.end(index.saturating_add(1));
                index = if ts[i] < next {
                    index + 1
                } else {
                    bucketing.index(ts[i])
                };
                end = bucketing.end(index);
            }
            // Wide buckets usually hold the rest of the run (one comparison decides);
            // narrow ones end within a few points (a short scan, then a binary search).
            let j = if last < end {
                ts.len()
            } else {
                let probe = (i + 8).min(ts.len());
                match ts[i..probe].iter().position(|&t| t >= end) {
                    Some(k) => i + k,
                    None => probe + ts[probe..].partition_point(|&t| t < end),
                }
                .max(i + 1)
            };
            self.sink
                .bucket(index)
                .push_run(&ts[i..j], &vals[i..j], needs);
            i = j;
        }
        Ok(())
    }

    fn feed_partial(&mut self, index: i64, partial: &Partial) {
        let needs = self.ctx.needs;
        self.sink.bucket(index).merge(partial, needs);
    }

    fn feed_stats(&mut self, stats: &ChunkStats) -> Result<()> {
        if let Some(bucketing) = self.ctx.bucketing {
            self.sink
                .bucket(bucketing.index(stats.min_ts))
                .merge_stats(stats);
        }
        Ok(())
    }

    fn finish(self) -> Result<Option<SeriesData>> {
        self.sink.finish()
    }
}

impl Sink<'_, '_> {
    /// The partial of bucket `index`; buckets arrive in ascending order. Without kept
    /// partials, moving to a new bucket finishes the current one.
    fn bucket(&mut self, index: i64) -> &mut Partial {
        if self.ctx.keep_partials {
            if self.buckets.last().is_none_or(|(k, _)| *k != index) {
                self.buckets.push((index, Partial::default()));
            }
            let last = self.buckets.len() - 1;
            return &mut self.buckets[last].1;
        }
        if self.current_index != Some(index) {
            self.finish_current();
            self.current_index = Some(index);
        }
        &mut self.current
    }

    /// Appends the current bucket's value (if it has points) to the output. (Result
    /// points are charged per series, in `finish`: a shared counter per bucket would
    /// bounce between cores. One series' buckets are bounded by the points it read.)
    fn finish_current(&mut self) {
        let (Some(bucketing), Some(aggregate)) = (self.ctx.bucketing, self.ctx.series_aggregate)
        else {
            return;
        };
        if let Some(index) = self.current_index.take() {
            let part = &mut self.current;
            if part.count > 0 {
                self.out_ts
                    .push(label_of(part, index, aggregate, bucketing));
                self.out_vals.push(part.finish(aggregate));
            }
            part.reset();
        }
    }

    fn finish(mut self) -> Result<Option<SeriesData>> {
        if self.ctx.bucketing.is_some() && self.ctx.keep_partials {
            self.buckets.retain(|(_, p)| p.count > 0);
            return Ok((!self.buckets.is_empty()).then_some(SeriesData::Buckets(self.buckets)));
        }
        if self.ctx.bucketing.is_some() {
            self.finish_current();
            self.ctx.charge_result(self.out_ts.len() as u64)?;
        }
        Ok((!self.out_ts.is_empty()).then_some(SeriesData::Points(self.out_ts, self.out_vals)))
    }
}

/// Rate or derivative of consecutive non-NaN points, carrying the previous point across
/// calls. Time differences are taken in i128 so that no pair of timestamps overflows.
fn transform(
    kind: Transform,
    prev: &mut Option<(Timestamp, f64)>,
    ts: &[Timestamp],
    vals: &[f64],
    out_ts: &mut Vec<Timestamp>,
    out_vals: &mut Vec<f64>,
) {
    for (&t, &v) in ts.iter().zip(vals) {
        if v.is_nan() {
            continue;
        }
        if let Some((pt, pv)) = *prev {
            let secs = (i128::from(t) - i128::from(pt)) as f64 / 1e9;
            if secs > 0.0 {
                let delta = match kind {
                    Transform::Rate if v < pv => v,
                    _ => v - pv,
                };
                out_ts.push(t);
                out_vals.push(delta / secs);
            }
        }
        *prev = Some((t, v));
    }
}

impl Ctx<'_> {
    /// Turns per-series outputs into result series: one per series, or one per group.
    fn assemble(
        &self,
        catalog: &Catalog,
        outs: Vec<SeriesOut>,
        grouping: &Grouping,
    ) -> Result<Vec<ResultSeries>> {
        let key_of = |id: u32| {
            catalog
                .key(SeriesId(id))
                .ok_or_else(|| Error::Internal(format!("series {id} was selected but has no key")))
        };
        let aggregate = self.query_aggregate.unwrap_or(Aggregate::Count);
        let bucketing = match self.bucketing {
            Some(b) if *grouping != Grouping::None => b,
            _ => {
                let mut series = Vec::with_capacity(outs.len());
                for out in outs {
                    let (timestamps, values) = match out.data {
                        SeriesData::Points(t, v) => (t, v),
                        SeriesData::Buckets(parts) => match self.bucketing {
                            Some(b) => finish_buckets(parts, aggregate, b),
                            None => continue,
                        },
                    };
                    series.push(ResultSeries {
                        labels: Labels::Series(key_of(out.id)?),
                        series_count: 1,
                        timestamps,
                        values,
                    });
                }
                return Ok(series);
            }
        };
        let needs = self.needs;
        let groups: Vec<(Labels, Vec<usize>)> = match grouping {
            Grouping::None => Vec::new(),
            Grouping::All => vec![(Labels::Group(Vec::new()), (0..outs.len()).collect())],
            Grouping::By(dims) => {
                let with_data: RoaringBitmap = outs.iter().map(|o| o.id).collect();
                group_by_bitmaps(catalog, &with_data, dims)
                    .into_iter()
                    .map(|(labels, members)| {
                        // `outs` is in id order: positions by binary search.
                        let idx = members
                            .iter()
                            .filter_map(|id| outs.binary_search_by_key(&id, |o| o.id).ok())
                            .collect();
                        (Labels::Group(labels), idx)
                    })
                    .collect()
            }
        };
        let mut result = Vec::with_capacity(groups.len());
        for (labels, members) in groups {
            let mut merged: BTreeMap<i64, Partial> = BTreeMap::new();
            let (group_agg, group_needs) = match self.across {
                Some(across) => (across, Needs::of(across)),
                None => (aggregate, needs),
            };
            for &m in &members {
                match &outs[m].data {
                    SeriesData::Buckets(parts) => {
                        for (index, part) in parts {
                            merged.entry(*index).or_default().merge(part, needs);
                        }
                    }
                    // Finished per-series values (across_series): combine them.
                    SeriesData::Points(ts, values) => {
                        for (&t, &v) in ts.iter().zip(values) {
                            merged
                                .entry(bucketing.index(t))
                                .or_default()
                                .push(t, v, group_needs);
                        }
                    }
                }
            }
            let parts: Vec<(i64, Partial)> =
                merged.into_iter().filter(|(_, p)| p.count > 0).collect();
            let (timestamps, values) = finish_buckets(parts, group_agg, bucketing);
            result.push(ResultSeries {
                labels,
                series_count: members.len() as u32,
                timestamps,
                values,
            });
        }
        result.retain(|s| !s.is_empty());
        Ok(result)
    }
}

/// The timestamp a bucket is reported at: its start, or for a whole-range first/last the
/// time of the point picked.
fn label_of(part: &Partial, index: i64, aggregate: Aggregate, bucketing: Bucketing) -> Timestamp {
    match (bucketing, aggregate) {
        (Bucketing::Whole(_), Aggregate::First) => part.first_ts,
        (Bucketing::Whole(_), Aggregate::Last) => part.last_ts,
        _ => bucketing.start(index),
    }
}

fn finish_buckets(
    parts: Vec<(i64, Partial)>,
    aggregate: Aggregate,
    bucketing: Bucketing,
) -> (Vec<Timestamp>, Vec<f64>) {
    let mut timestamps = Vec::with_capacity(parts.len());
    let mut values = Vec::with_capacity(parts.len());
    for (index, mut part) in parts {
        timestamps.push(label_of(&part, index, aggregate, bucketing));
        values.push(part.finish(aggregate));
    }
    (timestamps, values)
}

/// A group's `(dimension, value)` labels.
type GroupLabels = Vec<(String, Option<String>)>;

/// Groups the series in `ids` by the values of `dims` with bitmap operations on the
/// catalog's postings. Groups come sorted by labels (absent before present values).
fn group_by_bitmaps(
    catalog: &Catalog,
    ids: &RoaringBitmap,
    dims: &[String],
) -> Vec<(GroupLabels, RoaringBitmap)> {
    let mut groups = vec![(Vec::new(), ids.clone())];
    for dim in dims {
        let mut next = Vec::new();
        for (labels, members) in groups {
            let mut covered = RoaringBitmap::new();
            let mut with_value = Vec::new();
            for (value, bitmap) in catalog.dimension_values_within(dim, &members) {
                covered |= &bitmap;
                let mut l: Vec<(String, Option<String>)> = labels.clone();
                l.push((dim.clone(), Some(value)));
                with_value.push((l, bitmap));
            }
            let rest = members - covered;
            if !rest.is_empty() {
                let mut l = labels.clone();
                l.push((dim.clone(), None));
                next.push((l, rest));
            }
            next.extend(with_value);
        }
        groups = next;
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// Fill, having, ranking and limit, in that order.
fn post_process(series: &mut Vec<ResultSeries>, query: &Query, ctx: &Ctx<'_>) -> Result<()> {
    fill_all(series, ctx)?;
    post_fill(series, query, ctx)
}

/// Puts every series on the full bucket grid when the query fills.
fn fill_all(series: &mut [ResultSeries], ctx: &Ctx<'_>) -> Result<()> {
    if let (Some(Bucketing::Every(width)), fill) = (ctx.bucketing, ctx.fill) {
        if fill != Fill::None {
            let bucketing = Bucketing::Every(width);
            let first = bucketing.index(ctx.range.start);
            let last = bucketing.index(ctx.range.end.saturating_sub(1));
            let per_series = (i128::from(last) - i128::from(first) + 1).max(0) as u128;
            let total = per_series.saturating_mul(series.len() as u128);
            if total > u128::from(ctx.limits.max_result_points) {
                return Err(Error::LimitExceeded {
                    what: "points in a query result",
                    limit: ctx.limits.max_result_points,
                });
            }
            for s in series.iter_mut() {
                fill_series(s, bucketing, first, last, fill);
            }
        }
    }
    Ok(())
}

/// Having, ranking and limit.
fn post_fill(series: &mut Vec<ResultSeries>, query: &Query, ctx: &Ctx<'_>) -> Result<()> {
    if !query.having.is_empty() {
        for s in series.iter_mut() {
            let mut keep = s
                .values
                .iter()
                .map(|&v| query.having.iter().all(|f| f.test(v)));
            let mut kept_vals = Vec::new();
            let mut kept_ts = Vec::new();
            for (&t, &v) in s.timestamps.iter().zip(&s.values) {
                if keep.next().unwrap_or(false) {
                    kept_ts.push(t);
                    kept_vals.push(v);
                }
            }
            s.timestamps = kept_ts;
            s.values = kept_vals;
        }
        series.retain(|s| !s.is_empty());
    }
    if let Some((order, k, by)) = query.rank {
        let needs = Needs::of(by);
        let mut scored: Vec<(f64, ResultSeries)> = series
            .drain(..)
            .map(|s| {
                let mut p = Partial::default();
                for (t, v) in s.points() {
                    p.push(t, v, needs);
                }
                (p.finish(by), s)
            })
            .collect();
        // NaN scores (no value) rank last either way; ties keep result order.
        scored.sort_by(|a, b| match (a.0.is_nan(), b.0.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => match order {
                RankOrder::Top => b.0.total_cmp(&a.0),
                RankOrder::Bottom => a.0.total_cmp(&b.0),
            },
        });
        scored.truncate(k);
        series.extend(scored.into_iter().map(|(_, s)| s));
    }
    if let Some(n) = query.limit {
        series.truncate(n);
    }
    let total: usize = series.iter().map(ResultSeries::len).sum();
    if total as u64 > ctx.limits.max_result_points {
        return Err(Error::LimitExceeded {
            what: "points in a query result",
            limit: ctx.limits.max_result_points,
        });
    }
    Ok(())
}

/// Puts a series on the full bucket grid `first..=last`, filling what has no value.
fn fill_series(s: &mut ResultSeries, bucketing: Bucketing, first: i64, last: i64, fill: Fill) {
    let n = usize::try_from(i128::from(last) - i128::from(first) + 1).unwrap_or(0);
    let mut values = vec![f64::NAN; n];
    for (&t, &v) in s.timestamps.iter().zip(&s.values) {
        let slot = bucketing.index(t) - first;
        if let Some(cell) = usize::try_from(slot).ok().and_then(|i| values.get_mut(i)) {
            *cell = v;
        }
    }
    match fill {
        Fill::None | Fill::Null => {}
        Fill::Value(x) => values
            .iter_mut()
            .filter(|v| v.is_nan())
            .for_each(|v| *v = x),
        Fill::Previous => {
            let mut prev = f64::NAN;
            for v in values.iter_mut() {
                if v.is_nan() {
                    *v = prev;
                } else {
                    prev = *v;
                }
            }
        }
        Fill::Linear => {
            let known: Vec<usize> = (0..n).filter(|&i| !values[i].is_nan()).collect();
            for w in known.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (va, vb) = (values[a], values[b]);
                for (i, v) in values.iter_mut().enumerate().take(b).skip(a + 1) {
                    let frac = (i - a) as f64 / (b - a) as f64;
                    *v = va + (vb - va) * frac;
                }
            }
        }
    }
    s.timestamps = (0..n as i64).map(|i| bucketing.start(first + i)).collect();
    s.values = values;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_handles_counter_resets_and_nan() {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let mut prev = None;
        let ts = [
            0,
            1_000_000_000,
            2_000_000_000,
            3_000_000_000,
            4_000_000_000,
        ];
        let vals = [10.0, 20.0, f64::NAN, 5.0, 7.0];
        transform(Transform::Rate, &mut prev, &ts, &vals, &mut t, &mut v);
        assert_eq!(t, vec![1_000_000_000, 3_000_000_000, 4_000_000_000]);
        // 10 -> 20 in 1 s; reset 20 -> 5 over 2 s counts 5; 5 -> 7 in 1 s.
        assert_eq!(v, vec![10.0, 2.5, 2.0]);
        let (mut t2, mut v2) = (Vec::new(), Vec::new());
        let mut prev = None;
        transform(
            Transform::Derivative,
            &mut prev,
            &ts,
            &vals,
            &mut t2,
            &mut v2,
        );
        assert_eq!(v2, vec![10.0, -7.5, 2.0]);
        // Extreme timestamps do not overflow.
        let (mut t3, mut v3) = (Vec::new(), Vec::new());
        let mut prev = None;
        transform(
            Transform::Derivative,
            &mut prev,
            &[i64::MIN, i64::MAX],
            &[0.0, 1.0],
            &mut t3,
            &mut v3,
        );
        assert_eq!(t3, vec![i64::MAX]);
        assert!(v3[0] > 0.0 && v3[0].is_finite());
    }

    fn series(ts: Vec<i64>, values: Vec<f64>) -> ResultSeries {
        ResultSeries {
            labels: Labels::Group(Vec::new()),
            series_count: 1,
            timestamps: ts,
            values,
        }
    }

    #[test]
    fn fills() {
        let b = Bucketing::Every(10);
        let base = || series(vec![10, 40], vec![1.0, 4.0]);
        let run = |fill| {
            let mut s = base();
            fill_series(&mut s, b, 0, 5, fill);
            assert_eq!(s.timestamps, vec![0, 10, 20, 30, 40, 50]);
            s.values
        };
        let eq = |a: Vec<f64>, b: Vec<f64>| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x.is_nan() && y.is_nan()) || x == y, "{a:?} vs {b:?}");
            }
        };
        let nan = f64::NAN;
        eq(run(Fill::Null), vec![nan, 1.0, nan, nan, 4.0, nan]);
        eq(run(Fill::Value(0.0)), vec![0.0, 1.0, 0.0, 0.0, 4.0, 0.0]);
        eq(run(Fill::Previous), vec![nan, 1.0, 1.0, 1.0, 4.0, 4.0]);
        eq(run(Fill::Linear), vec![nan, 1.0, 2.0, 3.0, 4.0, nan]);
    }
}
