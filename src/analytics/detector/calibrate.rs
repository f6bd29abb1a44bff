//! Calibration: turns a component's raw deviation into a surprise, `-log10` of the tail
//! probability of a deviation at least this large on *this* series, judged against the
//! component's own history of raw deviations.
//!
//! The tail above a high running quantile is modelled as Pareto (exponential in the
//! logarithm of the deviation), with its index estimated from the excesses seen so far
//! (a running Hill estimator). That extrapolates past the largest deviation seen, ranks
//! deviations beyond it by how far beyond they are, and is conservative for series whose
//! deviations are heavy-tailed (bursty counts), which are exactly the series where a
//! raw z-score of 50 is ordinary. Everything is `O(1)` per point and a few numbers of
//! state.

use serde::{Deserialize, Serialize};

/// Quantile of the raw deviations above which the tail model applies.
const TAIL_QUANTILE: f64 = 0.95;
/// Step of the running quantile, in natural-log units of the deviation.
const QUANTILE_STEP: f64 = 0.05;
/// Prior mean log-excess over the tail threshold, and its weight in points: the tail a
/// series is assumed to have before it has shown its own.
const PRIOR_TAIL_MEAN: f64 = 0.35;
const PRIOR_TAIL_WEIGHT: f64 = 10.0;
/// Bounds of the mean log-excess: a near-constant tail does not make the next excess
/// infinitely surprising, and a wild one does not make every excess ordinary.
const MIN_TAIL_MEAN: f64 = 0.05;
const MAX_TAIL_MEAN: f64 = 3.0;
/// Smallest exceedance rate; with `calibration_points` of memory nothing rarer is
/// measurable.
const MIN_EXCEED_RATE: f64 = 1e-4;

/// Running tail model of one component's raw deviations on one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct TailCalibrator {
    /// ln of the floor under which deviations are all alike (never surprising).
    log_floor: f64,
    /// ln of the running tail threshold (about the 95th percentile, never below the
    /// floor).
    log_threshold: f64,
    /// Running fraction of deviations above the threshold.
    exceed_rate: f64,
    /// Running mean of ln(deviation / threshold) over those above it.
    tail_mean: f64,
    seen: u32,
    exceeded: u32,
}

impl TailCalibrator {
    /// A calibrator for deviations that are never surprising below `floor` (> 0).
    pub(crate) fn new(floor: f64) -> Self {
        let log_floor = floor.max(1e-300).ln();
        TailCalibrator {
            log_floor,
            log_threshold: log_floor,
            exceed_rate: 1.0 - TAIL_QUANTILE,
            tail_mean: PRIOR_TAIL_MEAN,
            seen: 0,
            exceeded: 0,
        }
    }

    fn log_of(&self, raw: f64) -> f64 {
        if raw.is_nan() {
            return self.log_floor;
        }
        // ln of a finite positive double is in [-745, 710]; infinity maps to the top.
        raw.clamp(0.0, f64::MAX).ln().max(self.log_floor)
    }

    /// Surprise of `raw` (>= 0), in decades of probability; finite and >= 0.
    pub(crate) fn surprise(&self, raw: f64) -> f64 {
        let l = self.log_of(raw);
        let base = -self.exceed_rate.max(MIN_EXCEED_RATE).log10();
        if l > self.log_threshold {
            base + (l - self.log_threshold) / (self.tail_mean * std::f64::consts::LN_10)
        } else {
            let span = self.log_threshold - self.log_floor;
            if span > 0.0 {
                base * ((l - self.log_floor) / span).clamp(0.0, 1.0)
            } else {
                0.0
            }
        }
    }

    /// Learns `raw` as part of this series' ordinary history, with a memory of
    /// `memory` points.
    pub(crate) fn learn(&mut self, raw: f64, memory: u32) {
        let l = self.log_of(raw);
        self.seen = self.seen.saturating_add(1);
        let above = l > self.log_threshold;
        let rate = (1.0 / f64::from(memory.max(1))).max(1.0 / (f64::from(self.seen) + 20.0));
        self.exceed_rate += rate * (f64::from(u8::from(above)) - self.exceed_rate);
        if above {
            self.exceeded = self.exceeded.saturating_add(1);
            let tail_memory = f64::from(memory.max(1)) * (1.0 - TAIL_QUANTILE);
            let tail_rate =
                (1.0 / tail_memory).max(1.0 / (f64::from(self.exceeded) + PRIOR_TAIL_WEIGHT));
            let excess = l - self.log_threshold;
            self.tail_mean += tail_rate * (excess - self.tail_mean);
            self.tail_mean = self.tail_mean.clamp(MIN_TAIL_MEAN, MAX_TAIL_MEAN);
            self.log_threshold += QUANTILE_STEP * TAIL_QUANTILE;
        } else {
            self.log_threshold -= QUANTILE_STEP * (1.0 - TAIL_QUANTILE);
        }
        self.log_threshold = self.log_threshold.max(self.log_floor);
    }
}
