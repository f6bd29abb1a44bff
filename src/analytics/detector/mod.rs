//! A streaming anomaly detector: per-series state, one `update(ts, value)` per point,
//! and a score in `[0, 1]` that means the same on every series.
//!
//! # How it works
//!
//! 1. **Seasonality** (`season`): calendar profiles (half-hour of the weekday and of
//!    the weekend day, minute of the hour) are learnt from past points and subtracted
//!    when, and only as far as, they explain the series better than no profile.
//! 2. **Baseline** (`baseline`): the deseasonalised value is compared with robust
//!    running levels at four time scales and with a spread (mean absolute one-step
//!    error) that has floors (`spread`): half the data's resolution, a millionth of
//!    the level, 1e-12. No deviation is ever divided by zero.
//! 3. **Components** (`components`): spike, sustained deviation, level shift, drift
//!    (ramp, trend change, missing peak), variance increase, stuck value. Each gives a
//!    raw statistic.
//! 4. **Calibration** (`calibrate`): each raw statistic becomes a *surprise*,
//!    `-log10` of its tail probability against that component's own history on this
//!    series (a running Pareto tail fit above the 95th percentile). This is what makes
//!    one threshold work for a bursty request counter and a flat voltage sensor alike.
//! 5. **Ensemble** (`ensemble`): the largest surprise wins. At
//!    [`DetectorConfig::alert_surprise`] the detector counts an alert of its own: the
//!    next [`DetectorConfig::mute_points`] scores are capped low (one event, one
//!    detection), the calibrators stop learning (an anomaly is not "usual"), the slower
//!    levels adapt faster, and if the recent points confirm a level shift every level
//!    re-baselines onto it.
//!
//! The score is `S / (S + 4)` for the surprise `S` ([`score_of_surprise`]): 0.5 is a
//! tail probability of 1e-4 on this series, 0.6 about 1e-6.
//!
//! # Guarantees
//!
//! - **Causal**: the score of a point depends only on it and earlier points, so scoring
//!   a prefix gives the prefix of the scores; batch and streaming agree exactly.
//! - **Deterministic**: no randomness, no hashing, no clock.
//! - **`O(1)` per point** (a few dozen floating-point operations per component) and
//!   **bounded state**: [`Detector::state_bytes`] (about 1 KiB) whatever the series'
//!   length.
//! - **Safe on any input**: NaN and infinite values are missing (score 0, state
//!   unchanged); constant, stepped and huge-range series give finite scores in `[0, 1)`.
//! - The state is serde-serialisable, so a monitor survives a restart.
//!
//! ```
//! use sedimentdb::analytics::detector::{Detector, DetectorConfig};
//!
//! let mut det = Detector::new(DetectorConfig::default()).unwrap();
//! let minute = 60_000_000_000_i64;
//! let mut spike_score = 0.0;
//! for i in 0..2000_i64 {
//!     // A noisy but ordinary series, and one point far outside it.
//!     let noise = ((i * 7919) % 13) as f64 / 13.0;
//!     let value = if i == 1500 { 40.0 } else { 10.0 + noise };
//!     let score = det.update(i * minute, value);
//!     assert!((0.0..1.0).contains(&score));
//!     if i == 1500 {
//!         spike_score = score;
//!     }
//! }
//! assert!(spike_score > 0.6);
//! ```

mod baseline;
mod calibrate;
mod components;
mod config;
mod ensemble;
mod season;
pub(crate) mod spread;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use components::Component;
pub use config::DetectorConfig;
pub use ensemble::{score_of_surprise, SCORE_HALF_SURPRISE};

use crate::{Result, Timestamp};
use baseline::Baseline;
use calibrate::TailCalibrator;
use components::{Stuck, ALL, COMPONENTS};
use ensemble::Ensemble;
use season::Seasonal;
use spread::Resolution;

/// One point's score with what produced it, from [`Detector::update_scored`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Scored {
    /// The score in `[0, 1)`, as [`Detector::update`] returns it.
    pub score: f64,
    /// The surprise behind it: `-log10` of the calibrated tail probability, after the
    /// mute (0 during warm-up and for missing values).
    pub surprise: f64,
    /// The component with the largest surprise, `None` for a missing value or during
    /// warm-up.
    pub kind: Option<Component>,
    /// The value the detector expected at this point, from earlier points only: its
    /// one-step level plus the seasonal offset (the value itself for the first point,
    /// NaN for a missing value).
    pub expected: f64,
    /// This point raised one of the detector's own alerts (surprise at least
    /// [`DetectorConfig::alert_surprise`] outside a mute).
    pub alerted: bool,
}

impl Scored {
    const NOTHING: Scored = Scored {
        score: 0.0,
        surprise: 0.0,
        kind: None,
        expected: f64::NAN,
        alerted: false,
    };
}

/// How much faster the slower levels adapt while muted after an alert.
const MUTED_BOOST: f64 = 4.0;

/// The streaming detector's state for one series. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    config: DetectorConfig,
    points: u64,
    last_ts: Option<Timestamp>,
    /// Running sampling step in seconds (0 until two timestamps were seen).
    step_secs: f64,
    resolution: Resolution,
    seasonal: Seasonal,
    baseline: Baseline,
    stuck: Stuck,
    calibrators: Vec<TailCalibrator>,
    ensemble: Ensemble,
}

impl Detector {
    /// A detector with no history. Errors if `config` is invalid
    /// ([`DetectorConfig::validate`]).
    pub fn new(config: DetectorConfig) -> Result<Self> {
        config.validate()?;
        Ok(Detector {
            config,
            points: 0,
            last_ts: None,
            step_secs: 0.0,
            resolution: Resolution::new(),
            seasonal: Seasonal::new(),
            baseline: Baseline::new(),
            stuck: Stuck::new(),
            calibrators: ALL.iter().map(|c| TailCalibrator::new(c.floor())).collect(),
            ensemble: Ensemble::new(),
        })
    }

    /// The configuration this detector runs with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Finite points seen so far.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// Takes in the next point and returns its score in `[0, 1)`: how unusual it is
    /// given this series' own history. A value that is not finite is missing: it scores
    /// 0 and leaves the state unchanged. Timestamps should not decrease (the seasonal
    /// profiles and the sampling step use them); if they do, scores stay valid but the
    /// step estimate ignores the step back.
    pub fn update(&mut self, ts: Timestamp, value: f64) -> f64 {
        self.update_scored(ts, value).score
    }

    /// [`update`](Self::update), also saying which component scored and whether the
    /// point raised an alert.
    pub fn update_scored(&mut self, ts: Timestamp, value: f64) -> Scored {
        if !value.is_finite() {
            return Scored::NOTHING;
        }
        self.observe_step(ts);
        self.points = self.points.saturating_add(1);
        self.resolution.observe(value);
        let resolution = self.resolution.step();
        let step = if self.step_secs > 0.0 {
            self.step_secs
        } else {
            60.0
        };

        let offset = if self.config.seasonal {
            self.seasonal.offset(ts, step)
        } else {
            0.0
        };
        let u = value - offset;
        let u = if u.is_finite() { u } else { value };
        let expected = self
            .baseline
            .prediction()
            .map_or(value, |level| level + offset);
        let muted = self.ensemble.muted();
        let boost = if muted { MUTED_BOOST } else { 1.0 };
        let deviation = self.baseline.update(u, resolution, boost);
        let stuck_surprise = self.stuck.update(value);

        let mut surprises = [0.0; COMPONENTS];
        for ((slot, component), calibrator) in
            surprises.iter_mut().zip(ALL).zip(&mut self.calibrators)
        {
            if component == Component::Stuck {
                *slot = stuck_surprise;
                continue;
            }
            let raw = component.raw(&deviation);
            *slot = calibrator.surprise(raw);
            if !muted {
                calibrator.learn(raw, self.config.calibration_points);
            }
        }
        if self.config.seasonal && !muted {
            self.seasonal.learn(ts, value, step);
        }

        let warm = self.points > u64::from(self.config.warmup);
        if !warm {
            return Scored {
                expected,
                ..Scored::NOTHING
            };
        }
        let verdict = self.ensemble.step(&surprises, &self.config);
        if verdict.mute_ended {
            self.baseline.settle();
            self.stuck.settle();
        }
        if self.ensemble.muted() {
            if let Some(delta) = self.baseline.rebaseline_if_shifted(resolution) {
                self.seasonal.shift(delta);
            }
        }
        Scored {
            score: score_of_surprise(verdict.surprise),
            surprise: verdict.surprise,
            kind: ALL.get(verdict.top).copied(),
            expected,
            alerted: verdict.alerted,
        }
    }

    /// Scores a whole series (slices zipped in time order); the same as calling
    /// [`update`](Self::update) on each point.
    pub fn score_all(&mut self, ts: &[Timestamp], values: &[f64]) -> Vec<f64> {
        ts.iter()
            .zip(values)
            .map(|(&t, &v)| self.update(t, v))
            .collect()
    }

    /// Bytes of state this detector holds: its own size plus its heap buffers (the
    /// calendar profiles and the calibrators). Constant after construction.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.seasonal.heap_bytes()
            + self.calibrators.capacity() * std::mem::size_of::<TailCalibrator>()
    }

    fn observe_step(&mut self, ts: Timestamp) {
        if let Some(prev) = self.last_ts {
            let gap = (i128::from(ts) - i128::from(prev)) as f64 / 1e9;
            if gap > 0.0 {
                self.step_secs = if self.step_secs > 0.0 {
                    // Robust to the odd gap: each step moves the estimate by at most 2x.
                    let g = gap.clamp(self.step_secs * 0.5, self.step_secs * 2.0);
                    self.step_secs + 0.05 * (g - self.step_secs)
                } else {
                    gap
                };
            }
        }
        if self.last_ts.is_none_or(|prev| ts > prev) {
            self.last_ts = Some(ts);
        }
    }
}
