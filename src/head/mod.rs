//! The hot tier: per-series in-memory buffers, sharded so that writers on different
//! series rarely meet on one lock.
//!
//! A head receives points in WAL order (the database inserts while it holds the WAL
//! append lock), so "last write wins" inside the head is simply "later in the buffer
//! wins". Buffers stay sorted while points arrive in order; an out-of-order point marks
//! the buffer unsorted and the next reader sorts it in place.

mod series_buf;

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::types::{TimeRange, Timestamp};
use series_buf::SeriesBuf;

/// Number of lock shards. A power of two well above the core count keeps collisions
/// between concurrent writers rare without costing much memory.
const SHARDS: usize = 64;

/// Estimated heap bytes of one new series buffer (two empty vectors and the slot).
const SERIES_OVERHEAD: usize = 64;

/// One shard: the buffers of series ids `i` with `i % SHARDS == shard`, at `i / SHARDS`.
#[derive(Default)]
struct Shard {
    slots: Vec<Option<SeriesBuf>>,
}

/// An in-memory head. The live head takes writes; a frozen head is read-only while a
/// flush writes it to segments.
pub(crate) struct Head {
    shards: Box<[Mutex<Shard>]>,
    bytes: AtomicUsize,
    points: AtomicU64,
    series: AtomicU64,
    min_ts: AtomicI64,
    max_ts: AtomicI64,
    /// Timestamp of the first point inserted: the head window is measured from it, so a
    /// single backfilled point does not make every later write trigger a flush.
    anchor_ts: AtomicI64,
}

impl Default for Head {
    fn default() -> Self {
        Head::new()
    }
}

impl Head {
    pub(crate) fn new() -> Head {
        Head {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            bytes: AtomicUsize::new(0),
            points: AtomicU64::new(0),
            series: AtomicU64::new(0),
            min_ts: AtomicI64::new(i64::MAX),
            max_ts: AtomicI64::new(i64::MIN),
            anchor_ts: AtomicI64::new(i64::MIN),
        }
    }

    /// Inserts a batch given as columns. The caller guarantees equal lengths.
    pub(crate) fn insert(&self, series: &[u32], timestamps: &[Timestamp], values: &[f64]) {
        debug_assert!(series.len() == timestamps.len() && series.len() == values.len());
        if series.is_empty() {
            return;
        }
        // Group the batch by shard with a counting sort so that each shard lock is
        // taken once per batch, not once per point (time-major batches interleave series).
        let mut counts = [0u32; SHARDS + 1];
        for &id in series {
            counts[id as usize % SHARDS + 1] += 1;
        }
        for s in 0..SHARDS {
            counts[s + 1] += counts[s];
        }
        let mut order = vec![0u32; series.len()];
        let mut next = counts;
        for (i, &id) in series.iter().enumerate() {
            let s = id as usize % SHARDS;
            order[next[s] as usize] = i as u32;
            next[s] += 1;
        }
        let mut added_bytes = 0usize;
        let mut added_series = 0u64;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for s in 0..SHARDS {
            let (start, end) = (counts[s] as usize, counts[s + 1] as usize);
            if start == end {
                continue;
            }
            let mut shard = self.shards[s].lock();
            for &i in &order[start..end] {
                let i = i as usize;
                let slot_index = series[i] as usize / SHARDS;
                if shard.slots.len() <= slot_index {
                    shard.slots.resize_with(slot_index + 1, || None);
                }
                let slot = &mut shard.slots[slot_index];
                let buf = match slot {
                    Some(buf) => buf,
                    None => {
                        added_series += 1;
                        added_bytes += SERIES_OVERHEAD;
                        slot.insert(SeriesBuf::default())
                    }
                };
                added_bytes += buf.push(timestamps[i], values[i]);
                lo = lo.min(timestamps[i]);
                hi = hi.max(timestamps[i]);
            }
        }
        self.bytes.fetch_add(added_bytes, Ordering::Relaxed);
        self.points.fetch_add(series.len() as u64, Ordering::Relaxed);
        self.series.fetch_add(added_series, Ordering::Relaxed);
        self.min_ts.fetch_min(lo, Ordering::Relaxed);
        self.max_ts.fetch_max(hi, Ordering::Relaxed);
        let _ = self.anchor_ts.compare_exchange(
            i64::MIN,
            timestamps[0],
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Points of one series inside `range`, sorted by time with duplicates resolved
    /// (last write wins), appended to `ts_out` / `val_out`. Returns how many were added.
    pub(crate) fn read_series(
        &self,
        id: u32,
        range: TimeRange,
        ts_out: &mut Vec<Timestamp>,
        val_out: &mut Vec<f64>,
    ) -> usize {
        let mut shard = self.shards[id as usize % SHARDS].lock();
        match shard.slots.get_mut(id as usize / SHARDS) {
            Some(Some(buf)) => buf.read_range(range, ts_out, val_out),
            _ => 0,
        }
    }

    /// Calls `visit(id, timestamps, values)` for every series with points, in ascending
    /// id order, with points sorted and deduplicated. Used by flush on a frozen head.
    pub(crate) fn for_each_series(&self, mut visit: impl FnMut(u32, &[Timestamp], &[f64])) {
        let max_slots = self
            .shards
            .iter()
            .map(|s| s.lock().slots.len())
            .max()
            .unwrap_or(0);
        let mut ts = Vec::new();
        let mut vals = Vec::new();
        for slot in 0..max_slots {
            for (s, shard) in self.shards.iter().enumerate() {
                let id = (slot * SHARDS + s) as u32;
                ts.clear();
                vals.clear();
                let n = {
                    let mut guard = shard.lock();
                    match guard.slots.get_mut(slot) {
                        Some(Some(buf)) => buf.read_range(TimeRange::all(), &mut ts, &mut vals),
                        _ => 0,
                    }
                };
                if n > 0 {
                    visit(id, &ts, &vals);
                }
            }
        }
    }

    /// Estimated heap bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Points inserted (duplicates counted until they are resolved by a flush).
    pub(crate) fn points(&self) -> u64 {
        self.points.load(Ordering::Relaxed)
    }

    /// Series with at least one point.
    pub(crate) fn series(&self) -> u64 {
        self.series.load(Ordering::Relaxed)
    }

    /// True when nothing was inserted.
    pub(crate) fn is_empty(&self) -> bool {
        self.points() == 0
    }

    /// Smallest and largest timestamp inserted, if any.
    pub(crate) fn time_bounds(&self) -> Option<(Timestamp, Timestamp)> {
        let lo = self.min_ts.load(Ordering::Relaxed);
        let hi = self.max_ts.load(Ordering::Relaxed);
        (lo <= hi).then_some((lo, hi))
    }

    /// How far the newest point lies past the first point inserted.
    pub(crate) fn span_from_anchor(&self) -> i64 {
        let anchor = self.anchor_ts.load(Ordering::Relaxed);
        if anchor == i64::MIN {
            return 0;
        }
        self.max_ts.load(Ordering::Relaxed).saturating_sub(anchor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(head: &Head, id: u32) -> Vec<(i64, f64)> {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        head.read_series(id, TimeRange::all(), &mut t, &mut v);
        t.into_iter().zip(v).collect()
    }

    #[test]
    fn out_of_order_and_duplicates_resolve_last_write_wins() {
        let head = Head::new();
        head.insert(&[1, 1, 1, 1], &[30, 10, 20, 10], &[3.0, 1.0, 2.0, 1.5]);
        head.insert(&[1, 2], &[20, 5], &[2.5, 9.0]);
        assert_eq!(read(&head, 1), vec![(10, 1.5), (20, 2.5), (30, 3.0)]);
        assert_eq!(read(&head, 2), vec![(5, 9.0)]);
        assert_eq!(read(&head, 3), vec![]);
        assert_eq!(head.time_bounds(), Some((5, 30)));
        assert_eq!(head.series(), 2);
    }

    #[test]
    fn range_is_half_open() {
        let head = Head::new();
        head.insert(&[0, 0, 0], &[1, 2, 3], &[1.0, 2.0, 3.0]);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        head.read_series(0, TimeRange::new(2, 3), &mut t, &mut v);
        assert_eq!(t, vec![2]);
    }

    #[test]
    fn for_each_series_visits_in_id_order() {
        let head = Head::new();
        let ids: Vec<u32> = vec![200, 3, 64, 65, 0];
        head.insert(&ids, &[1, 1, 1, 1, 1], &[0.0; 5]);
        let mut seen = Vec::new();
        head.for_each_series(|id, ts, _| {
            assert_eq!(ts, &[1]);
            seen.push(id)
        });
        assert_eq!(seen, vec![0, 3, 64, 65, 200]);
    }

    #[test]
    fn concurrent_inserts_lose_nothing() {
        let head = std::sync::Arc::new(Head::new());
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let head = head.clone();
                std::thread::spawn(move || {
                    for i in 0..1000i64 {
                        head.insert(&[t, t + 100], &[i, i], &[i as f64, -(i as f64)]);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..4u32 {
            assert_eq!(read(&head, t).len(), 1000);
            assert_eq!(read(&head, t + 100).len(), 1000);
        }
        assert_eq!(head.points(), 8000);
    }
}
