//! What the recorder does, set with builder methods and checked by [`RecorderOptions::validate`].

use std::time::Duration;

use crate::error::RecorderError;

/// Options of the recorder; see each method for its default.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecorderOptions {
    pub(crate) interval: Duration,
    pub(crate) quantiles: Vec<f64>,
    pub(crate) max_histogram_samples: usize,
    pub(crate) max_series: usize,
    pub(crate) global_labels: Vec<(String, String)>,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            interval: Duration::from_secs(10),
            quantiles: vec![0.5, 0.9, 0.99, 0.999],
            max_histogram_samples: 65_536,
            max_series: 100_000,
            global_labels: Vec::new(),
        }
    }
}

impl RecorderOptions {
    /// How often counters and gauges are sampled and histograms summarised into the
    /// database. Default 10 s; at least 10 ms.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The quantiles written for each histogram, each in `[0, 1]`. Default p50, p90,
    /// p99 and p99.9.
    pub fn quantiles(mut self, quantiles: impl IntoIterator<Item = f64>) -> Self {
        self.quantiles = quantiles.into_iter().collect();
        self
    }

    /// The most values of one histogram kept for its quantiles in one interval (8 bytes
    /// each): the memory bound of a histogram. Past it, values still count in `_count`,
    /// `_sum`, `_min` and `_max`, but not in the quantiles, and
    /// [`RecorderStats::histogram_values_dropped`](crate::RecorderStats) counts them.
    /// Default 65 536 (512 KiB); at least 1.
    pub fn max_histogram_samples(mut self, samples: usize) -> Self {
        self.max_histogram_samples = samples;
        self
    }

    /// The most distinct metrics (name and labels) the recorder keeps; later ones are
    /// ignored and counted in [`RecorderStats::series_refused`](crate::RecorderStats), so
    /// a label with unbounded values cannot exhaust memory. Default 100 000; at least 1.
    pub fn max_series(mut self, series: usize) -> Self {
        self.max_series = series;
        self
    }

    /// A label added to every series (e.g. `instance`); a metric's own label of the
    /// same name wins.
    pub fn global_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.global_labels.push((key.into(), value.into()));
        self
    }

    /// Errors with [`RecorderError::InvalidOption`] naming the first bad option.
    pub fn validate(&self) -> Result<(), RecorderError> {
        let bad = |option: &'static str, reason: String| {
            Err(RecorderError::InvalidOption { option, reason })
        };
        if self.interval < Duration::from_millis(10) {
            return bad(
                "interval",
                format!("{:?} is shorter than 10 ms", self.interval),
            );
        }
        if let Some(q) = self.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return bad("quantiles", format!("{q} is not in [0, 1]"));
        }
        if self.max_histogram_samples == 0 {
            return bad("max_histogram_samples", "must be at least 1".into());
        }
        if self.max_series == 0 {
            return bad("max_series", "must be at least 1".into());
        }
        if let Some((k, _)) = self
            .global_labels
            .iter()
            .find(|(k, v)| k.is_empty() || v.is_empty())
        {
            return bad(
                "global_label",
                format!("{k:?}: keys and values must not be empty"),
            );
        }
        Ok(())
    }
}
