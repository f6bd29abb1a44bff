//! The metrics-collection layer: one entry point through which a service records every
//! kind of metric, built only on the engine's public API ([`Db`](crate::Db),
//! [`WriteBatch`](crate::WriteBatch), [`Selector`](crate::Selector), ...).
//!
//! ```text
//!  MetricEvent ─▶ validate ─▶ sample ─▶ resolve series ─▶ dedup ─▶ WriteBatch ─▶ Db
//!                 (reasons)   (rate)    (enrich, cache)   (by id)       │
//!                                                                       └▶ router ─▶ real-time aggregator
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
//! | `dimensions`  | dimensions of the series (after enrichment, hashing, sanitising)  |
//! | `source`      | reserved dimension `source` (`system`, `user`, ...)               |
//! | `category`    | reserved dimension `category`                                     |
//! | `unit`        | reserved dimension `unit` (left out when empty)                   |
//! | sample rate   | reserved dimension `sample_rate` (only when below 1)              |
//! | `timestamp`   | the point's timestamp (UTC nanoseconds)                           |
//! | `value`       | the point's value                                                 |
//! | `id`          | not stored: used for de-duplication only                          |
//! | `metadata`    | not stored (the engine stores numbers); seen by in-process sinks  |
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
//! [`access`](AccessPolicy), [`audit`](AuditLog),
//! and [`UnifiedMetricsCollector`] tying them together.

mod access;
mod audit;
mod cache;
mod clock;
mod dedup;
mod enrich;
mod error;
mod event;
mod hash;
mod privacy;
mod query;
mod queue;
mod router;
mod sample;
mod unified;
mod validate;

pub use access::{Access, AccessPolicy, Decision, Principal, Role};
pub use audit::{AuditDecision, AuditFilter, AuditLog, AuditRecord};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dedup::{DedupConfig, Deduplicator};
pub use enrich::Enricher;
pub use error::CollectorError;
pub use event::{
    format_rfc3339, parse_rfc3339, rfc3339, BusinessMetric, LearningMetric, MetricEvent,
    PerformanceMetric, SecurityMetric, Source, SystemMetric, UserMetric,
};
pub use privacy::{is_hashed, Privacy, PrivacyConfig, SanitizeRule, HASH_PREFIX};
pub use query::{Aggregation, MetricQuery, QueryResult, ResultSeries};
pub use queue::{AsyncConfig, BreakerState, QueueHealth};
pub use router::{PointSink, RealtimeAggregator, Router, SeriesWindow, StoredPoint, WindowStats};
pub use sample::{BadRate, Sampler};
pub use unified::{BatchReport, CollectorConfig, CollectorStats, Outcome, UnifiedMetricsCollector};
pub use validate::{Rejection, Validator, ValidatorConfig};

/// Dimension keys the collector sets itself; events may not use them.
pub const RESERVED_DIMENSIONS: [&str; 4] = ["source", "category", "unit", "sample_rate"];
