//! Tests of the anomaly detectors: naive references, known answers and edge cases.

use super::*;
use crate::analytics::testutil::{close, Rng};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000_000_000;

fn naive_median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// Median, MAD and mean absolute deviation by sorting.
fn naive_spread(v: &[f64]) -> (f64, f64, f64) {
    let med = naive_median(v.to_vec()).unwrap();
    let devs: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    let mad = naive_median(devs.clone()).unwrap();
    let mean = devs.iter().sum::<f64>() / devs.len() as f64;
    (med, mad, mean)
}

fn naive_score(x: f64, centre: f64, mad: f64, mean_ad: f64, resolution: f64) -> f64 {
    let dev = x - centre;
    let spread = if mad > 0.0 {
        mad / 0.674_489_750_196_081_7
    } else if mean_ad > 0.0 {
        mean_ad * (std::f64::consts::PI / 2.0).sqrt()
    } else {
        0.0
    };
    let floor = resolution.max(centre.abs() * 1e-6).max(1e-12);
    if dev == 0.0 {
        0.0
    } else {
        dev / spread.max(floor)
    }
}

/// Smallest non-zero step between consecutive values, each step capped at the smaller
/// non-zero magnitude of its two values (a quantum divides the values), 0 if none.
fn naive_resolution(v: &[f64]) -> f64 {
    v.windows(2)
        .map(|w| {
            let (a, b) = (w[0].abs(), w[1].abs());
            let smaller = if a == 0.0 {
                b
            } else if b == 0.0 {
                a
            } else {
                a.min(b)
            };
            ((w[1] - w[0]).abs().min(smaller), w[1])
        })
        .filter(|&(d, x)| d > 0.0 && d > x.abs() * 1e-12)
        .map(|(d, _)| d)
        .fold(0.0, |acc: f64, d| if acc == 0.0 { d } else { acc.min(d) })
}

fn finite(ts: &[i64], vs: &[f64]) -> Vec<(i64, f64)> {
    ts.iter()
        .zip(vs)
        .filter(|p| p.1.is_finite())
        .map(|(&t, &v)| (t, v))
        .collect()
}

fn naive_rolling(ts: &[i64], vs: &[f64], w: usize, thr: f64) -> Vec<Anomaly> {
    let pts = finite(ts, vs);
    let mut out = Vec::new();
    for i in w..pts.len() {
        let base: Vec<f64> = pts[i - w..i].iter().map(|p| p.1).collect();
        let (med, mad, mean_ad) = naive_spread(&base);
        let before: Vec<f64> = pts[..i].iter().map(|p| p.1).collect();
        let score = naive_score(pts[i].1, med, mad, mean_ad, naive_resolution(&before));
        if score.abs() > thr {
            out.push(Anomaly {
                ts: pts[i].0,
                value: pts[i].1,
                expected: med,
                score,
            });
        }
    }
    out
}

fn naive_seasonal(ts: &[i64], vs: &[f64], period: i64, bucket: i64, thr: f64) -> Vec<Anomaly> {
    let pts = finite(ts, vs);
    let key = |t: i64| (t.div_euclid(period), t.rem_euclid(period) / bucket);
    let mut scored = Vec::new();
    for &(t, x) in &pts {
        let (p, ph) = key(t);
        let hist: Vec<f64> = pts
            .iter()
            .filter(|(u, _)| key(*u).0 < p && key(*u).1 == ph)
            .map(|q| q.1)
            .collect();
        if let Some(e) = naive_median(hist) {
            scored.push((t, x, e));
        }
    }
    let abs: Vec<f64> = scored.iter().map(|(_, x, e)| (x - e).abs()).collect();
    let Some(mad) = naive_median(abs.clone()) else {
        return Vec::new();
    };
    let mean = abs.iter().sum::<f64>() / abs.len() as f64;
    scored
        .into_iter()
        .filter_map(|(t, x, e)| {
            let score = naive_score(x, e, mad, mean, 0.0);
            (score.abs() > thr).then_some(Anomaly {
                ts: t,
                value: x,
                expected: e,
                score,
            })
        })
        .collect()
}

/// The CUSUM recomputed from scratch at every step (segment means by summing the
/// slice), to check the incremental bookkeeping.
fn naive_cusum(ts: &[i64], vs: &[f64], h: f64, k: f64) -> Vec<ChangePoint> {
    let pts = finite(ts, vs);
    let scale = pts.iter().fold(0.0_f64, |m, p| m.max(p.1.abs()));
    if scale == 0.0 {
        return Vec::new();
    }
    let xs: Vec<f64> = pts.iter().map(|p| p.1 / scale).collect();
    if xs.len() < 2 {
        return Vec::new();
    }
    let diffs: Vec<f64> = xs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let med = naive_median(diffs.clone()).unwrap();
    let sigma = if med > 0.0 {
        MAD_TO_SIGMA * med
    } else {
        MEAN_AD_TO_SIGMA * diffs.iter().sum::<f64>() / diffs.len() as f64
    } / std::f64::consts::SQRT_2;
    if sigma == 0.0 {
        return Vec::new();
    }
    let mut detected = Vec::new();
    let mut seg_start = 0;
    let (mut hi, mut lo, mut zhi, mut zlo) = (0.0_f64, 0.0_f64, 0, 0);
    for i in 0..xs.len() {
        let count = i - seg_start;
        if count < CUSUM_WARMUP {
            zhi = i;
            zlo = i;
            continue;
        }
        let mean = xs[seg_start..i].iter().sum::<f64>() / count as f64;
        let z = (xs[i] - mean) / (sigma * (1.0 + 1.0 / count as f64).sqrt());
        hi = (hi + z - k).max(0.0);
        lo = (lo - z - k).max(0.0);
        if hi == 0.0 {
            zhi = i;
        }
        if lo == 0.0 {
            zlo = i;
        }
        if hi > h || lo > h {
            detected.push(if hi >= lo { zhi } else { zlo } + 1);
            seg_start = i + 1;
            hi = 0.0;
            lo = 0.0;
        }
    }
    // Confirmation, with every segment mean summed afresh.
    let mut starts: Vec<usize> = Vec::new();
    for (j, &c) in detected.iter().enumerate() {
        let prev = starts.last().copied().unwrap_or(0);
        let next = detected.get(j + 1).copied().unwrap_or(xs.len());
        let (n1, n2) = ((c - prev) as f64, (next - c) as f64);
        let before = xs[prev..c].iter().sum::<f64>() / n1;
        let after = xs[c..next].iter().sum::<f64>() / n2;
        if (after - before).abs() >= h * sigma * (1.0 / n1 + 1.0 / n2).sqrt() {
            starts.push(c);
        }
    }
    // Location refinement: every split of the span tried, with its sums taken afresh.
    let mut refined: Vec<usize> = Vec::new();
    for j in 0..starts.len() {
        let lo = refined.last().copied().unwrap_or(0);
        let hi = starts.get(j + 1).copied().unwrap_or(xs.len());
        let n = hi - lo;
        let mean = xs[lo..hi].iter().sum::<f64>() / n as f64;
        let (mut best, mut best_stat) = (starts[j], f64::NEG_INFINITY);
        for c in lo + 1..hi {
            let mut s = 0.0;
            for x in &xs[lo..c] {
                s += x - mean;
            }
            let stat = s * s * (n as f64 / ((c - lo) as f64 * (hi - c) as f64));
            if stat > best_stat {
                best_stat = stat;
                best = c;
            }
        }
        refined.push(best);
    }
    let starts = refined;
    let mean = |a: usize, b: usize| xs[a..b].iter().sum::<f64>() / (b - a) as f64;
    (0..starts.len())
        .map(|j| {
            let prev = if j == 0 { 0 } else { starts[j - 1] };
            let next = starts.get(j + 1).copied().unwrap_or(xs.len());
            let (b, a) = (mean(prev, starts[j]), mean(starts[j], next));
            ChangePoint {
                ts: pts[starts[j]].0,
                before_mean: b * scale,
                after_mean: a * scale,
                score: (a - b) / sigma,
            }
        })
        .collect()
}

fn same_anomalies(got: &[Anomaly], want: &[Anomaly]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.ts == w.ts
                && g.value == w.value
                && close(g.expected, w.expected, 1e-12)
                && (g.score == w.score || close(g.score, w.score, 1e-9))
        })
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -100.0..100.0f64,
        3 => (0i32..4).prop_map(f64::from),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ]
}

/// Sorted timestamps (with repeats) and values.
fn series(max_len: usize) -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
    prop::collection::vec((0i64..5, value()), 0..max_len).prop_map(|v| {
        let mut t = -7;
        v.into_iter()
            .map(|(gap, x)| {
                t += gap;
                (t, x)
            })
            .unzip()
    })
}

proptest! {
    #[test]
    fn mad_of_sorted_matches_sorting(mut v in prop::collection::vec((0i32..6).prop_map(f64::from), 1..30),
                                     noise in prop::collection::vec(-1.0..1.0f64, 30)) {
        for (x, n) in v.iter_mut().zip(&noise) {
            if *n > 0.5 { *x += n; }
        }
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let med = median_of_sorted(&sorted).unwrap();
        let (naive_med, naive_mad, _) = naive_spread(&v);
        prop_assert_eq!(med, naive_med);
        prop_assert_eq!(mad_of_sorted(&sorted, med), naive_mad);
    }

    #[test]
    fn rolling_matches_naive((ts, vs) in series(80), w in 3usize..12, thr in 0.0..5.0f64) {
        let got = rolling_robust_zscore(&ts, &vs, w, thr).unwrap();
        let want = naive_rolling(&ts, &vs, w, thr);
        prop_assert!(same_anomalies(&got, &want), "{got:?}\n{want:?}");
    }

    #[test]
    fn seasonal_matches_naive((ts, vs) in series(80), buckets in 1i64..5, bucket in 1i64..4, thr in 0.0..5.0f64) {
        let period = buckets * bucket;
        let got = seasonal_baseline(&ts, &vs, period, bucket, thr).unwrap();
        let want = naive_seasonal(&ts, &vs, period, bucket, thr);
        prop_assert!(same_anomalies(&got, &want), "{got:?}\n{want:?}");
    }

    #[test]
    fn cusum_matches_naive((ts, vs) in series(120), h in 0.5..8.0f64, k in 0.0..1.5f64) {
        let got = cusum_change_points(&ts, &vs, h, k).unwrap();
        let want = naive_cusum(&ts, &vs, h, k);
        prop_assert_eq!(got.len(), want.len(), "{:?}\n{:?}", got, want);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g.ts, w.ts);
            prop_assert!(close(g.before_mean, w.before_mean, 1e-9) && close(g.after_mean, w.after_mean, 1e-9));
            prop_assert!(close(g.score, w.score, 1e-9));
        }
        // Scaling the values by a power of two scales the means and moves nothing.
        let scaled: Vec<f64> = vs.iter().map(|v| v * 4.0).collect();
        let again = cusum_change_points(&ts, &scaled, h, k).unwrap();
        prop_assert_eq!(again.len(), got.len());
        for (a, g) in again.iter().zip(&got) {
            prop_assert_eq!(a.ts, g.ts);
            prop_assert_eq!(a.before_mean, g.before_mean * 4.0);
            prop_assert_eq!(a.score, g.score);
        }
    }

    #[test]
    fn detectors_never_panic(
        pts in prop::collection::vec((any::<i64>(), prop_oneof![any::<f64>(), value()]), 0..40),
        cands in prop::collection::vec(any::<i64>(), 0..5),
        w in 0usize..10,
        period in any::<i64>(),
        bucket in any::<i64>(),
    ) {
        let (mut ts, vs): (Vec<i64>, Vec<f64>) = pts.into_iter().unzip();
        if let Some(p) = detect_period(&ts, &vs, &cands) {
            prop_assert!(cands.contains(&p));
        }
        let _ = rolling_robust_zscore(&ts, &vs, w, 3.0);
        let _ = cusum_change_points(&ts, &vs, 4.0, 0.5);
        ts.sort_unstable();
        let _ = seasonal_baseline(&ts, &vs, period, bucket, 3.0);
        let _ = seasonal_baseline(&ts, &vs, 24, 1, 3.0);
        for a in rolling_robust_zscore(&ts, &vs, 3, 0.0).unwrap_or_default() {
            prop_assert!(!a.score.is_nan() && a.expected.is_finite());
        }
    }
}

#[test]
fn rolling_zscore_finds_an_injected_spike() {
    let mut rng = Rng::new(42);
    let base = 1_700_000_000_000_000_000_i64;
    let ts: Vec<i64> = (0..300).map(|i| base + i * 10_000_000_000).collect();
    let mut vs: Vec<f64> = (0..300).map(|_| 100.0 + rng.normal()).collect();
    vs[200] += 12.0;
    let found = rolling_robust_zscore(&ts, &vs, 30, 5.0).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ts, ts[200]);
    assert!(found[0].score > 5.0);
    assert!((found[0].expected - 100.0).abs() < 1.0);
    // A dip is found with a negative score.
    vs[200] = 88.0;
    let found = rolling_robust_zscore(&ts, &vs, 30, 5.0).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].score < -5.0);
}

#[test]
fn rolling_zscore_with_zero_mad() {
    // Mostly-zero error counts: MAD is 0, the mean absolute deviation takes over.
    let ts: Vec<i64> = (0..40).collect();
    let mut vs: Vec<f64> = (0..40)
        .map(|i| if i % 10 == 3 { 1.0 } else { 0.0 })
        .collect();
    vs[35] = 10.0;
    // The mean |x - 0| over the window is 2/20, scaled by √(π/2): 0.125, below the
    // resolution of 1, which is the spread then. The lone 1s score 1, the 10 scores 10.
    let found = rolling_robust_zscore(&ts, &vs, 20, 5.0).unwrap();
    assert_eq!(found.iter().map(|a| a.ts).collect::<Vec<_>>(), vec![35]);
    assert!(close(found[0].score, 10.0, 1e-12));
    // The same with quanta of 0.01: the floor is the resolution again, 0.01.
    let fine: Vec<f64> = (0..40)
        .map(|i| if i % 10 == 3 { 0.01 } else { 0.0 })
        .chain([0.5])
        .collect();
    let fine_ts: Vec<i64> = (0..41).collect();
    let found = rolling_robust_zscore(&fine_ts, &fine, 20, 5.0).unwrap();
    assert_eq!(found.len(), 1);
    assert!(close(found[0].score, 0.5 / 0.01, 1e-9));
    // Perfectly constant baseline: equal values score 0, others are measured against
    // the floor (a millionth of the centre, as no step was ever seen): finite.
    let mut flat = vec![5.0; 10];
    flat[7] = 5.5;
    let found = rolling_robust_zscore(&ts[..10], &flat, 5, 1000.0).unwrap();
    assert_eq!(found.len(), 1);
    assert!(close(found[0].score, 0.5 / 5e-6, 1e-9));
    // A deviation too large for f64 scores f64::MAX, never infinity.
    let wild = [-f64::MAX, -f64::MAX, -f64::MAX, -f64::MAX, f64::MAX];
    let found = rolling_robust_zscore(&ts[..5], &wild, 3, 1.0).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].score, f64::MAX);
    assert!(rolling_robust_zscore(&ts[..10], &[5.0; 10], 5, 0.0)
        .unwrap()
        .is_empty());
}

#[test]
fn rolling_zscore_edge_cases() {
    assert!(rolling_robust_zscore(&[], &[], 5, 3.0).unwrap().is_empty());
    assert!(rolling_robust_zscore(&[1], &[1.0], 5, 3.0)
        .unwrap()
        .is_empty());
    assert!(rolling_robust_zscore(&[1, 2], &[1.0], 5, 3.0).is_err());
    assert!(rolling_robust_zscore(&[1], &[1.0], 2, 3.0).is_err());
    assert!(rolling_robust_zscore(&[1], &[1.0], 5, f64::NAN).is_err());
    assert!(rolling_robust_zscore(&[1], &[1.0], 5, -1.0).is_err());
    // Non-finite values are neither scored nor part of a window.
    let ts: Vec<i64> = (0..8).collect();
    let vs = [1.0, 2.0, f64::NAN, 3.0, f64::INFINITY, 2.0, 1.0, 2.0];
    let clean_ts = [0, 1, 3, 5, 6, 7];
    let clean = [1.0, 2.0, 3.0, 2.0, 1.0, 2.0];
    assert_eq!(
        rolling_robust_zscore(&ts, &vs, 3, 0.0).unwrap(),
        rolling_robust_zscore(&clean_ts, &clean, 3, 0.0).unwrap()
    );
}

/// 14 days of hourly data: a daily cycle peaking at 14:00, noise, and one spike at 03:00
/// on day 10 as high as a normal peak.
fn daily_series(rng: &mut Rng) -> (Vec<i64>, Vec<f64>) {
    let base = 1_699_920_000_000_000_000_i64; // a UTC midnight
    let ts: Vec<i64> = (0..24 * 14).map(|h| base + h * HOUR).collect();
    let vs: Vec<f64> = (0..24 * 14)
        .map(|h| {
            let phase = (h % 24) as f64 - 14.0;
            50.0 + 40.0 * (phase * std::f64::consts::TAU / 24.0).cos() + rng.normal()
        })
        .collect();
    (ts, vs)
}

#[test]
fn seasonal_baseline_flags_the_off_phase_spike_only() {
    let mut rng = Rng::new(11);
    let (ts, mut vs) = daily_series(&mut rng);
    let spike = 10 * 24 + 3;
    vs[spike] = 90.0;
    let found = seasonal_baseline(&ts, &vs, 24 * HOUR, HOUR, 5.0).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ts, ts[spike]);
    assert!(
        (found[0].expected - 50.0 - 40.0 * (11.0 * std::f64::consts::TAU / 24.0).cos()).abs() < 2.0
    );
    // The rolling z-score, blind to the cycle, flags ordinary peaks as well.
    let rolling = rolling_robust_zscore(&ts, &vs, 6, 5.0).unwrap();
    assert!(rolling.len() > 1);
}

#[test]
fn seasonal_baseline_edge_cases() {
    assert!(seasonal_baseline(&[], &[], 24, 1, 3.0).unwrap().is_empty());
    assert!(seasonal_baseline(&[5], &[1.0], 24, 1, 3.0)
        .unwrap()
        .is_empty());
    assert!(seasonal_baseline(&[1, 2], &[1.0], 24, 1, 3.0).is_err());
    assert!(seasonal_baseline(&[2, 1], &[1.0, 1.0], 24, 1, 3.0).is_err());
    assert!(seasonal_baseline(&[1], &[1.0], 24, 5, 3.0).is_err());
    assert!(seasonal_baseline(&[1], &[1.0], 0, 1, 3.0).is_err());
    assert!(seasonal_baseline(&[1], &[1.0], 24, -1, 3.0).is_err());
    assert!(seasonal_baseline(&[1], &[1.0], 1 << 40, 1, 3.0).is_err());
    // A repeating pattern with no noise: every residual 0, nothing flagged.
    let ts: Vec<i64> = (0..96).collect();
    let vs: Vec<f64> = ts.iter().map(|t| (t % 24) as f64).collect();
    assert!(seasonal_baseline(&ts, &vs, 24, 1, 0.0).unwrap().is_empty());
    // ... and a single deviation from it stands out.
    let mut bumped = vs.clone();
    bumped[50] += 1.0;
    // Every other residual is 0, so the MAD is 0 and the mean |residual| (1/72 over
    // days 1 to 3) sets the scale.
    let found = seasonal_baseline(&ts, &bumped, 24, 1, 10.0).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ts, 50);
    assert!(close(found[0].score, 72.0 / MEAN_AD_TO_SIGMA, 1e-12));
    // Negative timestamps fall into the right phase.
    let neg: Vec<i64> = (-48..0).collect();
    let nv: Vec<f64> = neg.iter().map(|t| t.rem_euclid(24) as f64).collect();
    assert!(seasonal_baseline(&neg, &nv, 24, 1, 0.0).unwrap().is_empty());
}

#[test]
fn detect_period_finds_a_day_in_hourly_data() {
    let mut rng = Rng::new(5);
    let days = 21;
    let ts: Vec<i64> = (0..24 * days).map(|h| h * HOUR).collect();
    let vs: Vec<f64> = (0..24 * days)
        .map(|h| 10.0 * (h as f64 * std::f64::consts::TAU / 24.0).sin() + 2.0 * rng.normal())
        .collect();
    let cands = [HOUR, 24 * HOUR, 7 * 24 * HOUR];
    assert_eq!(detect_period(&ts, &vs, &cands), Some(24 * HOUR));
    // Order of candidates does not matter.
    assert_eq!(
        detect_period(&ts, &vs, &[7 * 24 * HOUR, HOUR, 24 * HOUR]),
        Some(24 * HOUR)
    );
    // Gaps and NaN: drop every fifth point and blank some more.
    let (gts, mut gvs): (Vec<i64>, Vec<f64>) = ts
        .iter()
        .zip(&vs)
        .enumerate()
        .filter(|(i, _)| i % 5 != 0)
        .map(|(_, (&t, &v))| (t, v))
        .unzip();
    gvs[10] = f64::NAN;
    assert_eq!(detect_period(&gts, &gvs, &cands), Some(24 * HOUR));
    // Pure noise has no period; neither has a constant.
    let noise: Vec<f64> = (0..24 * days).map(|_| rng.normal()).collect();
    assert_eq!(detect_period(&ts, &noise, &cands), None);
    assert_eq!(detect_period(&ts, &vec![3.0; ts.len()], &cands), None);
    // Too short for two weeks: 7d cannot be chosen, 24h still can.
    assert_eq!(
        detect_period(&ts[..24 * 10], &vs[..24 * 10], &[7 * 24 * HOUR]),
        None
    );
}

#[test]
fn detect_period_prefers_a_week_when_weekends_differ() {
    let days = 35;
    let ts: Vec<i64> = (0..24 * days).map(|h| h * HOUR).collect();
    let vs: Vec<f64> = (0..24 * days)
        .map(|h| {
            let weekend = (h / 24) % 7 >= 5;
            (h as f64 * std::f64::consts::TAU / 24.0).sin() - if weekend { 3.0 } else { 0.0 }
        })
        .collect();
    assert_eq!(
        detect_period(&ts, &vs, &[HOUR, 24 * HOUR, 7 * 24 * HOUR]),
        Some(7 * 24 * HOUR)
    );
}

#[test]
fn detect_period_edge_cases() {
    assert_eq!(detect_period(&[], &[], &[24]), None);
    assert_eq!(detect_period(&[1], &[1.0], &[24]), None);
    assert_eq!(
        detect_period(&[1, 1, 1, 1], &[1.0, 2.0, 3.0, 4.0], &[24]),
        None
    );
    let ts: Vec<i64> = (0..100).collect();
    let vs: Vec<f64> = ts.iter().map(|t| (t % 10) as f64).collect();
    assert_eq!(detect_period(&ts, &vs, &[]), None);
    assert_eq!(detect_period(&ts, &vs, &[0, -10, 1]), None);
    assert_eq!(detect_period(&ts, &vs, &[10]), Some(10));
    // Extreme timestamps: no overflow.
    let ext = [i64::MIN, -1, 0, 1, i64::MAX];
    let _ = detect_period(&ext, &[1.0, 2.0, 1.0, 2.0, 1.0], &[2, i64::MAX]);
}

#[test]
fn cusum_finds_a_step_change() {
    let mut rng = Rng::new(2024);
    let ts: Vec<i64> = (0..200).map(|i| 1_000 + i * 60).collect();
    let vs: Vec<f64> = (0..200)
        .map(|i| if i < 100 { 20.0 } else { 23.0 } + rng.normal())
        .collect();
    let changes = cusum_change_points(&ts, &vs, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let at = (changes[0].ts - 1_000) / 60;
    assert!((97..=103).contains(&at), "change found at index {at}");
    assert!((changes[0].before_mean - 20.0).abs() < 0.5);
    assert!((changes[0].after_mean - 23.0).abs() < 0.5);
    assert!(changes[0].score > 2.0);
    // A step down, then back up.
    let vs: Vec<f64> = (0..300)
        .map(|i| if (100..200).contains(&i) { 5.0 } else { 10.0 } + 0.5 * rng.normal())
        .collect();
    let ts: Vec<i64> = (0..300).collect();
    let changes = cusum_change_points(&ts, &vs, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!((97..=103).contains(&changes[0].ts) && changes[0].score < 0.0);
    assert!((197..=203).contains(&changes[1].ts) && changes[1].score > 0.0);
}

#[test]
fn cusum_edge_cases() {
    assert!(cusum_change_points(&[], &[], 5.0, 0.5).unwrap().is_empty());
    assert!(cusum_change_points(&[1], &[1.0], 5.0, 0.5)
        .unwrap()
        .is_empty());
    assert!(cusum_change_points(&[1, 2], &[1.0, 9.0], 5.0, 0.5)
        .unwrap()
        .is_empty());
    assert!(cusum_change_points(&[1, 2], &[1.0], 5.0, 0.5).is_err());
    assert!(cusum_change_points(&[1], &[1.0], 0.0, 0.5).is_err());
    assert!(cusum_change_points(&[1], &[1.0], f64::INFINITY, 0.5).is_err());
    assert!(cusum_change_points(&[1], &[1.0], 5.0, -0.1).is_err());
    assert!(cusum_change_points(&[1], &[1.0], 5.0, f64::NAN).is_err());
    let ts: Vec<i64> = (0..50).collect();
    assert!(cusum_change_points(&ts, &[7.0; 50], 5.0, 0.5)
        .unwrap()
        .is_empty());
    assert!(cusum_change_points(&ts, &[0.0; 50], 5.0, 0.5)
        .unwrap()
        .is_empty());
    // A noiseless step: MAD of differences is 0, the mean difference sets σ.
    let step: Vec<f64> = (0..50).map(|i| if i < 25 { 1.0 } else { 2.0 }).collect();
    let changes = cusum_change_points(&ts, &step, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].ts, 25);
    assert_eq!((changes[0].before_mean, changes[0].after_mean), (1.0, 2.0));
    // NaN and infinities are skipped.
    let mut holed = step.clone();
    holed[10] = f64::NAN;
    holed[30] = f64::NEG_INFINITY;
    let changes = cusum_change_points(&ts, &holed, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].ts, 25);
    // Huge values do not overflow.
    let big: Vec<f64> = step.iter().map(|v| v * 8e307).collect();
    let changes = cusum_change_points(&ts, &big, 5.0, 0.5).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].after_mean.is_finite());
}

#[test]
fn serde_round_trip() {
    let a = Anomaly {
        ts: 5,
        value: 1.0,
        expected: 0.5,
        score: 4.2,
    };
    let bytes = bincode::serialize(&a).unwrap();
    assert_eq!(bincode::deserialize::<Anomaly>(&bytes).unwrap(), a);
    let c = ChangePoint {
        ts: 9,
        before_mean: 1.0,
        after_mean: 2.0,
        score: 3.0,
    };
    let bytes = bincode::serialize(&c).unwrap();
    assert_eq!(bincode::deserialize::<ChangePoint>(&bytes).unwrap(), c);
}
