//! Where raw samples come from: the one place that performs I/O, through the engine's
//! typed [`Query`] API. Everything else in this crate is pure evaluation.

use sedimentdb::query::QueryLimits;
use sedimentdb::{Aggregate, Db, Query};

use crate::error::{PromError, Result};
use crate::labels::Labels;
use crate::selector::SeriesSelector;

/// The raw samples of one series, sorted by time (nanoseconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    /// The series' labels (`__name__` included).
    pub labels: Labels,
    /// Sample times, strictly increasing.
    pub timestamps: Vec<i64>,
    /// Sample values.
    pub values: Vec<f64>,
}

/// A store of series that PromQL evaluates over. Implemented for [`Db`]; an embedding
/// service can implement it over its own snapshot handling.
pub trait SeriesSource {
    /// Every series matching `selector` with its samples in `(after, up_to]`, sorted by
    /// labels; series with no sample in that window are left out. At most `max_series`
    /// series and `max_samples` samples, else [`PromError::TooManySeries`] /
    /// [`PromError::TooManySamples`].
    fn samples(
        &self,
        selector: &SeriesSelector,
        after: i64,
        up_to: i64,
        max_series: u64,
        max_samples: u64,
    ) -> Result<Vec<RawSeries>>;

    /// The label sets of the series matching `selector`; with a window, only those
    /// with a sample in `(after, up_to]`. Sorted.
    fn series(&self, selector: &SeriesSelector, window: Option<(i64, i64)>) -> Result<Vec<Labels>>;
}

/// `(after, up_to]` as the engine's half-open `[start, end)`, saturating at the ends.
fn half_open(after: i64, up_to: i64) -> (i64, i64) {
    (after.saturating_add(1), up_to.saturating_add(1))
}

fn union_query(selector: &SeriesSelector) -> Option<Query> {
    let mut sels = selector.engine_selectors().cloned();
    let first = sels.next()?;
    Some(sels.fold(Query::select(first), Query::or))
}

impl SeriesSource for Db {
    fn samples(
        &self,
        selector: &SeriesSelector,
        after: i64,
        up_to: i64,
        max_series: u64,
        max_samples: u64,
    ) -> Result<Vec<RawSeries>> {
        if up_to <= after {
            return Ok(Vec::new());
        }
        let Some(query) = union_query(selector) else {
            return Ok(Vec::new());
        };
        let (start, end) = half_open(after, up_to);
        let limits = QueryLimits {
            max_series: max_series.saturating_mul(4).max(max_series),
            max_points_read: u64::MAX,
            max_result_points: max_samples.saturating_mul(4).max(max_samples),
        };
        let result = self.query(&query.between(start, end).limits(limits))?;
        let mut out = Vec::new();
        let mut samples = 0u64;
        for s in result.series {
            let Some(key) = s.labels.series_key() else {
                continue;
            };
            let labels = Labels::from_key(key);
            if !selector.matches(&labels) {
                continue;
            }
            samples += s.timestamps.len() as u64;
            if samples > max_samples {
                return Err(PromError::TooManySamples);
            }
            out.push(RawSeries {
                labels,
                timestamps: s.timestamps,
                values: s.values,
            });
            if out.len() as u64 > max_series {
                return Err(PromError::TooManySeries { limit: max_series });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn series(&self, selector: &SeriesSelector, window: Option<(i64, i64)>) -> Result<Vec<Labels>> {
        let mut out: Vec<Labels> = Vec::new();
        match window {
            None => {
                for engine in selector.engine_selectors() {
                    for key in self.list_series(engine)? {
                        let labels = Labels::from_key(&key);
                        if selector.matches(&labels) {
                            out.push(labels);
                        }
                    }
                }
            }
            Some((after, up_to)) => {
                if let Some(query) = union_query(selector) {
                    let (start, end) = half_open(after, up_to);
                    // A whole-range count is answered from chunk statistics: no decoding.
                    let result =
                        self.query(&query.between(start, end).aggregate(Aggregate::Count))?;
                    for s in result.series {
                        if let Some(key) = s.labels.series_key() {
                            let labels = Labels::from_key(key);
                            if selector.matches(&labels) {
                                out.push(labels);
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
