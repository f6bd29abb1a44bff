//! Reports and dashboard data over sedimentdb databases.
//!
//! A [`Reporter`] computes a [`Report`] — per metric the headline figures (current,
//! min/avg/p50/p99/max, change against the previous period), the timeline with its
//! trend, verdict and forecast band, anomalies with when and how unusual, the most
//! telling dimension and the values behind the change — plus the alerts of the period
//! and recommendations. The [`render`] module turns a report into text, Markdown, JSON
//! or one self-contained HTML file with inline SVG charts. The terminal dashboard of
//! the `sediment` command reads [`DashboardData`], built by the same code.
//!
//! # JSON schema `sedimentdb-report/1`
//!
//! `sediment report --format json` writes a [`Report`] with serde: the field names and
//! meanings are the rustdoc of [`model`]. Timestamps are RFC 3339 strings (UTC),
//! durations seconds, missing figures `null`. The `schema` field names the version; a
//! field is only removed or changes meaning with a new version. Outline:
//!
//! ```text
//! { "schema": "sedimentdb-report/1", "title", "report_type", "selector",
//!   "period": { "start", "end", "previous_start", "step_seconds" },
//!   "summary": { "metrics", "series", "points", "degrading", "improving", "anomalies",
//!                "firing_alerts", "fired_alerts" },
//!   "metrics": [ { "name", "unit", "source", "category", "series", "bad_direction",
//!       "headline": { "points", "current", "min", "avg", "p50", "p99", "max",
//!                     "previous_avg", "change", "change_ratio" },
//!       "timeline": [ { "ts", "value" } ],
//!       "trend": { "verdict", "slope_per_sec", "slope_per_day", "r_squared",
//!                  "fitted_start", "fitted_end",
//!                  "forecast": { "ts", "value", "lower", "upper", "confidence" },
//!                  "band": [ { "ts", "value", "lower", "upper" } ] },
//!       "anomalies": [ { "ts", "series", "value", "expected", "score" } ],
//!       "anomalies_total",
//!       "breakdown": { "dimension", "values": [ { "label", "value", "count",
//!                      "share_of_total", "ratio", "score" } ] },
//!       "drivers": [ { "label", "previous", "current", "delta", "share_of_delta" } ] } ],
//!   "alerts": [ { "rule", "severity", "metric", "labels", "state", "fired", "since",
//!                 "value", "message", "origin" } ],
//!   "recommendations": [ { "area", "text", "impact", "evidence", "origin" } ] }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
//! use sedimentdb_report::{render, Reporter, ReportSpec, ReportType};
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! let minute = 60_000_000_000i64;
//! let mut batch = WriteBatch::new();
//! for i in 0..240 {
//!     batch.push_key(&SeriesKey::new("queue_depth").with("queue", "ingest"), i * minute, (i % 10) as f64);
//! }
//! db.write(&batch)?;
//! let spec = ReportSpec::new(ReportType::All).last(Duration::from_secs(7200)).now(240 * minute);
//! let report = Reporter::new(db)?.report(&spec)?;
//! let json = render::json(&report)?;
//! assert!(json.contains("\"schema\": \"sedimentdb-report/1\""));
//! let html = render::html(&report)?;
//! assert_eq!(html.matches("class=\"chart timeline\"").count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod alerts;
mod build;
pub mod dashboard;
mod direction;
mod error;
pub mod figures;
pub mod model;
pub mod render;
pub mod sample_data;
mod select;
mod spec;

pub use build::{scope_query, Reporter};
pub use dashboard::{DashboardData, DashboardSpec, Layout, PanelSpec};
pub use direction::bad_direction;
pub use error::{ReportError, Result};
pub use model::{Report, REPORT_SCHEMA};
pub use select::{group_metrics, MetricInfo, ALERT_METRIC};
pub use spec::{step_for, PeriodSpec, ReportSpec, ReportType};
