//! The database side: every interval, on its own thread, the current value of every
//! counter and gauge and the interval's summary of every histogram become points.
//!
//! A histogram `h` is written as Prometheus writes a summary: `h_count` and `h_sum`
//! (running totals, so a missed interval loses nothing and rates work), `h{quantile="q"}`
//! for each configured quantile, plus `h_min` and `h_max`, all over the values of the
//! interval. Quantiles come from a DDSketch with 1 % relative error.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use metrics::Key;
use sedimentdb::{Db, SeriesHandle, SeriesKey, Timestamp, WriteBatch};
use sketches_ddsketch::{Config, DDSketch};

use crate::histogram::Taken;
use crate::names::{series_key, Extras};
use crate::recorder::Shared;

/// The relative error of the quantiles written (DDSketch's alpha).
pub const QUANTILE_RELATIVE_ERROR: f64 = 0.01;

/// One sample's points before their series are resolved.
#[derive(Debug, Default)]
pub(crate) struct Points {
    pub(crate) points: Vec<(SeriesKey, f64)>,
    pub(crate) histogram_values_dropped: u64,
}

/// Reads every metric of `shared` once (the pure half of a sample: no I/O).
pub(crate) fn collect(shared: &Shared) -> Points {
    let options = &shared.options;
    let mut out = Points::default();
    let extras = |key: &Key, suffix: &'static str| Extras {
        suffix,
        unit: shared.unit(key.name()),
        global: &options.global_labels,
        extra: None,
    };
    shared.registry.visit_counters(|key, c| {
        let value = c.load(Ordering::Acquire) as f64;
        out.points.push((series_key(key, &extras(key, "")), value));
    });
    shared.registry.visit_gauges(|key, g| {
        let value = f64::from_bits(g.load(Ordering::Acquire));
        out.points.push((series_key(key, &extras(key, "")), value));
    });
    shared.registry.visit_histograms(|key, h| {
        out.histogram_values_dropped += h.dropped();
        summarise(
            key,
            &h.take(),
            &extras(key, ""),
            &options.quantiles,
            &mut out.points,
        );
    });
    out
}

/// The summary series of one histogram's interval.
fn summarise(
    key: &Key,
    taken: &Taken,
    base: &Extras<'_>,
    quantiles: &[f64],
    out: &mut Vec<(SeriesKey, f64)>,
) {
    let with = |suffix: &'static str, extra: Option<(&'static str, String)>| Extras {
        suffix,
        unit: base.unit,
        global: base.global,
        extra,
    };
    out.push((series_key(key, &with("_count", None)), taken.count as f64));
    out.push((series_key(key, &with("_sum", None)), taken.sum));
    if let Some((min, max)) = taken.min_max {
        out.push((series_key(key, &with("_min", None)), min));
        out.push((series_key(key, &with("_max", None)), max));
    }
    if taken.values.is_empty() {
        return;
    }
    let mut sketch = DDSketch::new(Config::new(QUANTILE_RELATIVE_ERROR, 4096, 1e-9));
    taken.values.iter().for_each(|&v| sketch.add(v));
    for &q in quantiles {
        if let Ok(Some(v)) = sketch.quantile(q) {
            out.push((
                series_key(key, &with("", Some(("quantile", q.to_string())))),
                v,
            ));
        }
    }
}

/// What the sampler has done so far.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) samples: u64,
    pub(crate) points_written: u64,
    pub(crate) series_invalid: u64,
    pub(crate) write_errors: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) histogram_values_dropped: u64,
}

/// The sampler's state: each series resolved to a handle once (`None`: the database
/// refused its key, which is counted once and then skipped).
#[derive(Default)]
pub(crate) struct Sampler {
    handles: HashMap<SeriesKey, Option<SeriesHandle>>,
    pub(crate) counts: Counts,
}

impl Sampler {
    /// Takes one sample at `now` and writes it. Returns the points written.
    pub(crate) fn sample(
        &mut self,
        shared: &Shared,
        db: &Db,
        now: Timestamp,
    ) -> Result<usize, sedimentdb::Error> {
        let points = collect(shared);
        self.counts.histogram_values_dropped = points.histogram_values_dropped;
        let mut batch = WriteBatch::with_capacity(points.points.len());
        for (key, value) in points.points {
            let handle = match self.handles.get(&key) {
                Some(h) => *h,
                None => {
                    let h = match db.series(&key) {
                        Ok(h) => Some(h),
                        Err(sedimentdb::Error::InvalidArgument(_)) => {
                            self.counts.series_invalid += 1;
                            None
                        }
                        Err(e) => return Err(self.failed(e)),
                    };
                    self.handles.insert(key, h);
                    h
                }
            };
            if let Some(h) = handle {
                batch.push(h, now, value);
            }
        }
        self.counts.samples += 1;
        if batch.is_empty() {
            return Ok(0);
        }
        match db.write(&batch) {
            Ok(receipt) => {
                self.counts.points_written += receipt.points as u64;
                Ok(receipt.points)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    fn failed(&mut self, e: sedimentdb::Error) -> sedimentdb::Error {
        self.counts.write_errors += 1;
        self.counts.last_error = Some(e.to_string());
        e
    }
}
