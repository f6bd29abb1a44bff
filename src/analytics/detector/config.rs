//! [`DetectorConfig`]: the few knobs of the streaming detector, with one default.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of a [`Detector`](super::Detector). The [`Default`] is the product: one
/// configuration meant for every series, tuned on the labelled anomaly benchmark and
/// checked on series of other shapes (see the module docs of
/// [`detector`](super)). Change it only with a reason.
///
/// Lengths are in points of the series, not in time, except the seasonal profiles, which
/// follow the calendar (hour of the day, minute of the hour, weekday or weekend).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DetectorConfig {
    /// Points before any score above 0 is given: the spread and the calibration need a
    /// history first. Default 150.
    pub warmup: u32,
    /// Surprise (`-log10` of the calibrated tail probability) at which the detector
    /// counts an alert of its own, mutes repeats and re-baselines. Default 3.0
    /// (probability 1e-3; 4.0 scored 37.6 on anomaly-bench, 3.0 scored 50.1, 49.4 once a
    /// growing freeze escalates through the mute).
    pub alert_surprise: f64,
    /// Points after an alert during which scores are capped low, so that one event gives
    /// one detection, and the baselines adapt faster. Default 120.
    pub mute_points: u32,
    /// Memory of the calibration, in points: how far back "usual" reaches. Default 4000.
    pub calibration_points: u32,
    /// Whether calendar profiles (time of day, weekday/weekend, minute of the hour) are
    /// learnt and used where they explain the series better. Default true.
    pub seasonal: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup: 150,
            alert_surprise: 3.0,
            mute_points: 120,
            calibration_points: 4000,
            seasonal: true,
        }
    }
}

impl DetectorConfig {
    /// Errors with [`Error::InvalidArgument`] unless every field is in range:
    /// `alert_surprise` finite and in `(0, 300]`, `calibration_points >= 16`,
    /// `warmup <= 1_000_000`, `mute_points <= 1_000_000`.
    pub fn validate(&self) -> Result<()> {
        if !(self.alert_surprise > 0.0 && self.alert_surprise <= 300.0) {
            return Err(Error::invalid(format!(
                "detector alert_surprise {} must be in (0, 300]",
                self.alert_surprise
            )));
        }
        if self.calibration_points < 16 {
            return Err(Error::invalid(format!(
                "detector calibration_points {} must be at least 16",
                self.calibration_points
            )));
        }
        if self.warmup > 1_000_000 || self.mute_points > 1_000_000 {
            return Err(Error::invalid(format!(
                "detector warmup {} and mute_points {} must be at most 1000000",
                self.warmup, self.mute_points
            )));
        }
        Ok(())
    }
}
