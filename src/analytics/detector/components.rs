//! The components of the ensemble: each reads one kind of anomaly off the baseline's
//! deviations and gives a raw, non-negative statistic that its own calibrator turns into
//! a surprise.

use serde::{Deserialize, Serialize};

use super::baseline::Deviation;

/// The kinds of deviation the detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Component {
    /// One point far from the prediction (spike or the first point of a dip).
    Spike,
    /// Several points in a row on one side of the level (a dip, an outage, the start
    /// of a shift), which a lone spike or a one-point restart dip does not give.
    Sustained,
    /// The short-term level moved away from the medium one: a level shift.
    Shift,
    /// The medium-term level moved away from the long one: a ramp, a trend change, a
    /// slow shift, a missing daily peak.
    Drift,
    /// The one-step errors grew: more noise.
    Variance,
    /// The value has not changed for longer than this series' history makes plausible.
    Stuck,
}

/// Number of components.
pub(crate) const COMPONENTS: usize = 6;

/// Every component, in the order of the calibrators.
pub(crate) const ALL: [Component; COMPONENTS] = [
    Component::Spike,
    Component::Sustained,
    Component::Shift,
    Component::Drift,
    Component::Variance,
    Component::Stuck,
];

impl Component {
    /// Raw statistics below this are all alike to the calibrator (never surprising): a
    /// deviation within one spread, a variance ratio below 1, a run no longer than the
    /// usual repeat.
    pub(crate) fn floor(self) -> f64 {
        match self {
            Component::Spike | Component::Sustained => 1.0,
            Component::Shift | Component::Drift => 0.25,
            Component::Variance => 1.0,
            Component::Stuck => 1.0,
        }
    }

    /// The raw statistic of this component for one point.
    pub(crate) fn raw(self, d: &Deviation, stuck: f64) -> f64 {
        match self {
            Component::Spike => d.z.abs(),
            Component::Sustained => d.sustained,
            Component::Shift => d.short_shift,
            Component::Drift => d.long_shift,
            Component::Variance => d.variance_ratio,
            Component::Stuck => stuck,
        }
    }
}

/// Repeats of exactly the same value, against how often this series repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stuck {
    prev: f64,
    run: u32,
    repeat_rate: f64,
    seen: bool,
}

/// Memory of the repeat rate, in points.
const REPEAT_MEMORY: f64 = 1000.0;

impl Stuck {
    pub(crate) fn new() -> Self {
        Stuck {
            prev: 0.0,
            run: 0,
            repeat_rate: 0.5,
            seen: false,
        }
    }

    /// Takes in `x`, returns the raw statistic: the current run of repeats times the
    /// surprise of one repeat, `run · -ln(repeat rate)` — a run's log-improbability if
    /// repeats were independent.
    pub(crate) fn update(&mut self, x: f64) -> f64 {
        let repeat = self.seen && x == self.prev;
        let raw = if repeat {
            self.run = self.run.saturating_add(1);
            f64::from(self.run) * -self.repeat_rate.clamp(0.01, 0.999).ln()
        } else {
            self.run = 0;
            0.0
        };
        self.repeat_rate += (f64::from(u8::from(repeat)) - self.repeat_rate) / REPEAT_MEMORY;
        self.prev = x;
        self.seen = true;
        raw
    }
}
