//! Linear trend: least-squares slope per second, R², forecasts with a prediction
//! interval, and a degrading / improving / stable verdict.
//!
//! The fit regresses the values on time measured in seconds from the first timestamp
//! (`reference_ts`). Offsets are computed in `i128` and only then converted to `f64`, so
//! epoch-sized timestamps (1.6e18 ns) cost no precision and timestamps at the ends of the
//! `i64` range cannot overflow. Sums use centred values (two passes), and values are
//! scaled by their largest magnitude first, so squares cannot overflow for any finite
//! input; only a result that itself exceeds `f64` (a slope steeper than ~1e308 per
//! second) becomes infinite.

use serde::{Deserialize, Serialize};

use crate::analytics::stats::t_quantile;
use crate::{Error, Result, Timestamp};

const NANOS_PER_SEC: f64 = 1e9;

/// Seconds from `reference` to `ts`, exact up to the rounding of one conversion.
fn offset_secs(ts: Timestamp, reference: Timestamp) -> f64 {
    (i128::from(ts) - i128::from(reference)) as f64 / NANOS_PER_SEC
}

/// A least-squares line through a series, as returned by [`linear_trend`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Change of the value per second.
    pub slope_per_sec: f64,
    /// Fitted value at `reference_ts`.
    pub intercept_at: f64,
    /// Timestamp the intercept refers to: the first timestamp with a finite value.
    pub reference_ts: Timestamp,
    /// Coefficient of determination in `[0, 1]`. A constant series gets 1: the
    /// horizontal line fits it exactly.
    pub r_squared: f64,
    /// Number of points fitted (non-finite values are skipped).
    pub n: usize,
    /// Standard deviation of the residuals, `√(SSres / (n - 2))`; 0 when `n = 2`.
    pub residual_stddev: f64,
    /// Mean time offset of the points from `reference_ts`, in seconds (needed for
    /// prediction intervals).
    pub mean_offset_secs: f64,
    /// Sum of squared deviations of the time offsets from their mean, in seconds²
    /// (needed for prediction intervals). Always positive.
    pub offset_sum_sq: f64,
}

/// A forecast value with a prediction interval, from [`Trend::forecast`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The timestamp forecast.
    pub ts: Timestamp,
    /// The fitted line's value at `ts`.
    pub value: f64,
    /// Lower end of the prediction interval.
    pub lower: f64,
    /// Upper end of the prediction interval.
    pub upper: f64,
    /// Probability that a new observation at `ts` falls in `[lower, upper]`, if the
    /// residuals are independent and normal.
    pub confidence: f64,
}

/// Which way of moving is bad for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Growth is bad (latency, error rate, memory use).
    IncreasingIsBad,
    /// Decline is bad (throughput, free disk, hit ratio).
    DecreasingIsBad,
}

/// The judgement of [`Trend::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// A clear trend in the bad direction.
    Degrading,
    /// A clear trend in the good direction.
    Improving,
    /// No trend both steep enough and well enough fitted.
    Stable,
}

/// Fits `value = intercept + slope · t` by ordinary least squares over the pairs
/// `(ts[i], values[i])` (zipped: extra elements of the longer slice are ignored).
///
/// Pairs whose value is not finite are skipped. Returns `None` with fewer than two
/// points or when all timestamps are equal (no slope is defined). Timestamps need not be
/// sorted. `O(n)`.
///
/// ```
/// use sedimentdb::analytics::trend::linear_trend;
/// let minute = 60_000_000_000_i64;
/// let ts: Vec<i64> = (0..60).map(|i| 1_700_000_000_000_000_000 + i * minute).collect();
/// let ys: Vec<f64> = (0..60).map(|i| 100.0 + 0.5 * i as f64).collect(); // +0.5 a minute
/// let fit = linear_trend(&ts, &ys).unwrap();
/// assert!((fit.slope_per_sec * 60.0 - 0.5).abs() < 1e-12);
/// assert!((fit.r_squared - 1.0).abs() < 1e-12);
/// assert_eq!(fit.n, 60);
/// ```
pub fn linear_trend(ts: &[Timestamp], values: &[f64]) -> Option<Trend> {
    let pairs = || {
        ts.iter()
            .zip(values)
            .filter(|(_, v)| v.is_finite())
            .map(|(&t, &v)| (t, v))
    };
    let (reference_ts, _) = pairs().next()?;

    // Pass 1: count, scale, means (running means cannot overflow).
    let mut n = 0usize;
    let mut scale = 0.0_f64;
    for (_, v) in pairs() {
        n += 1;
        scale = scale.max(v.abs());
    }
    if n < 2 {
        return None;
    }
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let (mut mean_x, mut mean_y) = (0.0, 0.0);
    for (k, (t, v)) in pairs().enumerate() {
        let inv = 1.0 / (k + 1) as f64;
        mean_x += (offset_secs(t, reference_ts) - mean_x) * inv;
        mean_y += (v / scale - mean_y) * inv;
    }

    // Pass 2: centred sums of squares and products.
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (t, v) in pairs() {
        let dx = offset_secs(t, reference_ts) - mean_x;
        let dy = v / scale - mean_y;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;

    // Pass 3: residuals, summed directly rather than as syy - slope·sxy, which cancels.
    let mut ss_res = 0.0;
    for (t, v) in pairs() {
        let r = v / scale - (intercept + slope * offset_secs(t, reference_ts));
        ss_res += r * r;
    }
    let r_squared = if syy > 0.0 {
        (1.0 - ss_res / syy).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let residual_stddev = if n > 2 {
        (ss_res / (n - 2) as f64).sqrt() * scale
    } else {
        0.0
    };
    Some(Trend {
        slope_per_sec: slope * scale,
        intercept_at: intercept * scale,
        reference_ts,
        r_squared,
        n,
        residual_stddev,
        mean_offset_secs: mean_x,
        offset_sum_sq: sxx,
    })
}

impl Trend {
    /// The fitted line's value at `ts`.
    pub fn value_at(&self, ts: Timestamp) -> f64 {
        self.intercept_at + self.slope_per_sec * offset_secs(ts, self.reference_ts)
    }

    /// Forecasts the value at `at` with a prediction interval of probability
    /// `confidence` for a new observation there:
    /// `ŷ ± t(1 - α/2, n - 2) · s · √(1 + 1/n + (x - x̄)² / Sxx)`, where `s` is the
    /// residual standard deviation and `t` the Student t quantile computed by
    /// [`t_quantile`] (better than 1e-9 relative).
    ///
    /// The interval assumes independent, normal residuals around a straight line; on
    /// autocorrelated metrics it is too narrow, so treat it as a lower bound on the
    /// uncertainty.
    ///
    /// Errors when `confidence` is not strictly inside `(0, 1)` and when the fit has
    /// fewer than 3 points (a line through 2 points leaves no degree of freedom to
    /// estimate the scatter).
    ///
    /// ```
    /// use sedimentdb::analytics::trend::linear_trend;
    /// let sec = 1_000_000_000_i64;
    /// let ts: Vec<i64> = (1..=5).map(|i| i * sec).collect();
    /// let fit = linear_trend(&ts, &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
    /// let f = fit.forecast(6 * sec, 0.95).unwrap();
    /// assert!((f.value - 5.8).abs() < 1e-12);
    /// assert!((f.upper - f.value - 4.124_93).abs() < 1e-4);
    /// ```
    pub fn forecast(&self, at: Timestamp, confidence: f64) -> Result<Forecast> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(Error::invalid(format!(
                "confidence {confidence} is outside (0, 1)"
            )));
        }
        if self.n < 3 {
            return Err(Error::invalid(format!(
                "a prediction interval needs at least 3 points, the trend has {}",
                self.n
            )));
        }
        if self.offset_sum_sq.is_nan() || self.offset_sum_sq <= 0.0 {
            return Err(Error::invalid(
                "trend has no spread in time (offset_sum_sq is not positive)",
            ));
        }
        let n = self.n as f64;
        let value = self.value_at(at);
        let t = t_quantile(0.5 + confidence / 2.0, n - 2.0)?;
        let dx = offset_secs(at, self.reference_ts) - self.mean_offset_secs;
        let leverage = 1.0 + 1.0 / n + (dx / self.offset_sum_sq.sqrt()).powi(2);
        let half_width = t * self.residual_stddev * leverage.sqrt();
        Ok(Forecast {
            ts: at,
            value,
            lower: value - half_width,
            upper: value + half_width,
            confidence,
        })
    }

    /// Judges the trend for a metric where `direction` is bad.
    ///
    /// The trend counts only if `|slope_per_sec| >= min_slope_per_sec`, the slope is not
    /// zero, and `r_squared >= min_r2`; then it is [`Verdict::Degrading`] when it goes the
    /// bad way and [`Verdict::Improving`] otherwise. Anything else is
    /// [`Verdict::Stable`]. Negative or NaN thresholds count as 0.
    ///
    /// ```
    /// use sedimentdb::analytics::trend::{linear_trend, Direction, Verdict};
    /// let sec = 1_000_000_000_i64;
    /// let ts: Vec<i64> = (0..10).map(|i| i * sec).collect();
    /// let latency: Vec<f64> = (0..10).map(|i| 50.0 + 2.0 * i as f64).collect();
    /// let fit = linear_trend(&ts, &latency).unwrap();
    /// assert_eq!(fit.verdict(Direction::IncreasingIsBad, 1.0, 0.8), Verdict::Degrading);
    /// assert_eq!(fit.verdict(Direction::DecreasingIsBad, 1.0, 0.8), Verdict::Improving);
    /// assert_eq!(fit.verdict(Direction::IncreasingIsBad, 5.0, 0.8), Verdict::Stable);
    /// ```
    pub fn verdict(&self, direction: Direction, min_slope_per_sec: f64, min_r2: f64) -> Verdict {
        let min_slope = min_slope_per_sec.max(0.0);
        let min_r2 = min_r2.max(0.0);
        let slope = self.slope_per_sec;
        let clear = slope != 0.0 && slope.abs() >= min_slope && self.r_squared >= min_r2;
        if !clear {
            return Verdict::Stable;
        }
        let bad = match direction {
            Direction::IncreasingIsBad => slope > 0.0,
            Direction::DecreasingIsBad => slope < 0.0,
        };
        if bad {
            Verdict::Degrading
        } else {
            Verdict::Improving
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testutil::close;
    use proptest::prelude::*;

    const SEC: i64 = 1_000_000_000;

    /// Textbook normal equations on raw sums: fine for the small, well-conditioned
    /// inputs the property test feeds it.
    fn naive(ts: &[i64], ys: &[f64]) -> Option<(f64, f64, f64, f64)> {
        let pts: Vec<(i64, f64)> = ts
            .iter()
            .zip(ys)
            .filter(|(_, y)| y.is_finite())
            .map(|(&t, &y)| (t, y))
            .collect();
        let t0 = pts.first()?.0;
        let n = pts.len() as f64;
        let xs: Vec<f64> = pts.iter().map(|p| (p.0 - t0) as f64 / 1e9).collect();
        let (sx, sy) = (xs.iter().sum::<f64>(), pts.iter().map(|p| p.1).sum::<f64>());
        let sxx: f64 = xs.iter().map(|x| x * x).sum();
        let sxy: f64 = xs.iter().zip(&pts).map(|(x, p)| x * p.1).sum();
        let den = n * sxx - sx * sx;
        if pts.len() < 2 || den.abs() < 1e-9 {
            return None;
        }
        let slope = (n * sxy - sx * sy) / den;
        let intercept = (sy - slope * sx) / n;
        let mean_y = sy / n;
        let ss_tot: f64 = pts.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
        let ss_res: f64 = xs
            .iter()
            .zip(&pts)
            .map(|(x, p)| (p.1 - intercept - slope * x).powi(2))
            .sum();
        let r2 = if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            1.0
        };
        let s = if pts.len() > 2 {
            (ss_res / (n - 2.0)).sqrt()
        } else {
            0.0
        };
        Some((slope, intercept, r2, s))
    }

    fn series() -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
        (
            -2_000_000_000_000_000_000i64..2_000_000_000_000_000_000,
            prop::collection::vec(
                (
                    0i64..3600,
                    prop_oneof![9 => -1e3..1e3f64, 1 => Just(f64::NAN)],
                ),
                0..40,
            ),
        )
            .prop_map(|(base, pts)| {
                let ts = pts.iter().map(|p| base + p.0 * SEC).collect();
                let ys = pts.iter().map(|p| p.1).collect();
                (ts, ys)
            })
    }

    proptest! {
        #[test]
        fn fit_matches_normal_equations((ts, ys) in series()) {
            let got = linear_trend(&ts, &ys);
            let want = naive(&ts, &ys);
            match (got, want) {
                (Some(g), Some((slope, intercept, r2, s))) => {
                    prop_assert!(close(g.slope_per_sec, slope, 1e-6), "{g:?} vs {slope}");
                    prop_assert!(close(g.intercept_at, intercept, 1e-6), "{g:?} vs {intercept}");
                    prop_assert!((g.r_squared - r2).abs() < 1e-6, "{g:?} vs {r2}");
                    prop_assert!(close(g.residual_stddev, s, 1e-6), "{g:?} vs {s}");
                }
                (None, None) => {}
                (g, w) => prop_assert!(false, "{g:?} vs {w:?}"),
            }
        }

        #[test]
        fn extreme_timestamps_and_values_give_finite_results(
            pts in prop::collection::vec((any::<i64>(), -1e100..1e100f64), 0..20),
            at in any::<i64>(),
        ) {
            let ts: Vec<i64> = pts.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
            if let Some(fit) = linear_trend(&ts, &ys) {
                for x in [fit.slope_per_sec, fit.intercept_at, fit.r_squared, fit.residual_stddev,
                          fit.mean_offset_secs, fit.offset_sum_sq, fit.value_at(at)] {
                    prop_assert!(x.is_finite(), "{fit:?}");
                }
                prop_assert!((0.0..=1.0).contains(&fit.r_squared));
                if let Ok(f) = fit.forecast(at, 0.9) {
                    prop_assert!(f.lower <= f.value && f.value <= f.upper, "{f:?}");
                    prop_assert!(!f.value.is_nan() && !f.lower.is_nan() && !f.upper.is_nan());
                }
            }
        }

        #[test]
        fn r_squared_is_squared_pearson((ts, ys) in series()) {
            let xs: Vec<f64> = ts.iter().map(|&t| t as f64).collect();
            if let (Some(fit), Some(r)) = (linear_trend(&ts, &ys), crate::analytics::pearson(&xs, &ys)) {
                // xs loses precision at 1e18, so compare loosely.
                prop_assert!((fit.r_squared - r * r).abs() < 1e-3, "{} vs {}", fit.r_squared, r * r);
            }
        }
    }

    #[test]
    fn perfect_line_has_exact_slope_and_r2_one() {
        let base = 1_700_000_000_000_000_000_i64;
        let ts: Vec<i64> = (0..1000).map(|i| base + i * 60 * SEC).collect();
        let ys: Vec<f64> = (0..1000).map(|i| -3.0 + 0.001 * (i * 60) as f64).collect();
        let fit = linear_trend(&ts, &ys).unwrap();
        assert!(close(fit.slope_per_sec, 0.001, 1e-12), "{fit:?}");
        assert!(close(fit.intercept_at, -3.0, 1e-12), "{fit:?}");
        assert!((fit.r_squared - 1.0).abs() < 1e-12);
        assert!(fit.residual_stddev < 1e-9);
        assert_eq!(fit.reference_ts, base);
        assert!(close(fit.value_at(base + 1000 * 60 * SEC), 57.0, 1e-12));
        let f = fit.forecast(base + 2000 * 60 * SEC, 0.99).unwrap();
        assert!(close(f.value, 117.0, 1e-12));
        assert!(f.upper - f.lower < 1e-6);
    }

    #[test]
    fn textbook_example_forecast() {
        let ts: Vec<i64> = (1..=5).map(|i| i * SEC).collect();
        let fit = linear_trend(&ts, &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
        assert!(close(fit.slope_per_sec, 0.6, 1e-12));
        assert!(close(fit.intercept_at, 2.8, 1e-12));
        assert!(close(fit.r_squared, 0.6, 1e-12));
        assert!(close(fit.residual_stddev, 0.8_f64.sqrt(), 1e-12));
        let f = fit.forecast(6 * SEC, 0.95).unwrap();
        let half = 3.182_446_305 * 0.8_f64.sqrt() * 2.1_f64.sqrt();
        assert!(close(f.value, 5.8, 1e-12));
        assert!(close(f.upper - f.value, half, 1e-8), "{f:?}");
        assert!(close(f.value - f.lower, half, 1e-8), "{f:?}");
        // The interval is narrowest at the mean time and widens away from it.
        let mid = fit.forecast(3 * SEC, 0.95).unwrap();
        assert!(mid.upper - mid.lower < f.upper - f.lower);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(linear_trend(&[], &[]), None);
        assert_eq!(linear_trend(&[5], &[1.0]), None);
        assert_eq!(linear_trend(&[5, 5, 5], &[1.0, 2.0, 3.0]), None);
        assert_eq!(linear_trend(&[1, 2], &[f64::NAN, 1.0]), None);

        let two = linear_trend(&[0, SEC], &[1.0, 3.0]).unwrap();
        assert_eq!(two.slope_per_sec, 2.0);
        assert_eq!(two.r_squared, 1.0);
        assert_eq!(two.residual_stddev, 0.0);
        assert!(two.forecast(2 * SEC, 0.9).is_err());

        let flat = linear_trend(&[0, SEC, 2 * SEC, 3 * SEC], &[0.1; 4]).unwrap();
        assert_eq!(flat.slope_per_sec, 0.0);
        assert_eq!(flat.r_squared, 1.0);
        assert_eq!(flat.residual_stddev, 0.0);
        assert_eq!(
            flat.verdict(Direction::IncreasingIsBad, 0.0, 0.0),
            Verdict::Stable
        );
        let f = flat.forecast(100 * SEC, 0.9).unwrap();
        assert_eq!((f.lower, f.value, f.upper), (0.1, 0.1, 0.1));
        assert!(flat.forecast(0, 1.0).is_err());
        assert!(flat.forecast(0, 0.0).is_err());
        assert!(flat.forecast(0, f64::NAN).is_err());

        // Mismatched lengths: pairs are zipped.
        let z = linear_trend(&[0, SEC, 2 * SEC], &[1.0, 2.0]).unwrap();
        assert_eq!(z.n, 2);
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let ts: Vec<i64> = (0..6).map(|i| i * SEC).collect();
        let with = [1.0, f64::NAN, 3.0, f64::INFINITY, 5.0, f64::NEG_INFINITY];
        let fit = linear_trend(&ts, &with).unwrap();
        let clean = linear_trend(&[0, 2 * SEC, 4 * SEC], &[1.0, 3.0, 5.0]).unwrap();
        assert_eq!(fit, clean);
        assert_eq!(fit.n, 3);
        // The reference timestamp is the first point that was kept.
        let late = linear_trend(&ts, &[f64::NAN, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(late.reference_ts, SEC);
        assert!(close(late.intercept_at, 1.0, 1e-12));
    }

    #[test]
    fn timestamps_at_i64_extremes() {
        let ts = [i64::MIN, 0, i64::MAX];
        let fit = linear_trend(&ts, &[0.0, 1.0, 2.0]).unwrap();
        let per_sec = 1.0 / (i64::MAX as f64 / 1e9);
        assert!(close(fit.slope_per_sec, per_sec, 1e-9), "{fit:?}");
        assert!(close(fit.r_squared, 1.0, 1e-12));
        for at in [i64::MIN, i64::MAX, 0] {
            let f = fit.forecast(at, 0.95).unwrap();
            assert!(f.value.is_finite() && f.lower.is_finite() && f.upper.is_finite());
        }
        let huge = linear_trend(&[0, 1, 2], &[f64::MAX, 0.0, f64::MAX]).unwrap();
        assert!(huge.r_squared.is_finite() && huge.residual_stddev.is_finite());
    }

    #[test]
    fn verdicts() {
        let ts: Vec<i64> = (0..10).map(|i| i * SEC).collect();
        let down: Vec<f64> = (0..10).map(|i| 10.0 - i as f64).collect();
        let fit = linear_trend(&ts, &down).unwrap();
        assert_eq!(
            fit.verdict(Direction::DecreasingIsBad, 0.5, 0.9),
            Verdict::Degrading
        );
        assert_eq!(
            fit.verdict(Direction::IncreasingIsBad, 0.5, 0.9),
            Verdict::Improving
        );
        assert_eq!(
            fit.verdict(Direction::IncreasingIsBad, f64::NAN, f64::NAN),
            Verdict::Improving
        );
        let noisy =
            linear_trend(&ts, &[0.0, 5.0, -5.0, 5.0, -5.0, 5.0, -5.0, 5.0, -5.0, 1.0]).unwrap();
        assert_eq!(
            noisy.verdict(Direction::IncreasingIsBad, 0.0, 0.5),
            Verdict::Stable
        );
    }

    #[test]
    fn serde_round_trip() {
        let fit = linear_trend(&[0, SEC, 3 * SEC], &[1.0, 2.0, 2.5]).unwrap();
        let bytes = bincode::serialize(&fit).unwrap();
        assert_eq!(bincode::deserialize::<Trend>(&bytes).unwrap(), fit);
    }
}
