//! Carries out compaction and retention plans: the I/O half.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::plan::{
    plan_compaction, plan_partition, plan_retention, CompactionPolicy, CompactionTask, TierTarget,
};
use super::rollup::{plan_rollup_retention, raw_droppable, Coverage};
use super::Context;
use crate::error::{Error, Result};
use crate::options::{Options, RetentionClock};
use crate::points::merge_pieces;
use crate::segment::rollup::{merge_buckets, summarise, Rollup, RollupBucket, RollupWriter};
use crate::segment::writer::{encode_series, EncodedSeries};
use crate::segment::{Segment, SegmentWriter};
use crate::types::wall_clock_ns;
use crate::version::manifest::{RollupEntry, SegmentEntry};
use crate::version::partition::{partition_of, LEVEL_COLD, LEVEL_WARM};
use crate::version::{
    Edit, LiveRollup, LiveSegment, TombstoneEdit, Tombstones, Version, VersionSet,
};

/// What [`crate::Db::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Partitions left as they were because one of their segments turned out damaged
    /// while being merged; the other partitions were compacted all the same.
    pub skipped: Vec<SkippedPartition>,
    /// Rollup files written (see [`crate::Options::rollup`]).
    pub rollup_files: u64,
    /// Bytes of those files.
    pub rollup_bytes: u64,
    /// Rollup buckets in them.
    pub rollup_buckets: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

/// A partition [`crate::Db::compact`] skipped: one of its segments failed a check while
/// being merged. Its segments stay as they were (the undamaged chunks stay readable);
/// [`crate::Db::quarantine_segment`] sets the damaged file aside, after which the rest of
/// the partition compacts again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkippedPartition {
    /// First timestamp of the partition.
    pub partition_start: i64,
    /// The damaged segment file.
    pub file: std::path::PathBuf,
    /// Where in it the damage was found.
    pub offset: u64,
    /// What was wrong.
    pub what: String,
}

impl std::fmt::Display for SkippedPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "partition starting at {} skipped: corruption in {} at offset {}: {}",
            self.partition_start,
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

/// "Now" for retention: the wall clock, or the newest timestamp in the database (see
/// `data_now`), as [`crate::Options::retention_clock`] says. `None` for an empty
/// database measured by its newest point.
pub(crate) fn retention_now(opts: &Options, versions: &VersionSet) -> Option<i64> {
    retention_now_of(opts, &versions.read())
}

fn retention_now_of(opts: &Options, version: &Version) -> Option<i64> {
    match opts.retention_clock {
        RetentionClock::WallClock => Some(wall_clock_ns()),
        RetentionClock::NewestPoint => data_now(version),
    }
}

/// What [`crate::Db::apply_retention`] removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Of the segment files removed, those removed because a rollup policy's raw
    /// retention had passed for every series in them
    /// ([`crate::RollupPolicy::raw_retention`]).
    pub raw_rolled_up_segments: u64,
    /// Rollup files removed by their policy's retention.
    pub rollup_files: u64,
    /// Rollup buckets in them.
    pub rollup_buckets: u64,
    /// Bytes of them.
    pub rollup_bytes: u64,
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

fn policy(o: &Options, now: i64) -> CompactionPolicy {
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
pub(crate) fn compact(cx: &Context<'_>) -> Result<CompactionReport> {
    let started = Instant::now();
    let tasks = {
        let _lock = cx.versions.lock();
        cx.check_open()?;
        let version = cx.versions.current();
        let Some(now) = data_now(&version) else {
            return Ok(CompactionReport::default());
        };
        plan_compaction(
            &cx.versions.manifest().segments,
            &policy(cx.opts, now),
            &holding_deleted_points(&version),
        )
    };
    let mut report = CompactionReport::default();
    for task in tasks {
        match run_task(cx, &task, &mut report) {
            Ok(()) => {}
            // A damaged input must not stop the other partitions, now or at every later
            // run: skip this one and say so.
            Err(Error::Corruption { file, offset, what })
                if task
                    .inputs
                    .iter()
                    .any(|&id| cx.versions.layout().segment_file(id) == file) =>
            {
                report.skipped.push(SkippedPartition {
                    partition_start: task.partition.saturating_mul(cx.opts.partition_duration),
                    file,
                    offset,
                    what,
                });
            }
            Err(e) => return Err(e),
        }
    }
    purge_rollup_only(cx, &mut report)?;
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Rewrites the rollups of partitions that have no raw segment left (raw retention
/// dropped them, so no compaction task ever visits them) when a deletion touches them:
/// the touched buckets are left out, so the deleted points' summaries leave the disk
/// and the tombstone can go.
fn purge_rollup_only(cx: &Context<'_>, report: &mut CompactionReport) -> Result<()> {
    let work: Vec<(Arc<LiveRollup>, u64)> = {
        let lock = cx.versions.lock();
        cx.check_open()?;
        let version = cx.versions.current();
        if version.tombstones.is_empty() {
            return Ok(());
        }
        let mut work = Vec::new();
        for r in &version.rollups {
            let has_raw = version
                .segments
                .iter()
                .any(|s| s.entry.partition == r.entry.partition);
            let res = r.entry.resolution;
            let touched = r.rollup.blocks().iter().any(|b| {
                version.tombstones.overlaps(
                    b.series,
                    r.entry.id,
                    b.min_ts,
                    b.max_ts.saturating_add(res - 1),
                )
            });
            if !has_raw && touched {
                work.push((r.clone(), cx.versions.reserve_id(&lock)));
            }
        }
        work
    };
    let fs = &*cx.opts.file_system;
    for (old, id) in work {
        let path = cx.versions.layout().segment_file(id);
        let tombstones = cx.versions.current().tombstones.clone();
        let res = old.entry.resolution;
        let written = (|| {
            let mut writer = RollupWriter::new(res, cx.opts.cold_zstd_level)?;
            let mut buckets = Vec::new();
            for block in old.rollup.blocks() {
                buckets.clear();
                old.rollup.decode_block(block, &mut buckets)?;
                buckets.retain(|b| {
                    !tombstones.overlaps(block.series, old.entry.id, b.start, b.start + res - 1)
                });
                writer.add_series(block.series, &buckets)?;
            }
            writer.finish(fs, &path, old.entry.partition)
        })();
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = fs.remove(&path);
                return Err(e);
            }
        };
        let lock = cx.versions.lock();
        let manifest = cx.versions.manifest();
        let still_alone = manifest.rollups.iter().any(|r| r.id == old.entry.id)
            && !manifest
                .segments
                .iter()
                .any(|s| s.partition == old.entry.partition);
        if !still_alone || cx.check_open().is_err() {
            let _ = fs.remove(&path);
            continue;
        }
        let mut edit = Edit {
            remove: vec![old.entry.id],
            tombstones: TombstoneEdit::Prune,
            ..Edit::default()
        };
        if let Some(w) = written {
            fs.sync_dir(&cx.versions.layout().segments)
                .map_err(|e| Error::io("fsync", &cx.versions.layout().segments, e))?;
            let entry = RollupEntry {
                id,
                min_ts: w.min_ts,
                max_ts: w.max_ts,
                buckets: w.buckets,
                series: w.series,
                bytes: w.bytes,
                ..old.entry.clone()
            };
            let rollup = Rollup::open(fs, &path, cx.opts.read_mode)?;
            report.rollup_files += 1;
            report.rollup_bytes += w.bytes;
            report.rollup_buckets += w.buckets;
            edit.add_rollups = vec![(
                entry.clone(),
                Arc::new(LiveRollup::new(entry, rollup, cx.opts.partition_duration)),
            )];
        }
        cx.versions.commit(&lock, edit)?;
    }
    Ok(())
}

/// Which tier [`crate::Db::compact_partition`] encodes a partition for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Tier {
    /// One segment with the flush encoding (fast to read).
    Warm,
    /// One dense segment: higher zstd level, larger chunks.
    Cold,
}

/// Compacts the partition holding `ts` into one segment of `tier`.
pub(crate) fn compact_partition(cx: &Context<'_>, ts: i64, tier: Tier) -> Result<CompactionReport> {
    let started = Instant::now();
    let partition = partition_of(ts, cx.opts.partition_duration);
    let task = {
        let _lock = cx.versions.lock();
        cx.check_open()?;
        let p = policy(cx.opts, ts);
        let target = match tier {
            Tier::Warm => p.warm,
            Tier::Cold => p.cold,
        };
        let version = cx.versions.current();
        plan_partition(
            &cx.versions.manifest().segments,
            partition,
            target,
            &holding_deleted_points(&version),
        )
    };
    let mut report = CompactionReport::default();
    if let Some(task) = task {
        run_task(cx, &task, &mut report)?;
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Ids of the live segments that hold points tombstones hide: compaction rewrites them.
fn holding_deleted_points(version: &Version) -> BTreeSet<u64> {
    version
        .segments
        .iter()
        .filter(|s| {
            version
                .tombstones
                .hides_points_in(s.entry.id, s.segment.chunks())
        })
        .map(|s| s.entry.id)
        .collect()
}

fn run_task(cx: &Context<'_>, task: &CompactionTask, report: &mut CompactionReport) -> Result<()> {
    // Reserve the output ids under the commit lock: any segment flushed later gets a larger
    // id and so still wins over the merged data on equal timestamps. Every segment of the
    // partition live now is an input, not only those the plan saw: one flushed since the
    // plan holds newer writes than the inputs, and the output, with its larger id, would
    // win over it on equal timestamps and bring overwritten values back. Rollup ids come
    // after the merged segment's: a rollup summarises the raw segments with smaller ids.
    let (inputs, output_id, plan) = {
        let lock = cx.versions.lock();
        cx.check_open()?;
        let version = cx.versions.current();
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
        let id = cx.versions.reserve_id(&lock);
        // The inputs are every segment of the partition, so the rollups written from them
        // are complete.
        let task = CompactionTask {
            inputs: inputs.iter().map(|s| s.entry.id).collect(),
            ..task.clone()
        };
        let plan = RollupPlan::new(cx, &version, &task, true, &mut || {
            cx.versions.reserve_id(&lock)
        });
        if plan.skip {
            return Ok(());
        }
        (inputs, id, plan)
    };
    let input_ids: Vec<u64> = inputs.iter().map(|s| s.entry.id).collect();
    let fs = &*cx.opts.file_system;
    let path = cx.versions.layout().segment_file(output_id);
    let remove_outputs = |plan: &RollupPlan| {
        let _ = fs.remove(&path);
        for out in &plan.outputs {
            let _ = fs.remove(&cx.versions.layout().segment_file(out.id));
        }
    };
    let (summary, rollups) = match write_merged(cx, &inputs, &path, task.target, &plan) {
        Ok(written) => written,
        Err(e) => {
            remove_outputs(&plan);
            return Err(e);
        }
    };

    let lock = cx.versions.lock();
    let manifest = cx.versions.manifest();
    let still_live = input_ids
        .iter()
        .all(|id| manifest.segments.iter().any(|s| s.id == *id))
        && plan
            .replaced
            .iter()
            .all(|id| manifest.rollups.iter().any(|r| r.id == *id));
    if !still_live || cx.check_open().is_err() {
        remove_outputs(&plan);
        return Ok(());
    }
    let mut edit = Edit {
        remove: input_ids.iter().chain(&plan.replaced).copied().collect(),
        tombstones: TombstoneEdit::Prune,
        ..Edit::default()
    };
    if summary.is_some() || !rollups.is_empty() {
        fs.sync_dir(&cx.versions.layout().segments)
            .map_err(|e| Error::io("fsync", &cx.versions.layout().segments, e))?;
    }
    for (entry, _) in &rollups {
        report.rollup_files += 1;
        report.rollup_bytes += entry.bytes;
        report.rollup_buckets += entry.buckets;
    }
    edit.add_rollups = rollups;
    let Some(summary) = summary else {
        // Every input was empty: just drop them.
        cx.versions.commit(&lock, edit)?;
        return Ok(());
    };
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
    let segment = Segment::open(fs, &path, cx.opts.read_mode)?;
    let live = Arc::new(LiveSegment::new(entry.clone(), segment));
    edit.add_segments = vec![(entry, live)];
    cx.versions.commit(&lock, edit)?;
    report.partitions += 1;
    report.input_segments += inputs.len() as u64;
    report.input_bytes += inputs.iter().map(|s| s.entry.bytes).sum::<u64>();
    report.output_segments += 1;
    report.output_bytes += summary.bytes;
    report.points += summary.points;
    Ok(())
}

/// Series merged and encoded in parallel before they are written, in order: bounds the
/// memory held by encoded series waiting for their turn.
const PARALLEL_SERIES: usize = 64;

/// The rollups one compaction task writes and replaces.
#[derive(Default)]
struct RollupPlan {
    /// Which series go to which output (`None` for warm tasks).
    coverage: Option<Coverage>,
    /// One per resolution written, with its reserved id.
    outputs: Vec<RollupOutput>,
    /// Live rollups of the partition that the task removes: all of them for a cold
    /// task; for a warm one (or a cold one that cannot see every segment of the
    /// partition) those whose raw data is still there (the merged segment gets a newer
    /// id, so they would no longer count as complete anyway).
    replaced: Vec<u64>,
    /// Leave the partition alone: it has a rollup holding the only copy of some data
    /// and this task could not carry it (a warm task, or a cold one that does not see
    /// every segment), while merging raw segments the rollup summarises into a newer
    /// one would count their points twice.
    skip: bool,
}

struct RollupOutput {
    id: u64,
    resolution: i64,
    /// The partition's rollup of this resolution whose raw data was dropped: its
    /// buckets are carried into the new rollup, and its series' new raw points are
    /// summarised at this resolution, whatever the policies say now.
    carried: Option<Arc<LiveRollup>>,
}

impl RollupPlan {
    fn new(
        cx: &Context<'_>,
        version: &Version,
        task: &CompactionTask,
        complete: bool,
        next_id: &mut dyn FnMut() -> u64,
    ) -> Self {
        let old: Vec<&Arc<LiveRollup>> = version
            .rollups
            .iter()
            .filter(|r| r.entry.partition == task.partition)
            .collect();
        if task.target.level < LEVEL_COLD || !complete {
            let oldest_input = task.inputs.iter().copied().min().unwrap_or(u64::MAX);
            let skip = old
                .iter()
                .any(|r| r.entry.raw_dropped && r.entry.id > oldest_input);
            return RollupPlan {
                skip,
                replaced: old
                    .iter()
                    .filter(|r| !r.entry.raw_dropped)
                    .map(|r| r.entry.id)
                    .collect(),
                ..RollupPlan::default()
            };
        }
        let coverage = Coverage::new(cx.catalog, &cx.opts.rollups);
        let mut resolutions = coverage.resolutions();
        resolutions.extend(
            old.iter()
                .filter(|r| r.entry.raw_dropped)
                .map(|r| r.entry.resolution),
        );
        resolutions.sort_unstable();
        resolutions.dedup();
        let outputs = resolutions
            .into_iter()
            .map(|resolution| {
                let id = next_id();
                RollupOutput {
                    id,
                    resolution,
                    carried: old
                        .iter()
                        .find(|r| r.entry.raw_dropped && r.entry.resolution == resolution)
                        .map(|r| (*r).clone()),
                }
            })
            .collect();
        RollupPlan {
            coverage: Some(coverage),
            outputs,
            replaced: old.iter().map(|r| r.entry.id).collect(),
            skip: false,
        }
    }

    /// The output that `series` goes to.
    fn output_of(&self, series: u32) -> Option<usize> {
        let carried = self.outputs.iter().position(|o| {
            o.carried
                .as_ref()
                .is_some_and(|r| r.rollup.block(series).is_some())
        });
        if carried.is_some() {
            return carried;
        }
        let policy = self.coverage.as_ref()?.policy(series)?;
        self.outputs
            .iter()
            .position(|o| o.resolution == policy.resolution)
    }
}

/// Writes the merge of `inputs` (ascending id: later wins) to `path`, and the rollups
/// `plan` asks for. The segment summary is `None` when the inputs hold no point. Series
/// are decoded, merged and encoded on the rayon pool, a group at a time, then appended
/// (and summarised into rollups) in id order.
#[allow(clippy::type_complexity)]
fn write_merged(
    cx: &Context<'_>,
    inputs: &[Arc<LiveSegment>],
    path: &std::path::Path,
    target: TierTarget,
    plan: &RollupPlan,
) -> Result<(
    Option<crate::segment::writer::SegmentSummary>,
    Vec<(RollupEntry, Arc<LiveRollup>)>,
)> {
    let mut series: BTreeSet<u32> = inputs
        .iter()
        .flat_map(|s| s.segment.chunks().iter().map(|c| c.series))
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    for out in &plan.outputs {
        if let Some(r) = &out.carried {
            series.extend(r.rollup.blocks().iter().map(|b| b.series));
        }
    }
    if series.is_empty() {
        return Ok((None, Vec::new()));
    }
    let partition = inputs.first().map_or(0, |s| s.entry.partition);
    let mut writer = SegmentWriter::create(
        &*cx.opts.file_system,
        path,
        target.zstd_level,
        target.chunk_points,
    )?
    .with_io_limit(cx.opts.compaction_io_limit);
    let mut rollup_writers = plan
        .outputs
        .iter()
        .map(|o| RollupWriter::new(o.resolution, target.zstd_level))
        .collect::<Result<Vec<_>>>()?;
    let (mut fresh, mut carried, mut merged) = (Vec::new(), Vec::new(), Vec::new());
    let tombstones = cx.versions.current().tombstones.clone();
    let series: Vec<u32> = series.into_iter().collect();
    let merged_series = series.chunks(PARALLEL_SERIES).flat_map(|group| {
        let done: Vec<Result<MergedSeries>> = group
            .par_iter()
            .map(|&id| merge_series(inputs, &tombstones, id, target))
            .collect();
        group.iter().copied().zip(done)
    });
    for (id, m) in merged_series {
        let MergedSeries {
            pieces,
            piece_ids,
            ts,
            vals,
            encoded,
        } = m?;
        if let Some(encoded) = &encoded {
            writer.add_encoded_series(id, encoded)?;
        }
        let Some(o) = plan.output_of(id) else {
            continue;
        };
        let out = &plan.outputs[o];
        fresh.clear();
        let carried_block = out
            .carried
            .as_ref()
            .and_then(|old| old.rollup.block(id).map(|b| (old, b)));
        match carried_block {
            None => summarise(&ts, &vals, out.resolution, &mut fresh),
            Some((old, _)) => {
                // The old rollup already summarises the inputs older than it: only the
                // points written after it are added.
                let newer: Vec<(Vec<i64>, Vec<f64>)> = pieces
                    .iter()
                    .zip(&piece_ids)
                    .filter(|(_, &pid)| pid > old.entry.id)
                    .map(|(p, _)| p.clone())
                    .collect();
                let (mut t, mut v) = (Vec::new(), Vec::new());
                merge_pieces(&newer, &mut t, &mut v);
                summarise(&t, &v, out.resolution, &mut fresh);
            }
        }
        let mut buckets: &[RollupBucket] = &fresh;
        if let Some((old, block)) = carried_block {
            {
                carried.clear();
                old.rollup.decode_block(block, &mut carried)?;
                // Deletions made since the old rollup was written hide whole buckets:
                // the points inside them are gone, so the bucket cannot be corrected.
                carried.retain(|b| {
                    !tombstones.overlaps(id, old.entry.id, b.start, b.start + out.resolution - 1)
                });
                merge_buckets(&carried, &fresh, &mut merged);
                buckets = &merged;
            }
        }
        rollup_writers[o].add_series(id, buckets)?;
    }
    let summary = if writer.points() == 0 {
        // Tombstones removed everything: no segment at all.
        drop(writer);
        let _ = cx.opts.file_system.remove(path);
        None
    } else {
        Some(writer.finish(partition, target.level)?)
    };
    let fs = &*cx.opts.file_system;
    let mut rollups = Vec::new();
    for (out, w) in plan.outputs.iter().zip(rollup_writers) {
        let rpath = cx.versions.layout().segment_file(out.id);
        let Some(written) = w.finish(fs, &rpath, partition)? else {
            continue;
        };
        let entry = RollupEntry {
            id: out.id,
            partition,
            resolution: out.resolution,
            min_ts: written.min_ts,
            max_ts: written.max_ts,
            buckets: written.buckets,
            series: written.series,
            bytes: written.bytes,
            raw_dropped: out.carried.is_some(),
        };
        let rollup = Rollup::open(fs, &rpath, cx.opts.read_mode)?;
        rollups.push((
            entry.clone(),
            Arc::new(LiveRollup::new(entry, rollup, cx.opts.partition_duration)),
        ));
    }
    Ok((summary, rollups))
}

/// One series of the inputs of a compaction, merged.
struct MergedSeries {
    /// What each input holding the series contributes, less deletions...
    pieces: Vec<(Vec<i64>, Vec<f64>)>,
    /// ...and the id of that input.
    piece_ids: Vec<u64>,
    /// The merge (later input wins).
    ts: Vec<i64>,
    vals: Vec<f64>,
    /// The merge encoded for the target tier; `None` when nothing is left.
    encoded: Option<EncodedSeries>,
}

/// One series of `inputs`, merged (later input wins), less what `tombstones` delete, and
/// encoded for `target`.
fn merge_series(
    inputs: &[Arc<LiveSegment>],
    tombstones: &Tombstones,
    id: u32,
    target: TierTarget,
) -> Result<MergedSeries> {
    let mut pieces: Vec<(Vec<i64>, Vec<f64>)> = Vec::with_capacity(inputs.len());
    let mut piece_ids = Vec::with_capacity(inputs.len());
    for input in inputs {
        let chunks = input.segment.series_chunks(id);
        if chunks.is_empty() {
            continue;
        }
        let n: usize = chunks.iter().map(|c| c.stats.count as usize).sum();
        let (mut t, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for chunk in chunks {
            input.segment.decode_chunk(chunk, &mut t, &mut v)?;
        }
        tombstones.apply(id, input.entry.id, &mut t, &mut v);
        if !t.is_empty() {
            pieces.push((t, v));
            piece_ids.push(input.entry.id);
        }
    }
    let (mut ts, mut vals) = (Vec::new(), Vec::new());
    merge_pieces(&pieces, &mut ts, &mut vals);
    let encoded = if ts.is_empty() {
        None
    } else {
        Some(encode_series(
            &ts,
            &vals,
            target.zstd_level,
            target.chunk_points,
        )?)
    };
    Ok(MergedSeries {
        pieces,
        piece_ids,
        ts,
        vals,
        encoded,
    })
}

/// Drops segments whose points are all older than the retention period, measured back
/// from the retention clock's now (`None`: no database-wide retention), the raw
/// segments that rollup policies' raw retention lets go, and the rollups past their own
/// retention.
pub(crate) fn apply_retention(cx: &Context<'_>, retention: Option<i64>) -> Result<RetentionReport> {
    let lock = cx.versions.lock();
    cx.check_open()?;
    let version = cx.versions.current();
    let Some(now) = retention_now_of(cx.opts, &version) else {
        return Ok(RetentionReport::default());
    };
    let cutoff = retention.map_or(i64::MIN, |r| now.saturating_sub(r));
    let manifest = cx.versions.manifest();
    let mut doomed = plan_retention(&manifest.segments, cutoff);
    let mut report = RetentionReport {
        cutoff,
        ..RetentionReport::default()
    };
    let mut doomed_rollups = Vec::new();
    if !cx.opts.rollups.is_empty() || !manifest.rollups.is_empty() {
        let coverage = Coverage::new(cx.catalog, &cx.opts.rollups);
        for s in &version.segments {
            if doomed.contains(&s.entry.id) {
                continue;
            }
            let rollups: Vec<&RollupEntry> = manifest
                .rollups
                .iter()
                .filter(|r| r.partition == s.entry.partition)
                .collect();
            if rollups.is_empty() {
                continue;
            }
            let series: roaring::RoaringBitmap =
                s.segment.chunks().iter().map(|c| c.series).collect();
            if raw_droppable(&s.entry, &series, &coverage, &rollups, now) {
                doomed.push(s.entry.id);
                report.raw_rolled_up_segments += 1;
            }
        }
        doomed_rollups = plan_rollup_retention(&manifest.rollups, &coverage, now);
    }
    if doomed.is_empty() && doomed_rollups.is_empty() {
        return Ok(report);
    }
    for s in manifest.segments.iter().filter(|s| doomed.contains(&s.id)) {
        report.segments += 1;
        report.points += s.points;
        report.bytes += s.bytes;
    }
    for r in manifest
        .rollups
        .iter()
        .filter(|r| doomed_rollups.contains(&r.id))
    {
        report.rollup_files += 1;
        report.rollup_buckets += r.buckets;
        report.rollup_bytes += r.bytes;
    }
    // A rollup all of whose summarised raw segments are gone is now the only copy of
    // their data: later compactions of its partition merge into it.
    let mut raw_dropped = Vec::new();
    for r in &version.rollups {
        if r.entry.raw_dropped || doomed_rollups.contains(&r.entry.id) {
            continue;
        }
        let summarised: Vec<u64> = manifest
            .segments
            .iter()
            .filter(|s| s.partition == r.entry.partition && s.id < r.entry.id)
            .map(|s| s.id)
            .collect();
        if !summarised.is_empty() && summarised.iter().all(|id| doomed.contains(id)) {
            let path = cx.versions.layout().segment_file(r.entry.id);
            let rollup = Rollup::open(&*cx.opts.file_system, &path, cx.opts.read_mode)?;
            let entry = RollupEntry {
                raw_dropped: true,
                ..r.entry.clone()
            };
            raw_dropped.push((
                entry.clone(),
                Arc::new(LiveRollup::new(entry, rollup, cx.opts.partition_duration)),
            ));
        }
    }
    drop(version);
    doomed.extend(doomed_rollups);
    cx.versions.commit(
        &lock,
        Edit {
            remove: doomed,
            raw_dropped,
            tombstones: TombstoneEdit::Prune,
            ..Edit::default()
        },
    )?;
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
            let version = db.inner.versions.current();
            let now = data_now(&version).unwrap();
            plan_compaction(
                &db.inner.versions.manifest().segments,
                &policy(&db.inner.opts, now),
                &BTreeSet::new(),
            )
        };
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].inputs.len(), 2);

        // Rewritten after the plan, flushed into a third segment of the partition.
        write_and_flush(1_000, 10.0);
        let mut report = CompactionReport::default();
        run_task(&db.inner.compaction(), &tasks[0], &mut report).unwrap();

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
            .retention(std::time::Duration::from_secs(1000))
            .retention_clock(RetentionClock::NewestPoint);
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
