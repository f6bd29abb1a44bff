// The crate documentation is the README, so its example is compiled and run as a doctest.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod analytics;
mod batch;
pub mod collector;
mod compaction;
mod db;
mod error;
pub(crate) mod head;
mod options;
mod points;
pub mod storage;
mod types;
pub(crate) mod version;

pub(crate) mod index;
pub mod query;
pub(crate) mod segment;
pub(crate) mod wal;

#[doc(hidden)]
/// Entry points for the fuzz targets under `fuzz/`; not part of the public API.
pub mod __fuzz {
    pub use crate::fuzz_entry::{catalog, manifest, query, rollup, segment, wal_replay};
    pub use crate::segment::encoding::fuzz_entry::codecs;
}
mod fuzz_entry;

pub use batch::{SeriesHandle, WriteBatch, WriteReceipt};
pub use compaction::{CompactionReport, RetentionReport, SkippedPartition, Tier};
pub use db::{
    Db, DeleteReport, FlushReport, MaintenanceStatus, PartitionStats, QuarantineReport,
    RecoveryReport, SegmentDamage, Stats, VerifyReport,
};
pub use error::{Error, Result};
pub use options::{
    DamagedSegments, Durability, Maintenance, Options, RecoveryMode, RollupPolicy,
    MAX_ROLLUP_BUCKETS,
};
pub use query::select::{SelectIter, SeriesPoints};
pub use query::{Aggregate, Query, QueryResult};
pub use types::{
    KeyLimits, Matcher, Point, Selector, SeriesId, SeriesKey, TimeRange, Timestamp, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};
