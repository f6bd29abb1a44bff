//! Combining the components' surprises into one score, and muting repeats so that one
//! event is one detection.

use serde::{Deserialize, Serialize};

use super::config::DetectorConfig;

/// The surprise at which the score is 0.5. The score is `S / (S + SCORE_HALF)` for the
/// surprise `S`: monotone, in `[0, 1)`, and never saturating, so the largest surprises
/// still rank above the merely large ones.
pub const SCORE_HALF_SURPRISE: f64 = 4.0;

/// While muted, surprises are capped at this fraction of the alert surprise.
const MUTED_CAP: f64 = 0.5;
/// While muted, a surprise at least this many times the largest one reported since the
/// alert is reported again, uncapped, and restarts the mute: the mute silences repeats
/// of the evidence already reported, not evidence that is orders of magnitude stronger
/// (a frozen sensor whose run keeps growing, a dip that deepens). Doubling the decades
/// means the probability is squared, so one event gives at most a few such reports,
/// logarithmic in its strength.
const ESCALATION: f64 = 2.0;

/// The score in `[0, 1)` of a surprise (decades of tail probability).
pub fn score_of_surprise(surprise: f64) -> f64 {
    if surprise.is_nan() || surprise <= 0.0 {
        0.0
    } else if surprise == f64::INFINITY {
        // Unreachable for calibrated surprises, which are finite; kept below 1.
        1.0 - f64::EPSILON
    } else {
        surprise / (surprise + SCORE_HALF_SURPRISE)
    }
}

/// Alert state of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ensemble {
    mute_left: u32,
    /// The largest surprise reported (uncapped) since the current mute began.
    reported: f64,
}

/// What the ensemble made of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Verdict {
    /// The surprise after muting.
    pub(crate) surprise: f64,
    /// Index of the component with the largest surprise (before muting).
    pub(crate) top: usize,
    /// This point raised an alert (and started a mute).
    pub(crate) alerted: bool,
    /// This point was the last one of a mute.
    pub(crate) mute_ended: bool,
}

impl Ensemble {
    pub(crate) fn new() -> Self {
        Ensemble {
            mute_left: 0,
            reported: 0.0,
        }
    }

    /// Whether an alert was raised within the last `mute_points`.
    pub(crate) fn muted(&self) -> bool {
        self.mute_left > 0
    }

    /// Combines the components' surprises by their maximum (any one kind of anomaly is
    /// an anomaly) and applies the mute.
    pub(crate) fn step(&mut self, surprises: &[f64], config: &DetectorConfig) -> Verdict {
        let (which, top) = surprises
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, s)| s.is_finite())
            .fold(
                (0, 0.0),
                |best, (i, s)| if s > best.1 { (i, s) } else { best },
            );
        if self.mute_left > 0 && top < ESCALATION * self.reported {
            self.mute_left -= 1;
            return Verdict {
                surprise: top.min(MUTED_CAP * config.alert_surprise),
                top: which,
                alerted: false,
                mute_ended: self.mute_left == 0,
            };
        }
        // Not muted, or muted but escalating (which is at least the alert surprise too).
        let alerted = top >= config.alert_surprise;
        if alerted {
            self.mute_left = config.mute_points;
            self.reported = top;
        }
        Verdict {
            surprise: top,
            top: which,
            alerted,
            mute_ended: false,
        }
    }
}
