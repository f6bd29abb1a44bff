//! Evaluation options: lookback and per-query limits, validated when built.

use std::time::Duration;

use crate::error::{PromError, Result};

/// How queries are evaluated; [`EvalOptions::default`] are Prometheus' defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvalOptions {
    /// How far back an instant-vector selector looks for a sample: Prometheus'
    /// `--query.lookback-delta`, 5 minutes. In nanoseconds.
    pub lookback_delta_ns: i64,
    /// Most raw samples one query may load (all selectors together): Prometheus'
    /// `--query.max-samples`, 50,000,000. Over it: [`PromError::TooManySamples`].
    pub max_samples: u64,
    /// Most series one selector may match. Over it: [`PromError::TooManySeries`].
    pub max_series: u64,
    /// Most steps of a range query: Prometheus' 11,000 points per series. Over it:
    /// [`PromError::TooManySteps`].
    pub max_steps: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            lookback_delta_ns: 5 * 60 * 1_000_000_000,
            max_samples: 50_000_000,
            max_series: 1_000_000,
            max_steps: 11_000,
        }
    }
}

impl EvalOptions {
    /// The lookback delta; must be positive.
    pub fn lookback_delta(mut self, d: Duration) -> Result<Self> {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        if ns <= 0 {
            return Err(PromError::BadData(
                "the lookback delta must be positive".into(),
            ));
        }
        self.lookback_delta_ns = ns;
        Ok(self)
    }

    /// The sample limit; must be positive.
    pub fn max_samples(mut self, n: u64) -> Result<Self> {
        if n == 0 {
            return Err(PromError::BadData("max samples must be positive".into()));
        }
        self.max_samples = n;
        Ok(self)
    }

    /// The series limit; must be positive.
    pub fn max_series(mut self, n: u64) -> Result<Self> {
        if n == 0 {
            return Err(PromError::BadData("max series must be positive".into()));
        }
        self.max_series = n;
        Ok(self)
    }
}
