//! Sampling: keep a configured fraction of a metric's events.
//!
//! The decision hashes the event id, so a retried event gets the same decision and
//! replicas of a service sampling the same stream agree. The rate is recorded with the
//! stored series (the reserved dimension `sample_rate`, present only below 1), so that
//! [`MetricQuery`](super::MetricQuery) scales counts and sums back by `1 / rate`.

use std::collections::HashMap;

use super::hash::{hash_bytes, Fast};

/// A rate outside `(0, 1]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("sample rate {rate} for {metric:?} is outside (0, 1]")]
pub struct BadRate {
    /// The metric (`*` for the default).
    pub metric: String,
    /// The rate given.
    pub rate: f64,
}

/// The sampling stage: a default rate and per-metric rates.
///
/// ```
/// use sedimentdb_collector::Sampler;
/// let s = Sampler::new(1.0).unwrap().with_rate("debug_trace", 0.1).unwrap();
/// let kept = (0..10_000).filter(|i| s.keep("debug_trace", &format!("e{i}")).is_some()).count();
/// assert!((900..1100).contains(&kept));
/// assert_eq!(s.keep("cpu_usage", "e1"), Some(1.0));
/// ```
#[derive(Debug, Clone)]
pub struct Sampler {
    default_rate: f64,
    rates: HashMap<String, f64, Fast>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler {
            default_rate: 1.0,
            rates: HashMap::default(),
        }
    }
}

impl Sampler {
    /// A sampler keeping `default_rate` of every metric without a rate of its own.
    pub fn new(default_rate: f64) -> Result<Self, BadRate> {
        check("*", default_rate)?;
        Ok(Sampler {
            default_rate,
            rates: HashMap::default(),
        })
    }

    /// Sets the rate of one metric.
    pub fn with_rate(mut self, metric: impl Into<String>, rate: f64) -> Result<Self, BadRate> {
        let metric = metric.into();
        check(&metric, rate)?;
        self.rates.insert(metric, rate);
        Ok(self)
    }

    /// True when every event is kept (the collector then skips the stage).
    pub fn keeps_all(&self) -> bool {
        self.default_rate >= 1.0 && self.rates.values().all(|&r| r >= 1.0)
    }

    /// The rate of `metric`.
    pub fn rate(&self, metric: &str) -> f64 {
        if self.rates.is_empty() {
            return self.default_rate;
        }
        self.rates.get(metric).copied().unwrap_or(self.default_rate)
    }

    /// `Some(rate)` when the event with this id is kept, `None` when it is sampled out.
    pub fn keep(&self, metric: &str, id: &str) -> Option<f64> {
        let rate = self.rate(metric);
        if rate >= 1.0 {
            return Some(1.0);
        }
        // The top 53 bits of the hash as a uniform number in [0, 1).
        let u = (hash_bytes(id.as_bytes()) >> 11) as f64 / (1u64 << 53) as f64;
        (u < rate).then_some(rate)
    }
}

fn check(metric: &str, rate: f64) -> Result<(), BadRate> {
    if rate > 0.0 && rate <= 1.0 {
        Ok(())
    } else {
        Err(BadRate {
            metric: metric.to_string(),
            rate,
        })
    }
}

/// The text stored in the `sample_rate` dimension.
pub(crate) fn rate_label(rate: f64) -> String {
    format!("{rate}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_deterministic_and_rates_checked() {
        let s = Sampler::new(0.5).unwrap();
        for i in 0..100 {
            let id = format!("x{i}");
            assert_eq!(s.keep("m", &id), s.keep("m", &id));
        }
        assert!(Sampler::new(0.0).is_err());
        assert!(Sampler::new(1.5).is_err());
        assert!(Sampler::new(f64::NAN).is_err());
        assert!(Sampler::default().keeps_all());
        assert!(!s.keeps_all());
        assert_eq!(rate_label(0.25), "0.25");
    }
}
