//! After the per-series reads: series or groups made into result series, then fill,
//! having, ranking and limit.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::{Ctx, SeriesData, SeriesOut};
use crate::error::{Error, Result};
use crate::index::Catalog;
use crate::query::agg::{Bucketing, Needs, Partial};
use crate::query::result::{Labels, ResultSeries};
use crate::query::spec::{Aggregate, Fill, Grouping, Query, RankOrder};
use crate::types::{SeriesId, Timestamp};

impl Ctx<'_> {
    /// Turns per-series outputs into result series: one per series, or one per group.
    pub(super) fn assemble(
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
                        series_id: Some(SeriesId(out.id)),
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
                series_id: None,
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
pub(super) fn label_of(
    part: &Partial,
    index: i64,
    aggregate: Aggregate,
    bucketing: Bucketing,
) -> Timestamp {
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
pub(super) fn post_process(
    series: &mut Vec<ResultSeries>,
    query: &Query,
    ctx: &Ctx<'_>,
) -> Result<()> {
    fill_all(series, ctx)?;
    post_fill(series, query, ctx)
}

/// Puts every series on the full bucket grid when the query fills.
pub(super) fn fill_all(series: &mut [ResultSeries], ctx: &Ctx<'_>) -> Result<()> {
    if let (Some(bucketing @ Bucketing::Every(..)), fill) = (ctx.bucketing, ctx.fill) {
        if fill != Fill::None {
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

    fn series(ts: Vec<i64>, values: Vec<f64>) -> ResultSeries {
        ResultSeries {
            labels: Labels::Group(Vec::new()),
            series_id: None,
            series_count: 1,
            timestamps: ts,
            values,
        }
    }

    #[test]
    fn fills() {
        let b = Bucketing::Every(10, 0);
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
