//! Write batches and series handles.

use serde::{Deserialize, Serialize};

use crate::types::{SeriesId, SeriesKey, Timestamp};

/// Marks an entry of `WriteBatch::series` that indexes `WriteBatch::keys` instead of
/// naming a resolved series id. Series ids stay below it (see `Options::max_series`).
pub(crate) const KEY_FLAG: u32 = 1 << 31;

/// A series resolved once by [`crate::Db::series`], so that a service writing the same
/// series every few seconds does not hash its name and dimensions for every point.
///
/// A handle belongs to the `Db` that made it; using it with another database fails with
/// [`crate::Error::InvalidArgument`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesHandle {
    pub(crate) id: SeriesId,
    pub(crate) db_tag: u64,
}

impl SeriesHandle {
    /// The series id.
    pub fn id(&self) -> SeriesId {
        self.id
    }
}

/// Points to write atomically: all of them are acknowledged, or none.
///
/// ```
/// use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let cpu = db.series(&SeriesKey::new("cpu").with("host", "h1")).unwrap();
/// let mut batch = WriteBatch::new();
/// batch.push(cpu, 1_000, 0.5);
/// batch.push_key(&SeriesKey::new("mem").with("host", "h1"), 1_000, 512.0);
/// let receipt = db.write(&batch).unwrap();
/// assert_eq!(receipt.points, 2);
/// assert!(receipt.durable);
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub(crate) series: Vec<u32>,
    pub(crate) timestamps: Vec<Timestamp>,
    pub(crate) values: Vec<f64>,
    /// Keys named by `push_key`, resolved when the batch is written.
    pub(crate) keys: Vec<SeriesKey>,
    /// The database tag of the handles pushed; a second tag poisons the batch.
    pub(crate) db_tag: Option<u64>,
    pub(crate) mixed_handles: bool,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// An empty batch with room for `points` points.
    pub fn with_capacity(points: usize) -> Self {
        WriteBatch {
            series: Vec::with_capacity(points),
            timestamps: Vec::with_capacity(points),
            values: Vec::with_capacity(points),
            ..WriteBatch::default()
        }
    }

    /// Adds a point to a series resolved earlier.
    #[inline]
    pub fn push(&mut self, series: SeriesHandle, ts: Timestamp, value: f64) {
        match self.db_tag {
            None => self.db_tag = Some(series.db_tag),
            Some(tag) if tag != series.db_tag => self.mixed_handles = true,
            Some(_) => {}
        }
        self.series.push(series.id.0);
        self.timestamps.push(ts);
        self.values.push(value);
    }

    /// Adds a point to a series named by its key; the key is resolved (and the series
    /// created if new) when the batch is written. Consecutive points of the same key
    /// share one copy of it.
    pub fn push_key(&mut self, key: &SeriesKey, ts: Timestamp, value: f64) {
        let index = match self.keys.last() {
            Some(last) if last == key => self.keys.len() - 1,
            _ => {
                self.keys.push(key.clone());
                self.keys.len() - 1
            }
        };
        self.series.push(KEY_FLAG | index as u32);
        self.timestamps.push(ts);
        self.values.push(value);
    }

    /// Points in the batch.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when the batch holds no point.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Removes all points, keeping the allocations.
    pub fn clear(&mut self) {
        self.series.clear();
        self.timestamps.clear();
        self.values.clear();
        self.keys.clear();
        self.db_tag = None;
        self.mixed_handles = false;
    }
}

/// What [`crate::Db::write`] acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteReceipt {
    /// Points written.
    pub points: usize,
    /// True when the points are on stable storage (always under `Durability::Sync`).
    pub durable: bool,
}
