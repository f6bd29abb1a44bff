//! What the engine tells a `tracing` subscriber: one event per open (with what recovery
//! replayed, cut and salvaged), flush, compaction, retention pass and deletion, with the
//! figures of its report as fields. Nothing here runs per point: these are the
//! maintenance operations, each taking milliseconds or more. Successes are `info`
//! (`debug` when there was nothing to do), repairs at open `warn`, failures `error`.
//! The target is `sedimentdb`, so `RUST_LOG=sedimentdb=info` (with an `EnvFilter`)
//! selects them.

use std::path::Path;

use crate::compaction::{CompactionReport, RetentionReport};
use crate::error::Result;

use super::delete::DeleteReport;
use super::flush::FlushReport;
use super::RecoveryReport;

/// The database at `path` opened (`read_only` for [`crate::Db::open_read_only`]).
pub(super) fn opened(path: &Path, read_only: bool, report: &RecoveryReport) {
    let path = path.display();
    tracing::info!(
        target: "sedimentdb",
        %path,
        read_only,
        wal_files = report.wal_files,
        wal_records = report.wal_records,
        replayed_points = report.replayed_points,
        "opened"
    );
    if let Some((file, offset)) = &report.truncated_tail {
        tracing::warn!(target: "sedimentdb", %path, file = %file.display(), offset, "recovery cut a torn WAL tail");
    }
    for (file, offset, reason) in &report.salvaged {
        tracing::warn!(target: "sedimentdb", %path, file = %file.display(), offset, reason = %reason, "recovery salvaged around damage");
    }
    if !report.orphans_removed.is_empty() {
        tracing::info!(target: "sedimentdb", %path, files = report.orphans_removed.len(), "recovery removed leftover files");
    }
}

/// A flush finished (or failed).
pub(super) fn flushed(result: &Result<FlushReport>) {
    match result {
        Ok(r) if r.points == 0 => tracing::debug!(target: "sedimentdb", "flush: nothing to flush"),
        Ok(r) => tracing::info!(
            target: "sedimentdb",
            points = r.points,
            segments = r.segments,
            bytes = r.bytes,
            secs = r.secs,
            "flushed"
        ),
        Err(e) => tracing::error!(target: "sedimentdb", error = %e, "flush failed"),
    }
}

/// A compaction (`what`: "compact" or "compact_partition") finished (or failed).
pub(super) fn compacted(what: &'static str, result: &Result<CompactionReport>) {
    match result {
        Ok(r) if r.partitions == 0 => {
            tracing::debug!(target: "sedimentdb", what, "compaction: nothing to compact")
        }
        Ok(r) => tracing::info!(
            target: "sedimentdb",
            what,
            partitions = r.partitions,
            input_segments = r.input_segments,
            input_bytes = r.input_bytes,
            output_segments = r.output_segments,
            output_bytes = r.output_bytes,
            points = r.points,
            skipped = r.skipped.len(),
            secs = r.secs,
            "compacted"
        ),
        Err(e) => tracing::error!(target: "sedimentdb", what, error = %e, "compaction failed"),
    }
    if let Ok(r) = result {
        for skipped in &r.skipped {
            tracing::warn!(target: "sedimentdb", what, skipped = ?skipped, "compaction left a damaged partition as it was");
        }
    }
}

/// A retention pass finished (or failed).
pub(super) fn retained(result: &Result<RetentionReport>) {
    match result {
        Ok(r) if r.segments == 0 && r.rule_series == 0 => {
            tracing::debug!(target: "sedimentdb", cutoff = r.cutoff, "retention: nothing to drop")
        }
        Ok(r) => tracing::info!(
            target: "sedimentdb",
            cutoff = r.cutoff,
            segments = r.segments,
            points = r.points,
            bytes = r.bytes,
            rule_series = r.rule_series,
            "retention dropped data"
        ),
        Err(e) => tracing::error!(target: "sedimentdb", error = %e, "retention failed"),
    }
}

/// A deletion finished (or failed).
pub(super) fn deleted(result: &Result<DeleteReport>) {
    match result {
        Ok(r) => tracing::info!(
            target: "sedimentdb",
            series = r.series,
            emptied = r.emptied,
            secs = r.secs,
            "deleted"
        ),
        Err(e) => tracing::error!(target: "sedimentdb", error = %e, "delete failed"),
    }
}
