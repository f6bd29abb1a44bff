//! `UnifiedMetricsCollector`: the one entry point. It runs the pipeline stages in order
//! (validate → sample → resolve series (enrich, privacy) → de-duplicate → write → route)
//! over a [`Db`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::access::{AccessPolicy, Decision, Principal, Role};
use super::alert::{AlertEngine, AlertRule, AlertSink, StoreSink, Ticker};
use super::audit::{AuditDecision, AuditFilter, AuditLog, AuditRecord};
use super::cache::SeriesCache;
use super::clock::{Clock, SystemClock};
use super::dedup::{DedupConfig, Deduplicator};
use super::enrich::Enricher;
use super::error::CollectorError;
use super::event::MetricEvent;
use super::event::Source;
use super::id::EventId;
use super::pipeline::{Counters, PipelineState, Shared};
use super::privacy::{Privacy, PrivacyConfig};
use super::query::{MetricQuery, QueryResult};
use super::queue::{AsyncConfig, AsyncWriter, BreakerState, QueueHealth};
pub use super::report::{BatchReport, CollectorStats, ForgetReport, Outcome};
use super::router::{RealtimeAggregator, Router};
use super::sample::Sampler;
use super::validate::duration_ns;
use super::validate::{Validator, ValidatorConfig};
use sedimentdb::{Db, DeleteReport, Matcher, Selector, TimeRange};

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
    /// `Some` makes [`UnifiedMetricsCollector::collect_metric`] non-blocking: events go
    /// through a bounded queue to a background writer. Default: `None` (each call
    /// writes before it returns).
    pub asynchronous: Option<AsyncConfig>,
    /// Keyed hashing of identifiers, sanitisation, retention per data class. Default:
    /// `None` (values stored as given).
    pub privacy: Option<PrivacyConfig>,
    /// Permissions per role. Default: [`AccessPolicy::default`].
    pub access: AccessPolicy,
    /// File of the audit log. Default: `None`, an in-memory log (not durable: set a
    /// path in production).
    pub audit_log: Option<std::path::PathBuf>,
    /// Alert rules to start with (more can be added through
    /// [`UnifiedMetricsCollector::alerts`]). Default: none.
    pub alert_rules: Vec<AlertRule>,
    /// Alert sinks besides the store. Default: none.
    pub alert_sinks: Vec<Arc<dyn AlertSink>>,
    /// Record alert transitions in the store as `alert_state`. Default: true.
    pub alerts_to_store: bool,
    /// Evaluate every rule at this interval on a background thread (besides the
    /// evaluation on ingest), so that `for` durations elapse and silent series resolve
    /// without new data. Default: `Some(15 s)`.
    pub alert_interval: Option<Duration>,
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
            asynchronous: None,
            privacy: None,
            access: AccessPolicy::default(),
            audit_log: None,
            alert_rules: Vec::new(),
            alert_sinks: Vec::new(),
            alerts_to_store: true,
            alert_interval: Some(Duration::from_secs(15)),
        }
    }
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
/// use sedimentdb_collector::{Aggregation, CollectorConfig, MetricQuery, Principal, Role, SystemMetric, UnifiedMetricsCollector};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let collector = UnifiedMetricsCollector::new(db, CollectorConfig::default()).unwrap();
/// let id = collector.collect_metric(SystemMetric::new("cpu_usage", 42.0, "percent").build()).unwrap();
/// assert!(!id.is_empty());
/// let me = Principal::new("ops", Role::Admin);
/// let avg = collector.query_metrics(&me, &MetricQuery::metric("cpu_usage").aggregate(Aggregation::Avg)).unwrap();
/// assert_eq!(avg.scalar(), Some(42.0));
/// ```
pub struct UnifiedMetricsCollector {
    pub(crate) shared: Arc<Shared>,
    writer: Option<AsyncWriter>,
    _ticker: Option<Ticker>,
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
        let alerts = Arc::new(AlertEngine::new(realtime.clone(), config.clock.clone()));
        let router = Router::new()
            .with_sink(realtime.clone())
            .with_sink(alerts.clone())
            .chain(config.router);
        let id_prefix = (config.clock.now() as u64).rotate_left(17) ^ u64::from(std::process::id());
        let shared = Shared {
            db,
            validator: Validator::new(config.validator),
            enricher: config.enricher,
            sampler: config.sampler,
            router,
            realtime,
            alerts: alerts.clone(),
            access: match &config.privacy {
                Some(p) => config
                    .access
                    .identifier_dimensions(p.identifier_dimensions.clone()),
                None => config.access,
            },
            privacy: config.privacy.map(Privacy::new),
            audit: match &config.audit_log {
                Some(path) => AuditLog::open(path)?,
                None => AuditLog::in_memory(),
            },
            clock: config.clock,
            counters: Counters::default(),
            write_chunk: config.write_chunk.max(1),
            id_prefix,
            next_id: AtomicU64::new(1),
            state: Mutex::new(PipelineState {
                dedup: Deduplicator::new(config.dedup),
                cache: SeriesCache::new(config.max_cached_series),
            }),
        };
        let shared = Arc::new(shared);
        if config.alerts_to_store {
            alerts.add_sink(Arc::new(StoreSink(Arc::downgrade(&shared))));
        }
        for sink in config.alert_sinks {
            alerts.add_sink(sink);
        }
        for rule in config.alert_rules {
            alerts.add_rule(rule)?;
        }
        let ticker = match config.alert_interval {
            Some(every) => Some(Ticker::start(alerts, every)?),
            None => None,
        };
        let writer = match config.asynchronous {
            Some(cfg) => Some(AsyncWriter::start(shared.clone(), cfg)?),
            None => None,
        };
        Ok(UnifiedMetricsCollector {
            shared,
            writer,
            _ticker: ticker,
        })
    }

    /// The database the collector writes into.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The alert engine: add rules and sinks, evaluate, list active alerts.
    pub fn alerts(&self) -> &AlertEngine {
        &self.shared.alerts
    }

    /// The real-time aggregator (recent points of followed metrics).
    pub fn realtime(&self) -> &Arc<RealtimeAggregator> {
        &self.shared.realtime
    }

    /// Records one event and returns its id (the event's own, or one assigned). A
    /// duplicate or sampled-out event also returns its id: it was accepted.
    ///
    /// In asynchronous mode the event is validated here, then enqueued without blocking:
    /// [`CollectorError::Shed`] says it was dropped (queue full, or store failing) and
    /// counted in [`CollectorStats::dropped`].
    pub fn collect_metric(&self, event: MetricEvent) -> Result<EventId, CollectorError> {
        if let Some(writer) = &self.writer {
            let shared = &*self.shared;
            if let Err(r) = shared.validator.validate(&event, shared.clock.now()) {
                shared.counters.received.fetch_add(1, Ordering::Relaxed);
                shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(CollectorError::Rejected(r));
            }
            // An assigned id is returned inline and spelled out by the writer, so the
            // caller's thread allocates nothing.
            let (id, reserved) = if event.id.is_empty() {
                let n = shared.reserve_id();
                (shared.assigned_id(n), Some(n))
            } else {
                (EventId::from(event.id.clone()), None)
            };
            writer.enqueue(shared, event, reserved)?;
            return Ok(id);
        }
        let report = self.shared.ingest(vec![event])?;
        match report.outcomes.into_iter().next() {
            Some(Outcome::Rejected(r)) => Err(CollectorError::Rejected(r)),
            Some(Outcome::Stored(id) | Outcome::Duplicate(id) | Outcome::SampledOut(id)) => Ok(id),
            None => Err(CollectorError::Closed),
        }
    }

    /// Records many events with one write to the store per `write_chunk` points. A
    /// rejected event is reported in its outcome and does not affect the others; an
    /// error means the store failed (chunks written before the failure stay written).
    pub fn batch_collect(&self, events: Vec<MetricEvent>) -> Result<BatchReport, CollectorError> {
        self.shared.ingest(events)
    }

    /// Runs a query for `who`: checks it against the access policy (narrowing it to the
    /// readable sources when it names none), writes the decision to the audit log, then
    /// runs it through the engine's typed query ([`Db::query`](sedimentdb::Db::query); see
    /// [`MetricQuery`] for what the collector adds: sampling weights). Values of
    /// identifier dimensions in its matchers are given raw and hashed here like the
    /// stored ones.
    pub fn query_metrics(
        &self,
        who: &Principal,
        query: &MetricQuery,
    ) -> Result<QueryResult, CollectorError> {
        let query = self.authorize(who, "query", query)?;
        Ok(query.execute(&self.shared.db)?)
    }

    /// Exports the points a query selects as JSON lines in the event format (source,
    /// category and unit restored from the series; ids and metadata are not stored, so
    /// not exported). Checked and audited like a query (action `export`). Returns the
    /// lines written.
    pub fn export_jsonl(
        &self,
        who: &Principal,
        query: &MetricQuery,
        mut out: impl std::io::Write,
    ) -> Result<usize, CollectorError> {
        let mut query = self.authorize(who, "export", query)?;
        query.aggregation = None;
        let mut lines = 0;
        for s in self.shared.db.select(&query.selector(), query.range)? {
            let s = s?;
            let dim = |k: &str| s.key.dimension(k).unwrap_or_default().to_string();
            let Some(source) = Source::parse(&dim("source")) else {
                continue;
            };
            let mut event =
                MetricEvent::new(source, dim("category"), s.key.name(), 0.0, dim("unit"));
            event.dimensions = s
                .key
                .dimensions()
                .iter()
                .filter(|(k, _)| !super::event::RESERVED_DIMENSIONS.contains(&k.as_str()))
                .cloned()
                .collect();
            for (ts, value) in s.iter() {
                event.timestamp = ts;
                event.value = value;
                writeln!(out, "{}", event.to_json())
                    .map_err(|e| CollectorError::io("export", "<writer>", e))?;
                lines += 1;
            }
        }
        Ok(lines)
    }

    /// The audit records matching `filter`, after verifying the log's checksum chain.
    /// Admins only; the read is itself audited (action `read_audit`).
    pub fn audit_records(
        &self,
        who: &Principal,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRecord>, CollectorError> {
        self.require_admin(who, "read_audit", &format!("{filter:?}"))?;
        self.shared.audit.records(filter)
    }

    /// Checks, audits and protects a query.
    fn authorize(
        &self,
        who: &Principal,
        action: &str,
        query: &MetricQuery,
    ) -> Result<MetricQuery, CollectorError> {
        let protected = self.shared.protect_query(query);
        let what = protected.to_string();
        let now = self.shared.clock.now();
        match self.shared.access.check(who, &protected) {
            Decision::Allowed(q) => {
                let narrowed = q.to_string();
                let note = (narrowed != what).then(|| format!("narrowed to {narrowed}"));
                self.shared
                    .audit
                    .append(now, who, action, &what, AuditDecision::Allowed, note)?;
                Ok(q)
            }
            Decision::Denied(reason) => {
                self.shared.audit.append(
                    now,
                    who,
                    action,
                    &what,
                    AuditDecision::Denied,
                    Some(reason.clone()),
                )?;
                Err(CollectorError::AccessDenied {
                    who: who.to_string(),
                    reason,
                })
            }
        }
    }

    fn require_admin(
        &self,
        who: &Principal,
        action: &str,
        what: &str,
    ) -> Result<(), CollectorError> {
        let now = self.shared.clock.now();
        if who.role == Role::Admin {
            self.shared
                .audit
                .append(now, who, action, what, AuditDecision::Allowed, None)?;
            Ok(())
        } else {
            let reason = format!("{action} needs the admin role");
            self.shared.audit.append(
                now,
                who,
                action,
                what,
                AuditDecision::Denied,
                Some(reason.clone()),
            )?;
            Err(CollectorError::AccessDenied {
                who: who.to_string(),
                reason,
            })
        }
    }

    /// Deletes every series and point keyed by this user (over all time), searching the
    /// privacy layer's user dimensions for the user's hashed id. Reads stop seeing the
    /// points at once; they leave the disk at the next compaction
    /// ([`Db::compact`](sedimentdb::Db::compact)). Without a privacy layer the id is matched
    /// as given.
    ///
    /// Admins only; audited (action `forget_user`, with the hashed id).
    pub fn forget_user(
        &self,
        who: &Principal,
        user_id: &str,
    ) -> Result<ForgetReport, CollectorError> {
        let (value, dims) = match &self.shared.privacy {
            Some(p) => (p.hash_identifier(user_id), p.user_dimensions().to_vec()),
            None => (user_id.to_string(), vec!["user_id".to_string()]),
        };
        self.require_admin(who, "forget_user", &format!("user {value}"))?;
        let mut report = ForgetReport::default();
        for dim in &dims {
            let selector = Selector::any().with(Matcher::eq(dim.clone(), value.clone()));
            let deleted = self.shared.db.delete_series(&selector, TimeRange::all())?;
            report.series += deleted.series;
            report.emptied += deleted.emptied;
        }
        // The cache maps raw identities (the user's raw id among them) to series.
        let mut st = self.shared.state.lock();
        st.cache.retain(|c| {
            !dims
                .iter()
                .any(|d| c.key.dimension(d) == Some(value.as_str()))
        });
        self.shared
            .counters
            .cached_series
            .store(st.cache.len() as u64, Ordering::Relaxed);
        drop(st);
        Ok(report)
    }

    /// Enforces retention per data class (see the privacy module): for each class with
    /// a limit, deletes its points older than `now - limit`. A no-op without a privacy
    /// layer.
    pub fn apply_retention(&self) -> Result<Vec<(Source, DeleteReport)>, CollectorError> {
        let Some(privacy) = &self.shared.privacy else {
            return Ok(Vec::new());
        };
        let now = self.shared.clock.now();
        let mut out = Vec::new();
        for (&source, &keep) in privacy.retention() {
            let cutoff = now.saturating_sub(duration_ns(keep));
            let selector = Selector::any().with(Matcher::eq("source", source.as_str()));
            let report = self
                .shared
                .db
                .delete_series(&selector, TimeRange::new(i64::MIN, cutoff))?;
            out.push((source, report));
        }
        Ok(out)
    }

    /// Counters since start.
    pub fn stats(&self) -> CollectorStats {
        self.shared.stats()
    }

    /// Waits until every event accepted so far is written (asynchronous mode); a no-op
    /// in synchronous mode, where `collect_metric` writes before returning.
    pub fn flush(&self) -> Result<(), CollectorError> {
        match &self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Health of the asynchronous mode: queue depth, delivered, dropped, failed, latency
    /// (`None` in synchronous mode). The writer also records these as `system` metrics
    /// of category `collector` (`collector_queue_depth`, `collector_dropped_total`, ...).
    pub fn queue_health(&self) -> Option<QueueHealth> {
        self.writer.as_ref().map(|w| w.health(&self.shared))
    }

    /// State of the asynchronous mode's circuit breaker.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.writer.as_ref().map(|w| w.breaker.state())
    }

    /// Stops the asynchronous writer after it has written everything accepted. Later
    /// `collect_metric` calls fail with [`CollectorError::Closed`]. Also done on drop.
    /// The `Db` stays open.
    pub fn shutdown(&self) -> Result<(), CollectorError> {
        match &self.writer {
            Some(w) => w.shutdown(),
            None => Ok(()),
        }
    }
}

impl Drop for UnifiedMetricsCollector {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
