//! The metrics-collection layer: one entry point through which a service records every
//! kind of metric, built only on the engine's public API ([`Db`](sedimentdb::Db),
//! [`WriteBatch`](sedimentdb::WriteBatch), [`Selector`](sedimentdb::Selector), ...).
//!
//! ```text
//!  MetricEvent ─▶ validate ─▶ sample ─▶ resolve series ─▶ dedup ─▶ WriteBatch ─▶ Db
//!                 (reasons)   (rate)    (enrich, cache)   (by id)       │
//!                                                                       └▶ router ─▶ real-time aggregator
//! ```
//!
//! # Example: collect, alert, query
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use sedimentdb::{Db, Options};
//! use sedimentdb_collector::{
//!     Aggregation, Alert, AlertRule, CallbackSink, CollectorConfig, MetricQuery,
//!     PerformanceMetric, Principal, PrivacyConfig, Role, UnifiedMetricsCollector, UserMetric,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let fired: Arc<Mutex<Vec<Alert>>> = Arc::default();
//! let sink = fired.clone();
//! let collector = UnifiedMetricsCollector::new(
//!     Db::open(dir.path(), Options::default())?,
//!     CollectorConfig {
//!         // user_id and session_id are stored as keyed hashes, e-mails and tokens redacted.
//!         privacy: Some(PrivacyConfig::with_secret(std::env::var("METRICS_SECRET")
//!             .unwrap_or_else(|_| "dev-only secret, 16+ bytes".into()))?),
//!         alert_sinks: vec![Arc::new(CallbackSink(move |a: &Alert| sink.lock().unwrap().push(a.clone())))],
//!         ..CollectorConfig::default()
//!     },
//! )?;
//!
//! // Rules come from code or from a TOML/JSON file (see `alert::AlertRule`).
//! let rules = AlertRule::from_toml(r#"
//!     [[rule]]
//!     name = "slow_commands"
//!     metric = "command_execution_time"
//!     kind = "threshold"
//!     aggregate = "avg"
//!     op = ">"
//!     value = 500.0
//!     window = "5m"
//!     severity = "critical"
//!     group_by = ["command"]
//! "#)?;
//! for rule in rules {
//!     collector.alerts().add_rule(rule)?;
//! }
//!
//! // One event at a time, or many (>= 1 M/s through batch_collect).
//! collector.collect_metric(UserMetric::new("alice@example.com", "command_run", 1.0)
//!     .dimension("command", "user-prefs").build())?;
//! let events = (0..10)
//!     .map(|i| PerformanceMetric::new("user-prefs", "command_execution_time", 700.0 + i as f64, "ms", true)
//!         .dimension("command", "user-prefs").build())
//!     .collect();
//! collector.batch_collect(events)?;
//! // Or time a scope: recorded with success=true/false when `_t` drops.
//! { let _t = collector.time("command_execution_time", [("command", "analyze")]); }
//!
//! // The alert fired on ingest.
//! let alert = fired.lock().unwrap()[0].clone();
//! assert_eq!(alert.rule, "slow_commands");
//! assert_eq!(alert.labels["command"], "user-prefs");
//! println!("{}", serde_json::to_string(&alert)?);
//! // {"rule":"slow_commands","severity":"critical","state":"firing","labels":{"command":"user-prefs"},
//! //  "value":704.5,"message":"avg of command_execution_time over 300s is 704.5000 (> 500)", ...}
//!
//! // Queries are checked against the caller's role and written to the audit log.
//! let analyst = Principal::new("ana", Role::Analyst);
//! let p95 = MetricQuery::metric("command_execution_time")
//!     .aggregate(Aggregation::Quantile(0.95))
//!     .group_by(["command"]);
//! let result = collector.query_metrics(&analyst, &p95)?;
//! assert_eq!(result.series[1].labels["command"], "user-prefs");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How an event maps onto storage
//!
//! The engine stores `(timestamp, f64)` points in series named by a metric name and
//! `key=value` dimensions, and has no separate attribute store. So:
//!
//! | event field   | stored as                                                         |
//! |---------------|-------------------------------------------------------------------|
//! | `name`        | the series' metric name                                           |
//! | `dimensions`  | dimensions of the series (after enrichment, hashing, sanitising); in JSON a value may be a string, boolean or number, stored as its canonical string (`true`, `15.2`) |
//! | `source`      | reserved dimension `source` (`system`, `user`, ...)               |
//! | `category`    | reserved dimension `category`                                     |
//! | `unit`        | reserved dimension `unit` (left out when empty)                   |
//! | sample rate   | reserved dimension `sample_rate` (only when below 1)              |
//! | `timestamp`   | the point's timestamp (UTC nanoseconds)                           |
//! | `value`       | the point's value                                                 |
//! | `id`          | not stored: used for de-duplication only                          |
//! | `metadata`    | not stored (the engine stores numbers); seen by in-process sinks; at most `ValidatorConfig::max_metadata_bytes` (16 KiB) of JSON |
//!
//! Source, category and unit are attributes of the series, not of each point: they sit
//! once in the series catalog, cost nothing per point, and are indexed like any
//! dimension, which is what lets access control and retention select by source with a
//! bitmap. The consequence: they are part of the series identity, so an emitter that
//! changes a metric's unit starts a new series (visible in the `unit` dimension), as
//! Prometheus' unit-suffix convention would. The four reserved keys may not be used as
//! event dimensions.
//!
//! # Modules
//! One module per stage: [`event`](MetricEvent), [`validate`](Validator),
//! [`enrich`](Enricher), [`dedup`](Deduplicator), [`sample`](Sampler),
//! [`router`](Router), [`queue`](AsyncConfig) (asynchronous mode), [`privacy`](Privacy),
//! [`access`](AccessPolicy), [`audit`](AuditLog), [`migrate`] (import of the original files),
//! [`instrument`] (timing guard, `track_performance!`), [`SystemSampler`], [`alert`],
//! insights ([`Recommendation`]),
//! and [`UnifiedMetricsCollector`] tying them together.

mod access;
pub mod alert;
mod audit;
mod cache;
mod clock;
mod dedup;
mod enrich;
mod error;
mod event;
mod hash;
mod id;
mod insights;
pub mod instrument;
pub mod migrate;
mod pipeline;
mod privacy;
mod query;
mod queue;
mod report;
mod router;
mod sample;
mod sampler;
mod unified;
mod validate;

pub use access::{Access, AccessPolicy, Decision, Principal, Role};
pub use alert::{
    Alert, AlertEngine, AlertRule, AlertSink, AlertState, CallbackSink, JsonlSink, Severity,
};
pub use audit::{AuditDecision, AuditFilter, AuditLog, AuditRecord};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dedup::{DedupConfig, Deduplicator};
pub use enrich::Enricher;
pub use error::CollectorError;
pub use event::{
    format_rfc3339, parse_rfc3339, rfc3339, BusinessMetric, LearningMetric, MetricEvent,
    PerformanceMetric, SecurityMetric, Source, SystemMetric, UserMetric, RESERVED_DIMENSIONS,
};
pub use id::EventId;
pub use insights::{InsightArea, InsightConfig, Recommendation};
pub use instrument::TimingGuard;
pub use privacy::{is_hashed, Privacy, PrivacyConfig, SanitizeRule, HASH_PREFIX};
pub use query::{Aggregation, MetricQuery, QueryResult, ResultSeries};
pub use queue::{AsyncConfig, BreakerState, QueueHealth};
pub use report::{BatchReport, CollectorStats, ForgetReport, Outcome};
pub use router::{PointSink, RealtimeAggregator, Router, SeriesWindow, StoredPoint, WindowStats};
pub use sample::{BadRate, Sampler};
pub use sampler::SystemSampler;
pub use unified::{CollectorConfig, UnifiedMetricsCollector};
pub use validate::{Rejection, Validator, ValidatorConfig};
