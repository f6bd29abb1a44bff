//! The pipeline itself: the state every stage shares (validator, enricher, sampler,
//! router, alerts, privacy, access, audit, counters) and the ingest path that runs the
//! stages over a batch. The collector facade, the asynchronous writer, the system sampler
//! and the store sink all hold an `Arc<Shared>`; keeping it here, below all of them, is
//! what keeps them free of import cycles.

use super::access::AccessPolicy;
use super::alert::AlertEngine;
use super::audit::AuditLog;
use super::cache::{identity_hash, CachedSeries, SeriesCache, SeriesIdentity};
use super::clock::Clock;
use super::dedup::Deduplicator;
use super::enrich::Enricher;
use super::error::CollectorError;
use super::event::MetricEvent;
use super::event::Source;
use super::hash::PreHashed;
use super::id::EventId;
use super::privacy::Privacy;
use super::query::MetricQuery;
use super::report::{BatchReport, CollectorStats, Outcome};
use super::router::{RealtimeAggregator, Router, StoredPoint};
use super::sample::{rate_label, Sampler};
use super::validate::{Rejection, Validator};
use parking_lot::Mutex;
use sedimentdb::{Db, Matcher, SeriesHandle, SeriesKey, WriteBatch};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub cached_series: AtomicU64,
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub sampled_out: AtomicU64,
    pub rejected: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
}

/// State the pipeline changes, behind one lock taken once per batch.
#[derive(Debug)]
pub(crate) struct PipelineState {
    pub dedup: Deduplicator,
    pub cache: SeriesCache,
}

pub(crate) struct Shared {
    pub db: Db,
    pub validator: Validator,
    pub enricher: Enricher,
    pub sampler: Sampler,
    pub router: Router,
    pub realtime: Arc<RealtimeAggregator>,
    pub alerts: Arc<AlertEngine>,
    pub privacy: Option<Privacy>,
    pub access: AccessPolicy,
    pub audit: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub counters: Counters,
    pub write_chunk: usize,
    pub id_prefix: u64,
    pub next_id: AtomicU64,
    pub state: Mutex<PipelineState>,
}

impl Shared {
    pub(crate) fn stats(&self) -> CollectorStats {
        let c = &self.counters;
        CollectorStats {
            received: c.received.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            sampled_out: c.sampled_out.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            // Not the cache itself: its lock is held while a new series is created,
            // which waits on the store, and stats must answer while the store is stuck.
            cached_series: c.cached_series.load(Ordering::Relaxed),
        }
    }

    /// The query with identifier values hashed and other values sanitised, as stored.
    pub(crate) fn protect_query(&self, query: &MetricQuery) -> MetricQuery {
        let Some(p) = &self.privacy else {
            return query.clone();
        };
        let mut q = query.clone();
        for m in &mut q.matchers {
            match m {
                Matcher::Eq(k, v) | Matcher::Ne(k, v) => *v = p.protect(k, v).into_owned(),
                Matcher::In(k, vs) => {
                    for v in vs.iter_mut() {
                        *v = p.protect(k, v).into_owned();
                    }
                }
                _ => {}
            }
        }
        q
    }

    /// The stored key of an event's series: enriched dimensions, then the reserved ones.
    fn stored_key(&self, event: &MetricEvent, rate: f64) -> SeriesKey {
        let mut dims: Vec<(String, String)> = event
            .dimensions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in self.enricher.defaults() {
            if !event.dimensions.contains_key(k) {
                dims.push((k.clone(), v.clone()));
            }
        }
        if let Some(privacy) = &self.privacy {
            privacy.apply(&mut dims);
        }
        dims.push(("source".into(), event.source.as_str().into()));
        dims.push(("category".into(), event.category.clone()));
        if !event.unit.is_empty() {
            dims.push(("unit".into(), event.unit.clone()));
        }
        if rate < 1.0 {
            dims.push(("sample_rate".into(), rate_label(rate)));
        }
        SeriesKey::from_parts(event.name.clone(), dims)
    }

    /// The pipeline over one batch: prepare, then commit once.
    pub(crate) fn ingest(&self, events: Vec<MetricEvent>) -> Result<BatchReport, CollectorError> {
        let mut prepared = self.prepare(events)?;
        match self.commit(&mut prepared) {
            Ok(stored) => Ok(BatchReport {
                outcomes: prepared.outcomes,
                stored,
            }),
            Err(e) => {
                self.forget_prepared(&prepared);
                Err(e)
            }
        }
    }

    /// [`Shared::ingest`] without the age limit: for imports of history.
    pub(crate) fn ingest_historic(
        &self,
        events: Vec<MetricEvent>,
    ) -> Result<BatchReport, CollectorError> {
        let mut prepared = self.prepare_with(events, false)?;
        match self.commit(&mut prepared) {
            Ok(stored) => Ok(BatchReport {
                outcomes: prepared.outcomes,
                stored,
            }),
            Err(e) => {
                self.forget_prepared(&prepared);
                Err(e)
            }
        }
    }

    /// Reserves the number of an id to assign.
    pub(crate) fn reserve_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The id with number `n`.
    pub(crate) fn assigned_id(&self, n: u64) -> EventId {
        EventId::assigned(self.id_prefix, n)
    }

    /// Every stage up to the write: validation, sampling, series resolution,
    /// de-duplication; the points end up in write batches.
    pub(crate) fn prepare(&self, events: Vec<MetricEvent>) -> Result<Prepared, CollectorError> {
        self.prepare_with(events, true)
    }

    fn prepare_with(
        &self,
        events: Vec<MetricEvent>,
        enforce_age: bool,
    ) -> Result<Prepared, CollectorError> {
        let now = self.clock.now();
        let n = events.len();
        self.counters
            .received
            .fetch_add(n as u64, Ordering::Relaxed);
        let mut p = Prepared {
            outcomes: Vec::with_capacity(n),
            batches: Vec::new(),
            remembered: Vec::new(),
            routed: Vec::new(),
            next_batch: 0,
        };
        let mut batch = WriteBatch::with_capacity(n.min(self.write_chunk));
        let route = !self.router.is_empty();
        let sample = !self.sampler.keeps_all();
        let (mut dups, mut sampled, mut rejected) = (0u64, 0u64, 0u64);
        {
            let mut guard = self.state.lock();
            let st = &mut *guard;
            let dedup_on = st.dedup.enabled();
            // Series the store lacks are created together once the batch is read (one
            // durable catalog record for all of them); their points wait in `fresh`.
            let mut fresh = FreshSeries::default();
            for mut event in events {
                if let Err(r) = self.validator.check_point_with(&event, now, enforce_age) {
                    p.outcomes.push(Outcome::Rejected(r));
                    rejected += 1;
                    continue;
                }
                let generated = event.id.is_empty();
                // An assigned id is kept inline: no allocation per event.
                let id = if generated {
                    self.assigned_id(self.reserve_id())
                } else {
                    EventId::from(std::mem::take(&mut event.id))
                };
                let rate = if sample {
                    match self.sampler.keep(&event.name, &id) {
                        Some(rate) => rate,
                        None => {
                            p.outcomes.push(Outcome::SampledOut(id));
                            sampled += 1;
                            continue;
                        }
                    }
                } else {
                    1.0
                };
                let hash = identity_hash(&event, rate);
                let want_key = route && self.router.wants(&event.name);
                let slot = match st.cache.get(hash, &event, rate) {
                    Some(s) => Ok((s.handle, want_key.then(|| s.key.clone()))),
                    None => match fresh.find(hash, &event, rate) {
                        Some(at) => Err(at),
                        None => {
                            if let Err(r) = self.validator.check_identity(&event) {
                                p.outcomes.push(Outcome::Rejected(r));
                                rejected += 1;
                                continue;
                            }
                            let key = self.stored_key(&event, rate);
                            Err(fresh.add(hash, SeriesIdentity::new(&event, rate), key))
                        }
                    },
                };
                let remember = dedup_on && !generated;
                if remember && !st.dedup.first_seen(&id, now) {
                    p.outcomes.push(Outcome::Duplicate(id));
                    dups += 1;
                    continue;
                }
                let (handle, key) = match slot {
                    Ok(known) => known,
                    Err(series) => {
                        fresh.points.push(FreshPoint {
                            series,
                            outcome: p.outcomes.len(),
                            ts: event.timestamp,
                            value: event.value,
                            source: event.source,
                            remember,
                            routed: want_key,
                        });
                        p.outcomes.push(Outcome::Stored(id));
                        continue;
                    }
                };
                if remember {
                    p.remembered.push((p.outcomes.len(), p.batches.len()));
                }
                batch.push(handle, event.timestamp, event.value);
                if let Some(key) = key {
                    p.routed.push(StoredPoint {
                        key,
                        source: event.source,
                        ts: event.timestamp,
                        value: event.value,
                    });
                }
                p.outcomes.push(Outcome::Stored(id));
                if batch.len() >= self.write_chunk {
                    p.batches.push(std::mem::replace(
                        &mut batch,
                        WriteBatch::with_capacity(self.write_chunk),
                    ));
                }
            }
            if !fresh.keys.is_empty() {
                let handles = self.create_series(&fresh.keys)?;
                let keys: Vec<Arc<SeriesKey>> = std::mem::take(&mut fresh.keys)
                    .into_iter()
                    .map(Arc::new)
                    .collect();
                // Points of a series are in input order, so a later duplicate timestamp
                // still wins; across series the order does not matter.
                for point in &fresh.points {
                    let handle = match &handles[point.series] {
                        Ok(handle) => *handle,
                        Err(reason) => {
                            // Its id was entered into the de-duplicator above: a retry
                            // must not be taken for a duplicate.
                            if point.remember {
                                if let Some(id) = p.outcomes[point.outcome].id() {
                                    st.dedup.forget(id);
                                }
                            }
                            p.outcomes[point.outcome] =
                                Outcome::Rejected(Rejection::SeriesRefused(reason.clone()));
                            rejected += 1;
                            continue;
                        }
                    };
                    if point.remember {
                        p.remembered.push((point.outcome, p.batches.len()));
                    }
                    batch.push(handle, point.ts, point.value);
                    if point.routed {
                        p.routed.push(StoredPoint {
                            key: keys[point.series].clone(),
                            source: point.source,
                            ts: point.ts,
                            value: point.value,
                        });
                    }
                    if batch.len() >= self.write_chunk {
                        p.batches.push(std::mem::replace(
                            &mut batch,
                            WriteBatch::with_capacity(self.write_chunk),
                        ));
                    }
                }
                let created = fresh.hashes.into_iter().zip(fresh.identities);
                for (((hash, identity), key), handle) in created.zip(keys).zip(handles) {
                    if let Ok(handle) = handle {
                        st.cache
                            .insert(hash, CachedSeries::new(identity, handle, key));
                    }
                }
                self.counters
                    .cached_series
                    .store(st.cache.len() as u64, Ordering::Relaxed);
            }
        }
        if !batch.is_empty() {
            p.batches.push(batch);
        }
        let c = &self.counters;
        c.duplicates.fetch_add(dups, Ordering::Relaxed);
        c.sampled_out.fetch_add(sampled, Ordering::Relaxed);
        c.rejected.fetch_add(rejected, Ordering::Relaxed);
        Ok(p)
    }

    /// Creates the series of `keys` with one durable step
    /// ([`Db::series_many`](sedimentdb::Db::series_many)). If the store refuses the set (a
    /// key it finds invalid, or the series limit), each key is tried alone, so that the
    /// series that fit are created and only the others are refused, with the reason.
    fn create_series(
        &self,
        keys: &[SeriesKey],
    ) -> Result<Vec<Result<SeriesHandle, String>>, CollectorError> {
        let refused = |e: sedimentdb::Error| match e {
            sedimentdb::Error::InvalidArgument(msg) => Ok(msg),
            e @ sedimentdb::Error::LimitExceeded { .. } => Ok(e.to_string()),
            e => Err(CollectorError::from(e)),
        };
        match self.db.series_many(keys) {
            Ok(handles) => Ok(handles.into_iter().map(Ok).collect()),
            Err(e) => {
                refused(e)?;
                keys.iter()
                    .map(|key| match self.db.series(key) {
                        Ok(handle) => Ok(Ok(handle)),
                        Err(e) => refused(e).map(Err),
                    })
                    .collect()
            }
        }
    }

    /// Writes the batches not written yet, then routes the points. Can be called again
    /// after a failure: it resumes with the batch that failed.
    pub(crate) fn commit(&self, p: &mut Prepared) -> Result<usize, CollectorError> {
        let mut stored = 0;
        while p.next_batch < p.batches.len() {
            let b = &p.batches[p.next_batch];
            if let Err(e) = self.db.write(b) {
                self.counters
                    .stored
                    .fetch_add(stored as u64, Ordering::Relaxed);
                return Err(e.into());
            }
            stored += b.len();
            p.next_batch += 1;
        }
        self.counters
            .stored
            .fetch_add(stored as u64, Ordering::Relaxed);
        self.router.deliver(&std::mem::take(&mut p.routed));
        Ok(p.batches.iter().map(WriteBatch::len).sum())
    }

    /// Forgets the ids of events whose batch was not written, so that a retry by the
    /// caller is not taken for a duplicate.
    pub(crate) fn forget_prepared(&self, p: &Prepared) {
        let mut st = self.state.lock();
        for &(at, batch) in &p.remembered {
            if batch >= p.next_batch {
                if let Some(id) = p.outcomes[at].id() {
                    st.dedup.forget(id);
                }
            }
        }
    }
}

/// The result of [`Shared::prepare`]: points in write batches, not yet written.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub outcomes: Vec<Outcome>,
    batches: Vec<WriteBatch>,
    /// (outcome index, batch number) of ids entered into the de-duplicator.
    remembered: Vec<(usize, usize)>,
    routed: Vec<StoredPoint>,
    /// Batches before this one are written.
    next_batch: usize,
}

impl Prepared {
    /// Points still to write.
    pub(crate) fn points(&self) -> usize {
        self.batches[self.next_batch.min(self.batches.len())..]
            .iter()
            .map(WriteBatch::len)
            .sum()
    }
}

/// Series first seen in one batch, created together once the whole batch is read.
#[derive(Default)]
struct FreshSeries {
    /// Identity hash to positions in the vectors below.
    by_hash: std::collections::HashMap<u64, Vec<usize>, PreHashed>,
    hashes: Vec<u64>,
    identities: Vec<SeriesIdentity>,
    keys: Vec<SeriesKey>,
    /// The points of these series, in input order.
    points: Vec<FreshPoint>,
}

impl FreshSeries {
    fn find(&self, hash: u64, event: &MetricEvent, rate: f64) -> Option<usize> {
        self.by_hash
            .get(&hash)?
            .iter()
            .copied()
            .find(|&at| self.identities[at].matches(event, rate))
    }

    fn add(&mut self, hash: u64, identity: SeriesIdentity, key: SeriesKey) -> usize {
        let at = self.keys.len();
        self.by_hash.entry(hash).or_default().push(at);
        self.hashes.push(hash);
        self.identities.push(identity);
        self.keys.push(key);
        at
    }
}

/// A point of a series in [`FreshSeries`], waiting for the series' handle.
struct FreshPoint {
    series: usize,
    /// Its event's place in the outcomes.
    outcome: usize,
    ts: i64,
    value: f64,
    source: Source,
    /// Its id went into the de-duplicator.
    remember: bool,
    /// The router wants it.
    routed: bool,
}
