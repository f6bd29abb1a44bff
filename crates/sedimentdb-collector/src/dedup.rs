//! De-duplication: an event whose `id` was seen within the window is stored once.
//!
//! Memory is bounded: the stage remembers at most `max_ids` ids (a 64-bit hash of each,
//! 16 bytes of bookkeeping per id plus the map's overhead). When full, the oldest ids are
//! forgotten early, so a duplicate arriving after that would be stored again; size
//! `max_ids` for the ids expected within one window. Two different ids colliding on 64
//! bits (about one chance in 10^10 among a million ids) would drop the second one.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::hash::{hash_bytes, PreHashed};
use super::validate::duration_ns;
use sedimentdb::Timestamp;

/// Settings of the de-duplication stage. Every field documents its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupConfig {
    /// How long an id is remembered, measured on the collector's clock (arrival time,
    /// not the event's timestamp: a retried event carries its old timestamp).
    /// Default: 10 minutes. Zero turns de-duplication off.
    pub window: Duration,
    /// Most ids remembered at once. Default: 1 million (about 40 MB).
    pub max_ids: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window: Duration::from_secs(600),
            max_ids: 1_000_000,
        }
    }
}

/// The de-duplication stage.
///
/// ```
/// use sedimentdb_collector::{DedupConfig, Deduplicator};
/// let mut dedup = Deduplicator::new(DedupConfig::default());
/// assert!(dedup.first_seen("evt-1", 0));
/// assert!(!dedup.first_seen("evt-1", 1_000));
/// ```
#[derive(Debug)]
pub struct Deduplicator {
    config: DedupConfig,
    window_ns: i64,
    seen: HashMap<u64, Timestamp, PreHashed>,
    order: VecDeque<(u64, Timestamp)>,
}

impl Deduplicator {
    /// An empty stage.
    pub fn new(config: DedupConfig) -> Self {
        Deduplicator {
            config,
            window_ns: duration_ns(config.window),
            seen: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// True when de-duplication is on.
    pub fn enabled(&self) -> bool {
        self.window_ns > 0 && self.config.max_ids > 0
    }

    /// Records `id` as seen at `now`; true when it was not seen within the window (the
    /// event should be stored), false for a duplicate.
    pub fn first_seen(&mut self, id: &str, now: Timestamp) -> bool {
        if !self.enabled() {
            return true;
        }
        self.expire(now);
        let h = hash_bytes(id.as_bytes());
        match self.seen.get(&h) {
            Some(&at) if now.saturating_sub(at) < self.window_ns => false,
            _ => {
                while self.seen.len() >= self.config.max_ids {
                    self.pop_oldest();
                }
                self.seen.insert(h, now);
                self.order.push_back((h, now));
                true
            }
        }
    }

    /// Forgets `id` (used when the write of its event failed, so that a retry is stored).
    pub fn forget(&mut self, id: &str) {
        self.seen.remove(&hash_bytes(id.as_bytes()));
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(_, at)) = self.order.front() {
            if now.saturating_sub(at) < self.window_ns {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((h, at)) = self.order.pop_front() {
            // A forgotten-then-reinserted id has a newer entry; keep that one.
            if self.seen.get(&h) == Some(&at) {
                self.seen.remove(&h);
            }
        } else {
            self.seen.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    #[test]
    fn duplicates_inside_the_window_are_dropped_and_later_ones_kept() {
        let mut d = Deduplicator::new(DedupConfig {
            window: Duration::from_secs(10),
            max_ids: 100,
        });
        assert!(d.first_seen("a", 0));
        assert!(!d.first_seen("a", 9 * SEC));
        assert!(d.first_seen("b", 9 * SEC));
        assert!(d.first_seen("a", 10 * SEC));
        assert!(!d.first_seen("b", 12 * SEC));
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Deduplicator::new(DedupConfig {
            window: Duration::from_secs(3600),
            max_ids: 1000,
        });
        for i in 0..10_000 {
            assert!(d.first_seen(&format!("id{i}"), i));
        }
        assert!(d.len() <= 1000);
        assert!(d.order.len() <= 1000);
        assert!(!d.first_seen("id9999", 10_001));
    }

    #[test]
    fn forget_lets_a_retry_through_and_zero_window_disables() {
        let mut d = Deduplicator::new(DedupConfig::default());
        assert!(d.first_seen("x", 0));
        d.forget("x");
        assert!(d.first_seen("x", 1));
        let mut off = Deduplicator::new(DedupConfig {
            window: Duration::ZERO,
            max_ids: 10,
        });
        assert!(off.first_seen("x", 0) && off.first_seen("x", 0));
    }
}
