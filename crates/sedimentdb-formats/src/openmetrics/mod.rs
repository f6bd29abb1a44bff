//! OpenMetrics and Prometheus text exposition.
//!
//! `name{label="value",...} value [timestamp]`, with `# TYPE`, `# HELP` and `# UNIT`
//! lines describing a metric family and `# EOF` ending the exposition. Every sample is
//! one point of the series named by the sample name (so a counter's `_total`, a
//! histogram's `_bucket{le=..}`, `_sum` and `_count` are series of their own, as in
//! Prometheus). Timestamps are decimal seconds (OpenMetrics); the Prometheus 0.0.4 text
//! format's integer milliseconds are read with precision `ms`. A sample without a
//! timestamp gets the reader's `now`. Exemplars (` # {...} v`) are ignored.
//!
//! The engine keeps series attributes as reserved dimensions (the collector's `unit`,
//! `source`, `category`): a family's `# UNIT` becomes the dimension `unit` of its series
//! (unless a sample has a `unit` label). `# TYPE` and `# HELP` have no place in the
//! engine; the reader keeps them in [`OpenMetricsReader::families`] for the caller to
//! report. The writer writes `# TYPE name unknown` per family and `unit` as a label.
//!
//! Metric and label names are read leniently: besides `[A-Za-z0-9_:]` they may hold the
//! `.` and `-` that sedimentdb names allow, so every stored series can be written and
//! read back.

mod read;
mod write;

pub use read::{Family, OpenMetricsReader};
pub use write::OpenMetricsWriter;
