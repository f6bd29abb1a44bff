//! Compaction and retention: pure plans (`plan`) and the worker that carries them out.
//!
//! A compaction merges all segments of one time partition into one, resolving overlaps
//! (the newer segment wins on equal timestamps) and re-encoding for the partition's tier:
//! warm partitions keep the flush encoding, cold ones get a higher zstd level and larger
//! chunks. Tombstones are applied while merging, and a partition whose segments hold
//! points a tombstone hides is rewritten even when already compacted. The result is
//! swapped in through the manifest; readers keep their snapshot, and the input files are
//! deleted once no snapshot uses them. A cold compaction also writes the partition's
//! rollups (see `rollup`), in the same manifest swap.

pub(crate) mod plan;
mod rollup;
mod worker;

pub(crate) use worker::{apply_retention, compact, compact_partition, retention_now, swap, Change};
pub use worker::{CompactionReport, RetentionReport, SkippedPartition, Tier};
