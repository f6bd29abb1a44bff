//! Online seasonality: calendar profiles learnt from past points only, and a running
//! test of whether they explain the series better than no profile at all.
//!
//! Operational series repeat on the calendar: a daily shape (business hours), a
//! different one at weekends, and jobs on the minute of the hour (cron). The profiles
//! are offsets from the series' slow level: 48 half-hour bins for weekdays and 48 for
//! weekends (read with linear interpolation between bin centres, so a smooth daily
//! curve is not a staircase), and 60 one-minute bins of the hour. Each bin learns the
//! residual of the points that fall in it, at a rate that gives it a memory of about
//! three days (three weekends; a day for the hour profile), whatever the sampling step.
//!
//! Whether the profile is used is decided continuously from the past: the profile's
//! one-step error is compared with that of the same baseline without it, and the
//! profile's weight moves towards 1 only when it is clearly better. A series without a
//! calendar pattern (a random walk, a flat sensor, a series sampled hourly with no daily
//! rhythm) keeps weight 0 and pays nothing for the profile.

use serde::{Deserialize, Serialize};

use super::spread::Ewma;

/// Half-hour bins of the day profile.
pub(crate) const DAY_BINS: usize = 48;
/// One-minute bins of the hour profile.
pub(crate) const HOUR_BINS: usize = 60;
const SECONDS_PER_DAY: i64 = 86_400;
const DAY_BIN_SECONDS: f64 = 1800.0;
/// The profiles are not trusted before this much history (seconds).
const MIN_HISTORY_SECONDS: i64 = 36 * 3600;
/// The profile must cut the baseline error by this factor to be used.
const MUST_EXPLAIN: f64 = 0.8;
/// How fast the profile's weight follows the verdict, per point.
const WEIGHT_STEP: f64 = 0.01;
/// Span in points of the baselines whose errors are compared.
const COMPARE_SPAN: f64 = 64.0;
/// Memory in points of the error comparison.
const ERROR_MEMORY: f64 = 500.0;

/// Where a timestamp falls on the calendar.
#[derive(Debug, Clone, Copy)]
struct Phase {
    weekend: bool,
    day_lo: usize,
    day_hi: usize,
    day_frac: f64,
    minute: usize,
}

fn phase_of(ts_ns: i64) -> Phase {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(SECONDS_PER_DAY);
    // 1970-01-01 was a Thursday: with Monday = 0 it is day 3.
    let weekday = (days + 3).rem_euclid(7);
    let second_of_day = secs.rem_euclid(SECONDS_PER_DAY) as f64;
    let pos = second_of_day / DAY_BIN_SECONDS - 0.5;
    let lo = pos.floor();
    let day_frac = pos - lo;
    let day_lo = (lo as i64).rem_euclid(DAY_BINS as i64) as usize;
    Phase {
        weekend: weekday >= 5,
        day_lo,
        day_hi: (day_lo + 1) % DAY_BINS,
        day_frac,
        minute: (secs.rem_euclid(3600) / 60) as usize,
    }
}

/// Calendar profiles of one series and the evidence for using them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Seasonal {
    /// `DAY_BINS` weekday bins then `DAY_BINS` weekend bins (offsets from the level).
    day: Vec<f32>,
    /// `HOUR_BINS` minute-of-hour bins.
    hour: Vec<f32>,
    weekend_seen: bool,
    /// Slow level of the series with the profile taken out (span: about a day).
    level: Ewma,
    with_profile: Ewma,
    without_profile: Ewma,
    error_with: Ewma,
    error_without: Ewma,
    first_ts: Option<i64>,
    /// Weight in `[0, 1]` with which the profile is subtracted.
    weight: f64,
}

impl Seasonal {
    pub(crate) fn new() -> Self {
        Seasonal {
            day: vec![0.0; 2 * DAY_BINS],
            hour: vec![0.0; HOUR_BINS],
            weekend_seen: false,
            level: Ewma::new(),
            with_profile: Ewma::new(),
            without_profile: Ewma::new(),
            error_with: Ewma::new(),
            error_without: Ewma::new(),
            first_ts: None,
            weight: 0.0,
        }
    }

    fn day_bin(&self, weekend: bool, bin: usize) -> f64 {
        let at = bin + if weekend { DAY_BINS } else { 0 };
        self.day.get(at).copied().map_or(0.0, f64::from)
    }

    /// The full profile offset at `ts` (before weighting).
    fn profile(&self, p: &Phase, step_secs: f64) -> f64 {
        let mut s = 0.0;
        if uses_day(step_secs) {
            s += self.day_bin(p.weekend, p.day_lo) * (1.0 - p.day_frac)
                + self.day_bin(p.weekend, p.day_hi) * p.day_frac;
        }
        if uses_hour(step_secs) {
            s += self.hour.get(p.minute).copied().map_or(0.0, f64::from);
        }
        s
    }

    /// The offset to subtract from the value at `ts`: the profile times its weight.
    pub(crate) fn offset(&self, ts: i64, step_secs: f64) -> f64 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        self.weight * self.profile(&phase_of(ts), step_secs)
    }

    /// Learns the point `(ts, x)`; `step_secs` is the series' sampling step.
    pub(crate) fn learn(&mut self, ts: i64, x: f64, step_secs: f64) {
        let p = phase_of(ts);
        let s = self.profile(&p, step_secs);
        let first = *self.first_ts.get_or_insert(ts);

        // Which baseline predicts better: with the profile or without.
        if !self.with_profile.is_empty() {
            self.error_with.add(
                (x - s - self.with_profile.mean).abs(),
                1.0 / ERROR_MEMORY,
                1.0,
            );
            self.error_without.add(
                (x - self.without_profile.mean).abs(),
                1.0 / ERROR_MEMORY,
                1.0,
            );
        }
        self.with_profile.add(x - s, 1.0 / COMPARE_SPAN, 1.0);
        self.without_profile.add(x, 1.0 / COMPARE_SPAN, 1.0);
        let mature = ts.saturating_sub(first) >= MIN_HISTORY_SECONDS * 1_000_000_000;
        let better = self.error_with.mean < MUST_EXPLAIN * self.error_without.mean;
        let target = if mature && better { 1.0 } else { 0.0 };
        self.weight += (target - self.weight).clamp(-WEIGHT_STEP, WEIGHT_STEP);

        // Learn the residual from the slow level into the bins this point touches.
        let points_per_day = (SECONDS_PER_DAY as f64 / step_secs).clamp(32.0, 20_000.0);
        if self.level.is_empty() {
            self.level.add(x, 1.0, 1.0);
        }
        let resid = x - s - self.level.mean;
        self.level.add(x - s, 1.0 / points_per_day, 1.0);
        if uses_day(step_secs) {
            if p.weekend && !self.weekend_seen {
                // The first weekend starts from the weekday shape, not from flat.
                let (weekdays, weekends) = self.day.split_at_mut(DAY_BINS);
                weekends.copy_from_slice(weekdays);
                self.weekend_seen = true;
            }
            let visits_per_day = (DAY_BIN_SECONDS / step_secs).max(1.0);
            let rate = (1.0 / (3.0 * visits_per_day)).clamp(0.003, 0.3);
            let base = if p.weekend { DAY_BINS } else { 0 };
            for (bin, w) in [(p.day_lo, 1.0 - p.day_frac), (p.day_hi, p.day_frac)] {
                if let Some(v) = self.day.get_mut(base + bin) {
                    store(v, f64::from(*v) + rate * w * resid);
                }
            }
        }
        if uses_hour(step_secs) {
            let visits_per_hour = (60.0 / step_secs).max(1.0);
            let rate = (1.0 / (24.0 * visits_per_hour)).clamp(0.002, 0.3);
            if let Some(v) = self.hour.get_mut(p.minute) {
                store(v, f64::from(*v) + rate * resid);
            }
        }
    }

    /// Bytes held on the heap (the profile bins).
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.day.capacity() + self.hour.capacity()) * std::mem::size_of::<f32>()
    }

    /// Re-baselines after a confirmed level shift of `delta`.
    pub(crate) fn shift(&mut self, delta: f64) {
        self.level.shift(delta);
        self.with_profile.shift(delta);
        self.without_profile.shift(delta);
    }
}

/// The day profile needs several points per day to mean anything.
fn uses_day(step_secs: f64) -> bool {
    step_secs <= 3.0 * 3600.0
}

/// The hour profile needs several points per hour.
fn uses_hour(step_secs: f64) -> bool {
    step_secs <= 20.0 * 60.0
}

/// Stores `x` in a profile bin unless it does not fit an `f32` (a value beyond 3.4e38):
/// such a series keeps its old bin rather than an infinite one.
fn store(bin: &mut f32, x: f64) {
    let narrowed = x as f32;
    if narrowed.is_finite() {
        *bin = narrowed;
    }
}
