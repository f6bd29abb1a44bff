//! Carries out compaction and retention plans: the I/O half.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::plan::{
    plan_compaction, plan_partition, plan_retention, CompactionPolicy, CompactionTask, TierTarget,
    LEVEL_COLD, LEVEL_WARM,
};
use crate::db::{DbInner, LiveSegment, Tombstones, Version};
use crate::error::{Error, Result};
use crate::partition::manifest::{ManifestBody, SegmentEntry};
use crate::partition::partition_of;
use crate::query::merge::merge_pieces;
use crate::segment::{Segment, SegmentWriter};
use crate::storage::write_atomic;

/// What [`crate::Db::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompactionReport {
    /// Partitions compacted.
    pub partitions: u64,
    /// Segment files merged.
    pub input_segments: u64,
    /// Bytes of those files.
    pub input_bytes: u64,
    /// Segment files written.
    pub output_segments: u64,
    /// Bytes of the files written.
    pub output_bytes: u64,
    /// Points written (after resolving duplicates).
    pub points: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

/// The newest timestamp in the database, if any (see `data_now`).
pub(crate) fn newest_timestamp(db: &DbInner) -> Option<i64> {
    data_now(&db.version.read())
}

/// What [`crate::Db::apply_retention`] removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Points older than this timestamp were due for removal.
    pub cutoff: i64,
    /// Segment files removed.
    pub segments: u64,
    /// Points in them.
    pub points: u64,
    /// Bytes freed.
    pub bytes: u64,
    /// Series whose older points per-series rules ([`crate::Options::retention_for`])
    /// deleted in this run.
    pub rule_series: u64,
}

/// The newest timestamp the database holds: "now" for tiering and retention, as in
/// Prometheus, so that backfilled or replayed historical data is tiered by its own age.
fn data_now(version: &Version) -> Option<i64> {
    let seg_max = version.segments.iter().map(|s| s.entry.max_ts).max();
    let head_max = std::iter::once(&version.live)
        .chain(version.frozen.iter())
        .filter_map(|h| h.time_bounds().map(|(_, hi)| hi))
        .max();
    seg_max.max(head_max)
}

fn policy(db: &DbInner, now: i64) -> CompactionPolicy {
    let o = &db.opts;
    CompactionPolicy {
        first_warm_partition: partition_of(
            now.saturating_sub(o.warm_duration),
            o.partition_duration,
        ),
        warm: TierTarget {
            level: LEVEL_WARM,
            zstd_level: o.warm_zstd_level,
            chunk_points: o.chunk_points,
        },
        cold: TierTarget {
            level: LEVEL_COLD,
            zstd_level: o.cold_zstd_level,
            chunk_points: o.cold_chunk_points,
        },
    }
}

/// Compacts every partition the plan selects, one at a time.
pub(crate) fn compact(db: &DbInner) -> Result<CompactionReport> {
    let started = Instant::now();
    let tasks = {
        let _guard = db.flush_lock.lock();
        db.check_open()?;
        let version = db.version.read().clone();
        let Some(now) = data_now(&version) else {
            return Ok(CompactionReport::default());
        };
        plan_compaction(&db.manifest.lock().segments, &policy(db, now))
    };
    let mut report = CompactionReport::default();
    for task in tasks {
        run_task(db, &task, &mut report)?;
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Which tier [`crate::Db::compact_partition`] encodes a partition for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    /// One segment with the flush encoding (fast to read).
    Warm,
    /// One dense segment: higher zstd level, larger chunks.
    Cold,
}

/// Compacts the partition holding `ts` into one segment of `tier`.
pub(crate) fn compact_partition(db: &DbInner, ts: i64, tier: Tier) -> Result<CompactionReport> {
    let started = Instant::now();
    let partition = partition_of(ts, db.opts.partition_duration);
    let task = {
        let _guard = db.flush_lock.lock();
        db.check_open()?;
        let p = policy(db, ts);
        let target = match tier {
            Tier::Warm => p.warm,
            Tier::Cold => p.cold,
        };
        plan_partition(&db.manifest.lock().segments, partition, target)
    };
    let mut report = CompactionReport::default();
    if let Some(task) = task {
        run_task(db, &task, &mut report)?;
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

fn run_task(db: &DbInner, task: &CompactionTask, report: &mut CompactionReport) -> Result<()> {
    // Reserve the output id under the flush lock: any segment flushed later gets a larger
    // id and so still wins over the merged data on equal timestamps. Every segment of the
    // partition live now is an input, not only those the plan saw: one flushed since the
    // plan holds newer writes than the inputs, and the output, with its larger id, would
    // win over it on equal timestamps and bring overwritten values back.
    let (inputs, output_id) = {
        let _guard = db.flush_lock.lock();
        db.check_open()?;
        let version = db.version.read().clone();
        let inputs: Vec<Arc<LiveSegment>> = version
            .segments
            .iter()
            .filter(|s| s.entry.partition == task.partition)
            .cloned()
            .collect();
        let planned_live = task
            .inputs
            .iter()
            .all(|id| inputs.iter().any(|s| s.entry.id == *id));
        if !planned_live {
            return Ok(()); // Retention or another compaction got there first.
        }
        let mut manifest = db.manifest.lock();
        let id = manifest.next_segment_id;
        manifest.next_segment_id += 1;
        (inputs, id)
    };
    let input_ids: Vec<u64> = inputs.iter().map(|s| s.entry.id).collect();
    let fs = &*db.opts.file_system;
    let path = db.layout.segment_file(output_id);
    let summary = match write_merged(db, &inputs, &path, task.target) {
        Ok(summary) => summary,
        Err(e) => {
            let _ = fs.remove(&path);
            return Err(e);
        }
    };

    let _guard = db.flush_lock.lock();
    let mut manifest = db.manifest.lock().clone();
    let still_live = input_ids
        .iter()
        .all(|id| manifest.segments.iter().any(|s| s.id == *id));
    if !still_live || db.check_open().is_err() {
        let _ = fs.remove(&path);
        return Ok(());
    }
    let Some(summary) = summary else {
        // Every input was empty: just drop them.
        swap(db, &mut manifest, &input_ids, None)?;
        return Ok(());
    };
    fs.sync_dir(&db.layout.segments)
        .map_err(|e| Error::io("fsync", &db.layout.segments, e))?;
    let entry = SegmentEntry {
        id: output_id,
        partition: task.partition,
        level: task.target.level,
        min_ts: summary.min_ts,
        max_ts: summary.max_ts,
        points: summary.points,
        series: summary.series,
        bytes: summary.bytes,
    };
    let segment = Segment::open(fs, &path, db.opts.read_mode)?;
    let live = Arc::new(LiveSegment::new(entry.clone(), segment));
    swap(db, &mut manifest, &input_ids, Some((entry, live)))?;
    report.partitions += 1;
    report.input_segments += inputs.len() as u64;
    report.input_bytes += inputs.iter().map(|s| s.entry.bytes).sum::<u64>();
    report.output_segments += 1;
    report.output_bytes += summary.bytes;
    report.points += summary.points;
    Ok(())
}

/// Writes the merge of `inputs` (ascending id: later wins) to `path`. `None` when the
/// inputs hold no point.
fn write_merged(
    db: &DbInner,
    inputs: &[Arc<LiveSegment>],
    path: &std::path::Path,
    target: TierTarget,
) -> Result<Option<crate::segment::writer::SegmentSummary>> {
    let series: BTreeSet<u32> = inputs
        .iter()
        .flat_map(|s| s.segment.chunks().iter().map(|c| c.series))
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let mut writer = SegmentWriter::create(
        &*db.opts.file_system,
        path,
        target.zstd_level,
        target.chunk_points,
    )?
    .with_io_limit(db.opts.compaction_io_limit);
    let mut pieces: Vec<(Vec<i64>, Vec<f64>)> = Vec::with_capacity(inputs.len());
    let (mut ts, mut vals) = (Vec::new(), Vec::new());
    let partition = inputs.first().map_or(0, |s| s.entry.partition);
    let tombstones = db.version.read().tombstones.clone();
    for id in series {
        pieces.clear();
        for input in inputs {
            let (mut t, mut v) = (Vec::new(), Vec::new());
            for chunk in input.segment.series_chunks(id) {
                input.segment.decode_chunk(chunk, &mut t, &mut v)?;
            }
            tombstones.apply(id, input.entry.id, &mut t, &mut v);
            if !t.is_empty() {
                pieces.push((t, v));
            }
        }
        ts.clear();
        vals.clear();
        merge_pieces(&pieces, &mut ts, &mut vals);
        if !ts.is_empty() {
            writer.add_series(id, &ts, &vals)?;
        }
    }
    if writer.points() == 0 {
        // Tombstones removed everything: no segment at all.
        drop(writer);
        let _ = db.opts.file_system.remove(path);
        return Ok(None);
    }
    writer.finish(partition, target.level).map(Some)
}

/// Replaces `remove` by `add` in the manifest (durably) and in the live version, and
/// marks the removed segments for deletion. Caller holds the flush lock.
fn swap(
    db: &DbInner,
    manifest: &mut ManifestBody,
    remove: &[u64],
    add: Option<(SegmentEntry, Arc<LiveSegment>)>,
) -> Result<()> {
    manifest.generation += 1;
    manifest.segments.retain(|s| !remove.contains(&s.id));
    if let Some((entry, _)) = &add {
        manifest.segments.push(entry.clone());
        manifest.segments.sort_by_key(|s| s.id);
    }
    // Compaction applied the tombstones to what it merged and retention dropped whole
    // segments: tombstones that cover no live segment any more can go.
    let mut tombstones = Tombstones::from_entries(&manifest.tombstones);
    tombstones.prune(&manifest.segments);
    manifest.tombstones = tombstones.to_entries();
    write_atomic(
        &*db.opts.file_system,
        &db.layout.manifest,
        &manifest.encode(),
    )?;
    *db.manifest.lock() = manifest.clone();
    let mut slot = db.version.write();
    let old = slot.clone();
    let mut segments: Vec<Arc<LiveSegment>> = Vec::with_capacity(old.segments.len() + 1);
    for s in &old.segments {
        if remove.contains(&s.entry.id) {
            s.mark_obsolete(
                db.opts.file_system.clone(),
                db.layout.segment_file(s.entry.id),
            );
        } else {
            segments.push(s.clone());
        }
    }
    if let Some((_, live)) = add {
        segments.push(live);
        segments.sort_by_key(|s| s.entry.id);
    }
    *slot = Arc::new(Version {
        live: old.live.clone(),
        frozen: old.frozen.clone(),
        segments,
        tombstones: Arc::new(tombstones),
    });
    Ok(())
}

/// Drops segments whose points are all older than the retention period, measured back
/// from the newest point in the database.
pub(crate) fn apply_retention(db: &DbInner, retention: i64) -> Result<RetentionReport> {
    let _guard = db.flush_lock.lock();
    db.check_open()?;
    let version = db.version.read().clone();
    let Some(now) = data_now(&version) else {
        return Ok(RetentionReport::default());
    };
    let cutoff = now.saturating_sub(retention);
    let mut manifest = db.manifest.lock().clone();
    let doomed = plan_retention(&manifest.segments, cutoff);
    let mut report = RetentionReport {
        cutoff,
        ..RetentionReport::default()
    };
    if doomed.is_empty() {
        return Ok(report);
    }
    for s in manifest.segments.iter().filter(|s| doomed.contains(&s.id)) {
        report.segments += 1;
        report.points += s.points;
        report.bytes += s.bytes;
    }
    drop(version);
    swap(db, &mut manifest, &doomed, None)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, Options, Selector, SeriesKey, TimeRange, WriteBatch};

    /// Found by tests/stress.rs: a segment flushed between the plan and the run of a task
    /// was left out of the merge, and the merged segment's larger id made the older
    /// values it holds win over that segment's rewrites of the same timestamps.
    #[test]
    fn a_segment_flushed_after_the_plan_keeps_its_newer_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let key = SeriesKey::new("m");
        let write_and_flush = |ts: i64, v: f64| {
            let mut batch = WriteBatch::new();
            batch.push_key(&key, ts, v);
            db.write(&batch).unwrap();
            db.flush().unwrap();
        };
        write_and_flush(1_000, 1.0);
        write_and_flush(2_000, 2.0);
        let tasks = {
            let version = db.inner.version.read().clone();
            let now = data_now(&version).unwrap();
            plan_compaction(&db.inner.manifest.lock().segments, &policy(&db.inner, now))
        };
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].inputs.len(), 2);

        // Rewritten after the plan, flushed into a third segment of the partition.
        write_and_flush(1_000, 10.0);
        let mut report = CompactionReport::default();
        run_task(&db.inner, &tasks[0], &mut report).unwrap();

        let series: Vec<_> = db
            .select(&Selector::metric("m"), TimeRange::all())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(series[0].timestamps, vec![1_000, 2_000]);
        assert_eq!(series[0].values, vec![10.0, 2.0]);
        // The late segment was merged too: the partition is one segment.
        assert_eq!(report.input_segments, 3);
        assert_eq!(db.stats().segments, 1);
        db.close().unwrap();
    }

    /// A late rewrite flushed into a segment of old points must not be dropped by
    /// retention while the partition's older segment, which holds the value it replaced,
    /// stays for its newer points.
    #[test]
    fn retention_never_brings_back_an_overwritten_value() {
        const S: i64 = 1_000_000_000;
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default()
            .partition_duration(std::time::Duration::from_secs(1000))
            .retention(std::time::Duration::from_secs(1000));
        let db = Db::open(dir.path(), opts).unwrap();
        let key = SeriesKey::new("m");
        let write_and_flush = |points: &[(i64, f64)]| {
            let mut batch = WriteBatch::new();
            for &(ts, v) in points {
                batch.push_key(&key, ts, v);
            }
            db.write(&batch).unwrap();
            db.flush().unwrap();
        };
        // Partition 0: a segment ending at 990 s, then a rewrite of 100 s alone.
        write_and_flush(&[(100 * S, 1.0), (990 * S, 2.0)]);
        write_and_flush(&[(100 * S, 10.0)]);
        // The newest point puts the cutoff at 950 s, between the two segments' ends.
        write_and_flush(&[(1950 * S, 3.0)]);
        db.apply_retention().unwrap();
        let series: Vec<_> = db
            .select(&Selector::metric("m"), TimeRange::new(0, 1000 * S))
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let at_100: Vec<f64> = series
            .iter()
            .flat_map(|s| s.iter())
            .filter(|&(t, _)| t == 100 * S)
            .map(|(_, v)| v)
            .collect();
        assert!(
            at_100.is_empty() || at_100 == [10.0],
            "overwritten value back: {at_100:?}"
        );
        db.close().unwrap();
    }
}
