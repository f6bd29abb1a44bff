//! `UnifiedMetricsCollector`: the one entry point. It runs the pipeline stages in order
//! (validate → sample → resolve series (enrich, privacy) → de-duplicate → write → route)
//! over a [`Db`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::cache::{identity_hash, CachedSeries, SeriesCache};
use super::clock::{Clock, SystemClock};
use super::dedup::{DedupConfig, Deduplicator};
use super::enrich::Enricher;
use super::error::CollectorError;
use super::event::MetricEvent;
use super::query::{MetricQuery, QueryResult};
use super::router::{RealtimeAggregator, Router, StoredPoint};
use super::sample::{rate_label, Sampler};
use super::validate::{Rejection, Validator, ValidatorConfig};
use crate::{Db, SeriesKey, WriteBatch};

/// Settings of a collector. Every field documents its default.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Validation limits. Default: [`ValidatorConfig::default`].
    pub validator: ValidatorConfig,
    /// Default dimensions. Default: none.
    pub enricher: Enricher,
    /// De-duplication window and memory bound. Default: [`DedupConfig::default`]
    /// (10 minutes, 1 million ids).
    pub dedup: DedupConfig,
    /// Sampling rates. Default: keep everything.
    pub sampler: Sampler,
    /// Extra sinks for stored points besides the engine and the real-time aggregator.
    /// Default: none.
    pub router: Router,
    /// How far back the real-time aggregator keeps points of followed metrics.
    /// Default: 1 hour.
    pub realtime_horizon: Duration,
    /// Distinct series whose handles are cached. Default: 200 000.
    pub max_cached_series: usize,
    /// Most points in one engine write. Default: 100 000.
    pub write_chunk: usize,
    /// Where "now" comes from. Default: [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            validator: ValidatorConfig::default(),
            enricher: Enricher::default(),
            dedup: DedupConfig::default(),
            sampler: Sampler::default(),
            router: Router::default(),
            realtime_horizon: Duration::from_secs(3600),
            max_cached_series: 200_000,
            write_chunk: 100_000,
            clock: Arc::new(SystemClock),
        }
    }
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written to the store under this id.
    Stored(String),
    /// An event with this id was stored within the de-duplication window; not stored again.
    Duplicate(String),
    /// Left out by sampling (its rate is recorded on the series that is stored).
    SampledOut(String),
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

/// What [`UnifiedMetricsCollector::batch_collect`] did, event by event.
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

#[derive(Debug, Default)]
pub(crate) struct Counters {
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
struct PipelineState {
    dedup: Deduplicator,
    cache: SeriesCache,
    next_id: u64,
}

pub(crate) struct Shared {
    pub db: Db,
    pub validator: Validator,
    pub enricher: Enricher,
    pub sampler: Sampler,
    pub router: Router,
    pub realtime: Arc<RealtimeAggregator>,
    pub clock: Arc<dyn Clock>,
    pub counters: Counters,
    write_chunk: usize,
    id_prefix: u64,
    state: Mutex<PipelineState>,
}

/// The collection layer's entry point: validates, enriches, de-duplicates, samples and
/// stores metric events in a [`Db`], and answers queries over them.
///
/// Storage mapping: an event's `name` is the series' metric name; its dimensions (after
/// enrichment and privacy) plus the reserved dimensions `source`, `category`, `unit`
/// (when not empty) and `sample_rate` (when below 1) form the series key. See the
/// [module documentation](super) for why.
///
/// ```
/// use sedimentdb::{Db, Options};
/// use sedimentdb::collector::{Aggregation, CollectorConfig, MetricQuery, SystemMetric, UnifiedMetricsCollector};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let collector = UnifiedMetricsCollector::new(db, CollectorConfig::default()).unwrap();
/// let id = collector.collect_metric(SystemMetric::new("cpu_usage", 42.0, "percent").build()).unwrap();
/// assert!(!id.is_empty());
/// let avg = collector.query_metrics(&MetricQuery::metric("cpu_usage").aggregate(Aggregation::Avg)).unwrap();
/// assert_eq!(avg.scalar(), Some(42.0));
/// ```
pub struct UnifiedMetricsCollector {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for UnifiedMetricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnifiedMetricsCollector")
            .field("db", &self.shared.db)
            .field("stats", &self.stats())
            .finish()
    }
}

impl UnifiedMetricsCollector {
    /// A collector writing into `db`.
    pub fn new(db: Db, config: CollectorConfig) -> Result<Self, CollectorError> {
        let realtime = Arc::new(RealtimeAggregator::new(config.realtime_horizon, 100_000));
        let router = config.router.with_sink(realtime.clone());
        let id_prefix = (config.clock.now() as u64).rotate_left(17) ^ u64::from(std::process::id());
        let shared = Shared {
            db,
            validator: Validator::new(config.validator),
            enricher: config.enricher,
            sampler: config.sampler,
            router,
            realtime,
            clock: config.clock,
            counters: Counters::default(),
            write_chunk: config.write_chunk.max(1),
            id_prefix,
            state: Mutex::new(PipelineState {
                dedup: Deduplicator::new(config.dedup),
                cache: SeriesCache::new(config.max_cached_series),
                next_id: 0,
            }),
        };
        Ok(UnifiedMetricsCollector {
            shared: Arc::new(shared),
        })
    }

    /// The database the collector writes into.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The real-time aggregator (recent points of followed metrics).
    pub fn realtime(&self) -> &Arc<RealtimeAggregator> {
        &self.shared.realtime
    }

    /// Records one event and returns its id (the event's own, or one assigned). A
    /// duplicate or sampled-out event also returns its id: it was accepted.
    pub fn collect_metric(&self, event: MetricEvent) -> Result<String, CollectorError> {
        let report = self.shared.ingest(vec![event])?;
        match report.outcomes.into_iter().next() {
            Some(Outcome::Rejected(r)) => Err(CollectorError::Rejected(r)),
            Some(o) => Ok(o.id().unwrap_or_default().to_string()),
            None => Err(CollectorError::Closed),
        }
    }

    /// Records many events with one write to the store per `write_chunk` points. A
    /// rejected event is reported in its outcome and does not affect the others; an
    /// error means the store failed (chunks written before the failure stay written).
    pub fn batch_collect(&self, events: Vec<MetricEvent>) -> Result<BatchReport, CollectorError> {
        self.shared.ingest(events)
    }

    /// Runs a query.
    pub fn query_metrics(&self, query: &MetricQuery) -> Result<QueryResult, CollectorError> {
        Ok(query.execute(&self.shared.db)?)
    }

    /// Counters since start.
    pub fn stats(&self) -> CollectorStats {
        self.shared.stats()
    }
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
            cached_series: self.state.lock().cache.len() as u64,
        }
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

    /// The pipeline over one batch.
    pub(crate) fn ingest(&self, events: Vec<MetricEvent>) -> Result<BatchReport, CollectorError> {
        let now = self.clock.now();
        let n = events.len();
        self.counters
            .received
            .fetch_add(n as u64, Ordering::Relaxed);
        let mut outcomes = Vec::with_capacity(n);
        let mut batches: Vec<WriteBatch> = Vec::new();
        let mut batch = WriteBatch::with_capacity(n.min(self.write_chunk));
        // (outcome index, batch number) of ids entered into the de-duplicator, to forget
        // them if their write fails.
        let mut remembered: Vec<(usize, usize)> = Vec::new();
        let mut routed: Vec<StoredPoint> = Vec::new();
        let route = !self.router.is_empty();
        let sample = !self.sampler.keeps_all();
        let (mut dups, mut sampled, mut rejected) = (0u64, 0u64, 0u64);
        {
            let mut guard = self.state.lock();
            let st = &mut *guard;
            let dedup_on = st.dedup.enabled();
            for mut event in events {
                if let Err(r) = self.validator.check_point(&event, now) {
                    outcomes.push(Outcome::Rejected(r));
                    rejected += 1;
                    continue;
                }
                let generated = event.id.is_empty();
                if generated {
                    st.next_id += 1;
                    event.id = assigned_id(self.id_prefix, st.next_id);
                }
                let rate = if sample {
                    match self.sampler.keep(&event.name, &event.id) {
                        Some(rate) => rate,
                        None => {
                            outcomes.push(Outcome::SampledOut(event.id));
                            sampled += 1;
                            continue;
                        }
                    }
                } else {
                    1.0
                };
                let hash = identity_hash(&event, rate);
                let want_key = route && self.router.wants(&event.name);
                let (handle, key) = match st.cache.get(hash, &event, rate) {
                    Some(s) => (s.handle, want_key.then(|| s.key.clone())),
                    None => {
                        if let Err(r) = self.validator.check_identity(&event) {
                            outcomes.push(Outcome::Rejected(r));
                            rejected += 1;
                            continue;
                        }
                        let key = self.stored_key(&event, rate);
                        let handle = match self.db.series(&key) {
                            Ok(h) => h,
                            Err(crate::Error::InvalidArgument(msg)) => {
                                outcomes.push(Outcome::Rejected(Rejection::SeriesRefused(msg)));
                                rejected += 1;
                                continue;
                            }
                            Err(e @ crate::Error::LimitExceeded { .. }) => {
                                outcomes.push(Outcome::Rejected(Rejection::SeriesRefused(
                                    e.to_string(),
                                )));
                                rejected += 1;
                                continue;
                            }
                            Err(e) => return Err(e.into()),
                        };
                        let key = Arc::new(key);
                        let routed_key = want_key.then(|| key.clone());
                        st.cache
                            .insert(hash, CachedSeries::new(&event, rate, handle, key));
                        (handle, routed_key)
                    }
                };
                if dedup_on && !generated {
                    if !st.dedup.first_seen(&event.id, now) {
                        outcomes.push(Outcome::Duplicate(event.id));
                        dups += 1;
                        continue;
                    }
                    remembered.push((outcomes.len(), batches.len()));
                }
                batch.push(handle, event.timestamp, event.value);
                if let Some(key) = key {
                    routed.push(StoredPoint {
                        key,
                        source: event.source,
                        ts: event.timestamp,
                        value: event.value,
                    });
                }
                outcomes.push(Outcome::Stored(event.id));
                if batch.len() >= self.write_chunk {
                    batches.push(std::mem::replace(
                        &mut batch,
                        WriteBatch::with_capacity(self.write_chunk),
                    ));
                }
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        let c = &self.counters;
        c.duplicates.fetch_add(dups, Ordering::Relaxed);
        c.sampled_out.fetch_add(sampled, Ordering::Relaxed);
        c.rejected.fetch_add(rejected, Ordering::Relaxed);
        let mut stored = 0;
        for (i, b) in batches.iter().enumerate() {
            if let Err(e) = self.db.write(b) {
                let mut st = self.state.lock();
                for &(at, _) in remembered.iter().filter(|&&(_, bi)| bi >= i) {
                    if let Some(id) = outcomes[at].id() {
                        st.dedup.forget(id);
                    }
                }
                c.stored.fetch_add(stored as u64, Ordering::Relaxed);
                return Err(e.into());
            }
            stored += b.len();
        }
        c.stored.fetch_add(stored as u64, Ordering::Relaxed);
        self.router.deliver(&routed);
        Ok(BatchReport { outcomes, stored })
    }
}

/// `{prefix:016x}-{n:x}` without the formatting machinery (this runs once per event).
fn assigned_id(prefix: u64, n: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 33];
    for i in 0..16 {
        buf[i] = HEX[((prefix >> (60 - 4 * i)) & 0xf) as usize];
    }
    buf[16] = b'-';
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for i in 0..digits {
        buf[17 + i] = HEX[((n >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    String::from_utf8_lossy(&buf[..17 + digits]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_ids_match_the_formatted_form() {
        for (p, n) in [
            (0u64, 0u64),
            (1, 1),
            (u64::MAX, u64::MAX),
            (0xdead_beef, 0x1234_5678),
        ] {
            assert_eq!(assigned_id(p, n), format!("{p:016x}-{n:x}"));
        }
    }
}
