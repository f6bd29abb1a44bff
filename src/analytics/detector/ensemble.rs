//! Combining the components' surprises into one score, and muting repeats so that one
//! event is one detection.

use serde::{Deserialize, Serialize};

use super::components::{Component, ALL};
use super::config::DetectorConfig;

/// The surprise at which the score is 0.5. The score is `S / (S + SCORE_HALF)` for the
/// surprise `S`: monotone, in `[0, 1)`, and never saturating, so the largest surprises
/// still rank above the merely large ones.
pub const SCORE_HALF_SURPRISE: f64 = 4.0;

/// While muted, surprises are capped at this fraction of the alert surprise.
const MUTED_CAP: f64 = 0.5;
/// While muted, the stuck component's surprise, if that component raised the alert and
/// its surprise is at least this many times the largest it reported, is reported again,
/// uncapped, and restarts the mute. The mute silences repeats of the evidence already
/// reported, not the same evidence grown orders of magnitude stronger: a run's
/// probability is a product over its repeats, so a frozen sensor's evidence keeps
/// accumulating (doubling the decades squares the probability, so a freeze gives a few
/// reports at most, logarithmic in its length). The calibrated components are snapshots
/// against moving levels: their growth within a mute is the slower levels catching up
/// with the same event, and letting them escalate too cost 1.6 points of anomaly-bench
/// standard score (48.7 against 50.3) in false positives.
const ESCALATION: f64 = 2.0;
/// Index of the component whose evidence accumulates ([`Component::Stuck`]).
const ACCUMULATING: usize = stuck_index();

const fn stuck_index() -> usize {
    let mut i = 0;
    while i < ALL.len() {
        if matches!(ALL[i], Component::Stuck) {
            return i;
        }
        i += 1;
    }
    ALL.len()
}

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
    /// The component that reported it.
    reporter: u8,
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
            reporter: 0,
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
        let escalates = which == ACCUMULATING
            && usize::from(self.reporter) == which
            && top >= ESCALATION * self.reported;
        if self.mute_left > 0 && !escalates {
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
            self.reporter = u8::try_from(which).unwrap_or(u8::MAX);
        }
        Verdict {
            surprise: top,
            top: which,
            alerted,
            mute_ended: false,
        }
    }
}
