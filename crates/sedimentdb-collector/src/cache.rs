//! The series cache: event identity (name, attributes, dimensions, sample rate) to the
//! engine's series handle and stored key, so that the hot path neither builds a
//! `SeriesKey` nor asks the catalog for a series it has seen.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Arc;

use super::event::{MetricEvent, Source};
use super::hash::{FastHasher, PreHashed};
use sedimentdb::{SeriesHandle, SeriesKey};

/// The identity of an event's series, as the caller spelled it (before enrichment
/// and privacy).
#[derive(Debug)]
pub(crate) struct SeriesIdentity {
    name: Box<str>,
    source: Source,
    category: Box<str>,
    unit: Box<str>,
    dims: Box<[(Box<str>, Box<str>)]>,
    rate_bits: u64,
}

impl SeriesIdentity {
    pub(crate) fn new(event: &MetricEvent, rate: f64) -> Self {
        SeriesIdentity {
            name: event.name.as_str().into(),
            source: event.source,
            category: event.category.as_str().into(),
            unit: event.unit.as_str().into(),
            dims: event
                .dimensions
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
            rate_bits: rate.to_bits(),
        }
    }

    #[inline]
    pub(crate) fn matches(&self, event: &MetricEvent, rate: f64) -> bool {
        *self.name == *event.name
            && self.source == event.source
            && *self.category == *event.category
            && *self.unit == *event.unit
            && self.rate_bits == rate.to_bits()
            && self.dims.len() == event.dimensions.len()
            && self
                .dims
                .iter()
                .zip(&event.dimensions)
                .all(|((k1, v1), (k2, v2))| **k1 == **k2 && **v1 == **v2)
    }
}

/// What the cache remembers of one series.
#[derive(Debug)]
pub(crate) struct CachedSeries {
    identity: SeriesIdentity,
    pub handle: SeriesHandle,
    pub key: Arc<SeriesKey>,
}

impl CachedSeries {
    pub(crate) fn new(identity: SeriesIdentity, handle: SeriesHandle, key: Arc<SeriesKey>) -> Self {
        CachedSeries {
            identity,
            handle,
            key,
        }
    }
}

/// Hash of an event's series identity.
#[inline]
pub(crate) fn identity_hash(event: &MetricEvent, rate: f64) -> u64 {
    let mut h = FastHasher::default();
    h.write(event.name.as_bytes());
    h.write_u8(event.source as u8);
    h.write(event.category.as_bytes());
    h.write(event.unit.as_bytes());
    for (k, v) in &event.dimensions {
        h.write(k.as_bytes());
        h.write(v.as_bytes());
    }
    h.write_u64(rate.to_bits());
    h.finish()
}

/// Bounded map from identity to series; cleared whole when full (a cleared entry costs
/// one catalog lookup to come back).
#[derive(Debug)]
pub(crate) struct SeriesCache {
    map: HashMap<u64, Vec<CachedSeries>, PreHashed>,
    len: usize,
    cap: usize,
}

impl SeriesCache {
    pub(crate) fn new(cap: usize) -> Self {
        SeriesCache {
            map: HashMap::default(),
            len: 0,
            cap: cap.max(1),
        }
    }

    #[inline]
    pub(crate) fn get(&self, hash: u64, event: &MetricEvent, rate: f64) -> Option<&CachedSeries> {
        self.map
            .get(&hash)?
            .iter()
            .find(|c| c.identity.matches(event, rate))
    }

    pub(crate) fn insert(&mut self, hash: u64, entry: CachedSeries) -> &CachedSeries {
        if self.len >= self.cap {
            self.map.clear();
            self.len = 0;
        }
        self.len += 1;
        let slot = self.map.entry(hash).or_default();
        slot.push(entry);
        &slot[slot.len() - 1]
    }

    /// Drops the entries for which `keep` is false.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&CachedSeries) -> bool) {
        let mut len = 0;
        self.map.retain(|_, slot| {
            slot.retain(|c| keep(c));
            len += slot.len();
            !slot.is_empty()
        });
        self.len = len;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}
