//! `delete_series`: tombstones recorded in the manifest, applied on read at once and
//! physically by the next compaction of the affected partitions.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::tombstone::Tombstone;
use super::{flush, DbInner, Version};
use crate::error::{Error, Result};
use crate::query::select::SelectIter;
use crate::storage::write_atomic;
use crate::types::{Selector, TimeRange};

/// What [`crate::Db::delete_series`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteReport {
    /// Series the selector matched.
    pub series: u64,
    /// Of those, series left with no point at all: they disappear from listings and
    /// selections (until written again).
    pub emptied: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

pub(crate) fn delete_series(
    db: &DbInner,
    selector: &Selector,
    range: TimeRange,
) -> Result<DeleteReport> {
    let started = Instant::now();
    if range.is_empty() {
        return Err(Error::invalid(format!(
            "delete range [{}, {}) is empty",
            range.start, range.end
        )));
    }
    let ids = db.visible(selector);
    if ids.is_empty() {
        return Ok(DeleteReport::default());
    }
    // Everything written before this call goes to segments first, so the tombstone only
    // needs to cover segments, never the head or the WAL.
    flush::flush(db)?;

    let _guard = db.flush_lock.lock();
    db.check_open()?;
    let mut manifest = db.manifest.lock().clone();
    let old = db.version.read().clone();
    let mut tombstones = (*old.tombstones).clone();
    tombstones.push(Tombstone {
        series: ids.clone(),
        range,
        max_segment_id: manifest.next_segment_id.saturating_sub(1),
    });
    let candidate = Arc::new(Version {
        live: old.live.clone(),
        frozen: old.frozen.clone(),
        segments: old.segments.clone(),
        tombstones: Arc::new(tombstones.clone()),
        rollups: old.rollups.clone(),
    });
    let mut emptied = ids.clone();
    for series in SelectIter::new(
        db.catalog.clone(),
        candidate.clone(),
        ids.clone(),
        TimeRange::all(),
    ) {
        emptied.remove(series?.id.0);
    }
    let mut hidden = db.hidden.read().clone();
    hidden |= &emptied;

    manifest.generation += 1;
    manifest.tombstones = tombstones.to_entries();
    manifest.hidden_series = hidden.iter().collect();
    write_atomic(
        &*db.opts.file_system,
        &db.layout.manifest,
        &manifest.encode(),
    )?;
    *db.manifest.lock() = manifest;
    *db.version.write() = candidate.clone();

    // A writer that inserts into a series while we hide it checks `hidden` after its
    // insert; we check the heads after hiding. Either way the series stays visible.
    let mut hidden_now = db.hidden.write();
    *hidden_now |= &emptied;
    for id in emptied.iter() {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let in_head = std::iter::once(&candidate.live)
            .chain(candidate.frozen.iter())
            .any(|h| h.read_series(id, TimeRange::all(), &mut t, &mut v) > 0);
        if in_head {
            hidden_now.remove(id);
        }
    }
    Ok(DeleteReport {
        series: ids.len(),
        emptied: emptied.len(),
        secs: started.elapsed().as_secs_f64(),
    })
}
