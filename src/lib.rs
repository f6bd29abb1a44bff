//! sedimentdb: an embedded time-series database engine.
//!
//! Points go to a write-ahead log and an in-memory hot head, then settle into
//! zstd-compressed columnar segment files with roaring-bitmap dimension indexes, move
//! from warm to cold time partitions and leave under retention. A service links the
//! engine, writes points through [`Db::write`] and asks typed questions with [`Query`]
//! and the [`analytics`]. The on-disk formats are described byte by byte in
//! `FORMAT.md`; the README (whose examples are doc-tested in the `sedimentdb-bench`
//! crate) walks through queries, tiers, retention and durability.
//!
//! ```
//! use sedimentdb::{Db, Matcher, Options, Selector, SeriesKey, TimeRange, WriteBatch};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;          // Durability::Sync by default
//!
//! // Resolve a series once; writing through the handle costs no hashing per point.
//! let cpu = db.series(&SeriesKey::new("cpu_usage").with("host", "h1").with("region", "eu"))?;
//! let mut batch = WriteBatch::with_capacity(1024);
//! for i in 0..360 {
//!     batch.push(cpu, 1_700_000_000_000_000_000 + i * 10_000_000_000, 40.0 + (i % 7) as f64);
//! }
//! let receipt = db.write(&batch)?;                             // atomic: all or nothing
//! assert!(receipt.durable);
//!
//! db.flush()?;                                                 // head -> segment files
//! let eu = Selector::metric("cpu_usage").with(Matcher::eq("region", "eu"));
//! for series in db.select(&eu, TimeRange::all())? {
//!     let series = series?;
//!     assert_eq!(series.len(), 360);
//! }
//! db.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod analytics;
mod batch;
mod compaction;
mod db;
mod error;
pub(crate) mod format;
pub(crate) mod head;
mod options;
mod points;
mod selector_text;
pub mod storage;
mod types;
pub(crate) mod version;

pub(crate) mod index;
pub mod query;
pub(crate) mod segment;
pub(crate) mod wal;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
/// Entry points for the fuzz targets under `fuzz/` (feature `fuzzing`); not part of the
/// public API.
pub mod __fuzz {
    pub use crate::fuzz_entry::{catalog, manifest, query, rollup, segment, wal_replay};
    pub use crate::segment::encoding::fuzz_entry::codecs;
}
#[cfg(feature = "fuzzing")]
mod fuzz_entry;

pub use batch::{SeriesHandle, WriteBatch, WriteReceipt};
pub use compaction::{CompactionReport, RetentionReport, SkippedPartition, Tier};
pub use db::{
    Db, DeleteReport, FlushReport, MaintenanceStatus, PartitionStats, QuarantineReport,
    RecoveryReport, RefreshReport, SegmentDamage, SkippedPoints, Stats, VerifyReport,
};
pub use error::{Error, Result};
pub use options::{
    DamagedSegments, Durability, Maintenance, Options, RecoveryMode, RetentionClock, RollupPolicy,
    MAX_ROLLUP_BUCKETS,
};
pub use query::select::{SelectIter, SeriesPoints};
pub use query::{Aggregate, Query, QueryResult};
pub use types::timestamp;
pub use types::{
    KeyLimits, Matcher, Point, Selector, SeriesId, SeriesKey, TimeRange, Timestamp, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};
