//! The components of the ensemble: each reads one kind of anomaly off the baseline's
//! deviations and gives a raw, non-negative statistic that its own calibrator turns into
//! a surprise.

use serde::{Deserialize, Serialize};

use super::baseline::Deviation;

/// The kinds of deviation the detector looks for: the component whose surprise was the
/// largest names the kind of a scored point ([`Scored::kind`](super::Scored::kind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Component {
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
    /// A short lower-case name: `spike`, `sustained`, `shift`, `drift`, `variance`,
    /// `stuck`.
    pub fn name(self) -> &'static str {
        match self {
            Component::Spike => "spike",
            Component::Sustained => "sustained",
            Component::Shift => "shift",
            Component::Drift => "drift",
            Component::Variance => "variance",
            Component::Stuck => "stuck",
        }
    }

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
    /// The stuck component has no raw deviation (its surprise comes from [`Stuck`]): 0.
    pub(crate) fn raw(self, d: &Deviation) -> f64 {
        match self {
            Component::Spike => d.z.abs(),
            Component::Sustained => d.sustained,
            Component::Shift => d.short_shift,
            Component::Drift => d.long_shift,
            Component::Variance => d.variance_ratio,
            Component::Stuck => 0.0,
        }
    }
}

/// Repeats of exactly the same value, judged against how long this series' runs of
/// repeats usually are. If runs were geometric with mean length `L`, a run of `r`
/// repeats or more has probability `(L / (1 + L))^r`; that is the surprise, computed
/// directly rather than through a calibrator, because a run's probability is already
/// known from the run lengths themselves. A flat sensor that sits on one value for hours
/// has long runs and is not "stuck"; a counter that repeats a value three times is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stuck {
    prev: f64,
    run: u32,
    /// Repeats of the live run already judged ordinary (at the end of a mute).
    settled: u32,
    seen: bool,
    /// Decayed sum of completed run lengths and decayed count of runs.
    run_sum: f64,
    run_count: f64,
}

/// Memory of the run statistics, in runs.
const RUN_MEMORY: f64 = 500.0;
/// Prior: one run of this many repeats, so a young series is not surprised at once.
const PRIOR_RUN: f64 = 2.0;

impl Stuck {
    pub(crate) fn new() -> Self {
        Stuck {
            prev: 0.0,
            run: 0,
            settled: 0,
            seen: false,
            run_sum: PRIOR_RUN,
            run_count: 1.0,
        }
    }

    /// Takes in `x`, returns the surprise (decades) of the run it is part of.
    pub(crate) fn update(&mut self, x: f64) -> f64 {
        let repeat = self.seen && x == self.prev;
        self.prev = x;
        let first = !self.seen;
        self.seen = true;
        if repeat {
            self.run = self.run.saturating_add(1);
        } else {
            if !first {
                let keep = 1.0 - 1.0 / RUN_MEMORY;
                self.run_sum = self.run_sum * keep + f64::from(self.run);
                self.run_count = self.run_count * keep + 1.0;
            }
            self.run = 0;
            self.settled = 0;
        }
        // The live run counts in the mean too: a run already longer than every earlier
        // one makes long runs more plausible as it goes on.
        let live = f64::from(self.run);
        let mean = (self.run_sum + live) / (self.run_count + 1.0);
        let per_repeat = ((1.0 + mean) / mean.max(1e-9)).log10();
        f64::from(self.run - self.settled.min(self.run)) * per_repeat
    }

    /// At the end of a mute: the live run so far is taken as ordinary (it has been
    /// reported); only repeats beyond it count from now on.
    pub(crate) fn settle(&mut self) {
        self.settled = self.run;
    }
}
