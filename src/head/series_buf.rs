//! One series' buffer in the head.

use crate::types::{TimeRange, Timestamp};

/// Timestamps and values of one series, in arrival order until a reader sorts them.
#[derive(Default)]
pub(super) struct SeriesBuf {
    ts: Vec<Timestamp>,
    values: Vec<f64>,
    /// True while `ts` is strictly increasing, so readers can binary-search it as is.
    sorted: bool,
}

impl SeriesBuf {
    /// Appends a point; returns the heap bytes newly allocated.
    pub(super) fn push(&mut self, ts: Timestamp, value: f64) -> usize {
        match self.ts.last() {
            None => self.sorted = true,
            Some(&last) if ts > last => {}
            // Same timestamp as the newest point: overwrite in place (last write wins)
            // and stay sorted, the common case of a retried write.
            Some(&last) if ts == last && self.sorted => {
                if let Some(v) = self.values.last_mut() {
                    *v = value;
                }
                return 0;
            }
            Some(_) => self.sorted = false,
        }
        let before = self.ts.capacity();
        self.ts.push(ts);
        self.values.push(value);
        (self.ts.capacity() - before) * 16
    }

    /// Sorts by time, keeping for each timestamp the value written last.
    fn normalize(&mut self) {
        if self.sorted {
            return;
        }
        let mut order: Vec<u32> = (0..self.ts.len() as u32).collect();
        // Stable sort: among equal timestamps arrival order is kept, so the last of each
        // run is the last write.
        order.sort_by_key(|&i| self.ts[i as usize]);
        let mut ts = Vec::with_capacity(order.len());
        let mut values = Vec::with_capacity(order.len());
        for &i in &order {
            let (t, v) = (self.ts[i as usize], self.values[i as usize]);
            if ts.last() == Some(&t) {
                if let Some(last) = values.last_mut() {
                    *last = v;
                }
            } else {
                ts.push(t);
                values.push(v);
            }
        }
        self.ts = ts;
        self.values = values;
        self.sorted = true;
    }

    /// Appends the points inside `range` to the outputs; returns how many.
    pub(super) fn read_range(
        &mut self,
        range: TimeRange,
        ts_out: &mut Vec<Timestamp>,
        val_out: &mut Vec<f64>,
    ) -> usize {
        self.normalize();
        let start = self.ts.partition_point(|&t| t < range.start);
        let end = self.ts.partition_point(|&t| t < range.end);
        if start >= end {
            return 0;
        }
        ts_out.extend_from_slice(&self.ts[start..end]);
        val_out.extend_from_slice(&self.values[start..end]);
        end - start
    }
}
