//! Buckets and mergeable partial aggregates: pure arithmetic, no I/O.
//!
//! A [`Partial`] summarises the non-NaN points of one bucket so that partials from
//! decoded points, from chunk statistics and from other series merge into the same
//! answer. Quantiles keep the values themselves (they are exact).

use crate::query::spec::Aggregate;
use crate::segment::format::ChunkStats;
use crate::types::Timestamp;

/// How timestamps map to buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucketing {
    /// One bucket for the whole range, labelled with the given timestamp.
    Whole(Timestamp),
    /// Buckets `[k w + o, (k + 1) w + o)` for every integer `k`, labelled with their
    /// start: width `w` in `1..=MAX_BUCKET_NS`, offset `o` in `0..w` from the Unix epoch
    /// (0 unless the query sets a bucket origin).
    Every(i64, i64),
}

impl Bucketing {
    /// The bucket holding `ts`.
    #[inline]
    pub(crate) fn index(self, ts: Timestamp) -> i64 {
        match self {
            Bucketing::Whole(_) => 0,
            // div_euclid overflows only for a divisor of -1; widths are positive.
            Bucketing::Every(w, 0) => ts.div_euclid(w),
            // In i128: `ts - o` may leave i64 for timestamps near i64::MIN.
            Bucketing::Every(w, o) => {
                saturate((i128::from(ts) - i128::from(o)).div_euclid(i128::from(w)))
            }
        }
    }

    /// The label (start) of bucket `index`.
    pub(crate) fn start(self, index: i64) -> Timestamp {
        match self {
            Bucketing::Whole(label) => label,
            Bucketing::Every(w, o) => saturate(i128::from(index) * i128::from(w) + i128::from(o)),
        }
    }

    /// First timestamp after bucket `index` (saturated to `i64::MAX`).
    #[inline]
    pub(crate) fn end(self, index: i64) -> Timestamp {
        match self {
            Bucketing::Whole(_) => i64::MAX,
            Bucketing::Every(w, o) => {
                saturate((i128::from(index) + 1) * i128::from(w) + i128::from(o))
            }
        }
    }
}

fn saturate(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// What a partial must track beyond count, sum, extremes and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Needs {
    /// Mean and sum of squared deviations (Welford), for the standard deviation.
    pub moments: bool,
    /// Every value, for exact quantiles.
    pub values: bool,
}

impl Needs {
    pub(crate) fn of(aggregate: Aggregate) -> Needs {
        Needs {
            moments: aggregate == Aggregate::Stddev,
            values: matches!(aggregate, Aggregate::Quantile(_)),
        }
    }
}

/// Summary of the non-NaN points of one bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Partial {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first_ts: Timestamp,
    pub first: f64,
    pub last_ts: Timestamp,
    pub last: f64,
    /// Running mean (Welford), when `Needs::moments`.
    pub mean: f64,
    /// Sum of squared deviations from the mean, when `Needs::moments`.
    pub m2: f64,
    /// The values, when `Needs::values`.
    pub values: Vec<f64>,
}

impl Default for Partial {
    fn default() -> Self {
        Partial {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first_ts: i64::MAX,
            first: f64::NAN,
            last_ts: i64::MIN,
            last: f64::NAN,
            mean: 0.0,
            m2: 0.0,
            values: Vec::new(),
        }
    }
}

impl Partial {
    /// Empties the partial, keeping the capacity of its value buffer.
    pub(crate) fn reset(&mut self) {
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        *self = Partial {
            values,
            ..Partial::default()
        };
    }

    /// Adds one point; NaN values are skipped.
    #[inline]
    pub(crate) fn push(&mut self, ts: Timestamp, value: f64, needs: Needs) {
        if value.is_nan() {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if ts < self.first_ts {
            self.first_ts = ts;
            self.first = value;
        }
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.last = value;
        }
        if needs.moments {
            let delta = value - self.mean;
            self.mean += delta / self.count as f64;
            self.m2 += delta * (value - self.mean);
        }
        if needs.values {
            self.values.push(value);
        }
    }

    /// Adds a run of points sorted by time.
    pub(crate) fn push_run(&mut self, ts: &[Timestamp], values: &[f64], needs: Needs) {
        let (Some(&t0), Some(&t1), Some(&v0), Some(&v1)) =
            (ts.first(), ts.last(), values.first(), values.last())
        else {
            return;
        };
        if !(needs.moments || needs.values) {
            // One vectorisable pass; a NaN anywhere makes the sum NaN, and then the run
            // is redone point by point (so is `inf + -inf`, which gives the same NaN).
            if values.len() < 16 {
                let mut sum = 0.0;
                let mut min = self.min;
                let mut max = self.max;
                for &v in values {
                    sum += v;
                    min = if v < min { v } else { min };
                    max = if v > max { v } else { max };
                }
                if !sum.is_nan() {
                    self.add_clean(values.len(), sum, min, max, (t0, v0), (t1, v1));
                    return;
                }
                for (&t, &v) in ts.iter().zip(values) {
                    self.push(t, v, needs);
                }
                return;
            }
            // Four independent lanes, so the additions do not wait on each other.
            let mut sums = [0.0; 4];
            let mut mins = [self.min; 4];
            let mut maxs = [self.max; 4];
            let lanes = values.chunks_exact(4);
            let rest = lanes.remainder();
            for lane in lanes {
                for k in 0..4 {
                    let v = lane[k];
                    sums[k] += v;
                    // Comparisons rather than f64::min: NaN is dealt with below.
                    mins[k] = if v < mins[k] { v } else { mins[k] };
                    maxs[k] = if v > maxs[k] { v } else { maxs[k] };
                }
            }
            for (k, &v) in rest.iter().enumerate() {
                sums[k] += v;
                mins[k] = if v < mins[k] { v } else { mins[k] };
                maxs[k] = if v > maxs[k] { v } else { maxs[k] };
            }
            let sum = (sums[0] + sums[1]) + (sums[2] + sums[3]);
            let min = mins[0].min(mins[1]).min(mins[2].min(mins[3]));
            let max = maxs[0].max(maxs[1]).max(maxs[2].max(maxs[3]));
            if !sum.is_nan() {
                self.add_clean(values.len(), sum, min, max, (t0, v0), (t1, v1));
                return;
            }
        }
        for (&t, &v) in ts.iter().zip(values) {
            self.push(t, v, needs);
        }
    }

    /// Adds the summary of a NaN-free run: its length, sum, extremes and end points.
    #[inline]
    fn add_clean(
        &mut self,
        len: usize,
        sum: f64,
        min: f64,
        max: f64,
        first: (Timestamp, f64),
        last: (Timestamp, f64),
    ) {
        self.count += len as u64;
        self.sum += sum;
        self.min = min;
        self.max = max;
        if first.0 < self.first_ts {
            (self.first_ts, self.first) = first;
        }
        if last.0 >= self.last_ts {
            (self.last_ts, self.last) = last;
        }
    }

    /// Adds a chunk's statistics. The caller checked that the chunk is answerable for
    /// the aggregate (first/last need a chunk without NaN; moments and values are never
    /// answerable from statistics).
    pub(crate) fn merge_stats(&mut self, stats: &ChunkStats) {
        let n = u64::from(stats.count.saturating_sub(stats.nan_count));
        if n == 0 {
            return;
        }
        self.count += n;
        self.sum += stats.sum;
        self.min = self.min.min(stats.min);
        self.max = self.max.max(stats.max);
        if stats.nan_count == 0 {
            if stats.min_ts < self.first_ts {
                self.first_ts = stats.min_ts;
                self.first = stats.first;
            }
            if stats.max_ts >= self.last_ts {
                self.last_ts = stats.max_ts;
                self.last = stats.last;
            }
        }
    }

    /// Adds another partial. On equal timestamps `first` keeps `self`'s value and `last`
    /// takes `other`'s, so merging in a fixed order gives a fixed answer.
    pub(crate) fn merge(&mut self, other: &Partial, needs: Needs) {
        if other.count == 0 {
            return;
        }
        if needs.moments && self.count == 0 {
            // Nothing to pool with: the formula below would multiply an infinite
            // `delta * delta` by `na = 0` and make a NaN of a finite M2.
            self.mean = other.mean;
            self.m2 = other.m2;
        } else if needs.moments {
            let (na, nb) = (self.count as f64, other.count as f64);
            let n = na + nb;
            let delta = other.mean - self.mean;
            self.mean += delta * nb / n;
            self.m2 += other.m2 + delta * delta * na * nb / n;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.first_ts < self.first_ts {
            self.first_ts = other.first_ts;
            self.first = other.first;
        }
        if other.last_ts >= self.last_ts {
            self.last_ts = other.last_ts;
            self.last = other.last;
        }
        if needs.values {
            self.values.extend_from_slice(&other.values);
        }
    }

    /// The aggregate's value; NaN when there is none (an empty bucket, or a standard
    /// deviation of one point). Sorts `values` for quantiles.
    #[inline]
    pub(crate) fn finish(&mut self, aggregate: Aggregate) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        match aggregate {
            Aggregate::Count => self.count as f64,
            Aggregate::Sum => self.sum,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Avg => self.sum / self.count as f64,
            Aggregate::First => self.first,
            Aggregate::Last => self.last,
            Aggregate::Stddev => {
                if self.count < 2 {
                    f64::NAN
                } else {
                    // An infinity makes M2 NaN (its deviation is `inf - inf`), and the
                    // answer must stay NaN: `f64::max` would turn it into 0. The clamp
                    // is only for a tiny negative M2 left by rounding.
                    let variance = self.m2 / (self.count - 1) as f64;
                    if variance < 0.0 {
                        0.0
                    } else {
                        variance.sqrt()
                    }
                }
            }
            Aggregate::Quantile(q) => {
                self.values.sort_unstable_by(f64::total_cmp);
                quantile_sorted(&self.values, q)
            }
        }
    }
}

/// Type-7 quantile of sorted, NaN-free values; NaN for an empty slice.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo], sorted[hi]);
    let frac = h - lo as f64;
    if frac == 0.0 || a == b {
        // Exact rank (or equal neighbours, infinite ones included): no arithmetic that
        // could turn inf - inf into NaN.
        a
    } else if a == f64::NEG_INFINITY && b == f64::INFINITY {
        // Between -inf and +inf nothing is determined.
        f64::NAN
    } else if a == f64::NEG_INFINITY || b == f64::INFINITY {
        // Every point strictly between a finite and an infinite neighbour is infinite
        // (the limit of the interpolation); the formula would give `-inf + inf` = NaN
        // for an infinite lower neighbour.
        if a.is_infinite() {
            a
        } else {
            b
        }
    } else {
        a + frac * (b - a)
    }
}

/// True when a chunk's statistics answer `aggregate` without decoding.
pub(crate) fn stats_answer(aggregate: Aggregate, stats: &ChunkStats) -> bool {
    match aggregate {
        Aggregate::Count | Aggregate::Sum | Aggregate::Min | Aggregate::Max | Aggregate::Avg => {
            true
        }
        // The first/last of a chunk with NaN may be NaN, and the first non-NaN is unknown.
        Aggregate::First | Aggregate::Last => stats.nan_count == 0,
        Aggregate::Stddev | Aggregate::Quantile(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(points: &[(i64, f64)], aggregate: Aggregate) -> f64 {
        let vals: Vec<f64> = points.iter().map(|p| p.1).filter(|v| !v.is_nan()).collect();
        if vals.is_empty() {
            return f64::NAN;
        }
        let n = vals.len() as f64;
        match aggregate {
            Aggregate::Count => n,
            Aggregate::Sum => vals.iter().sum(),
            Aggregate::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregate::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregate::Avg => vals.iter().sum::<f64>() / n,
            Aggregate::First => vals[0],
            Aggregate::Last => vals[vals.len() - 1],
            Aggregate::Stddev => {
                if vals.len() < 2 {
                    return f64::NAN;
                }
                let mean = vals.iter().sum::<f64>() / n;
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            }
            Aggregate::Quantile(q) => {
                let mut s = vals.clone();
                s.sort_by(f64::total_cmp);
                let h = (s.len() - 1) as f64 * q;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(s.len() - 1);
                let (a, b, frac) = (s[lo], s[hi], h - lo as f64);
                match (frac == 0.0 || a == b, a, b) {
                    (true, ..) => a,
                    (_, f64::NEG_INFINITY, f64::INFINITY) => f64::NAN,
                    (_, f64::NEG_INFINITY, _) => a,
                    (_, _, f64::INFINITY) => b,
                    _ => a + frac * (b - a),
                }
            }
        }
    }

    const AGGS: [Aggregate; 11] = [
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Avg,
        Aggregate::First,
        Aggregate::Last,
        Aggregate::Stddev,
        Aggregate::Quantile(0.0),
        Aggregate::Quantile(0.37),
        Aggregate::Quantile(1.0),
    ];

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan())
            || a == b
            || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    proptest! {
        #[test]
        fn split_merge_and_stats_equal_naive(
            raw in prop::collection::vec((-1000i32..1000, prop::option::weighted(0.9, prop_oneof![
                30 => -1e6f64..1e6,
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ])), 0..60),
            cut in 0usize..60,
        ) {
            let points: Vec<(i64, f64)> = raw.iter().enumerate()
                .map(|(i, &(_, v))| (i as i64 * 7 - 100, v.unwrap_or(f64::NAN)))
                .collect();
            let cut = cut.min(points.len());
            for agg in AGGS {
                let needs = Needs::of(agg);
                let (ts, vs): (Vec<i64>, Vec<f64>) = points.iter().copied().unzip();
                let mut whole = Partial::default();
                whole.push_run(&ts, &vs, needs);
                let mut a = Partial::default();
                a.push_run(&ts[..cut], &vs[..cut], needs);
                let mut b = Partial::default();
                for i in cut..ts.len() { b.push(ts[i], vs[i], needs); }
                a.merge(&b, needs);
                let want = naive(&points, agg);
                prop_assert!(close(whole.finish(agg), want), "{:?} whole {} want {}", agg, whole.finish(agg), want);
                prop_assert!(close(a.finish(agg), want), "{:?} merged", agg);
                if cut > 0 {
                    let stats = ChunkStats::compute(&ts[..cut], &vs[..cut]);
                    if stats_answer(agg, &stats) {
                        let mut s = Partial::default();
                        s.merge_stats(&stats);
                        s.merge(&b, needs);
                        prop_assert!(close(s.finish(agg), want), "{:?} from stats", agg);
                    }
                }
            }
        }
    }

    #[test]
    fn buckets_align_to_epoch_and_never_overflow() {
        let b = Bucketing::Every(10, 0);
        assert_eq!(b.index(-1), -1);
        assert_eq!(b.start(-1), -10);
        assert_eq!(b.end(-1), 0);
        assert_eq!(b.index(i64::MIN), i64::MIN / 10 - 1);
        assert_eq!(b.start(b.index(i64::MIN)), i64::MIN, "saturated");
        assert_eq!(b.end(b.index(i64::MAX)), i64::MAX);
        let wide = Bucketing::Every(crate::query::spec::MAX_BUCKET_NS, 0);
        for ts in [crate::MIN_TIMESTAMP, crate::MAX_TIMESTAMP, 0, -1] {
            let i = wide.index(ts);
            assert!(wide.start(i) <= ts && ts < wide.end(i));
        }
    }

    #[test]
    fn quantiles_interpolate_type_7() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
        assert!((quantile_sorted(&s, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
        assert!(quantile_sorted(&[], 0.3).is_nan());
        let inf = [f64::INFINITY, f64::INFINITY];
        assert_eq!(quantile_sorted(&inf, 0.5), f64::INFINITY);
    }

    proptest! {
        #[test]
        fn quantiles_agree_with_the_analytics_module(
            mut values in prop::collection::vec(-1e6f64..1e6, 1..50),
            q in 0.0f64..=1.0,
        ) {
            values.sort_by(f64::total_cmp);
            let ours = quantile_sorted(&values, q);
            let theirs = crate::analytics::stats::quantile(&values, q).unwrap().unwrap();
            prop_assert_eq!(ours.to_bits(), theirs.to_bits());
        }
    }

    #[test]
    fn stddev_of_one_point_is_missing() {
        let mut p = Partial::default();
        p.push(0, 3.0, Needs::of(Aggregate::Stddev));
        assert!(p.finish(Aggregate::Stddev).is_nan());
        assert_eq!(p.finish(Aggregate::Count), 1.0);
    }
}
