//! A histogram's state between two samples: exact running count and sum, the interval's
//! minimum and maximum, and up to a bound of raw values for the quantiles. Recording
//! takes a few atomic operations and never a lock.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use metrics::HistogramFn;
use metrics_util::storage::AtomicBucket;

/// One histogram's values since the last sample.
#[derive(Debug)]
pub(crate) struct Samples {
    /// Values recorded ever (cumulative, like a Prometheus summary's `_count`).
    count: AtomicU64,
    /// Their sum, as f64 bits (cumulative).
    sum: AtomicU64,
    /// The interval's smallest and largest value, as f64 bits.
    min: AtomicU64,
    max: AtomicU64,
    /// Values in `bucket` not yet taken.
    pending: AtomicUsize,
    bucket: AtomicBucket<f64>,
    cap: usize,
    /// Values left out of the quantiles because `bucket` was full.
    dropped: AtomicU64,
}

/// What one sample took from a histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Taken {
    pub(crate) count: u64,
    pub(crate) sum: f64,
    /// The interval's extremes; `None` when nothing was recorded in it.
    pub(crate) min_max: Option<(f64, f64)>,
    /// The interval's values kept for quantiles.
    pub(crate) values: Vec<f64>,
}

impl Samples {
    pub(crate) fn new(cap: usize) -> Self {
        Samples {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
            pending: AtomicUsize::new(0),
            bucket: AtomicBucket::new(),
            cap,
            dropped: AtomicU64::new(0),
        }
    }

    /// Values left out of the quantiles so far (they still count in count and sum).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Takes the interval: the running count and sum, and the interval's extremes and
    /// kept values, which start afresh.
    pub(crate) fn take(&self) -> Taken {
        let mut values = Vec::new();
        self.bucket
            .clear_with(|block| values.extend_from_slice(block));
        self.pending.fetch_sub(values.len(), Ordering::AcqRel);
        let min = f64::from_bits(self.min.swap(f64::INFINITY.to_bits(), Ordering::AcqRel));
        let max = f64::from_bits(self.max.swap(f64::NEG_INFINITY.to_bits(), Ordering::AcqRel));
        Taken {
            count: self.count.load(Ordering::Acquire),
            sum: f64::from_bits(self.sum.load(Ordering::Acquire)),
            min_max: (min <= max).then_some((min, max)),
            values,
        }
    }
}

/// Applies `f` to the f64 stored in `cell` until no other thread got in between.
fn update_f64(cell: &AtomicU64, f: impl Fn(f64) -> f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = f(f64::from_bits(current)).to_bits();
        if next == current {
            return;
        }
        match cell.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        // NaN has no place in a distribution: it is not a measurement.
        if value.is_nan() {
            return;
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        update_f64(&self.sum, |s| s + value);
        update_f64(&self.min, |m| m.min(value));
        update_f64(&self.max, |m| m.max(value));
        if self.pending.fetch_add(1, Ordering::AcqRel) < self.cap {
            self.bucket.push(value);
        } else {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_keeps_at_most_the_cap_but_counts_everything() {
        let s = Samples::new(3);
        for v in [5.0, -1.0, 2.0, 8.0, f64::NAN] {
            s.record(v);
        }
        let t = s.take();
        assert_eq!(t.count, 4);
        assert_eq!(t.sum, 14.0);
        assert_eq!(t.min_max, Some((-1.0, 8.0)));
        assert_eq!(t.values, vec![5.0, -1.0, 2.0]);
        assert_eq!(s.dropped(), 1);
        // The next interval starts empty but the running count and sum go on.
        s.record(1.0);
        let t = s.take();
        assert_eq!((t.count, t.sum, t.min_max), (5, 15.0, Some((1.0, 1.0))));
        assert_eq!(t.values, vec![1.0]);
        let t = s.take();
        assert_eq!((t.min_max, t.values.len()), (None, 0));
    }
}
