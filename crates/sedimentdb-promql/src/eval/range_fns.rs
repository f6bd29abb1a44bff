//! Functions of the samples inside one `[range]` window: `rate`, `irate`, `increase`,
//! `delta`, `idelta` and the `*_over_time` family, written after Prometheus 3's
//! `promql/functions.go` so that the answers are the same, floating-point steps
//! included (Kahan-Neumaier sums, the extrapolation rules of `extrapolatedRate`).
//!
//! Every function gets the window's samples (stale markers already removed) and the
//! window's bounds `(range_start, range_end]` in nanoseconds, and returns `None` where
//! Prometheus returns no sample.

/// A window of samples: parallel slices, times in nanoseconds, strictly increasing.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Sample times.
    pub ts: &'a [i64],
    /// Sample values.
    pub vals: &'a [f64],
    /// The window's open lower bound: evaluation time minus range (and offset).
    pub range_start: i64,
    /// The window's closed upper bound: evaluation time (minus offset).
    pub range_end: i64,
}

impl Window<'_> {
    fn len(&self) -> usize {
        self.ts.len()
    }
}

const NS_PER_SEC: f64 = 1e9;

/// Prometheus' `kahanSumInc`: Kahan summation with Neumaier's improvement.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `rate` (`is_counter`, `is_rate`), `increase` (`is_counter`) and `delta` (neither):
/// Prometheus' `extrapolatedRate`. Needs two samples.
pub fn extrapolated_rate(
    w: Window<'_>,
    range_ns: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let n = w.len();
    if n < 2 {
        return None;
    }
    let first_v = w.vals[0];
    let mut result = w.vals[n - 1] - first_v;
    if is_counter {
        let mut prev = first_v;
        for &v in &w.vals[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let first_t = w.ts[0];
    let last_t = w.ts[n - 1];
    let mut duration_to_start = (first_t - w.range_start) as f64 / NS_PER_SEC;
    let mut duration_to_end = (w.range_end - last_t) as f64 / NS_PER_SEC;
    let sampled_interval = (last_t - first_t) as f64 / NS_PER_SEC;
    let average_between = sampled_interval / (n - 1) as f64;
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    if duration_to_start >= threshold {
        duration_to_start = average_between / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // A counter cannot go below zero: do not extrapolate past its zero point.
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    extrapolate_to += duration_to_start;
    if duration_to_end >= threshold {
        duration_to_end = average_between / 2.0;
    }
    extrapolate_to += duration_to_end;
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= range_ns as f64 / NS_PER_SEC;
    }
    Some(result * factor)
}

/// `irate` (`is_rate`) and `idelta`: the last two samples. Prometheus' `instantValue`.
pub fn instant_value(w: Window<'_>, is_rate: bool) -> Option<f64> {
    let n = w.len();
    if n < 2 {
        return None;
    }
    let (prev_t, prev_v) = (w.ts[n - 2], w.vals[n - 2]);
    let (last_t, last_v) = (w.ts[n - 1], w.vals[n - 1]);
    let mut result = if is_rate && last_v < prev_v {
        last_v // a counter reset
    } else {
        last_v - prev_v
    };
    let interval = last_t - prev_t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / NS_PER_SEC;
    }
    Some(result)
}

/// `sum_over_time`.
pub fn sum_over_time(w: Window<'_>) -> Option<f64> {
    if w.len() == 0 {
        return None;
    }
    let (mut sum, mut c) = (0.0, 0.0);
    for &v in w.vals {
        (sum, c) = kahan_inc(v, sum, c);
    }
    Some(if sum.is_infinite() { sum } else { sum + c })
}

/// `avg_over_time`: a Kahan sum divided by the count, switching to an incremental mean
/// if the sum overflows (as Prometheus 3 does).
pub fn avg_over_time(w: Window<'_>) -> Option<f64> {
    if w.len() == 0 {
        return None;
    }
    let (mut sum, mut c, mut mean) = (0.0f64, 0.0f64, 0.0f64);
    let mut count = 0.0f64;
    let mut incremental = false;
    for &v in w.vals {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(v, sum, c);
            if count == 1.0 || !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })
}

/// `min_over_time`: NaN only if every value is NaN.
pub fn min_over_time(w: Window<'_>) -> Option<f64> {
    let mut it = w.vals.iter().copied();
    let mut min = it.next()?;
    for v in it {
        if v < min || min.is_nan() {
            min = v;
        }
    }
    Some(min)
}

/// `max_over_time`: NaN only if every value is NaN.
pub fn max_over_time(w: Window<'_>) -> Option<f64> {
    let mut it = w.vals.iter().copied();
    let mut max = it.next()?;
    for v in it {
        if v > max || max.is_nan() {
            max = v;
        }
    }
    Some(max)
}

/// `count_over_time`.
pub fn count_over_time(w: Window<'_>) -> Option<f64> {
    (w.len() > 0).then_some(w.len() as f64)
}

/// `last_over_time`.
pub fn last_over_time(w: Window<'_>) -> Option<f64> {
    w.vals.last().copied()
}

/// `present_over_time`.
pub fn present_over_time(w: Window<'_>) -> Option<f64> {
    (w.len() > 0).then_some(1.0)
}

/// `stddev_over_time` (`sqrt`) and `stdvar_over_time`: the population statistic,
/// Welford's update with Kahan-compensated sums, as Prometheus computes it.
pub fn stdvar_over_time(w: Window<'_>, sqrt: bool) -> Option<f64> {
    if w.len() == 0 {
        return None;
    }
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for &v in w.vals {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    let var = (aux + c_aux) / count;
    Some(if sqrt { var.sqrt() } else { var })
}

/// Prometheus' `quantile`: `q` below 0 is -Inf, above 1 is +Inf, NaN is NaN; otherwise
/// linear interpolation at rank `q (n - 1)` of the sorted values.
pub fn quantile(q: f64, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    if q.is_nan() {
        return Some(f64::NAN);
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    // Go's sort.Float64s orders NaN first.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).expect("no NaN here"),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    Some(values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight)
}

/// `quantile_over_time(q, ...)`.
pub fn quantile_over_time(q: f64, w: Window<'_>) -> Option<f64> {
    let mut vals = w.vals.to_vec();
    quantile(q, &mut vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn win<'a>(ts: &'a [i64], vals: &'a [f64], start: i64, end: i64) -> Window<'a> {
        Window {
            ts,
            vals,
            range_start: start,
            range_end: end,
        }
    }

    #[test]
    fn rate_extrapolates_to_both_ends_when_samples_reach_them() {
        // Samples every 10 s at 10..60 s, window (0, 60]: 10 s to the start (within 1.1 x
        // the 10 s average), 0 s to the end. Increase 50 over 50 s, extrapolated by 10 s:
        // 60, rate 60 / 60 = 1.
        let ts: Vec<i64> = (1..=6).map(|i| i * 10 * S).collect();
        let vals = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
        let w = win(&ts, &vals, 0, 60 * S);
        assert_eq!(extrapolated_rate(w, 60 * S, true, false), Some(60.0));
        assert_eq!(extrapolated_rate(w, 60 * S, true, true), Some(1.0));
    }

    #[test]
    fn rate_does_not_extrapolate_below_a_counters_zero() {
        // First value 2 at 30 s, 12 at 40 s, 22 at 50 s; window (0, 50]. Average spacing 10 s,
        // 30 s to the start > 11 s: extrapolate by 5 s, but the zero point is 20 * 2/20 = 2 s
        // before the first sample: 2 s. Increase 20 * (20 + 2 + 0) / 20 = 22.
        let ts = [30 * S, 40 * S, 50 * S];
        let vals = [2.0, 12.0, 22.0];
        let w = win(&ts, &vals, 0, 50 * S);
        assert_eq!(extrapolated_rate(w, 50 * S, true, false), Some(22.0));
        // delta is not a counter: the half-interval rule, 20 * 25 / 20 = 25.
        assert_eq!(extrapolated_rate(w, 50 * S, false, false), Some(25.0));
    }

    #[test]
    fn rate_treats_a_decrease_as_a_counter_reset() {
        // 5, 10, 2 (reset: +10), 6; every 10 s from 10 s, window (0, 40]: raw increase
        // 6 - 5 + 10 = 11 over 30 s, extrapolated by 10 s at the start (5/11*30 = 13.6 s
        // to zero is longer): 11 * 40 / 30.
        let ts = [10 * S, 20 * S, 30 * S, 40 * S];
        let vals = [5.0, 10.0, 2.0, 6.0];
        let w = win(&ts, &vals, 0, 40 * S);
        let inc = extrapolated_rate(w, 40 * S, true, false).unwrap();
        assert!((inc - 11.0 * 40.0 / 30.0).abs() < 1e-12, "{inc}");
        // delta sees the plain difference: 1 * 40 / 30.
        let d = extrapolated_rate(w, 40 * S, false, false).unwrap();
        assert!((d - 40.0 / 30.0).abs() < 1e-12, "{d}");
        assert_eq!(
            extrapolated_rate(win(&ts[..1], &vals[..1], 0, 40 * S), 40 * S, true, true),
            None
        );
    }

    #[test]
    fn rate_extrapolates_half_an_interval_where_the_series_stops() {
        // Samples at 10, 20 s in (0, 60]: 40 s to the end > 11 s, so only 5 s there; 10 s to
        // the start is within the threshold. Increase 10 over 10 s -> (10 + 10 + 5) s: 25.
        let ts = [10 * S, 20 * S];
        let vals = [100.0, 110.0];
        let w = win(&ts, &vals, 0, 60 * S);
        assert_eq!(extrapolated_rate(w, 60 * S, true, false), Some(25.0));
    }

    #[test]
    fn irate_and_idelta_use_the_last_two_samples() {
        let ts = [10 * S, 20 * S, 25 * S];
        let vals = [1.0, 9.0, 4.0];
        let w = win(&ts, &vals, 0, 30 * S);
        // A reset: the last value over 5 s.
        assert_eq!(instant_value(w, true), Some(4.0 / 5.0));
        assert_eq!(instant_value(w, false), Some(-5.0));
        assert_eq!(
            instant_value(win(&ts[..1], &vals[..1], 0, 30 * S), true),
            None
        );
    }

    #[test]
    fn over_time_aggregates() {
        let ts = [1, 2, 3, 4];
        let vals = [4.0, f64::NAN, 1.0, 3.0];
        let w = win(&ts, &vals, 0, 4);
        assert_eq!(min_over_time(w), Some(1.0));
        assert_eq!(max_over_time(w), Some(4.0));
        assert_eq!(count_over_time(w), Some(4.0));
        assert_eq!(last_over_time(w), Some(3.0));
        assert!(sum_over_time(w).unwrap().is_nan());
        let clean = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let t8 = [1, 2, 3, 4, 5, 6, 7, 8];
        let w = win(&t8, &clean, 0, 8);
        assert_eq!(sum_over_time(w), Some(40.0));
        assert_eq!(avg_over_time(w), Some(5.0));
        assert_eq!(stdvar_over_time(w, true), Some(2.0)); // population stddev
        assert_eq!(stdvar_over_time(w, false), Some(4.0));
        // rank 0.25 * 7 = 1.75 between 4 and 4: 4; rank 0.9 * 7 = 6.3: 7 + 0.3 * 2.
        assert_eq!(quantile_over_time(0.25, w), Some(4.0));
        assert!((quantile_over_time(0.9, w).unwrap() - 7.6).abs() < 1e-12);
        assert_eq!(quantile_over_time(-1.0, w), Some(f64::NEG_INFINITY));
        assert_eq!(quantile_over_time(2.0, w), Some(f64::INFINITY));
        let empty = win(&[], &[], 0, 8);
        assert_eq!(max_over_time(empty), None);
        assert_eq!(avg_over_time(empty), None);
        // all NaN: NaN, not None
        let nan = [f64::NAN];
        assert!(max_over_time(win(&t8[..1], &nan, 0, 8)).unwrap().is_nan());
    }

    #[test]
    fn kahan_sum_keeps_what_naive_summation_loses() {
        let vals = [1e16, 1.0, -1e16];
        let ts = [1, 2, 3];
        assert_eq!(sum_over_time(win(&ts, &vals, 0, 3)), Some(1.0));
    }
}
