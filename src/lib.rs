//! # sedimentdb
//!
//! An embedded time-series database engine. Points go to a write-ahead log and an
//! in-memory hot head, then settle into zstd-compressed columnar segment files indexed by
//! roaring bitmaps over their dimensions.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod batch;
mod db;
mod error;
mod options;
pub mod storage;
mod types;
pub(crate) mod head;
pub(crate) mod partition;

pub(crate) mod index;
pub(crate) mod query;
pub(crate) mod segment;
pub(crate) mod wal;

pub use batch::{SeriesHandle, WriteBatch, WriteReceipt};
pub use db::{Db, FlushReport, RecoveryReport, Stats};
pub use error::{Error, Result};
pub use query::select::{SelectIter, SeriesPoints};
pub use options::{Durability, Options, RecoveryMode};
pub use types::{
    KeyLimits, Matcher, Point, Selector, SeriesId, SeriesKey, TimeRange, Timestamp, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};
