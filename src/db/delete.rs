//! `delete_series`: tombstones recorded in the manifest, applied on read at once and
//! physically by the next compaction of the affected partitions.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{flush, DbInner};
use crate::error::{Error, Result};
use crate::query::select::SelectIter;
use crate::types::{Selector, TimeRange};
use crate::version::{Edit, Tombstone, TombstoneEdit};

/// What [`crate::Db::delete_series`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    let result = delete_series_untraced(db, selector, range);
    super::telemetry::deleted(&result);
    result
}

fn delete_series_untraced(
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

    let versions = &db.versions;
    let lock = versions.lock();
    db.check_open()?;
    let tombstone = Tombstone {
        series: ids.clone(),
        range,
        max_segment_id: versions.next_id(&lock).saturating_sub(1),
    };
    let old = versions.current();
    let mut tombstones = (*old.tombstones).clone();
    tombstones.push(tombstone.clone());
    let candidate = Arc::new(old.with_tombstones(Arc::new(tombstones)));
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

    versions.commit(
        &lock,
        Edit {
            tombstones: TombstoneEdit::Add(tombstone),
            hidden_series: Some(hidden.iter().collect()),
            ..Edit::default()
        },
    )?;

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
