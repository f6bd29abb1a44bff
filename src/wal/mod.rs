//! Write-ahead log: every write batch is appended here before it reaches the head, so
//! that a crash loses nothing that was acknowledged.
//!
//! - `record.rs`: file names, the file header and record framing (length, CRC, type,
//!   durable mark);
//!   the byte layout is in FORMAT.md ("WAL files").
//! - `entry.rs`: what a record says ([`WalEntry`]: new series, or a batch of points)
//!   and its compact encoding.
//! - `writer.rs`: [`Wal`], appends with group commit, rotation, and the handling of
//!   failed writes (cut back and seal) and failed fsyncs (poison).
//! - `reader.rs`: [`replay`], which reads the log back on open, truncates a torn tail
//!   and applies the [`crate::RecoveryMode`] to damage elsewhere.
//!
//! Order on open: `replay` first (it repairs the tail), then `Wal::open`, which starts a
//! new file rather than appending behind bytes it did not write.

mod entry;
mod reader;
mod record;
mod writer;

#[cfg(test)]
mod tests;

pub(crate) use entry::{encode_points, encode_series, PointColumns, WalEntry};
pub(crate) use reader::{replay, replay_read_only, RecordAt};
#[cfg(feature = "fuzzing")]
pub(crate) use record::file_name;
pub(crate) use record::parse_file_seq;
pub(crate) use writer::{Wal, WalOptions};
