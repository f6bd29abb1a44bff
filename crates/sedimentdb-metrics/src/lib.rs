//! A [`metrics`] facade recorder that stores a service's metrics in sedimentdb: every
//! `counter!`, `gauge!` and `histogram!` of the service and of its libraries lands in the
//! database in one line.
//!
//! ```
//! use std::time::Duration;
//! use sedimentdb::{Db, Options, Query};
//! use sedimentdb_metrics::RecorderOptions;
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! // In a service: `let _metrics = sedimentdb_metrics::install(db.clone(), RecorderOptions::default())?;`
//! // Here, a recorder local to this thread (the global one can be set once per process).
//! let (recorder, handle) = sedimentdb_metrics::build(db.clone(), RecorderOptions::default().interval(Duration::from_secs(10)))?;
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::counter!("requests", "route" => "/api").increment(3);
//!     metrics::histogram!("latency_seconds").record(0.25);
//! });
//! handle.sample_now()?;
//! let result = db.query(&Query::metric("requests"))?;
//! assert_eq!(result.series[0].values, vec![3.0]);
//! assert_eq!(db.query(&Query::metric("latency_seconds_count"))?.series[0].values, vec![1.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is written, every [`interval`](RecorderOptions::interval) (default 10 s), at the
//! sample's wall-clock time:
//! - a counter: its running total, in the series of its name and labels;
//! - a gauge: its current value;
//! - a histogram `h`: `h_count` and `h_sum` (running totals, as a Prometheus summary),
//!   `h_min`, `h_max` and `h{quantile="0.5"}` ... over the interval's values, quantiles
//!   from a DDSketch with [1 % relative error](QUANTILE_RELATIVE_ERROR).
//!
//! Names and label keys are made valid for sedimentdb (other characters become `_`),
//! labels with an empty value are left out (empty means absent), and a unit given to
//! `describe_*!` before the first sample is the series' `unit` dimension.
//!
//! The service's hot path touches only atomics in the facade's own registry (no lock, no
//! database call, no allocation once a metric exists); the database is written from the
//! recorder's own thread, which never blocks the service and counts what it had to leave
//! out ([`RecorderStats`]). The recorder works under `metrics-util` layers (prefix,
//! filter, ...): wrap the recorder from [`build`] and install the result.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod handle;
mod histogram;
mod names;
mod options;
mod recorder;
mod sampler;

use std::sync::Arc;

pub use error::RecorderError;
pub use handle::{RecorderHandle, RecorderStats};
pub use options::RecorderOptions;
pub use recorder::{Description, SedimentRecorder};
pub use sampler::QUANTILE_RELATIVE_ERROR;

use sedimentdb::Db;

/// Builds a recorder writing to `db` and starts its sampling thread, without installing
/// it: for `metrics-util` layers, or [`metrics::with_local_recorder`] in tests.
pub fn build(
    db: Db,
    options: RecorderOptions,
) -> Result<(SedimentRecorder, RecorderHandle), RecorderError> {
    options.validate()?;
    let shared = Arc::new(recorder::Shared::new(options));
    let handle = RecorderHandle::start(shared.clone(), db)?;
    Ok((SedimentRecorder { shared }, handle))
}

/// Builds the recorder and makes it the process's global `metrics` recorder. Keep the
/// handle: dropping it stops the sampling (after a last sample).
pub fn install(db: Db, options: RecorderOptions) -> Result<RecorderHandle, RecorderError> {
    let (recorder, handle) = build(db, options)?;
    metrics::set_global_recorder(recorder).map_err(|_| RecorderError::AlreadyInstalled)?;
    Ok(handle)
}
