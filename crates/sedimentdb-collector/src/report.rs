//! What the collector reports back: per-event outcomes, batch reports, counters.

use super::id::EventId;
use super::validate::Rejection;

/// What [`UnifiedMetricsCollector::forget_user`](crate::UnifiedMetricsCollector::forget_user) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForgetReport {
    /// Series keyed by the user.
    pub series: u64,
    /// Of those, series left with no point.
    pub emptied: u64,
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written to the store under this id.
    Stored(EventId),
    /// An event with this id was stored within the de-duplication window; not stored again.
    Duplicate(EventId),
    /// Left out by sampling (its rate is recorded on the series that is stored).
    SampledOut(EventId),
    /// Refused by validation.
    Rejected(Rejection),
}

impl Outcome {
    /// The event's id, unless it was rejected.
    pub fn id(&self) -> Option<&str> {
        match self {
            Outcome::Stored(id) | Outcome::Duplicate(id) | Outcome::SampledOut(id) => Some(id),
            Outcome::Rejected(_) => None,
        }
    }
}

/// What [`UnifiedMetricsCollector::batch_collect`](crate::UnifiedMetricsCollector::batch_collect) did, event by event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchReport {
    /// One outcome per event, in input order.
    pub outcomes: Vec<Outcome>,
    /// Points written to the store.
    pub stored: usize,
}

impl BatchReport {
    /// The ids, `None` for rejected events.
    pub fn ids(&self) -> Vec<Option<&str>> {
        self.outcomes.iter().map(Outcome::id).collect()
    }

    /// `(index, reason)` of every rejected event.
    pub fn rejected(&self) -> impl Iterator<Item = (usize, &Rejection)> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Rejected(r) => Some((i, r)),
                _ => None,
            })
    }
}

/// Counters since the collector started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Events received.
    pub received: u64,
    /// Points written to the store.
    pub stored: u64,
    /// Events dropped as duplicates.
    pub duplicates: u64,
    /// Events left out by sampling.
    pub sampled_out: u64,
    /// Events refused by validation.
    pub rejected: u64,
    /// Events shed by the asynchronous mode (queue full, store failing).
    pub dropped: u64,
    /// Events accepted by the asynchronous mode whose write failed for good.
    pub failed: u64,
    /// Distinct series in the handle cache.
    pub cached_series: u64,
}
