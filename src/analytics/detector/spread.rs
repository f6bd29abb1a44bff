//! Robust running level and spread, with floors so that no deviation is ever divided by
//! zero: the value's resolution, a small fraction of its level, and an absolute minimum.

use serde::{Deserialize, Serialize};

/// How many spreads from the level a value may pull the level: a Huber clip, so one
/// outlier moves an average by at most this many spreads times its rate.
pub(crate) const HUBER_CLIP: f64 = 4.0;

/// Fraction of the level's magnitude below which the spread is never taken: a value of
/// 1e6 that never moves does not make a change of 1 infinitely surprising.
const RELATIVE_FLOOR: f64 = 1e-6;

/// Spread below which nothing is resolved, whatever the series (values near zero).
const ABSOLUTE_FLOOR: f64 = 1e-12;

/// The smallest non-zero step between consecutive values seen so far: the data's
/// resolution (a quantised sensor moves by whole quanta).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Resolution {
    prev: f64,
    /// The smallest step, 0 while none has been seen. Not `INFINITY` for "none": the
    /// state must survive every serde format, and JSON has no infinity (it writes
    /// `null`, which does not read back as an `f64`).
    step: f64,
    seen: bool,
}

impl Resolution {
    pub(crate) fn new() -> Self {
        Resolution {
            prev: 0.0,
            step: 0.0,
            seen: false,
        }
    }

    /// Records `x` (finite).
    pub(crate) fn observe(&mut self, x: f64) {
        if self.seen {
            // Values on a grid of quantum `q` are 0 or at least `q` in magnitude, so a
            // step is a quantum no larger than the smaller non-zero value it joins: a jump
            // from 1 to 1e300 says the quantum is at most 1, not 1e300 (which would make
            // the jump itself two spreads).
            let smaller = match (x.abs(), self.prev.abs()) {
                (a, 0.0) | (0.0, a) => a,
                (a, b) => a.min(b),
            };
            let d = (x - self.prev).abs().min(smaller);
            // Steps far below the value's own precision are rounding noise, not a quantum.
            if d > 0.0 && d > x.abs() * 1e-12 && (self.step == 0.0 || d < self.step) {
                self.step = d;
            }
        }
        self.prev = x;
        self.seen = true;
    }

    /// The resolution, or 0 while no step has been seen.
    pub(crate) fn step(&self) -> f64 {
        self.step
    }
}

/// Smallest spread allowed for a series at `level` with resolution `step`.
pub(crate) fn spread_floor(level: f64, step: f64) -> f64 {
    (step * 0.5)
        .max(level.abs() * RELATIVE_FLOOR)
        .max(ABSOLUTE_FLOOR)
}

/// An exponentially weighted mean whose rate starts at `1/n` (a plain mean while young)
/// and settles at `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ewma {
    pub(crate) mean: f64,
    n: u32,
}

impl Ewma {
    pub(crate) fn new() -> Self {
        Ewma { mean: 0.0, n: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds `x` with the settled `rate` (in `(0, 1]`), scaled by `boost` (>= 1, capped
    /// at a rate of 1).
    pub(crate) fn add(&mut self, x: f64, rate: f64, boost: f64) {
        self.n = self.n.saturating_add(1);
        let young = 1.0 / f64::from(self.n);
        let a = (rate * boost).max(young).min(1.0);
        let next = self.mean + a * (x - self.mean);
        // A huge-range series can overflow the difference; keep the old mean then.
        if next.is_finite() {
            self.mean = next;
        }
    }

    /// Moves the mean by `delta` (re-baselining after a shift).
    pub(crate) fn shift(&mut self, delta: f64) {
        let next = self.mean + delta;
        if next.is_finite() {
            self.mean = next;
        }
    }
}
