//! Anomaly detection: rolling robust z-score, seasonal baseline, period detection and
//! CUSUM change points.
//!
//! # Robust scores
//!
//! Scores are robust z-scores: `score = (x - expected) / (1.4826 · MAD)`, which is the
//! classic `0.6745 · (x - median) / MAD` (Iglewicz & Hoaglin). For normal data they are
//! on the same scale as ordinary z-scores; unlike them, a few outliers in the baseline
//! do not inflate the spread and hide themselves. A common threshold is 3.5.
//!
//! **When the MAD is 0** — more than half of the baseline is one value, as with error
//! counts that are mostly 0 — the spread falls back to the mean absolute deviation
//! around the same centre, scaled by √(π/2) (also a σ estimate for normal data).
//!
//! **The spread has a floor**, so no score is infinite or absurdly large on repeated or
//! stepped values: it is never taken below the data's resolution (the smallest non-zero
//! step between consecutive finite values before the point; the rolling score only, as
//! a seasonal series' steps include its seasonal motion), a millionth of the
//! centre's magnitude, or 1e-12. A sensor sitting on one value that moves by one quantum
//! scores 1, not infinity. A deviation too large for an `f64` (a huge-range series)
//! scores `±f64::MAX`.
//!
//! Non-finite values are skipped (see [`crate::analytics`]): they are neither scored nor
//! part of any baseline.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::analytics::detector::spread::Resolution;
use crate::analytics::stats::{median_in_place, midpoint, MAD_TO_SIGMA, MEAN_AD_TO_SIGMA};
use crate::{Error, Result, Timestamp};

/// One anomalous point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Timestamp of the point.
    pub ts: Timestamp,
    /// The observed value.
    pub value: f64,
    /// What the baseline expected at this point (a median; for
    /// `AnomalyMethod::Streaming`, the streaming detector's one-step expectation).
    pub expected: f64,
    /// Robust z-score of the deviation, signed: positive above the expectation. Always
    /// finite: the spread has a floor (see the [module docs](self)). For
    /// `AnomalyMethod::Streaming` it is the detector's calibrated score in `[0, 1)`.
    pub score: f64,
}

/// A shift of the mean level detected by [`cusum_change_points`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Timestamp of the first point of the new level.
    pub ts: Timestamp,
    /// Mean of the segment before the change (since the previous change or the start).
    pub before_mean: f64,
    /// Mean of the segment after the change (up to the next change or the end).
    pub after_mean: f64,
    /// Size of the shift in noise standard deviations, `(after - before) / σ`, signed.
    pub score: f64,
}

fn check_lengths(ts: &[Timestamp], values: &[f64]) -> Result<()> {
    if ts.len() != values.len() {
        return Err(Error::invalid(format!(
            "{} timestamps but {} values",
            ts.len(),
            values.len()
        )));
    }
    Ok(())
}

fn check_threshold(threshold: f64) -> Result<()> {
    if !(threshold >= 0.0 && threshold.is_finite()) {
        return Err(Error::invalid(format!(
            "threshold {threshold} must be a finite number >= 0"
        )));
    }
    Ok(())
}

/// The finite `(ts, value)` pairs, in input order.
fn finite_points(ts: &[Timestamp], values: &[f64]) -> Vec<(Timestamp, f64)> {
    ts.iter()
        .zip(values)
        .filter(|(_, v)| v.is_finite())
        .map(|(&t, &v)| (t, v))
        .collect()
}

/// Robust z-score of `x` against a centre and its spread (MAD, then mean absolute
/// deviation as the fallback, never below `floor`; see the module docs). Finite.
fn robust_score(x: f64, centre: f64, mad: f64, mean_abs_dev: f64, floor: f64) -> f64 {
    let dev = x - centre;
    if dev == 0.0 {
        return 0.0;
    }
    let spread = if mad > 0.0 {
        MAD_TO_SIGMA * mad
    } else if mean_abs_dev > 0.0 {
        MEAN_AD_TO_SIGMA * mean_abs_dev
    } else {
        0.0
    };
    let score = dev / spread.max(floor);
    if score.is_finite() {
        score
    } else {
        dev.signum() * f64::MAX
    }
}

/// The smallest spread a score is divided by: the resolution (smallest non-zero step
/// between consecutive values), a millionth of the centre, 1e-12.
fn spread_floor(centre: f64, resolution: f64) -> f64 {
    resolution.max(centre.abs() * 1e-6).max(1e-12)
}

/// Median of a sorted slice of finite values (mean of the two middle values for even
/// lengths).
fn median_of_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let hi = *sorted.get(n / 2)?;
    if n % 2 == 1 {
        Some(hi)
    } else {
        let lo = *sorted.get(n / 2 - 1)?;
        Some(midpoint(lo, hi))
    }
}

/// The `k`-th smallest (0-based) element of the union of two ascending sequences given by
/// accessors, in `O(log(nl + nr))`. Requires `k < nl + nr`.
fn kth_of_two(
    k: usize,
    nl: usize,
    nr: usize,
    l: impl Fn(usize) -> f64,
    r: impl Fn(usize) -> f64,
) -> f64 {
    let take = k + 1;
    // Smallest i (taken from l) with l(i) >= r(take - i - 1); the predicate is monotone.
    let mut lo = take.saturating_sub(nr);
    let mut hi = take.min(nl);
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        // i < hi <= take, so take - i - 1 is in range.
        if l(i) < r(take - i - 1) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let j = take - i;
    let from_l = if i > 0 { l(i - 1) } else { f64::NEG_INFINITY };
    let from_r = if j > 0 { r(j - 1) } else { f64::NEG_INFINITY };
    from_l.max(from_r)
}

/// A sliding window of the last `cap` values, also kept sorted, so that the median is
/// `O(1)` and the MAD `O(log w)`; inserting and evicting move `O(w)` elements (a
/// `memmove`).
struct SortedWindow {
    sorted: Vec<f64>,
    arrival: VecDeque<f64>,
    cap: usize,
}

impl SortedWindow {
    fn new(cap: usize) -> Self {
        SortedWindow {
            sorted: Vec::with_capacity(cap.min(1 << 16)),
            arrival: VecDeque::with_capacity(cap.min(1 << 16)),
            cap,
        }
    }

    fn is_full(&self) -> bool {
        self.arrival.len() >= self.cap
    }

    fn push(&mut self, x: f64) {
        if self.is_full() {
            if let Some(old) = self.arrival.pop_front() {
                let at = self.sorted.partition_point(|&v| v < old);
                if at < self.sorted.len() {
                    self.sorted.remove(at);
                }
            }
        }
        let at = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(at, x);
        self.arrival.push_back(x);
    }

    /// Median, MAD and mean absolute deviation around the median (the last only when the
    /// MAD is 0, else 0).
    fn spread(&self) -> Option<(f64, f64, f64)> {
        let median = median_of_sorted(&self.sorted)?;
        let mad = mad_of_sorted(&self.sorted, median);
        let mean_ad = if mad > 0.0 {
            0.0
        } else {
            mean_abs_dev(&self.sorted, median)
        };
        Some((median, mad, mean_ad))
    }
}

/// MAD of a sorted slice around its median: the median of two merged ascending runs of
/// deviations (left of the median, right of it), in `O(log n)`.
fn mad_of_sorted(sorted: &[f64], median: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let split = sorted.partition_point(|&v| v <= median);
    let (left, right) = sorted.split_at(split);
    let l = |j: usize| {
        left.len()
            .checked_sub(j + 1)
            .and_then(|i| left.get(i))
            .map_or(f64::INFINITY, |&v| median - v)
    };
    let r = |j: usize| right.get(j).map_or(f64::INFINITY, |&v| v - median);
    let hi = kth_of_two(n / 2, left.len(), right.len(), l, r);
    if n % 2 == 1 {
        hi
    } else {
        midpoint(kth_of_two(n / 2 - 1, left.len(), right.len(), l, r), hi)
    }
}

fn mean_abs_dev(values: &[f64], centre: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|v| (v - centre).abs()).sum::<f64>() / values.len() as f64
}

/// Flags points that deviate from the median of the `window` finite values before them.
///
/// For each finite value `x` preceded by at least `window` finite values, the baseline is
/// those `window` values: `expected` is their median and `score` the robust z-score of
/// `x` against their MAD (see the [module docs](self) for MAD = 0). Points with
/// `|score| > threshold` are returned, in input order. The first `window` finite points
/// are never scored. Flagged points stay in later baselines (the median shrugs them
/// off).
///
/// The slice order is the time order; timestamps are only carried into the results.
/// Cost: `O(n log w)` comparisons plus `O(n·w)` element moves in the sorted window
/// (a `memmove` of `w` floats per point; fast for windows up to some thousands).
///
/// Errors if the slices differ in length, `window < 3`, or `threshold` is negative or
/// not finite.
///
/// ```
/// use sedimentdb::analytics::anomaly::rolling_robust_zscore;
/// let ts: Vec<i64> = (0..40).collect();
/// let mut vs: Vec<f64> = (0..40).map(|i| 10.0 + (i % 3) as f64).collect();
/// vs[30] = 50.0;
/// let found = rolling_robust_zscore(&ts, &vs, 10, 3.5).unwrap();
/// assert_eq!(found.len(), 1);
/// assert_eq!((found[0].ts, found[0].expected), (30, 11.0));
/// ```
pub fn rolling_robust_zscore(
    ts: &[Timestamp],
    values: &[f64],
    window: usize,
    threshold: f64,
) -> Result<Vec<Anomaly>> {
    check_lengths(ts, values)?;
    check_threshold(threshold)?;
    if window < 3 {
        return Err(Error::invalid(format!(
            "rolling window of {window} points is too small: it needs at least 3"
        )));
    }
    let mut win = SortedWindow::new(window);
    let mut resolution = Resolution::new();
    let mut out = Vec::new();
    for (t, x) in finite_points(ts, values) {
        if win.is_full() {
            if let Some((median, mad, mean_ad)) = win.spread() {
                let floor = spread_floor(median, resolution.step());
                let score = robust_score(x, median, mad, mean_ad, floor);
                if score.abs() > threshold {
                    out.push(Anomaly {
                        ts: t,
                        value: x,
                        expected: median,
                        score,
                    });
                }
            }
        }
        win.push(x);
        resolution.observe(x);
    }
    Ok(out)
}

/// Most phase buckets a seasonal baseline may have (`period / bucket`).
pub const MAX_SEASONAL_PHASES: i64 = 1 << 20;

/// Flags points that deviate from the same time of day (or week) in earlier periods.
///
/// Time is cut into periods of `period` ns, aligned on the Unix epoch, and each period
/// into phase buckets of `bucket` ns (so `period` must be a multiple of `bucket`). A
/// finite point's `expected` value is the median of all finite values in the same phase
/// bucket in *earlier* periods of the input; points whose phase has no history (the
/// whole first period, for one) are not scored. The residuals `x - expected` of all
/// scored points are then scaled robustly: `score = residual / (1.4826 · median |residual|)`
/// — a MAD around 0, since the expectation is already the centre — with the fallbacks of
/// the [module docs](self). Points with `|score| > threshold` are returned in time
/// order.
///
/// Because the spread is measured over the whole input, a regular daily peak produces
/// small residuals and is not flagged, while a peak-sized value at an off-peak hour is.
/// `ts` must be non-decreasing. Cost `O(n log n)` plus the sorted insertions into each
/// phase's history.
///
/// Errors if the slices differ in length, timestamps decrease, `period` or `bucket` is
/// not positive, `period` is not a multiple of `bucket`, there would be more than
/// [`MAX_SEASONAL_PHASES`] phases, or `threshold` is negative or not finite.
///
/// ```
/// use sedimentdb::analytics::anomaly::seasonal_baseline;
/// let hour = 3_600_000_000_000_i64;
/// // 5 days of hourly data peaking at noon, plus one spike at 3 am on the last day.
/// let ts: Vec<i64> = (0..120).map(|h| h * hour).collect();
/// let mut vs: Vec<f64> = (0..120)
///     .map(|h| if h % 24 == 12 { 100.0 } else { 10.0 + (h % 5) as f64 })
///     .collect();
/// vs[4 * 24 + 3] = 100.0;
/// let found = seasonal_baseline(&ts, &vs, 24 * hour, hour, 3.5).unwrap();
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].ts, (4 * 24 + 3) * hour);
/// ```
pub fn seasonal_baseline(
    ts: &[Timestamp],
    values: &[f64],
    period: Timestamp,
    bucket: Timestamp,
    threshold: f64,
) -> Result<Vec<Anomaly>> {
    check_lengths(ts, values)?;
    check_threshold(threshold)?;
    if period <= 0 || bucket <= 0 || period % bucket != 0 {
        return Err(Error::invalid(format!(
            "seasonal period {period} must be a positive multiple of the positive bucket {bucket}"
        )));
    }
    if period / bucket > MAX_SEASONAL_PHASES {
        return Err(Error::invalid(format!(
            "seasonal period {period} has {} buckets of {bucket}, the limit is {MAX_SEASONAL_PHASES}",
            period / bucket
        )));
    }
    if ts.windows(2).any(|w| matches!(w, [a, b] if b < a)) {
        return Err(Error::invalid("timestamps must be non-decreasing"));
    }

    // Sorted history of each phase over completed periods; values of the current period
    // wait in `pending` until it ends, so a period never serves as its own baseline.
    let mut history: HashMap<i64, Vec<f64>> = HashMap::new();
    let mut pending: Vec<(i64, f64)> = Vec::new();
    let mut current_period: Option<i64> = None;
    let mut scored: Vec<(Timestamp, f64, f64)> = Vec::new();
    for (t, x) in finite_points(ts, values) {
        let period_index = t.div_euclid(period);
        let phase = t.rem_euclid(period) / bucket;
        if current_period != Some(period_index) {
            for (p, v) in pending.drain(..) {
                let h = history.entry(p).or_default();
                let at = h.partition_point(|&y| y < v);
                h.insert(at, v);
            }
            current_period = Some(period_index);
        }
        if let Some(expected) = history.get(&phase).and_then(|h| median_of_sorted(h)) {
            scored.push((t, x, expected));
        }
        pending.push((phase, x));
    }

    let mut abs_residuals: Vec<f64> = scored.iter().map(|(_, x, e)| (x - e).abs()).collect();
    let mean_abs = mean_abs_dev(&abs_residuals, 0.0);
    let Some(mad) = median_in_place(&mut abs_residuals) else {
        return Ok(Vec::new());
    };
    let mean_ad = if mad > 0.0 { 0.0 } else { mean_abs };
    // No resolution floor here: the step between consecutive values includes the
    // seasonal motion itself, so it says nothing about the residuals' resolution.
    Ok(scored
        .into_iter()
        .filter_map(|(t, x, expected)| {
            let score = robust_score(x, expected, mad, mean_ad, spread_floor(expected, 0.0));
            (score.abs() > threshold).then_some(Anomaly {
                ts: t,
                value: x,
                expected,
                score,
            })
        })
        .collect())
}

/// Smallest autocorrelation for [`detect_period`] to accept a period.
pub const MIN_PERIOD_AUTOCORRELATION: f64 = 0.3;

/// How much lower than the best candidate's autocorrelation a candidate dividing it may
/// be and still be preferred as the fundamental period.
pub const PERIOD_FUNDAMENTAL_TOLERANCE: f64 = 0.1;

/// Most cells of the regular grid [`detect_period`] builds; coarser steps beyond.
const MAX_GRID_CELLS: i128 = 1 << 22;

/// Fewest pairs of non-empty grid cells an autocorrelation is computed from.
const MIN_ACF_PAIRS: usize = 8;

/// Picks the seasonal period of a series among `candidates` (in ns), or `None`.
///
/// The finite values are averaged onto a regular grid whose step is the median gap
/// between consecutive distinct timestamps (coarsened if the grid would exceed 4M
/// cells); empty cells are missing. For each candidate, `k = round(candidate / step)`
/// is the lag in cells, and the autocorrelation `r(k)` is
/// `mean((g[i] - m)(g[i+k] - m)) / var(g)` over the pairs of non-empty cells. A
/// candidate qualifies when
/// - `k >= 2` and the grid spans at least two periods (`2k <= cells`),
/// - `r(k) >= `[`MIN_PERIOD_AUTOCORRELATION`] (0.3), and
/// - `r(k) > r(⌊k/2⌋)`: a true period correlates better than half of it. This rejects
///   candidates at or near the sampling step, where any smooth series correlates well.
///
/// The qualifying candidate with the highest `r(k)` wins (the first listed on ties) —
/// unless a smaller qualifying candidate divides it with an autocorrelation at most
/// [`PERIOD_FUNDAMENTAL_TOLERANCE`] lower: then the smallest such is returned, since a
/// daily pattern also repeats weekly. `None` when nothing qualifies, when there are
/// fewer than 4 finite points, or the series is constant. Timestamps need not be sorted;
/// slices are zipped. Cost `O(n log n + cells · candidates)`.
///
/// ```
/// use sedimentdb::analytics::anomaly::detect_period;
/// let hour = 3_600_000_000_000_i64;
/// let ts: Vec<i64> = (0..24 * 21).map(|h| h * hour).collect();
/// let vs: Vec<f64> = (0..24 * 21)
///     .map(|h| (h as f64 * std::f64::consts::TAU / 24.0).sin())
///     .collect();
/// assert_eq!(detect_period(&ts, &vs, &[hour, 24 * hour, 7 * 24 * hour]), Some(24 * hour));
/// ```
pub fn detect_period(
    ts: &[Timestamp],
    values: &[f64],
    candidates: &[Timestamp],
) -> Option<Timestamp> {
    let mut points = finite_points(ts, values);
    if points.len() < 4 {
        return None;
    }
    points.sort_by_key(|p| p.0);
    let first = points.first()?.0;
    let last = points.last()?.0;
    let mut gaps: Vec<i128> = points
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b.0 > a.0 => Some(i128::from(b.0) - i128::from(a.0)),
            _ => None,
        })
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mid = gaps.len() / 2;
    let (_, &mut median_gap, _) = gaps.select_nth_unstable(mid);
    let span = i128::from(last) - i128::from(first);
    let mut step = median_gap.max(1);
    if span / step + 1 > MAX_GRID_CELLS {
        step = span / (MAX_GRID_CELLS - 1) + 1;
    }
    let cells = usize::try_from(span / step + 1).ok()?;

    let scale = points.iter().fold(0.0_f64, |m, p| m.max(p.1.abs()));
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let mut sums = vec![0.0_f64; cells];
    let mut counts = vec![0u32; cells];
    for &(t, v) in &points {
        let cell = usize::try_from((i128::from(t) - i128::from(first)) / step).ok()?;
        if let (Some(s), Some(c)) = (sums.get_mut(cell), counts.get_mut(cell)) {
            *s += v / scale;
            *c = c.saturating_add(1);
        }
    }
    let grid: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &c)| if c > 0 { s / f64::from(c) } else { f64::NAN })
        .collect();
    let filled: Vec<f64> = grid.iter().copied().filter(|g| !g.is_nan()).collect();
    let mean = filled.iter().sum::<f64>() / filled.len() as f64;
    let var = filled.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / filled.len() as f64;
    if var.is_nan() || var <= 0.0 {
        return None;
    }
    let acf = |lag: usize| -> Option<f64> {
        let mut sum = 0.0;
        let mut pairs = 0usize;
        for (a, b) in grid.iter().zip(grid.get(lag..)?) {
            if !a.is_nan() && !b.is_nan() {
                sum += (a - mean) * (b - mean);
                pairs += 1;
            }
        }
        (pairs >= MIN_ACF_PAIRS).then(|| sum / pairs as f64 / var)
    };

    // (candidate, r) of every qualifying candidate, in input order.
    let mut qualifying: Vec<(Timestamp, f64)> = Vec::new();
    for &candidate in candidates {
        if candidate <= 0 {
            continue;
        }
        let lag = (i128::from(candidate) + step / 2) / step;
        let Ok(lag) = usize::try_from(lag) else {
            continue;
        };
        if lag < 2 || lag.saturating_mul(2) > cells {
            continue;
        }
        let (Some(r), Some(r_half)) = (acf(lag), acf(lag / 2)) else {
            continue;
        };
        if r >= MIN_PERIOD_AUTOCORRELATION && r > r_half {
            qualifying.push((candidate, r));
        }
    }
    let (best, best_r) =
        qualifying
            .iter()
            .copied()
            .fold(None, |acc: Option<(Timestamp, f64)>, c| match acc {
                Some(a) if a.1 >= c.1 => Some(a),
                _ => Some(c),
            })?;
    let fundamental = qualifying
        .iter()
        .filter(|(c, r)| *c < best && best % *c == 0 && *r >= best_r - PERIOD_FUNDAMENTAL_TOLERANCE)
        .map(|(c, _)| *c)
        .min();
    Some(fundamental.unwrap_or(best))
}

/// Points a CUSUM segment spends estimating its mean before it can alarm.
pub const CUSUM_WARMUP: usize = 8;

/// Finds shifts in the mean level with a two-sided CUSUM, then keeps the significant ones.
///
/// **Noise level.** σ is estimated robustly from successive differences,
/// `σ = 1.4826 · median|x[i+1] - x[i]| / √2`, which a few level shifts barely move (the
/// mean absolute difference is the fallback when that median is 0; a constant series has
/// no change points).
///
/// **Detection.** Each value is standardised against the mean `μ` of the `m` values of
/// the current segment before it (a self-starting CUSUM: `z = (x - μ) / (σ·√(1 + 1/m))`,
/// which makes `z` unit-variance although `μ` is itself estimated), and two sums
/// accumulate `S⁺ = max(0, S⁺ + z - drift)` and `S⁻ = max(0, S⁻ - z - drift)`. When one
/// exceeds `threshold_sigmas`, a change is placed at the point after that sum last stood
/// at 0 (the usual estimate of where the shift began). Both sums reset, and the mean is
/// re-estimated from scratch after the alarm point: the first [`CUSUM_WARMUP`] points
/// after a reset (and at the start) only feed the mean. Restarting after the alarm,
/// rather than from the points that raised it, keeps one false alarm from biasing the
/// next mean and triggering a cascade.
///
/// **Confirmation.** Left to right, a detected change is kept only if the mean of its
/// segment differs from the mean of the preceding kept segment by at least
/// `threshold_sigmas` standard errors, `|Δ| / (σ·√(1/n₁ + 1/n₂))`; otherwise the two
/// segments merge. This discards the occasional alarm raised by a run of noise.
///
/// **Location.** The CUSUM's estimate of where a shift began is early when noise had
/// already pushed the sum off 0 before it. Each kept change therefore moves to the split
/// of the span between its neighbouring changes that best separates two means (the
/// likelihood-ratio estimate for one mean shift), left to right.
///
/// `drift` (often 0.5) is the allowance in σ per point: shifts smaller than about
/// `2 · drift` σ are ignored. `threshold_sigmas` (often 4 to 5) trades detection delay
/// against false alarms. `before_mean` and `after_mean` are the means of the whole kept
/// segments on either side. The slice order is the time order. `O(n)` after an `O(n)`
/// selection for σ.
///
/// Errors if the slices differ in length, `threshold_sigmas` is not positive and finite,
/// or `drift` is negative or not finite.
///
/// ```
/// use sedimentdb::analytics::anomaly::cusum_change_points;
/// let ts: Vec<i64> = (0..60).collect();
/// let vs: Vec<f64> = (0..60)
///     .map(|i| if i < 30 { 10.0 } else { 14.0 } + [0.3, -0.2, 0.1, -0.3][i % 4])
///     .collect();
/// let changes = cusum_change_points(&ts, &vs, 5.0, 0.5).unwrap();
/// assert_eq!(changes.len(), 1);
/// assert!((28..=32).contains(&changes[0].ts));
/// assert!((changes[0].after_mean - changes[0].before_mean - 4.0).abs() < 0.5);
/// ```
pub fn cusum_change_points(
    ts: &[Timestamp],
    values: &[f64],
    threshold_sigmas: f64,
    drift: f64,
) -> Result<Vec<ChangePoint>> {
    check_lengths(ts, values)?;
    if !(threshold_sigmas > 0.0 && threshold_sigmas.is_finite()) {
        return Err(Error::invalid(format!(
            "CUSUM threshold {threshold_sigmas} must be a finite number > 0"
        )));
    }
    if !(drift >= 0.0 && drift.is_finite()) {
        return Err(Error::invalid(format!(
            "CUSUM drift {drift} must be a finite number >= 0"
        )));
    }
    let points = finite_points(ts, values);
    // Scaling to [-1, 1] keeps every sum below n in magnitude: no overflow.
    let scale = points.iter().fold(0.0_f64, |m, p| m.max(p.1.abs()));
    if scale.is_nan() || scale <= 0.0 {
        return Ok(Vec::new());
    }
    let xs: Vec<f64> = points.iter().map(|p| p.1 / scale).collect();
    let Some(sigma) = difference_sigma(&xs) else {
        return Ok(Vec::new());
    };

    let detected = cusum_alarms(&xs, sigma, threshold_sigmas, drift);
    let confirmed = confirm_changes(&xs, &detected, sigma, threshold_sigmas);
    let starts = refine_changes(&xs, &confirmed);
    let mean_of = |from: usize, to: usize| -> f64 {
        let seg = xs.get(from..to).unwrap_or(&[]);
        seg.iter().sum::<f64>() / seg.len().max(1) as f64
    };
    let mut out = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let prev = match k.checked_sub(1) {
            Some(j) => starts.get(j).copied().unwrap_or(0),
            None => 0,
        };
        let next = starts.get(k + 1).copied().unwrap_or(xs.len());
        let before = mean_of(prev, start);
        let after = mean_of(start, next);
        let Some(&(t, _)) = points.get(start) else {
            continue;
        };
        out.push(ChangePoint {
            ts: t,
            before_mean: before * scale,
            after_mean: after * scale,
            score: (after - before) / sigma,
        });
    }
    Ok(out)
}

/// Robust noise σ from successive differences; `None` if the series never changes.
fn difference_sigma(xs: &[f64]) -> Option<f64> {
    let mut diffs: Vec<f64> = xs
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((b - a).abs()),
            _ => None,
        })
        .collect();
    let mean_diff = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
    let med = median_in_place(&mut diffs)?;
    let sigma = if med > 0.0 {
        MAD_TO_SIGMA * med
    } else {
        MEAN_AD_TO_SIGMA * mean_diff
    } / std::f64::consts::SQRT_2;
    (sigma > 0.0).then_some(sigma)
}

/// Indices where the CUSUM places changes, strictly increasing, all > 0.
fn cusum_alarms(xs: &[f64], sigma: f64, threshold: f64, drift: f64) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut seg_sum = 0.0;
    let mut seg_count = 0usize;
    let (mut s_hi, mut s_lo) = (0.0_f64, 0.0_f64);
    let (mut zero_hi, mut zero_lo) = (0usize, 0usize);
    for (i, &x) in xs.iter().enumerate() {
        if seg_count < CUSUM_WARMUP {
            seg_sum += x;
            seg_count += 1;
            zero_hi = i;
            zero_lo = i;
            continue;
        }
        let m = seg_count as f64;
        let z = (x - seg_sum / m) / (sigma * (1.0 + 1.0 / m).sqrt());
        s_hi = (s_hi + z - drift).max(0.0);
        s_lo = (s_lo - z - drift).max(0.0);
        if s_hi == 0.0 {
            zero_hi = i;
        }
        if s_lo == 0.0 {
            zero_lo = i;
        }
        seg_sum += x;
        seg_count += 1;
        if s_hi > threshold || s_lo > threshold {
            starts.push(if s_hi >= s_lo { zero_hi } else { zero_lo } + 1);
            seg_sum = 0.0;
            seg_count = 0;
            s_hi = 0.0;
            s_lo = 0.0;
        }
    }
    starts
}

/// Moves each change to the split of the span between its neighbours that best
/// separates two means: the `c` maximising `S_c² · n / (n₁ n₂)`, with `S_c` the sum of
/// deviations from the span's mean up to `c` (the likelihood-ratio estimate of a single
/// mean shift). Left to right, each span starting at the previous refined change.
fn refine_changes(xs: &[f64], changes: &[usize]) -> Vec<usize> {
    let mut refined: Vec<usize> = Vec::with_capacity(changes.len());
    for (k, &change) in changes.iter().enumerate() {
        let lo = refined.last().copied().unwrap_or(0);
        let hi = changes.get(k + 1).copied().unwrap_or(xs.len());
        let span = xs.get(lo..hi).unwrap_or(&[]);
        let n = span.len();
        if n < 2 {
            refined.push(change);
            continue;
        }
        let mean = span.iter().sum::<f64>() / n as f64;
        let (mut best, mut best_stat) = (change, f64::NEG_INFINITY);
        let mut cumulative = 0.0;
        for (j, &x) in span.iter().enumerate().take(n - 1) {
            cumulative += x - mean;
            let (n1, n2) = ((j + 1) as f64, (n - j - 1) as f64);
            let stat = cumulative * cumulative * (n as f64 / (n1 * n2));
            if stat > best_stat {
                best_stat = stat;
                best = lo + j + 1;
            }
        }
        refined.push(best);
    }
    refined
}

/// Keeps the detected changes whose segment means differ significantly from the
/// preceding kept segment (see [`cusum_change_points`]), left to right.
fn confirm_changes(xs: &[f64], detected: &[usize], sigma: f64, threshold: f64) -> Vec<usize> {
    // Sum and length of each chunk between consecutive detected changes.
    let mut bounds = Vec::with_capacity(detected.len() + 2);
    bounds.push(0);
    bounds.extend_from_slice(detected);
    bounds.push(xs.len());
    let chunks: Vec<(f64, usize)> = bounds
        .windows(2)
        .map(|w| match w {
            [a, b] => {
                let seg = xs.get(*a..*b).unwrap_or(&[]);
                (seg.iter().sum::<f64>(), seg.len())
            }
            _ => (0.0, 0),
        })
        .collect();
    let mut kept = Vec::new();
    let (mut before_sum, mut before_len) = chunks.first().copied().unwrap_or((0.0, 0));
    for (k, &start) in detected.iter().enumerate() {
        let (after_sum, after_len) = chunks.get(k + 1).copied().unwrap_or((0.0, 0));
        let significant = before_len > 0 && after_len > 0 && {
            let (n1, n2) = (before_len as f64, after_len as f64);
            let shift = after_sum / n2 - before_sum / n1;
            shift.abs() >= threshold * sigma * (1.0 / n1 + 1.0 / n2).sqrt()
        };
        if significant {
            kept.push(start);
            before_sum = after_sum;
            before_len = after_len;
        } else {
            before_sum += after_sum;
            before_len += after_len;
        }
    }
    kept
}

#[cfg(test)]
mod tests;
