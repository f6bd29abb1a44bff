//! Correlation between aligned series: Pearson, Spearman, alignment, lag search and
//! discovery of the most correlated candidates.
//!
//! Inputs are index-aligned: `x[i]` and `y[i]` describe the same time bucket (use
//! [`align`] or the query engine's bucketing first). Pairs in which either value is not
//! finite are skipped. A coefficient needs at least [`MIN_PAIRS`] pairs and some variance
//! on both sides; otherwise the answer is `None`.

use serde::{Deserialize, Serialize};

use crate::analytics::stats::average_ranks;
use crate::Timestamp;

/// Fewest finite pairs a correlation is computed from.
pub const MIN_PAIRS: usize = 3;

/// Which correlation coefficient to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CorrelationMethod {
    /// Linear correlation of the values.
    Pearson,
    /// Pearson correlation of the ranks: any monotone relation scores ±1.
    Spearman,
}

impl CorrelationMethod {
    /// The coefficient of `x` and `y` by this method.
    pub fn correlate(self, x: &[f64], y: &[f64]) -> Option<f64> {
        match self {
            CorrelationMethod::Pearson => pearson(x, y),
            CorrelationMethod::Spearman => spearman(x, y),
        }
    }
}

/// The result of [`best_lag`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagResult {
    /// Shift in buckets; positive means `y` follows `x` (`y[i + lag]` pairs with `x[i]`).
    pub lag: isize,
    /// The correlation at that lag.
    pub r: f64,
    /// Finite pairs the correlation was computed from.
    pub n: usize,
}

/// The finite pairs of `x` and `y` (zipped), as two vectors.
fn finite_pairs(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    x.iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(&a, &b)| (a, b))
        .unzip()
}

/// Pearson's r of equally long slices of finite values, centred and scaled first so no
/// sum can overflow.
fn pearson_of_finite(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < MIN_PAIRS {
        return None;
    }
    // Divide by the largest magnitude first, so that means and differences of values
    // near f64::MAX stay finite; then by the largest deviation, so that tiny spreads do
    // not underflow when squared.
    // (Only for large magnitudes: dividing by 1 keeps ordinary inputs, such as ranks,
    // exact.)
    let magnitude = |v: &[f64]| {
        let m = v.iter().take(n).fold(0.0_f64, |m, &x| m.max(x.abs()));
        if m > 1e100 {
            m
        } else {
            1.0
        }
    };
    let (ax, ay) = (magnitude(xs), magnitude(ys));
    let mean = |v: &[f64], a: f64| v.iter().take(n).map(|&x| x / a).sum::<f64>() / n as f64;
    let (mx, my) = (mean(xs, ax), mean(ys, ay));
    let spread = |v: &[f64], a: f64, m: f64| {
        v.iter()
            .take(n)
            .fold(0.0_f64, |s, &x| s.max((x / a - m).abs()))
    };
    let (sx, sy) = (spread(xs, ax, mx), spread(ys, ay, my));
    if !(sx > 0.0 && sy > 0.0) {
        return None;
    }
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (&x, &y) in xs.iter().zip(ys) {
        let dx = (x / ax - mx) / sx;
        let dy = (y / ay - my) / sy;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Pearson's linear correlation coefficient of the finite pairs of `x` and `y` (zipped).
///
/// `None` with fewer than [`MIN_PAIRS`] finite pairs or when either side is constant.
/// `O(n)`.
///
/// ```
/// use sedimentdb::analytics::correlation::pearson;
/// let x = [1.0, 2.0, 3.0, 4.0, f64::NAN];
/// let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
/// assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-12);
/// assert_eq!(pearson(&x, &[5.0; 5]), None);
/// ```
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let (xs, ys) = finite_pairs(x, y);
    pearson_of_finite(&xs, &ys)
}

/// Spearman's rank correlation of the finite pairs of `x` and `y` (zipped): Pearson's r
/// of the ranks, tied values sharing their average rank.
///
/// `None` with fewer than [`MIN_PAIRS`] finite pairs or when either side is constant.
/// `O(n log n)`.
///
/// ```
/// use sedimentdb::analytics::correlation::spearman;
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0];
/// let y: Vec<f64> = x.iter().map(|v: &f64| v.exp()).collect();
/// assert_eq!(spearman(&x, &y), Some(1.0));
/// ```
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let (xs, ys) = finite_pairs(x, y);
    if xs.len() < MIN_PAIRS {
        return None;
    }
    pearson_of_finite(&average_ranks(&xs), &average_ranks(&ys))
}

/// Inner join of two series on equal timestamps: the values of `a` and of `b` at every
/// timestamp both have, in time order.
///
/// Both timestamp slices must be ascending (each slice is zipped with its values). A
/// timestamp repeated in both pairs its occurrences in order, one to one. Values are
/// copied as they are, NaN included (the correlation functions skip them). `O(n + m)`.
///
/// ```
/// use sedimentdb::analytics::correlation::align;
/// let (a, b) = align(&[1, 2, 3, 5], &[10.0, 20.0, 30.0, 50.0], &[2, 3, 4, 5], &[0.2, 0.3, 0.4, 0.5]);
/// assert_eq!(a, vec![20.0, 30.0, 50.0]);
/// assert_eq!(b, vec![0.2, 0.3, 0.5]);
/// ```
pub fn align(
    a_ts: &[Timestamp],
    a_vals: &[f64],
    b_ts: &[Timestamp],
    b_vals: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let mut a = a_ts.iter().zip(a_vals).peekable();
    let mut b = b_ts.iter().zip(b_vals).peekable();
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    while let (Some(&(ta, va)), Some(&(tb, vb))) = (a.peek(), b.peek()) {
        match ta.cmp(tb) {
            std::cmp::Ordering::Less => {
                a.next();
            }
            std::cmp::Ordering::Greater => {
                b.next();
            }
            std::cmp::Ordering::Equal => {
                out_a.push(*va);
                out_b.push(*vb);
                a.next();
                b.next();
            }
        }
    }
    (out_a, out_b)
}

/// The overlapping parts of `x` and `y` when `y` is shifted by `lag` (positive: `y`
/// follows `x`).
fn lagged<'a>(x: &'a [f64], y: &'a [f64], lag: isize) -> (&'a [f64], &'a [f64]) {
    let shift = lag.unsigned_abs();
    let (xs, ys) = if lag >= 0 {
        (x, y.get(shift..).unwrap_or(&[]))
    } else {
        (x.get(shift..).unwrap_or(&[]), y)
    };
    let n = xs.len().min(ys.len());
    (xs.get(..n).unwrap_or(&[]), ys.get(..n).unwrap_or(&[]))
}

/// Finds the shift of `y` against `x`, within `±max_lag` buckets, at which they correlate
/// most strongly (largest `|r|`, so a strong negative relation counts too).
///
/// At lag `k >= 0`, `x[i]` pairs with `y[i + k]` (`y` follows `x` by `k` buckets); at
/// negative lags, `y` leads. A lag is tried only if the shifted series still overlap on at
/// least half the shorter series (and [`MIN_PAIRS`] buckets), so that a high r from a
/// handful of pairs at a large shift cannot win. Ties go to the smaller `|lag|`, then to
/// the positive one. `None` if no lag yields a coefficient. Cost: `2·max_lag + 1`
/// correlations of `O(n)` (Pearson) or `O(n log n)` (Spearman).
///
/// ```
/// use sedimentdb::analytics::correlation::{best_lag, CorrelationMethod};
/// let x: Vec<f64> = (0..50).map(|i| ((i * i) % 17) as f64).collect();
/// let y: Vec<f64> = (0..50).map(|i| if i >= 3 { x[i - 3] } else { 0.0 }).collect();
/// let best = best_lag(&x, &y, 10, CorrelationMethod::Pearson).unwrap();
/// assert_eq!(best.lag, 3);
/// assert!((best.r - 1.0).abs() < 1e-12);
/// ```
pub fn best_lag(
    x: &[f64],
    y: &[f64],
    max_lag: usize,
    method: CorrelationMethod,
) -> Option<LagResult> {
    let shorter = x.len().min(y.len());
    let min_overlap = (shorter / 2).max(MIN_PAIRS);
    let max_lag = max_lag.min(x.len().max(y.len()));
    let mut best: Option<LagResult> = None;
    for step in 0..=max_lag {
        let magnitude = isize::try_from(step).ok()?;
        let lags = if step == 0 {
            [Some(0), None]
        } else {
            [Some(magnitude), Some(-magnitude)]
        };
        for lag in lags.into_iter().flatten() {
            let (xs, ys) = lagged(x, y, lag);
            if xs.len() < min_overlap {
                continue;
            }
            let Some(r) = method.correlate(xs, ys) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| r.abs() > b.r.abs()) {
                let n = xs
                    .iter()
                    .zip(ys)
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .count();
                best = Some(LagResult { lag, r, n });
            }
        }
    }
    best
}

/// Ranks `candidates` by the strength of their correlation with `target` and keeps the
/// `top_n` strongest, as `(key, r)` by `|r|` descending.
///
/// Each candidate's values must be index-aligned with `target`. Candidates without a
/// coefficient (too few pairs, constant) are left out. Equal `|r|` keep their input
/// order. `O(m·n)` for the correlations plus `O(m + top_n log top_n)` for the ranking.
///
/// ```
/// use sedimentdb::analytics::correlation::{rank_correlated, CorrelationMethod};
/// let target = [1.0, 2.0, 3.0, 4.0, 5.0];
/// let candidates = vec![
///     ("noise", vec![3.0, 1.0, 4.0, 1.0, 5.0]),
///     ("inverse", vec![10.0, 8.0, 6.0, 4.0, 2.0]),
///     ("flat", vec![1.0; 5]),
/// ];
/// let top = rank_correlated(&target, candidates, 2, CorrelationMethod::Pearson);
/// assert_eq!(top[0].0, "inverse");
/// assert!((top[0].1 + 1.0).abs() < 1e-12);
/// assert_eq!(top.len(), 2);
/// ```
pub fn rank_correlated<K>(
    target: &[f64],
    candidates: impl IntoIterator<Item = (K, Vec<f64>)>,
    top_n: usize,
    method: CorrelationMethod,
) -> Vec<(K, f64)> {
    if top_n == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, K, f64)> = candidates
        .into_iter()
        .enumerate()
        .filter_map(|(i, (key, values))| method.correlate(target, &values).map(|r| (i, key, r)))
        .collect();
    // Strongest first, then input order: a total order, so selection is deterministic.
    let order = |a: &(usize, K, f64), b: &(usize, K, f64)| {
        b.2.abs().total_cmp(&a.2.abs()).then(a.0.cmp(&b.0))
    };
    if top_n < scored.len() {
        scored.select_nth_unstable_by(top_n - 1, order);
        scored.truncate(top_n);
    }
    scored.sort_unstable_by(order);
    scored.into_iter().map(|(_, key, r)| (key, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testutil::{close, Rng};
    use proptest::prelude::*;

    fn naive_pearson(x: &[f64], y: &[f64]) -> Option<f64> {
        let pairs: Vec<(f64, f64)> = x
            .iter()
            .zip(y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(&a, &b)| (a, b))
            .collect();
        let n = pairs.len() as f64;
        if pairs.len() < 3 {
            return None;
        }
        let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
        if vx == 0.0 || vy == 0.0 {
            return None;
        }
        Some(cov / (vx * vy).sqrt())
    }

    /// O(n²) ranks: count of smaller values plus half the ties.
    fn naive_ranks(v: &[f64]) -> Vec<f64> {
        v.iter()
            .map(|&a| {
                let less = v.iter().filter(|&&b| b < a).count() as f64;
                let eq = v.iter().filter(|&&b| b == a).count() as f64;
                less + (eq + 1.0) / 2.0
            })
            .collect()
    }

    fn naive_spearman(x: &[f64], y: &[f64]) -> Option<f64> {
        let (xs, ys): (Vec<f64>, Vec<f64>) = x
            .iter()
            .zip(y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(&a, &b)| (a, b))
            .unzip();
        naive_pearson(&naive_ranks(&xs), &naive_ranks(&ys))
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => -1e3..1e3f64,
            3 => (-3i32..3).prop_map(f64::from),
            1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        ]
    }

    fn pairs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        prop::collection::vec((value(), value()), 0..40).prop_map(|v| v.into_iter().unzip())
    }

    fn agree(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (None, None) => true,
            // Near-constant data: the naive sums may see variance the centred ones do
            // not, or vice versa, only through rounding.
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn pearson_matches_textbook((x, y) in pairs()) {
            let (got, want) = (pearson(&x, &y), naive_pearson(&x, &y));
            prop_assert!(agree(got, want), "{got:?} vs {want:?}");
            if let Some(r) = got {
                prop_assert!((-1.0..=1.0).contains(&r));
                // Symmetric, and invariant under positive affine maps of one side.
                prop_assert!(agree(pearson(&y, &x), got));
                let y2: Vec<f64> = y.iter().map(|v| 3.0 * v - 7.0).collect();
                prop_assert!(agree(pearson(&x, &y2), got));
            }
        }

        #[test]
        fn spearman_matches_naive_ranks((x, y) in pairs()) {
            let (got, want) = (spearman(&x, &y), naive_spearman(&x, &y));
            prop_assert!(agree(got, want), "{got:?} vs {want:?}");
        }

        #[test]
        fn align_matches_nested_loop_join(
            a in prop::collection::btree_map(0i64..60, value(), 0..40),
            b in prop::collection::btree_map(0i64..60, value(), 0..40),
        ) {
            let (a_ts, a_vals): (Vec<i64>, Vec<f64>) = a.iter().map(|(&t, &v)| (t, v)).unzip();
            let (b_ts, b_vals): (Vec<i64>, Vec<f64>) = b.iter().map(|(&t, &v)| (t, v)).unzip();
            let (got_a, got_b) = align(&a_ts, &a_vals, &b_ts, &b_vals);
            let mut want_a = Vec::new();
            let mut want_b = Vec::new();
            for (ta, va) in &a {
                for (tb, vb) in &b {
                    if ta == tb {
                        want_a.push(*va);
                        want_b.push(*vb);
                    }
                }
            }
            prop_assert_eq!(format!("{got_a:?}{got_b:?}"), format!("{want_a:?}{want_b:?}"));
        }

        #[test]
        fn best_lag_matches_brute_force((x, y) in pairs(), max_lag in 0usize..12, spearman_method: bool) {
            let method = if spearman_method { CorrelationMethod::Spearman } else { CorrelationMethod::Pearson };
            let naive = if spearman_method { naive_spearman } else { naive_pearson };
            let got = best_lag(&x, &y, max_lag, method);
            let n = x.len().min(y.len());
            let min_overlap = (n / 2).max(3);
            let mut want: Option<(isize, f64)> = None;
            for lag in -(max_lag as isize)..=(max_lag as isize) {
                // Pairs x[i], y[i + lag].
                let (mut xs, mut ys) = (Vec::new(), Vec::new());
                for i in 0..x.len() as isize {
                    let j = i + lag;
                    if j >= 0 && (j as usize) < y.len() {
                        xs.push(x[i as usize]);
                        ys.push(y[j as usize]);
                    }
                }
                if xs.len() < min_overlap {
                    continue;
                }
                if let Some(r) = naive(&xs, &ys) {
                    let better = match want {
                        None => true,
                        Some((bl, br)) => r.abs() > br.abs() + 1e-9
                            || ((r.abs() - br.abs()).abs() <= 1e-9
                                && (lag.abs() < bl.abs() || (lag.abs() == bl.abs() && lag > bl))),
                    };
                    if better {
                        want = Some((lag, r));
                    }
                }
            }
            match (got, want) {
                (Some(g), Some((_, r))) => {
                    // Near-ties may pick a different lag through rounding; the strength
                    // must agree.
                    prop_assert!((g.r.abs() - r.abs()).abs() < 1e-9, "{g:?} vs {r}");
                }
                (None, None) => {}
                (g, w) => prop_assert!(false, "{g:?} vs {w:?}"),
            }
        }

        #[test]
        fn rank_correlated_matches_full_sort(
            target in prop::collection::vec(value(), 0..12),
            cands in prop::collection::vec(prop::collection::vec(value(), 0..12), 0..12),
            top_n in 0usize..15,
        ) {
            let got = rank_correlated(
                &target,
                cands.iter().cloned().enumerate(),
                top_n,
                CorrelationMethod::Pearson,
            );
            let mut want: Vec<(usize, f64)> = cands
                .iter()
                .enumerate()
                .filter_map(|(i, c)| pearson(&target, c).map(|r| (i, r)))
                .collect();
            want.sort_by(|a, b| b.1.abs().partial_cmp(&a.1.abs()).unwrap()); // stable
            want.truncate(top_n);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn known_answers() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let line: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        let cubic: Vec<f64> = x.iter().map(|v| (v - 3.0).powi(3)).collect();
        assert!(close(pearson(&x, &line).unwrap(), 1.0, 1e-12));
        assert!(close(pearson(&x, &neg).unwrap(), -1.0, 1e-12));
        assert!(close(spearman(&x, &cubic).unwrap(), 1.0, 1e-12));
        assert!(close(spearman(&x, &neg).unwrap(), -1.0, 1e-12));
        assert!(pearson(&x, &cubic).unwrap() < 1.0);
        // Ties: [1, 2, 2, 3] vs [1, 2, 3, 4] — average ranks 1, 2.5, 2.5, 4.
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(r, 0.9486832980505138, 1e-12), "{r}");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(pearson(&[], &[]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), None);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        // NaN and infinities drop the pair.
        let x = [1.0, f64::NAN, 2.0, 3.0, f64::INFINITY];
        let y = [2.0, 0.0, 4.0, 6.0, 1.0];
        assert!(close(pearson(&x, &y).unwrap(), 1.0, 1e-12));
        assert_eq!(pearson(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
        // Huge values do not overflow.
        let r = pearson(&[f64::MAX, -f64::MAX, 0.0], &[1.0, -1.0, 0.0]).unwrap();
        assert!(close(r, 1.0, 1e-12));
        assert_eq!(best_lag(&[], &[], 5, CorrelationMethod::Pearson), None);
        assert_eq!(
            best_lag(&[1.0, 2.0], &[1.0, 2.0], 5, CorrelationMethod::Pearson),
            None
        );
        assert!(
            rank_correlated::<u8>(&[1.0, 2.0, 3.0], vec![], 3, CorrelationMethod::Spearman)
                .is_empty()
        );
        assert_eq!(align(&[], &[], &[1], &[1.0]), (vec![], vec![]));
        // Repeated timestamps pair one to one.
        assert_eq!(
            align(&[1, 1, 2], &[1.0, 2.0, 3.0], &[1, 1, 1], &[4.0, 5.0, 6.0]),
            (vec![1.0, 2.0], vec![4.0, 5.0])
        );
    }

    #[test]
    fn best_lag_finds_a_shift_of_three() {
        let mut rng = Rng::new(7);
        let x: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        let y: Vec<f64> = (0..200)
            .map(|i| {
                if i >= 3 {
                    2.0 * x[i - 3] + 0.1 * rng.normal()
                } else {
                    0.0
                }
            })
            .collect();
        for method in [CorrelationMethod::Pearson, CorrelationMethod::Spearman] {
            let best = best_lag(&x, &y, 10, method).unwrap();
            assert_eq!(best.lag, 3, "{method:?}");
            assert!(best.r > 0.95);
            assert_eq!(best.n, 197);
            // Seen from the other side, x leads: lag -3.
            assert_eq!(best_lag(&y, &x, 10, method).unwrap().lag, -3);
        }
        // Negative correlation counts as strong.
        let inv: Vec<f64> = y.iter().map(|v| -v).collect();
        let best = best_lag(&x, &inv, 10, CorrelationMethod::Pearson).unwrap();
        assert_eq!(best.lag, 3);
        assert!(best.r < -0.95);
    }

    #[test]
    fn discovery_ranks_the_related_series_first() {
        let mut rng = Rng::new(3);
        let target: Vec<f64> = (0..100).map(|_| rng.normal()).collect();
        let mut candidates: Vec<(String, Vec<f64>)> = (0..20)
            .map(|k| {
                (
                    format!("noise{k}"),
                    (0..100).map(|_| rng.normal()).collect(),
                )
            })
            .collect();
        candidates.push((
            "echo".into(),
            target.iter().map(|v| v + 0.3 * rng.normal()).collect(),
        ));
        candidates.push(("mirror".into(), target.iter().map(|v| -v.exp()).collect()));
        let top = rank_correlated(&target, candidates, 2, CorrelationMethod::Spearman);
        assert_eq!(top[0].0, "mirror");
        assert!(close(top[0].1, -1.0, 1e-12));
        assert_eq!(top[1].0, "echo");
    }

    #[test]
    fn serde_round_trip() {
        let lag = LagResult {
            lag: -2,
            r: 0.5,
            n: 10,
        };
        let bytes = bincode::serialize(&lag).unwrap();
        assert_eq!(bincode::deserialize::<LagResult>(&bytes).unwrap(), lag);
    }
}
