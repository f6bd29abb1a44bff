//! The series a reader has seen, each with a small dense id for the points of a batch.

use std::collections::HashMap;

use sedimentdb::{KeyLimits, SeriesKey};

/// Series keys by reader-local id. A reader builds each distinct key once; the importer
/// resolves each id to a database handle once, so no per-point hashing of keys remains.
#[derive(Debug, Default)]
pub struct SeriesTable {
    keys: Vec<SeriesKey>,
    ids: HashMap<SeriesKey, u32, ahash::RandomState>,
    limits: KeyLimits,
}

impl SeriesTable {
    /// An empty table validating keys against `limits`.
    pub fn new(limits: KeyLimits) -> Self {
        SeriesTable {
            keys: Vec::new(),
            ids: HashMap::default(),
            limits,
        }
    }

    /// The id of `key`, adding it when new; an error (the reason) when the key breaks the
    /// naming rules or limits.
    pub fn intern(&mut self, key: SeriesKey) -> Result<u32, String> {
        if let Some(&id) = self.ids.get(&key) {
            return Ok(id);
        }
        key.validate(&self.limits).map_err(|e| match e {
            sedimentdb::Error::InvalidArgument(msg) => msg,
            other => other.to_string(),
        })?;
        let id = u32::try_from(self.keys.len()).map_err(|_| "more than 4 G series".to_string())?;
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        Ok(id)
    }

    /// The key of `id`.
    ///
    /// # Panics
    /// When `id` was not returned by [`SeriesTable::intern`] of this table.
    pub fn key(&self, id: u32) -> &SeriesKey {
        &self.keys[id as usize]
    }

    /// Number of distinct series.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no series was seen.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
