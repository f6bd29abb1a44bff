//! Running a query: prune segments, select series with bitmaps, read each series
//! (statistics where they answer, decoding where they do not), then group, fill, rank.
//!
//! By stage: [`read`] gathers one series' head points and chunks and feeds them in time
//! order, [`rollup`] answers partitions from rollups, [`feed`] takes the points through
//! transform and filters into buckets, [`assemble`] makes result series and groups and
//! runs fill, having, ranking and limit. This module holds the per-query context and the
//! loop over series.
//!
//! Per-series work is independent and runs on the rayon pool when there are enough
//! series; its outputs are collected in series-id order and every merge after that runs
//! in that order on one thread, so results do not depend on the number of threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

mod assemble;
mod feed;
mod read;
mod rollup;

use assemble::{fill_all, post_process};
use read::ChunkRef;
use rollup::{rollup_parts, RollupPart};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::agg::{Bucketing, Needs, Partial};
use super::plan::{Interval, Step};
use super::result::{Explain, QueryResult, ResultSeries};
use super::spec::{
    Aggregate, Fill, Grouping, Parallelism, Query, QueryLimits, Resolved, Transform, ValueFilter,
};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::index::Catalog;
use crate::types::{TimeRange, Timestamp};
use crate::version::{LiveSegment, Tombstones, Version};

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
            Some(w) => Bucketing::Every(w, query.bucket_offset_ns()),
            // The clamped start: a storable timestamp even for an unbounded range.
            None => Bucketing::Whole(resolved.range.start),
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
