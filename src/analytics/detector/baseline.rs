//! The expected value of a (deseasonalised) series at several time scales, and its
//! spread: what every component measures its deviation against.

use serde::{Deserialize, Serialize};

use super::spread::{spread_floor, Ewma, HUBER_CLIP};

/// Rates of the levels, per point. `fast` predicts the next point; `short`, `medium`
/// and `long` are the three scales between which a shift or a ramp shows.
const FAST_RATE: f64 = 0.3;
const SHORT_RATE: f64 = 1.0 / 8.0;
const MEDIUM_RATE: f64 = 1.0 / 64.0;
const LONG_RATE: f64 = 1.0 / 512.0;
/// Memory of the spread (mean absolute one-step error), and of the short-term variance.
const SPREAD_RATE: f64 = 1.0 / 128.0;
const SHORT_VARIANCE_RATE: f64 = 1.0 / 16.0;
/// Mean absolute deviation to standard deviation for normal data, squared.
const ABS_TO_VARIANCE: f64 = std::f64::consts::FRAC_PI_2;
/// Deviations clipped at this many spreads before they enter the short variance.
const VARIANCE_CLIP: f64 = 10.0;
/// Consecutive points beyond this many spreads, all on one side, confirm a shift.
const CONFIRM_SPREADS: f64 = 3.0;
/// Number of recent points kept to confirm a shift.
pub(crate) const RECENT: usize = 4;

/// Levels and spread of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    fast: Ewma,
    short: Ewma,
    medium: Ewma,
    long: Ewma,
    abs_error: Ewma,
    short_variance: Ewma,
    /// The last `RECENT` deseasonalised values, oldest first.
    recent: [f64; RECENT],
    filled: u8,
}

/// The deviations of one point from the baseline as it stood before the point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Deviation {
    /// `(u - fast) / spread`, signed.
    pub(crate) z: f64,
    /// `|short - medium| / spread` after the point.
    pub(crate) short_shift: f64,
    /// `|medium - long| / spread` after the point.
    pub(crate) long_shift: f64,
    /// Short-term variance of the one-step errors over the long-term one.
    pub(crate) variance_ratio: f64,
    /// The smallest `|z|` of the last `RECENT` points if all have one sign, else 0.
    pub(crate) sustained: f64,
}

impl Baseline {
    pub(crate) fn new() -> Self {
        Baseline {
            fast: Ewma::new(),
            short: Ewma::new(),
            medium: Ewma::new(),
            long: Ewma::new(),
            abs_error: Ewma::new(),
            short_variance: Ewma::new(),
            recent: [0.0; RECENT],
            filled: 0,
        }
    }

    /// The one-step prediction of the next deseasonalised value, `None` before the
    /// first point.
    pub(crate) fn prediction(&self) -> Option<f64> {
        (!self.fast.is_empty()).then_some(self.fast.mean)
    }

    /// The spread (a standard deviation estimate) with its floors.
    pub(crate) fn spread(&self, resolution: f64) -> f64 {
        let raw = self.abs_error.mean * std::f64::consts::FRAC_PI_2.sqrt();
        let floor = spread_floor(self.long.mean, resolution);
        if raw.is_finite() {
            raw.max(floor)
        } else {
            floor
        }
    }

    /// Takes in the deseasonalised value `u`, returns its deviations. `boost` (>= 1)
    /// speeds up the slower levels, after an alert, so that a new regime is learnt fast.
    pub(crate) fn update(&mut self, u: f64, resolution: f64, boost: f64) -> Deviation {
        if self.fast.is_empty() {
            for level in [
                &mut self.fast,
                &mut self.short,
                &mut self.medium,
                &mut self.long,
            ] {
                level.add(u, 1.0, 1.0);
            }
        }
        let spread = self.spread(resolution);
        let error = u - self.fast.mean;
        let z = finite_or_zero(error / spread);
        let clip = HUBER_CLIP * spread;
        let clipped = |level: &Ewma| level.mean + (u - level.mean).clamp(-clip, clip);

        let f = clipped(&self.fast);
        self.fast.add(f, FAST_RATE, 1.0);
        let s = clipped(&self.short);
        self.short.add(s, SHORT_RATE, 1.0);
        let m = clipped(&self.medium);
        self.medium.add(m, MEDIUM_RATE, boost);
        let l = clipped(&self.long);
        self.long.add(l, LONG_RATE, boost);
        self.abs_error
            .add(error.abs().min(clip), SPREAD_RATE, boost.sqrt());
        let e = error.clamp(-VARIANCE_CLIP * spread, VARIANCE_CLIP * spread);
        self.short_variance.add(e * e, SHORT_VARIANCE_RATE, 1.0);

        self.recent.rotate_left(1);
        self.recent[RECENT - 1] = u;
        self.filled = self.filled.saturating_add(1).min(RECENT as u8);

        let long_variance = ABS_TO_VARIANCE * spread * spread;
        Deviation {
            z,
            short_shift: finite_or_zero((self.short.mean - self.medium.mean).abs() / spread),
            long_shift: finite_or_zero((self.medium.mean - self.long.mean).abs() / spread),
            variance_ratio: finite_or_zero(self.short_variance.mean / long_variance),
            sustained: self.sustained(spread),
        }
    }

    /// Smallest `|u - medium|` in spreads over the recent points, if all on one side.
    fn sustained(&self, spread: f64) -> f64 {
        if usize::from(self.filled) < RECENT {
            return 0.0;
        }
        let centre = self.medium.mean;
        let above = self.recent.iter().all(|&u| u > centre);
        let below = self.recent.iter().all(|&u| u < centre);
        if !(above || below) {
            return 0.0;
        }
        let least = self
            .recent
            .iter()
            .map(|&u| (u - centre).abs())
            .fold(f64::INFINITY, f64::min);
        finite_or_zero(least / spread)
    }

    /// After an alert: if the recent points all sit beyond `CONFIRM_SPREADS` on one
    /// side of the medium level, the level has moved. Moves every level to the recent
    /// mean and returns by how much, so the seasonal level can follow.
    pub(crate) fn rebaseline_if_shifted(&mut self, resolution: f64) -> Option<f64> {
        let spread = self.spread(resolution);
        if self.sustained(spread) < CONFIRM_SPREADS {
            return None;
        }
        let mean = self.recent.iter().sum::<f64>() / RECENT as f64;
        let delta = mean - self.long.mean;
        if !delta.is_finite() {
            return None;
        }
        for level in [
            &mut self.fast,
            &mut self.short,
            &mut self.medium,
            &mut self.long,
        ] {
            let d = mean - level.mean;
            level.shift(d);
        }
        Some(delta)
    }
}

impl Baseline {
    /// At the end of a mute: the regime that raised the alert has lasted the whole mute,
    /// so the long level takes the medium one's value (a shift or ramp that persisted
    /// is the new normal, and must not alert again when the mute ends).
    pub(crate) fn settle(&mut self) {
        let d = self.medium.mean - self.long.mean;
        self.long.shift(d);
    }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
