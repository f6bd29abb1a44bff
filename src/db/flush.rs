//! Flush: freeze the live head, write it to segment files (one per time partition),
//! record them in the manifest, then drop the WAL files they make redundant.
//!
//! Crash safety rests on the order: segment files are fsynced (and their directory)
//! before the manifest names them; the manifest is swapped atomically; WAL files are
//! removed only after the manifest that covers them is durable. A crash before the swap
//! leaves unlisted segment files, which the next open removes as orphans.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::DbInner;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::segment::{Segment, SegmentWriter};
use crate::storage::write_atomic;
use crate::version::manifest::SegmentEntry;
use crate::version::partition::{partition_of, LEVEL_FLUSH};
use crate::version::{Edit, LiveSegment, Version};

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlushReport {
    /// Points written to segments.
    pub points: u64,
    /// Segment files written.
    pub segments: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

/// Flushes unconditionally.
pub(crate) fn flush(db: &DbInner) -> Result<FlushReport> {
    flush_if(db, |_| true)
}

/// Flushes if `needed` still holds once the commit lock is held (another thread may
/// have flushed meanwhile).
pub(crate) fn flush_if(db: &DbInner, needed: impl Fn(&Version) -> bool) -> Result<FlushReport> {
    let result = flush_if_untraced(db, needed);
    super::telemetry::flushed(&result);
    result
}

fn flush_if_untraced(db: &DbInner, needed: impl Fn(&Version) -> bool) -> Result<FlushReport> {
    let versions = &db.versions;
    let lock = versions.lock();
    db.check_open()?;
    if !needed(&versions.read()) {
        return Ok(FlushReport::default());
    }
    let started = Instant::now();
    // Rotate the WAL and freeze the live head in one step under the WAL append lock: every
    // record in files before `checkpoint` is in a frozen head, none after it is.
    let (checkpoint, frozen) = db
        .wal("flush")?
        .rotate_with(|| versions.freeze_live(&lock))?;

    let layout = versions.layout();
    let first_id = versions.next_id(&lock);
    let mut next_id = first_id;
    let written = write_heads(db, &frozen, &mut next_id);
    // Ids handed out are never handed out again, even if this flush fails.
    versions.reserve_until(&lock, next_id);
    let written = match written {
        Ok(written) => written,
        Err(e) => {
            // Best effort: files left behind are orphans the next open removes anyway.
            for id in first_id..next_id {
                let _ = db.opts.file_system.remove(&layout.segment_file(id));
            }
            return Err(e);
        }
    };
    let fs = &*db.opts.file_system;
    if !written.is_empty() {
        fs.sync_dir(&layout.segments)
            .map_err(|e| Error::io("fsync", &layout.segments, e))?;
    }

    // The catalog must cover every series named in the WAL files being retired.
    let manifest = versions.manifest();
    let old_catalog_seq = manifest.catalog_seq;
    let series_now = db.catalog.len() as u64;
    let mut catalog = None;
    if series_now != manifest.catalog_series || manifest.catalog_seq == 0 {
        let seq = manifest.catalog_seq + 1;
        let path = layout.catalog_file(seq);
        write_atomic(fs, &path, &db.catalog.encode())?;
        catalog = Some((seq, series_now));
    }

    // Open the new segments before the manifest names them, so a failure here leaves
    // nothing half-published.
    let mut opened = Vec::with_capacity(written.len());
    for entry in &written {
        let path = layout.segment_file(entry.id);
        let segment = Segment::open(fs, &path, db.opts.read_mode)?;
        opened.push((
            entry.clone(),
            Arc::new(LiveSegment::new(entry.clone(), segment)),
        ));
    }

    // The frozen heads leave the version as their segments enter it.
    versions.commit(
        &lock,
        Edit {
            add_segments: opened,
            wal_checkpoint: Some(checkpoint),
            catalog,
            // Series written since they were deleted are visible again; persist that
            // with the segments that hold their new points.
            hidden_series: Some(db.hidden.read().iter().collect()),
            retire_frozen: frozen,
            ..Edit::default()
        },
    )?;

    db.wal("flush")?.remove_before(checkpoint)?;
    if old_catalog_seq != 0 && catalog.is_some() {
        let _ = fs.remove(&layout.catalog_file(old_catalog_seq));
    }
    Ok(FlushReport {
        points: written.iter().map(|e| e.points).sum(),
        segments: written.len() as u64,
        bytes: written.iter().map(|e| e.bytes).sum(),
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Writes the union of `heads` (oldest first) as one segment per partition.
fn write_heads(db: &DbInner, heads: &[Arc<Head>], next_id: &mut u64) -> Result<Vec<SegmentEntry>> {
    let fs = &*db.opts.file_system;
    let part_len = db.opts.partition_duration;
    let mut writers: BTreeMap<i64, (u64, SegmentWriter)> = BTreeMap::new();
    let mut error: Option<Error> = None;
    let mut merged_ts = Vec::new();
    let mut merged_vals = Vec::new();
    let mut visit = |id: u32, ts: &[i64], vals: &[f64]| -> Result<()> {
        let mut start = 0;
        while start < ts.len() {
            let part = partition_of(ts[start], part_len);
            let end = start + ts[start..].partition_point(|&t| partition_of(t, part_len) == part);
            let writer = match writers.get_mut(&part) {
                Some((_, w)) => w,
                None => {
                    let seg_id = *next_id;
                    *next_id += 1;
                    let path = db.versions.layout().segment_file(seg_id);
                    let w = SegmentWriter::create(
                        fs,
                        &path,
                        db.opts.warm_zstd_level,
                        db.opts.chunk_points,
                    )?;
                    &mut writers.entry(part).or_insert((seg_id, w)).1
                }
            };
            writer.add_series(id, &ts[start..end], &vals[start..end])?;
            start = end;
        }
        Ok(())
    };
    if heads.len() == 1 {
        heads[0].for_each_series(|id, ts, vals| {
            if error.is_none() {
                if let Err(e) = visit(id, ts, vals) {
                    error = Some(e);
                }
            }
        });
    } else {
        // Several frozen heads (an earlier flush failed): merge them series by series,
        // newer heads winning on equal timestamps.
        let mut ids = std::collections::BTreeSet::new();
        for h in heads {
            h.for_each_series(|id, _, _| {
                ids.insert(id);
            });
        }
        for id in ids {
            merged_ts.clear();
            merged_vals.clear();
            let mut pieces = Vec::new();
            for h in heads {
                let (mut t, mut v) = (Vec::new(), Vec::new());
                h.read_series(id, crate::types::TimeRange::all(), &mut t, &mut v);
                pieces.push((t, v));
            }
            crate::points::merge_pieces(&pieces, &mut merged_ts, &mut merged_vals);
            if let Err(e) = visit(id, &merged_ts, &merged_vals) {
                error = Some(e);
                break;
            }
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    let mut written = Vec::with_capacity(writers.len());
    for (part, (id, writer)) in writers {
        let summary = writer.finish(part, LEVEL_FLUSH)?;
        written.push(SegmentEntry {
            id,
            partition: part,
            level: LEVEL_FLUSH,
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
            points: summary.points,
            series: summary.series,
            bytes: summary.bytes,
        });
    }
    Ok(written)
}
