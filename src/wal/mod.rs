//! Write-ahead log: every write batch is appended here before it reaches the head, so
//! that a crash loses nothing that was acknowledged.
//!
//! - `record.rs`: file names, the file header and record framing (length, CRC, type);
//!   the byte layout is documented there.
//! - `entry.rs`: what a record says ([`WalEntry`]: new series, or a batch of points)
//!   and its compact encoding.
//! - `writer.rs`: [`Wal`], appends with group commit, rotation, and the handling of
//!   failed writes (cut back and seal) and failed fsyncs (poison).
//! - `reader.rs`: [`replay`], which reads the log back on open, truncates a torn tail
//!   and applies the [`crate::RecoveryMode`] to damage elsewhere.
//!
//! Order on open: `replay` first (it repairs the tail), then `Wal::open`, which starts a
//! new file rather than appending behind bytes it did not write.
// Until the database (src/db) wires the WAL in, only the tests use much of it.
#![cfg_attr(not(test), allow(dead_code))]

mod entry;
mod reader;
mod record;
mod writer;

#[cfg(test)]
mod tests;

// The interface the database uses; until it does, these re-exports look unused.
#[allow(unused_imports)]
pub(crate) use entry::{
    decode_entry, encode_entry, encode_points, encode_series, PointColumns, RecordType, WalEntry,
};
#[allow(unused_imports)]
pub(crate) use reader::{list_files, replay, ReplayReport};
#[allow(unused_imports)]
pub(crate) use record::{file_name, parse_file_seq, MAX_RECORD_LEN};
#[allow(unused_imports)]
pub(crate) use writer::{Wal, WalOptions};
