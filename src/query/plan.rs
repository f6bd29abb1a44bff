//! Pure decisions about one series' sources: which chunks stand alone (and may be
//! answered from their statistics) and which must be decoded and merged because another
//! source overlaps them. Tested without files.
//!
//! Last write wins across sources: segments in ascending id, then frozen heads, then the
//! live head. A chunk's statistics describe the points of that chunk, not the merged
//! series; they are the merged series' points only when no other source has a point in
//! the chunk's time span. Older sources matter as much as newer ones: where an older
//! chunk and a newer one share a timestamp, the older point must be dropped, and which
//! timestamps they share is only known after decoding both. So a chunk is *isolated*
//! when no other chunk of the series (from any segment) overlaps its span and no head
//! point lies inside it; every other chunk is decoded, together with everything that
//! overlaps it, and merged.

use std::ops::Range;

use crate::query::spec::{Aggregate, ValueFilter};
use crate::segment::format::ChunkStats;
use crate::types::{TimeRange, Timestamp};

use super::agg::{stats_answer, Bucketing};

/// A chunk's place in time and its source's age (higher rank = newer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interval {
    pub rank: u32,
    pub min_ts: Timestamp,
    pub max_ts: Timestamp,
}

/// One step of reading a series, in time order. Indices refer to the chunk list (sorted
/// by `(min_ts, rank)`) and to the merged head points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Head points that no chunk overlaps.
    Head(Range<usize>),
    /// A chunk nothing else overlaps.
    Isolated(usize),
    /// Chunks (and head points) whose spans overlap: decode all and merge.
    Overlapping {
        chunks: Range<usize>,
        head: Range<usize>,
    },
}

/// Cuts a series' sources into steps. `chunks` must be sorted by `(min_ts, rank)` and
/// `head_ts` ascending.
#[cfg(test)]
pub(crate) fn plan_series(chunks: &[Interval], head_ts: &[Timestamp]) -> Vec<Step> {
    let mut steps = Vec::new();
    plan_series_into(chunks, head_ts, &mut steps);
    steps
}

/// [`plan_series`] into a reused vector (cleared first).
pub(crate) fn plan_series_into(chunks: &[Interval], head_ts: &[Timestamp], steps: &mut Vec<Step>) {
    steps.clear();
    let mut h = 0;
    let mut i = 0;
    while i < chunks.len() {
        let start = chunks[i].min_ts;
        let mut end = chunks[i].max_ts;
        let mut j = i + 1;
        while j < chunks.len() && chunks[j].min_ts <= end {
            end = end.max(chunks[j].max_ts);
            j += 1;
        }
        let head_start = h + head_ts[h..].partition_point(|&t| t < start);
        if head_start > h {
            steps.push(Step::Head(h..head_start));
        }
        let head_end = head_start + head_ts[head_start..].partition_point(|&t| t <= end);
        if j - i == 1 && head_end == head_start {
            steps.push(Step::Isolated(i));
        } else {
            steps.push(Step::Overlapping {
                chunks: i..j,
                head: head_start..head_end,
            });
        }
        h = head_end;
        i = j;
    }
    if h < head_ts.len() {
        steps.push(Step::Head(h..head_ts.len()));
    }
}

/// What to do with an isolated chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkAction {
    /// Merge its statistics into its bucket.
    Stats,
    /// Nothing in it can reach the result (every value fails a filter).
    Skip,
    /// Decode it.
    Decode,
}

/// What the query needs from the points, for [`chunk_action`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Needed<'a> {
    pub range: TimeRange,
    /// `None` for a query returning raw points.
    pub aggregate: Option<(Aggregate, Bucketing)>,
    /// A rate or derivative needs every point.
    pub transform: bool,
    pub filters: &'a [ValueFilter],
}

/// Decides how an isolated chunk contributes. Statistics answer a chunk that lies wholly
/// inside the range and inside one bucket, when the aggregate can be read from them and
/// each value filter passes all of its values or none. A chunk none of whose values
/// passes a filter is skipped even in raw queries.
pub(crate) fn chunk_action(stats: &ChunkStats, needed: &Needed<'_>) -> ChunkAction {
    if needed.transform {
        return ChunkAction::Decode;
    }
    let non_nan = stats.count.saturating_sub(stats.nan_count);
    let mut filters_all_pass = true;
    if !needed.filters.is_empty() {
        if non_nan == 0 {
            // NaN never passes a filter.
            return ChunkAction::Skip;
        }
        for f in needed.filters {
            match f.decide_range(stats.min, stats.max) {
                Some(false) => return ChunkAction::Skip,
                Some(true) => {}
                None => filters_all_pass = false,
            }
        }
    }
    let Some((aggregate, bucketing)) = needed.aggregate else {
        return ChunkAction::Decode;
    };
    if non_nan == 0 {
        // Aggregates skip NaN: an all-NaN chunk adds nothing.
        return ChunkAction::Skip;
    }
    let inside = needed.range.start <= stats.min_ts && stats.max_ts < needed.range.end;
    if filters_all_pass
        && inside
        && bucketing.index(stats.min_ts) == bucketing.index(stats.max_ts)
        && stats_answer(aggregate, stats)
    {
        ChunkAction::Stats
    } else {
        ChunkAction::Decode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iv(rank: u32, min_ts: i64, max_ts: i64) -> Interval {
        Interval {
            rank,
            min_ts,
            max_ts,
        }
    }

    #[test]
    fn disjoint_chunks_are_isolated_and_head_runs_fill_the_gaps() {
        let chunks = [iv(0, 0, 9), iv(1, 10, 19), iv(0, 30, 39)];
        let head = [25, 26, 50];
        assert_eq!(
            plan_series(&chunks, &head),
            vec![
                Step::Isolated(0),
                Step::Isolated(1),
                Step::Head(0..2),
                Step::Isolated(2),
                Step::Head(2..3),
            ]
        );
    }

    #[test]
    fn overlaps_from_either_side_force_a_merge() {
        let chunks = [iv(1, 0, 9), iv(0, 5, 12), iv(2, 20, 29)];
        let head = [25];
        assert_eq!(
            plan_series(&chunks, &head),
            vec![
                Step::Overlapping {
                    chunks: 0..2,
                    head: 0..0
                },
                Step::Overlapping {
                    chunks: 2..3,
                    head: 0..1
                },
            ]
        );
    }

    proptest! {
        #[test]
        fn steps_cover_everything_in_order_and_isolate_only_lonely_chunks(
            raw in prop::collection::vec((0u32..4, -50i64..50, 0i64..20), 0..12),
            mut head in prop::collection::vec(-60i64..80, 0..10),
        ) {
            let mut chunks: Vec<Interval> = raw.iter().map(|&(r, a, len)| iv(r, a, a + len)).collect();
            chunks.sort_by_key(|c| (c.min_ts, c.rank));
            head.sort_unstable();
            head.dedup();
            let steps = plan_series(&chunks, &head);
            let (mut next_chunk, mut next_head) = (0, 0);
            let mut last_end = i64::MIN;
            for step in &steps {
                match step {
                    Step::Head(r) => {
                        prop_assert_eq!(r.start, next_head);
                        prop_assert!(r.start < r.end);
                        prop_assert!(head[r.start] > last_end);
                        next_head = r.end;
                        last_end = head[r.end - 1];
                    }
                    Step::Isolated(i) => {
                        prop_assert_eq!(*i, next_chunk);
                        let c = chunks[*i];
                        prop_assert!(c.min_ts > last_end);
                        for (j, o) in chunks.iter().enumerate() {
                            prop_assert!(j == *i || o.max_ts < c.min_ts || o.min_ts > c.max_ts);
                        }
                        prop_assert!(head.iter().all(|&t| t < c.min_ts || t > c.max_ts));
                        next_chunk += 1;
                        last_end = c.max_ts;
                    }
                    Step::Overlapping { chunks: cr, head: hr } => {
                        prop_assert_eq!(cr.start, next_chunk);
                        prop_assert_eq!(hr.start, next_head);
                        let lo = chunks[cr.clone()].iter().map(|c| c.min_ts).min().unwrap();
                        let hi = chunks[cr.clone()].iter().map(|c| c.max_ts).max().unwrap();
                        prop_assert!(lo > last_end);
                        prop_assert!(head[hr.clone()].iter().all(|&t| lo <= t && t <= hi));
                        next_chunk = cr.end;
                        next_head = hr.end;
                        last_end = hi;
                    }
                }
            }
            prop_assert_eq!(next_chunk, chunks.len());
            prop_assert_eq!(next_head, head.len());
        }
    }

    fn stats(min_ts: i64, max_ts: i64, min: f64, max: f64, nan_count: u32) -> ChunkStats {
        ChunkStats {
            min_ts,
            max_ts,
            count: 10,
            nan_count,
            min,
            max,
            sum: 0.0,
            first: min,
            last: max,
        }
    }

    #[test]
    fn chunk_actions() {
        let every = Bucketing::Every(100, 0);
        let need = |agg: Option<Aggregate>, filters: &'static [ValueFilter]| Needed {
            range: TimeRange::new(0, 1000),
            aggregate: agg.map(|a| (a, every)),
            transform: false,
            filters,
        };
        let s = stats(100, 199, 1.0, 5.0, 0);
        assert_eq!(
            chunk_action(&s, &need(Some(Aggregate::Max), &[])),
            ChunkAction::Stats
        );
        assert_eq!(chunk_action(&s, &need(None, &[])), ChunkAction::Decode);
        // Spans two buckets.
        let two = stats(150, 250, 1.0, 5.0, 0);
        assert_eq!(
            chunk_action(&two, &need(Some(Aggregate::Max), &[])),
            ChunkAction::Decode
        );
        // Sticks out of the range.
        let out = stats(950, 1010, 1.0, 5.0, 0);
        let whole = Needed {
            aggregate: Some((Aggregate::Sum, Bucketing::Whole(0))),
            ..need(None, &[])
        };
        assert_eq!(chunk_action(&out, &whole), ChunkAction::Decode);
        // Filters: none pass -> skip, even raw; all pass -> stats; some -> decode.
        const GT9: &[ValueFilter] = &[ValueFilter {
            op: crate::query::spec::Comparison::Gt,
            threshold: 9.0,
        }];
        const GT0: &[ValueFilter] = &[ValueFilter {
            op: crate::query::spec::Comparison::Gt,
            threshold: 0.0,
        }];
        const GT3: &[ValueFilter] = &[ValueFilter {
            op: crate::query::spec::Comparison::Gt,
            threshold: 3.0,
        }];
        assert_eq!(chunk_action(&s, &need(None, GT9)), ChunkAction::Skip);
        assert_eq!(
            chunk_action(&s, &need(Some(Aggregate::Avg), GT0)),
            ChunkAction::Stats
        );
        assert_eq!(
            chunk_action(&s, &need(Some(Aggregate::Avg), GT3)),
            ChunkAction::Decode
        );
        // NaN: first/last and quantiles decode; an all-NaN chunk adds nothing.
        let nan = stats(100, 199, 1.0, 5.0, 3);
        assert_eq!(
            chunk_action(&nan, &need(Some(Aggregate::Last), &[])),
            ChunkAction::Decode
        );
        assert_eq!(
            chunk_action(&nan, &need(Some(Aggregate::Count), &[])),
            ChunkAction::Stats
        );
        assert_eq!(
            chunk_action(&s, &need(Some(Aggregate::P50), &[])),
            ChunkAction::Decode
        );
        let all_nan = stats(100, 199, f64::INFINITY, f64::NEG_INFINITY, 10);
        assert_eq!(
            chunk_action(&all_nan, &need(Some(Aggregate::Max), &[])),
            ChunkAction::Skip
        );
        assert_eq!(
            chunk_action(&all_nan, &need(None, &[])),
            ChunkAction::Decode
        );
        // A transform needs every point.
        let rate = Needed {
            transform: true,
            ..need(Some(Aggregate::Max), GT9)
        };
        assert_eq!(chunk_action(&s, &rate), ChunkAction::Decode);
    }
}
