//! One series' merged points, in time order, through the transform (rate, derivative),
//! the value filters and into buckets or the raw output.

use super::assemble::label_of;
use super::{Ctx, SeriesData};
use crate::error::Result;
use crate::query::agg::Partial;
use crate::query::spec::Transform;
use crate::segment::format::ChunkStats;
use crate::types::Timestamp;

/// Takes one series' merged points in time order through transform, filters and sink.
pub(super) struct Feeder<'c, 'v> {
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
    pub(super) fn new(ctx: &'c Ctx<'v>) -> Self {
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

    pub(super) fn feed(&mut self, ts: &[Timestamp], vals: &[f64]) -> Result<()> {
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

    pub(super) fn feed_partial(&mut self, index: i64, partial: &Partial) {
        let needs = self.ctx.needs;
        self.sink.bucket(index).merge(partial, needs);
    }

    pub(super) fn feed_stats(&mut self, stats: &ChunkStats) -> Result<()> {
        if let Some(bucketing) = self.ctx.bucketing {
            self.sink
                .bucket(bucketing.index(stats.min_ts))
                .merge_stats(stats);
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Result<Option<SeriesData>> {
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
}
