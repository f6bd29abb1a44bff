//! Descriptive statistics: mean, variance, quantiles, median, MAD, Student t quantiles.
//!
//! Non-finite values (NaN, ±inf) are skipped by every function here, as everywhere in
//! [`crate::analytics`].
//!
//! # Quantile method and error bound
//!
//! [`quantile`] uses linear interpolation between the closest ranks — Hyndman & Fan's
//! "type 7", the default of R's `quantile` and of NumPy's `percentile`: for `n` sorted
//! values `x[0..n]` and `q` in `[0, 1]`, let `h = (n - 1) q`; the result is
//! `x[⌊h⌋] + (h - ⌊h⌋) (x[⌊h⌋ + 1] - x[⌊h⌋])`. It is computed from all the values, so it
//! is exact: the only error is the rounding of that one interpolation (a few ulps). It is
//! not a sketch; merging quantiles of partial results needs the values themselves.
//!
//! # Variance
//!
//! [`Summary`] accumulates count, mean and the sum of squared deviations with Welford's
//! update, and merges partial summaries with Chan et al.'s formula, so it stays accurate
//! when the mean is large compared to the spread (where the textbook `Σx² - (Σx)²/n`
//! cancels catastrophically). Squared deviations overflow to infinity only when values
//! differ by more than about 1e154.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Multiply a MAD by this to estimate the standard deviation of normally distributed data
/// (`1 / Φ⁻¹(3/4)`).
pub const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Multiply a mean absolute deviation by this to estimate the standard deviation of
/// normally distributed data (`√(π/2)`).
pub const MEAN_AD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;

/// Running count, mean, variance, min and max of a stream of values (Welford).
///
/// Non-finite values pushed into it are ignored. Two summaries of disjoint parts of a
/// stream [`merge`](Summary::merge) into the summary of the whole.
///
/// ```
/// use sedimentdb::analytics::Summary;
/// let mut s = Summary::new();
/// for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, f64::NAN] {
///     s.push(x);
/// }
/// assert_eq!(s.count(), 8);
/// assert_eq!(s.mean(), Some(5.0));
/// assert_eq!(s.population_variance(), Some(4.0));
/// assert_eq!(s.max(), Some(9.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for Summary {
    fn default() -> Self {
        Summary::new()
    }
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Summary {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// The summary of the finite values of `values`.
    pub fn of(values: &[f64]) -> Self {
        let mut s = Summary::new();
        for &x in values {
            s.push(x);
        }
        s
    }

    /// Adds one value; non-finite values are ignored.
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Combines the summary of another, disjoint part of the stream into this one.
    pub fn merge(&mut self, other: &Summary) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n_a = self.count as f64;
        let n_b = other.count as f64;
        let n = n_a + n_b;
        let delta = other.mean - self.mean;
        self.mean += delta * (n_b / n);
        self.m2 += other.m2 + delta * delta * (n_a * n_b / n);
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of finite values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Arithmetic mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// Sample variance (divisor `n - 1`); `None` with fewer than two values.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 1).then(|| (self.m2 / (self.count - 1) as f64).max(0.0))
    }

    /// Population variance (divisor `n`); `None` when empty.
    pub fn population_variance(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.m2 / self.count as f64).max(0.0))
    }

    /// Sample standard deviation; `None` with fewer than two values.
    pub fn stddev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Smallest value; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// Largest value; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
}

/// Arithmetic mean of the finite values; `None` if there are none.
///
/// ```
/// use sedimentdb::analytics::stats::mean;
/// assert_eq!(mean(&[1.0, f64::NAN, 3.0]), Some(2.0));
/// assert_eq!(mean(&[]), None);
/// ```
pub fn mean(values: &[f64]) -> Option<f64> {
    Summary::of(values).mean()
}

/// Sample variance (divisor `n - 1`) of the finite values, by Welford's method; `None`
/// with fewer than two.
pub fn variance(values: &[f64]) -> Option<f64> {
    Summary::of(values).variance()
}

/// Sample standard deviation of the finite values; `None` with fewer than two.
pub fn stddev(values: &[f64]) -> Option<f64> {
    Summary::of(values).stddev()
}

/// The finite values of `values`, sorted ascending: the input [`quantile`] expects.
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    out.sort_unstable_by(f64::total_cmp);
    out
}

/// The `q`-quantile of `sorted` by linear interpolation between closest ranks (type 7,
/// exact; see the [module docs](self)).
///
/// `sorted` must be in ascending order by [`f64::total_cmp`] — which places NaN and the
/// infinities at the ends — for example the output of [`sorted_finite`] or of
/// `sort_by(f64::total_cmp)`. Non-finite entries at the ends are skipped, in
/// `O(log n)`. Unsorted input gives an unspecified value, never a panic.
///
/// Returns `Ok(None)` when there is no finite value, and
/// [`Error::InvalidArgument`] when `q` is outside `[0, 1]` or NaN.
///
/// ```
/// use sedimentdb::analytics::stats::quantile;
/// let sorted = [1.0, 2.0, 3.0, 4.0, f64::NAN];
/// assert_eq!(quantile(&sorted, 0.5).unwrap(), Some(2.5));
/// assert_eq!(quantile(&sorted, 0.25).unwrap(), Some(1.75));
/// assert_eq!(quantile(&sorted, 1.0).unwrap(), Some(4.0));
/// assert!(quantile(&sorted, 1.5).is_err());
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> Result<Option<f64>> {
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::invalid(format!("quantile {q} is outside [0, 1]")));
    }
    // Finite values sit in one contiguous run under total_cmp: -NaN < -inf < finite < inf < NaN.
    let start = sorted.partition_point(|x| !x.is_finite() && x.is_sign_negative());
    let rest = sorted.get(start..).unwrap_or(&[]);
    let len = rest.partition_point(|x| x.is_finite());
    let finite = rest.get(..len).unwrap_or(&[]);
    Ok(quantile_of_finite(finite, q))
}

/// Type-7 quantile of a sorted slice of finite values; `q` in `[0, 1]`.
pub(crate) fn quantile_of_finite(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let frac = h - lo as f64;
    let a = *sorted.get(lo)?;
    match sorted.get(lo + 1) {
        Some(&b) if frac > 0.0 => Some(a + frac * (b - a)),
        _ => Some(a),
    }
}

/// `(a + b) / 2` without overflowing for large same-signed values.
pub(crate) fn midpoint(a: f64, b: f64) -> f64 {
    a + (b - a) / 2.0
}

/// Median of the finite values (unsorted input), in `O(n)` by selection; `None` if there
/// are none. For even counts it is the mean of the two middle values, as type 7 gives.
///
/// ```
/// use sedimentdb::analytics::stats::median;
/// assert_eq!(median(&[5.0, 1.0, f64::INFINITY, 3.0]), Some(3.0));
/// assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
/// ```
pub fn median(values: &[f64]) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    median_in_place(&mut finite)
}

/// Median of finite values, reordering the slice.
pub(crate) fn median_in_place(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (below, &mut hi, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(hi);
    }
    // The lower middle value is the largest of the part below the upper one.
    let lo = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(midpoint(lo, hi))
}

/// Median absolute deviation of the finite values: `median(|x - median(x)|)`, unscaled
/// (multiply by [`MAD_TO_SIGMA`] to estimate a standard deviation). `O(n)`; `None` if
/// there is no finite value. A series with more than half its values equal has MAD 0.
///
/// ```
/// use sedimentdb::analytics::stats::mad;
/// assert_eq!(mad(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]), Some(1.0));
/// assert_eq!(mad(&[7.0, 7.0, 7.0]), Some(0.0));
/// ```
pub fn mad(values: &[f64]) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let med = median_in_place(&mut finite)?;
    for x in finite.iter_mut() {
        *x = (*x - med).abs();
    }
    median_in_place(&mut finite)
}

/// Largest number of degrees of freedom used by [`t_quantile`]; above it the t quantile
/// is within 3e-7 relative of the normal quantile and larger values are clamped.
const T_MAX_DF: f64 = 1e7;

/// The `p`-quantile of Student's t distribution with `df` degrees of freedom.
///
/// Computed by inverting the distribution function `P(T > t) = I_{df/(df+t²)}(df/2, ½) / 2`
/// (`I` the regularised incomplete beta function, evaluated by its continued fraction
/// with Lentz's method to 1e-15 relative) by bisection to 1e-13 relative. Accuracy: better
/// than 1e-9 relative for `df` up to 1e6 (checked against the closed forms for 1 and 2
/// degrees of freedom, published tables, and a 40-digit mpmath computation over
/// `df` in 3..1e6 and `p` in 0.6..0.99999); `df` above 1e7 is treated as 1e7, which is
/// off by less than `(1 + t²) / (4·10⁷)` relative (1.2e-7 for the usual 95 %). `df`
/// need not be an integer.
///
/// Errors when `p` is not strictly inside `(0, 1)` or `df` is not a positive number.
///
/// ```
/// use sedimentdb::analytics::stats::t_quantile;
/// let t = t_quantile(0.975, 10.0).unwrap();
/// assert!((t - 2.228_139).abs() < 1e-6);
/// ```
pub fn t_quantile(p: f64, df: f64) -> Result<f64> {
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::invalid(format!("probability {p} is outside (0, 1)")));
    }
    if df.is_nan() || df <= 0.0 {
        return Err(Error::invalid(format!(
            "degrees of freedom {df} must be positive"
        )));
    }
    let df = df.min(T_MAX_DF);
    // Work with the upper tail, which keeps precision for p close to 1.
    let (tail, sign) = if p > 0.5 { (1.0 - p, 1.0) } else { (p, -1.0) };
    if tail >= 0.5 {
        return Ok(0.0);
    }
    let upper_tail = |t: f64| -> f64 {
        let x = df / (df + t * t);
        0.5 * incomplete_beta(df / 2.0, 0.5, x)
    };
    let mut lo = 0.0_f64;
    let mut hi = 1.0_f64;
    let mut guard = 0;
    while upper_tail(hi) > tail && guard < 2000 {
        lo = hi;
        hi *= 2.0;
        guard += 1;
    }
    for _ in 0..200 {
        let mid = midpoint(lo, hi);
        if upper_tail(mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    Ok(sign * midpoint(lo, hi))
}

/// Natural log of the gamma function for `x > 0` (Lanczos, g = 7, 9 terms; about 1e-15
/// relative).
fn ln_gamma(x: f64) -> f64 {
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut acc = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        acc += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + acc.ln()
}

/// Regularised incomplete beta function `I_x(a, b)` for `a, b > 0` (Numerical Recipes'
/// `betai`, continued fraction by the modified Lentz method).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        (front * beta_continued_fraction(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    // Convergence takes O(√max(a, b)) terms; a and b are at most T_MAX_DF / 2 here.
    const MAX_TERMS: u32 = 20_000;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + aa * d);
        c = fix(1.0 + aa / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Rank-sum for ties: the 1-based average ranks of `values` (all finite), in input order.
pub(crate) fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| {
        let a = values.get(i).copied().unwrap_or(f64::NAN);
        let b = values.get(j).copied().unwrap_or(f64::NAN);
        a.total_cmp(&b)
    });
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value_at = |k: usize| {
            order
                .get(k)
                .and_then(|&i| values.get(i))
                .copied()
                .unwrap_or(f64::NAN)
        };
        let v = value_at(start);
        let mut end = start + 1;
        // `==` (not total_cmp) so that -0.0 and 0.0 tie.
        while end < order.len() && value_at(end) == v {
            end += 1;
        }
        // Ranks start..end (0-based) share their mean, 1-based.
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in order.get(start..end).unwrap_or(&[]) {
            if let Some(r) = ranks.get_mut(i) {
                *r = rank;
            }
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testutil::close;
    use proptest::prelude::*;

    fn naive_mean(xs: &[f64]) -> Option<f64> {
        let f: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        (!f.is_empty()).then(|| f.iter().sum::<f64>() / f.len() as f64)
    }

    fn naive_variance(xs: &[f64]) -> Option<f64> {
        let f: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        if f.len() < 2 {
            return None;
        }
        let m = f.iter().sum::<f64>() / f.len() as f64;
        Some(f.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (f.len() - 1) as f64)
    }

    fn naive_quantile(xs: &[f64], q: f64) -> Option<f64> {
        let mut f: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        f.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if f.is_empty() {
            return None;
        }
        let h = (f.len() - 1) as f64 * q;
        let lo = h.floor() as usize;
        let hi = h.ceil() as usize;
        Some(f[lo] + (h - lo as f64) * (f[hi] - f[lo]))
    }

    fn naive_median(xs: &[f64]) -> Option<f64> {
        let mut f: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        f.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = f.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(f[n / 2]),
            // Same midpoint formula as the implementation, so results compare exactly.
            _ => Some(f[n / 2 - 1] + (f[n / 2] - f[n / 2 - 1]) / 2.0),
        }
    }

    /// Values with some NaN and infinities mixed in.
    fn values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                8 => -1e6..1e6f64,
                1 => (-5i32..5).prop_map(f64::from),
                1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
            ],
            0..60,
        )
    }

    proptest! {
        #[test]
        fn mean_and_variance_match_two_pass(xs in values()) {
            match (mean(&xs), naive_mean(&xs)) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1e-9), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
            match (variance(&xs), naive_variance(&xs)) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1e-7), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
        }

        #[test]
        fn merged_summaries_equal_one_pass(xs in values(), cut in 0usize..60) {
            let cut = cut.min(xs.len());
            let mut left = Summary::of(&xs[..cut]);
            left.merge(&Summary::of(&xs[cut..]));
            let whole = Summary::of(&xs);
            prop_assert_eq!(left.count(), whole.count());
            prop_assert_eq!(left.min(), whole.min());
            prop_assert_eq!(left.max(), whole.max());
            match (left.variance(), whole.variance()) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1e-7), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
        }

        #[test]
        fn quantile_matches_sorting(xs in values(), q in 0.0..=1.0f64) {
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let got = quantile(&sorted, q).unwrap();
            match (got, naive_quantile(&xs, q)) {
                (Some(a), Some(b)) => prop_assert!(close(a, b, 1e-12), "{a} vs {b}"),
                (a, b) => prop_assert_eq!(a, b),
            }
            // sorted_finite gives the same answer.
            prop_assert_eq!(quantile(&sorted_finite(&xs), q).unwrap(), got);
        }

        #[test]
        fn median_and_mad_match_sorting(xs in values()) {
            prop_assert_eq!(median(&xs), naive_median(&xs));
            let expected_mad = naive_median(&xs).and_then(|m| {
                let devs: Vec<f64> = xs.iter().filter(|x| x.is_finite()).map(|x| (x - m).abs()).collect();
                naive_median(&devs)
            });
            prop_assert_eq!(mad(&xs), expected_mad);
        }

        #[test]
        fn average_ranks_match_counting(xs in prop::collection::vec((-5i32..5).prop_map(f64::from), 0..40)) {
            let ranks = average_ranks(&xs);
            for (i, &x) in xs.iter().enumerate() {
                let less = xs.iter().filter(|&&y| y < x).count() as f64;
                let equal = xs.iter().filter(|&&y| y == x).count() as f64;
                prop_assert_eq!(ranks[i], less + (equal + 1.0) / 2.0);
            }
        }

        #[test]
        fn t_quantile_is_monotone_and_antisymmetric(p in 0.001..0.999f64, df in 0.5..500.0f64) {
            let t = t_quantile(p, df).unwrap();
            let t_neg = t_quantile(1.0 - p, df).unwrap();
            prop_assert!(close(t, -t_neg, 1e-9), "{t} vs {t_neg}");
            let t_more = t_quantile((p + 0.0005).min(0.9995), df).unwrap();
            prop_assert!(t_more >= t);
        }
    }

    #[test]
    fn empty_single_and_constant_inputs() {
        assert_eq!(mean(&[]), None);
        assert_eq!(variance(&[1.0]), None);
        assert_eq!(Summary::of(&[1.0]).population_variance(), Some(0.0));
        assert_eq!(variance(&[3.0, 3.0, 3.0]), Some(0.0));
        assert_eq!(stddev(&[1.0, 3.0]), Some(2f64.sqrt()));
        assert_eq!(quantile(&[], 0.5).unwrap(), None);
        assert_eq!(quantile(&[f64::NAN, f64::INFINITY], 0.5).unwrap(), None);
        assert_eq!(quantile(&[7.0], 0.3).unwrap(), Some(7.0));
        assert!(quantile(&[1.0], f64::NAN).is_err());
        assert!(quantile(&[1.0], -0.1).is_err());
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(mad(&[2.0]), Some(0.0));
        assert_eq!(mad(&[]), None);
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let xs = [1.0, f64::NAN, 2.0, f64::INFINITY, 3.0, f64::NEG_INFINITY];
        assert_eq!(mean(&xs), Some(2.0));
        assert_eq!(variance(&xs), Some(1.0));
        assert_eq!(median(&xs), Some(2.0));
        assert_eq!(Summary::of(&xs).count(), 3);
        let mut sorted = xs.to_vec();
        sorted.push(-f64::NAN);
        sorted.sort_by(f64::total_cmp);
        assert_eq!(quantile(&sorted, 0.0).unwrap(), Some(1.0));
        assert_eq!(quantile(&sorted, 1.0).unwrap(), Some(3.0));
    }

    #[test]
    fn welford_keeps_precision_with_a_large_offset() {
        // The textbook Σx² - (Σx)²/n formula returns garbage here.
        let xs: Vec<f64> = (0..1000).map(|i| 1e9 + (i % 4) as f64).collect();
        let exact = naive_variance(&xs).unwrap();
        assert!(close(variance(&xs).unwrap(), exact, 1e-9));
        assert!(close(exact, 1.2512512512512513, 1e-9));
    }

    #[test]
    fn t_quantile_matches_closed_forms_and_tables() {
        for &p in &[0.6, 0.9, 0.975, 0.995, 0.9999, 0.01] {
            let cauchy = (std::f64::consts::PI * (p - 0.5)).tan();
            let got = t_quantile(p, 1.0).unwrap();
            assert!(close(got, cauchy, 1e-9), "df=1 p={p}: {got} vs {cauchy}");
            let df2 = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            let got = t_quantile(p, 2.0).unwrap();
            assert!(close(got, df2, 1e-9), "df=2 p={p}: {got} vs {df2}");
        }
        // Two-sided 95 % critical values from standard tables.
        for &(df, t) in &[
            (3.0, 3.182_446),
            (5.0, 2.570_582),
            (10.0, 2.228_139),
            (30.0, 2.042_272),
            (100.0, 1.983_972),
            (1e6, 1.959_966),
        ] {
            let got = t_quantile(0.975, df).unwrap();
            assert!((got - t).abs() < 2e-6, "df={df}: {got} vs {t}");
        }
        assert!((t_quantile(0.995, 4.0).unwrap() - 4.604_095).abs() < 2e-6);
        // 40-digit references computed with mpmath (betainc + findroot).
        for &(p, df, t) in &[
            (0.975, 4.5, 2.658_912_347_204_403),
            (0.99999, 7.0, 10.102_684_252_974_545),
            (0.995, 1000.0, 2.580_754_698_065_951),
            (0.9, 1e5, 1.281_560_031_449_361),
        ] {
            let got = t_quantile(p, df).unwrap();
            assert!(close(got, t, 1e-9), "p={p} df={df}: {got} vs {t}");
        }
        assert!((t_quantile(0.975, 1e12).unwrap() - 1.959_964).abs() < 2e-6);
        assert_eq!(t_quantile(0.5, 3.0).unwrap(), 0.0);
        assert!(t_quantile(0.0, 3.0).is_err());
        assert!(t_quantile(1.0, 3.0).is_err());
        assert!(t_quantile(0.9, 0.0).is_err());
        assert!(t_quantile(0.9, f64::NAN).is_err());
    }
}
