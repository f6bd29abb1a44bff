//! The series catalog: dense ids <-> series keys, plus the postings over them.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringBitmap;

use super::file;
use super::postings::Postings;
use super::MAX_SERIES;
use crate::error::{Error, Result};
use crate::types::{Selector, SeriesId, SeriesKey};

/// What [`Catalog::get_or_create`] returns: the id of each requested key, in order, and
/// the series that the call created, in id order (for the caller's write-ahead log).
pub(crate) type Resolved = (Vec<SeriesId>, Vec<(SeriesId, SeriesKey)>);

/// Series ids <-> series keys, and the postings that answer selectors.
///
/// Thread-safe: one `RwLock` guards everything. Resolving existing keys (the write path
/// of callers without handles) takes only the read lock; creating series takes the
/// write lock. Ids are dense from 0 in creation order and never reused.
pub(crate) struct Catalog {
    /// Keyed SipHash-1-3 (std's default), so that series keys chosen by an attacker
    /// cannot be made to collide on purpose. A hand-rolled multiply-fold hash was tried
    /// and measured slower on TSBS-like keys (~20 short strings): the cost of a lookup is
    /// in touching the key's strings, not in the hash rounds.
    hash_state: RandomState,
    /// All ones, except in tests that force collisions.
    hash_mask: u64,
    inner: RwLock<Inner>,
}

/// Everything behind the lock.
pub(super) struct Inner {
    /// Series `i` is `keys[i]`. Each key is stored once; `key()` hands out clones of the
    /// `Arc`.
    pub(super) keys: Vec<Arc<SeriesKey>>,
    /// Hash of a key -> the first series with that hash. Keyed by the 64-bit hash rather
    /// than by the key: an entry is 16 bytes instead of a pointer to chase, and growing
    /// the table never rehashes the keys.
    by_hash: HashMap<u64, SeriesId, BuildHasherDefault<PassThroughHasher>>,
    /// The further series whose key hash equals that of an entry in `by_hash`. With a
    /// 64-bit keyed hash this stays empty in practice, but it keeps lookups exact.
    collisions: HashMap<u64, Vec<SeriesId>, BuildHasherDefault<PassThroughHasher>>,
    pub(super) postings: Postings,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            keys: Vec::new(),
            by_hash: HashMap::default(),
            collisions: HashMap::default(),
            postings: Postings::default(),
        }
    }

    fn find(&self, hash: u64, key: &SeriesKey) -> Option<SeriesId> {
        let first = *self.by_hash.get(&hash)?;
        if self.keys.get(first.0 as usize).map(|k| &**k) == Some(key) {
            return Some(first);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .copied()
            .find(|id| self.keys.get(id.0 as usize).map(|k| &**k) == Some(key))
    }

    /// Binds the next id to `key`, which the caller has checked is not in the catalog.
    fn push(&mut self, hash: u64, key: Arc<SeriesKey>) -> SeriesId {
        // Callers check `len < MAX_SERIES` first, so this always fits.
        let id = SeriesId(self.keys.len() as u32);
        self.postings.add(id.0, &key);
        self.keys.push(key);
        self.index_hash(hash, id);
        id
    }

    /// Removes the newest series, whose key hashes to `hash`: undoes the last `push`.
    fn pop(&mut self, hash: u64) {
        let Some(key) = self.keys.pop() else {
            return;
        };
        let id = SeriesId(self.keys.len() as u32);
        self.postings.remove(id.0, &key);
        // The newest id is the last of the overflow list if it has one, else the entry.
        match self.collisions.get_mut(&hash) {
            Some(list) if list.last() == Some(&id) => {
                list.pop();
                if list.is_empty() {
                    self.collisions.remove(&hash);
                }
            }
            _ => {
                if self.by_hash.get(&hash) == Some(&id) {
                    self.by_hash.remove(&hash);
                }
            }
        }
    }

    /// Makes series `id`, whose key hashes to `hash`, findable.
    fn index_hash(&mut self, hash: u64, id: SeriesId) {
        if let Some(first) = self.by_hash.insert(hash, id) {
            // Keep the oldest series as the first candidate; the new one joins the
            // overflow list.
            self.by_hash.insert(hash, first);
            self.collisions.entry(hash).or_default().push(id);
        }
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("series", &self.len())
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Catalog {
            hash_state: RandomState::new(),
            hash_mask: u64::MAX,
            inner: RwLock::new(Inner::new()),
        }
    }

    /// A catalog over decoded `keys` (series `i` is `keys[i]`) and their `postings`,
    /// which the decoder has checked against each other. Fails with the id of the first
    /// key that repeats an earlier one.
    pub(super) fn from_parts(
        keys: Vec<Arc<SeriesKey>>,
        postings: Postings,
    ) -> Result<Self, SeriesId> {
        let catalog = Catalog::new();
        {
            let mut inner = catalog.inner.write();
            inner.by_hash.reserve(keys.len());
            inner.keys = keys;
            inner.postings = postings;
            for at in 0..inner.keys.len() {
                let id = SeriesId(at as u32);
                let hash = catalog.hash(&inner.keys[at]);
                if inner.find(hash, &inner.keys[at]).is_some() {
                    return Err(id);
                }
                inner.index_hash(hash, id);
            }
        }
        Ok(catalog)
    }

    /// A catalog whose key hashes keep only the bits of `mask`, so that tests can force
    /// hash collisions.
    #[cfg(test)]
    pub(super) fn with_hash_mask(mask: u64) -> Self {
        Catalog {
            hash_mask: mask,
            ..Catalog::new()
        }
    }

    fn hash(&self, key: &SeriesKey) -> u64 {
        self.hash_state.hash_one(key) & self.hash_mask
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.inner.read().keys.len()
    }

    /// True when the catalog holds no series.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id of an existing series.
    pub fn lookup(&self, key: &SeriesKey) -> Option<SeriesId> {
        let hash = self.hash(key);
        self.inner.read().find(hash, key)
    }

    /// Key of series `id`.
    pub fn key(&self, id: SeriesId) -> Option<Arc<SeriesKey>> {
        self.inner.read().keys.get(id.0 as usize).cloned()
    }

    /// Gets or creates the ids of all `keys` (already validated by the caller), in order.
    ///
    /// Atomic: if creating the missing series would take the total above `max_series`,
    /// returns [`Error::LimitExceeded`] and creates none. Repeated keys in `keys` get one
    /// id. Also returns the series created by this call, in id order, for the caller's
    /// write-ahead log.
    ///
    /// When every key exists, only the read lock is taken.
    ///
    /// Concurrent callers that log the created series *after* this returns may log them
    /// out of id order, and one whose log append fails leaves an id in memory that no
    /// log holds; [`Catalog::get_or_create_with`] closes both gaps.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn get_or_create(&self, keys: &[&SeriesKey], max_series: u64) -> Result<Resolved> {
        self.get_or_create_with(keys, max_series, |_| Ok(()))
    }

    /// [`Catalog::get_or_create`], calling `log_created` with the new series (in id
    /// order) before any other thread can see them, under the catalog's write lock.
    ///
    /// So the log receives series records in id order, which recovery
    /// ([`Catalog::insert_recovered`]) requires; and if `log_created` fails, the series
    /// are taken back out, the error is returned, and the ids are handed out again later:
    /// no id exists that the log lacks. `log_created` holds up every catalog reader while
    /// it runs, so it should only append to an in-memory log buffer; the fsync that makes
    /// the record durable belongs after the return. It is not called when nothing is
    /// created.
    pub fn get_or_create_with<F>(
        &self,
        keys: &[&SeriesKey],
        max_series: u64,
        log_created: F,
    ) -> Result<Resolved>
    where
        F: FnOnce(&[(SeriesId, SeriesKey)]) -> Result<()>,
    {
        // Hash outside the lock: it is the bulk of the work for existing keys.
        let hashes: Vec<u64> = keys.iter().map(|key| self.hash(key)).collect();
        let mut ids = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let inner = self.inner.read();
            for (at, (key, &hash)) in keys.iter().zip(&hashes).enumerate() {
                match inner.find(hash, key) {
                    Some(id) => ids.push(id),
                    None => {
                        ids.push(SeriesId(u32::MAX));
                        missing.push(at);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok((ids, Vec::new()));
        }

        let mut inner = self.inner.write();
        // Another thread may have created some of them between the two locks. The rest
        // are deduplicated among themselves before the limit is checked.
        let mut fresh: Vec<usize> = Vec::new();
        let mut fresh_by_hash: HashMap<u64, Vec<usize>, BuildHasherDefault<PassThroughHasher>> =
            HashMap::default();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for at in missing {
            let (key, hash) = (keys[at], hashes[at]);
            if let Some(id) = inner.find(hash, key) {
                ids[at] = id;
                continue;
            }
            let same_hash = fresh_by_hash.entry(hash).or_default();
            match same_hash.iter().find(|&&first| keys[first] == key) {
                Some(&first) => repeats.push((at, first)),
                None => {
                    same_hash.push(at);
                    fresh.push(at);
                }
            }
        }
        let limit = max_series.min(MAX_SERIES);
        if inner.keys.len() as u64 + fresh.len() as u64 > limit {
            return Err(Error::LimitExceeded {
                what: "series",
                limit,
            });
        }
        let mut created = Vec::with_capacity(fresh.len());
        for &at in &fresh {
            let key = keys[at].clone();
            let id = inner.push(hashes[at], Arc::new(key.clone()));
            ids[at] = id;
            created.push((id, key));
        }
        if !created.is_empty() {
            if let Err(err) = log_created(&created) {
                for &at in fresh.iter().rev() {
                    inner.pop(hashes[at]);
                }
                return Err(err);
            }
        }
        for (at, first) in repeats {
            ids[at] = ids[first];
        }
        Ok((ids, created))
    }

    /// Re-inserts a series with a known id during recovery (from the catalog file or WAL
    /// replay).
    ///
    /// Idempotent for the same `(id, key)`. Ids must arrive in order: `id` must be the
    /// next id, or an existing id already bound to the same key. The caller turns a
    /// conflict into [`Error::Corruption`] with the file and offset of the record (see
    /// [`RecoveryConflict::into_error`]). No series limit applies: these series exist.
    pub fn insert_recovered(
        &self,
        id: SeriesId,
        key: SeriesKey,
    ) -> std::result::Result<(), RecoveryConflict> {
        let hash = self.hash(&key);
        let mut inner = self.inner.write();
        let len = inner.keys.len();
        match (id.0 as usize).cmp(&len) {
            std::cmp::Ordering::Less => {
                let existing = &inner.keys[id.0 as usize];
                if **existing == key {
                    Ok(())
                } else {
                    Err(RecoveryConflict::IdBoundToOtherKey {
                        id,
                        existing: SeriesKey::clone(existing),
                        recovered: key,
                    })
                }
            }
            std::cmp::Ordering::Greater => Err(RecoveryConflict::Gap { id, next: len }),
            std::cmp::Ordering::Equal => {
                if len as u64 >= MAX_SERIES {
                    return Err(RecoveryConflict::Gap { id, next: len });
                }
                if let Some(existing) = inner.find(hash, &key) {
                    return Err(RecoveryConflict::KeyBoundToOtherId { id, existing, key });
                }
                inner.push(hash, Arc::new(key));
                Ok(())
            }
        }
    }

    /// Ids of the series `selector` matches; equal to filtering every key with
    /// [`Selector::matches`], computed with bitmap operations.
    pub fn select(&self, selector: &Selector) -> RoaringBitmap {
        let inner = self.inner.read();
        inner.postings.select(selector, &inner.keys)
    }

    /// Distinct values of dimension `key`, sorted, each with the ids of the series that
    /// carry it.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn dimension_values(&self, key: &str) -> Vec<(String, RoaringBitmap)> {
        self.inner.read().postings.dimension_values(key, None)
    }

    /// Distinct values of dimension `key` among the series in `within` (for group-by over
    /// a selection), sorted, each with those of its series that are in `within`; values
    /// with none are left out.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn dimension_values_within(
        &self,
        key: &str,
        within: &RoaringBitmap,
    ) -> Vec<(String, RoaringBitmap)> {
        self.inner
            .read()
            .postings
            .dimension_values(key, Some(within))
    }

    /// All metric names, sorted.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn metric_names(&self) -> Vec<String> {
        self.inner.read().postings.metric_names()
    }

    /// The bytes of a catalog file holding the whole catalog (keys and postings). See
    /// [`super::file`] for the layout.
    pub fn encode(&self) -> Vec<u8> {
        let inner = self.inner.read();
        file::encode(&inner.keys, &inner.postings)
    }

    /// Decodes a catalog file; `path` only names the file in errors.
    ///
    /// Damaged bytes give [`Error::Corruption`], a newer format
    /// [`Error::UnsupportedVersion`].
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Catalog> {
        let decoded = file::decode(bytes, path)?;
        Catalog::from_parts(decoded.keys, decoded.postings).map_err(|id| {
            Error::corruption(
                path,
                decoded.keys_at,
                format!(
                    "key table: series {} repeats the key of an earlier series",
                    id.0
                ),
            )
        })
    }
}

#[cfg(test)]
impl Catalog {
    /// Panics unless the postings are exactly those the keys imply and every key finds
    /// its own id.
    pub(super) fn assert_consistent(&self) {
        let inner = self.inner.read();
        assert!(
            inner.postings == Postings::from_keys(&inner.keys),
            "postings disagree with keys"
        );
        for (id, key) in (0u32..).zip(&inner.keys) {
            assert_eq!(inner.find(self.hash(key), key), Some(SeriesId(id)), "{key}");
        }
    }

    /// The state behind the lock, for white-box tests.
    pub(super) fn inner_for_tests(&self) -> parking_lot::RwLockReadGuard<'_, Inner> {
        self.inner.read()
    }

    /// The masked key hash the lookup table uses.
    pub(super) fn key_hash_for_tests(&self, key: &SeriesKey) -> u64 {
        self.hash(key)
    }

    /// Every key, series `i` at index `i`.
    pub(super) fn all_keys(&self) -> Vec<SeriesKey> {
        self.inner
            .read()
            .keys
            .iter()
            .map(|k| SeriesKey::clone(k))
            .collect()
    }
}

/// Why a recovered series could not be inserted: the records that recovery replays
/// disagree with each other, so the file or log that holds them is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecoveryConflict {
    /// The id is already bound to a different key.
    IdBoundToOtherKey {
        /// The recovered id.
        id: SeriesId,
        /// The key already bound to it.
        existing: SeriesKey,
        /// The key recovery tried to bind.
        recovered: SeriesKey,
    },
    /// The key already has a different id.
    KeyBoundToOtherId {
        /// The recovered id.
        id: SeriesId,
        /// The id the key already has.
        existing: SeriesId,
        /// The key.
        key: SeriesKey,
    },
    /// The id is beyond the next free id: the series in between are missing.
    Gap {
        /// The recovered id.
        id: SeriesId,
        /// The next free id.
        next: usize,
    },
}

impl fmt::Display for RecoveryConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryConflict::IdBoundToOtherKey {
                id,
                existing,
                recovered,
            } => write!(
                f,
                "series id {} is bound to {existing} but a record binds it to {recovered}",
                id.0
            ),
            RecoveryConflict::KeyBoundToOtherId { id, existing, key } => write!(
                f,
                "series {key} has id {} but a record gives it id {}",
                existing.0, id.0
            ),
            RecoveryConflict::Gap { id, next } => write!(
                f,
                "series id {} recovered while the next free id is {next}: series are missing",
                id.0
            ),
        }
    }
}

impl RecoveryConflict {
    /// The corruption error for a record at `offset` in `file`.
    pub fn into_error(self, file: impl Into<PathBuf>, offset: u64) -> Error {
        Error::corruption(file, offset, self.to_string())
    }
}

/// A hasher for keys that are already 64-bit keyed hashes: it passes them through.
#[derive(Default)]
pub(super) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else so the hasher stays correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(name: &str, host: &str) -> SeriesKey {
        SeriesKey::new(name).with("host", host)
    }

    #[test]
    fn ids_are_dense_and_stable() {
        let catalog = Catalog::new();
        let (a, b, c) = (key("cpu", "h1"), key("cpu", "h2"), key("mem", "h1"));
        let (ids, created) = catalog.get_or_create(&[&a, &b], 10).unwrap();
        assert_eq!(ids, [SeriesId(0), SeriesId(1)]);
        assert_eq!(
            created,
            [(SeriesId(0), a.clone()), (SeriesId(1), b.clone())]
        );
        let (ids, created) = catalog.get_or_create(&[&c, &a], 10).unwrap();
        assert_eq!(ids, [SeriesId(2), SeriesId(0)]);
        assert_eq!(created, [(SeriesId(2), c.clone())]);
        assert_eq!(catalog.len(), 3);
        assert_eq!(catalog.lookup(&b), Some(SeriesId(1)));
        assert_eq!(catalog.lookup(&key("cpu", "h3")), None);
        assert_eq!(*catalog.key(SeriesId(2)).unwrap(), c);
        assert!(catalog.key(SeriesId(3)).is_none());
    }

    #[test]
    fn repeated_keys_in_one_call_get_one_id() {
        let catalog = Catalog::new();
        let (a, b) = (key("cpu", "h1"), key("cpu", "h2"));
        let (ids, created) = catalog.get_or_create(&[&a, &b, &a, &b, &a], 2).unwrap();
        assert_eq!(ids, [0, 1, 0, 1, 0].map(SeriesId));
        assert_eq!(created.len(), 2);
        assert_eq!(catalog.len(), 2);
    }

    #[test]
    fn limit_is_atomic() {
        let catalog = Catalog::new();
        let keys: Vec<SeriesKey> = (0..6).map(|i| key("cpu", &format!("h{i}"))).collect();
        catalog
            .get_or_create(&[&keys[0], &keys[1], &keys[2]], 5)
            .unwrap();
        // Two existing and three new (one repeated) would make 6 > 5: nothing is created.
        let batch = [&keys[0], &keys[3], &keys[4], &keys[3], &keys[5], &keys[1]];
        let err = catalog.get_or_create(&batch, 5).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LimitExceeded {
                    what: "series",
                    limit: 5
                }
            ),
            "{err}"
        );
        assert_eq!(catalog.len(), 3);
        for k in &keys[3..] {
            assert_eq!(catalog.lookup(k), None);
        }
        assert!(catalog.select(&Selector::any()).len() == 3);
        // Exactly reaching the limit is fine, and existing keys never hit it.
        let (ids, _) = catalog
            .get_or_create(&[&keys[3], &keys[4], &keys[3]], 5)
            .unwrap();
        assert_eq!(ids, [3, 4, 3].map(SeriesId));
        assert!(catalog.get_or_create(&[&keys[5]], 5).is_err());
        let (ids, created) = catalog.get_or_create(&[&keys[0], &keys[4]], 5).unwrap();
        assert_eq!(ids, [0, 4].map(SeriesId));
        assert!(created.is_empty());
        assert!(catalog.get_or_create(&[&keys[5]], 0).is_err());
    }

    #[test]
    fn a_failed_log_append_creates_nothing() {
        for mask in [u64::MAX, 1] {
            let catalog = Catalog::with_hash_mask(mask);
            let old: Vec<SeriesKey> = (0..5).map(|i| key("cpu", &format!("h{i}"))).collect();
            let old_refs: Vec<&SeriesKey> = old.iter().collect();
            catalog.get_or_create(&old_refs, 100).unwrap();
            let before = catalog.encode();

            let new = [key("cpu", "h9"), key("disk", "h0"), key("mem", "h1")];
            let refs: Vec<&SeriesKey> = new.iter().chain(&old).collect();
            let err = catalog
                .get_or_create_with(&refs, 100, |created| {
                    assert_eq!(
                        created.iter().map(|(id, _)| id.0).collect::<Vec<_>>(),
                        [5, 6, 7]
                    );
                    Err(Error::Poisoned("wal append failed".into()))
                })
                .unwrap_err();
            assert!(matches!(err, Error::Poisoned(_)));
            assert_eq!(catalog.len(), 5);
            assert_eq!(catalog.lookup(&new[0]), None);
            assert_eq!(catalog.lookup(&old[4]), Some(SeriesId(4)));
            assert!(catalog.metric_names() == ["cpu"]);
            catalog.assert_consistent();
            assert_eq!(catalog.encode(), before);

            // The ids are handed out again, and the log sees them this time.
            let mut logged = Vec::new();
            let (ids, created) = catalog
                .get_or_create_with(&refs, 100, |created| {
                    logged.extend_from_slice(created);
                    Ok(())
                })
                .unwrap();
            assert_eq!(ids[..3], [5, 6, 7].map(SeriesId));
            assert_eq!(logged, created);
            catalog.assert_consistent();
            // Nothing new: the log is not called.
            catalog
                .get_or_create_with(&refs, 100, |_| panic!("nothing was created"))
                .unwrap();
        }
    }

    #[test]
    fn existing_keys_take_only_the_read_lock() {
        let catalog = Catalog::new();
        let a = key("cpu", "h1");
        catalog.get_or_create(&[&a], 10).unwrap();
        // Would deadlock if get_or_create took the write lock for an existing key.
        let _reader = catalog.inner.read();
        let (ids, created) = catalog.get_or_create(&[&a, &a], 10).unwrap();
        assert_eq!(ids, [SeriesId(0), SeriesId(0)]);
        assert!(created.is_empty());
    }

    #[test]
    fn hash_collisions_keep_lookups_exact() {
        // Only two hash values: nearly every key collides with others.
        let catalog = Catalog::with_hash_mask(1);
        let keys: Vec<SeriesKey> = (0..50).map(|i| key("cpu", &format!("h{i}"))).collect();
        let refs: Vec<&SeriesKey> = keys.iter().chain(&keys).collect();
        let (ids, created) = catalog.get_or_create(&refs, 1000).unwrap();
        assert_eq!(created.len(), 50);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(ids[i], SeriesId(i as u32));
            assert_eq!(ids[i + 50], SeriesId(i as u32));
            assert_eq!(catalog.lookup(k), Some(SeriesId(i as u32)));
        }
        assert_eq!(catalog.lookup(&key("cpu", "h50")), None);
        catalog
            .insert_recovered(SeriesId(7), keys[7].clone())
            .unwrap();
        assert!(catalog
            .insert_recovered(SeriesId(50), keys[7].clone())
            .is_err());
    }

    #[test]
    fn concurrent_creators_agree_on_one_dense_id_per_key() {
        let catalog = Catalog::new();
        let keys: Vec<SeriesKey> = (0..400).map(|i| key("cpu", &format!("h{i}"))).collect();
        let results: Vec<Vec<(SeriesKey, SeriesId)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (catalog, keys) = (&catalog, &keys);
                    s.spawn(move || {
                        let mut seen = Vec::new();
                        // Each thread walks the keys in its own order, in small batches
                        // that overlap with the other threads'.
                        let mut order: Vec<usize> = (0..keys.len()).collect();
                        order.rotate_left(t * 97);
                        if t % 2 == 1 {
                            order.reverse();
                        }
                        for chunk in order.chunks(1 + t) {
                            let batch: Vec<&SeriesKey> = chunk.iter().map(|&i| &keys[i]).collect();
                            let (ids, _) = catalog.get_or_create(&batch, u64::MAX).unwrap();
                            seen.extend(batch.into_iter().cloned().zip(ids));
                        }
                        seen
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(catalog.len(), keys.len());
        let ids: HashSet<SeriesId> = keys.iter().map(|k| catalog.lookup(k).unwrap()).collect();
        assert_eq!(ids, (0..400).map(SeriesId).collect());
        for (k, id) in results.into_iter().flatten() {
            assert_eq!(catalog.lookup(&k), Some(id));
            assert_eq!(*catalog.key(id).unwrap(), k);
        }
        assert_eq!(catalog.select(&Selector::metric("cpu")).len(), 400);
    }

    #[test]
    fn logging_under_the_lock_keeps_the_log_in_id_order() {
        let catalog = Catalog::new();
        let log = parking_lot::Mutex::new(Vec::<(SeriesId, SeriesKey)>::new());
        let keys: Vec<SeriesKey> = (0..300).map(|i| key("cpu", &format!("h{i}"))).collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (catalog, keys, log) = (&catalog, &keys, &log);
                s.spawn(move || {
                    for chunk in keys.chunks(3 + t).skip(t % 2) {
                        let batch: Vec<&SeriesKey> = chunk.iter().collect();
                        catalog
                            .get_or_create_with(&batch, u64::MAX, |created| {
                                log.lock().extend_from_slice(created);
                                Ok(())
                            })
                            .unwrap();
                    }
                });
            }
        });
        let log = log.into_inner();
        assert_eq!(log.len(), catalog.len());
        // Replaying the log, as recovery does, meets every id in order.
        let recovered = Catalog::new();
        for (id, key) in log {
            recovered.insert_recovered(id, key).unwrap();
        }
        assert_eq!(recovered.all_keys(), catalog.all_keys());
    }

    #[test]
    fn recovery_accepts_replays_and_rejects_conflicts() {
        let catalog = Catalog::new();
        let (a, b) = (key("cpu", "h1"), key("cpu", "h2"));
        catalog.insert_recovered(SeriesId(0), a.clone()).unwrap();
        catalog.insert_recovered(SeriesId(0), a.clone()).unwrap();
        catalog.insert_recovered(SeriesId(1), b.clone()).unwrap();
        assert_eq!(catalog.len(), 2);
        assert_eq!(catalog.lookup(&b), Some(SeriesId(1)));
        assert_eq!(catalog.select(&Selector::metric("cpu")).len(), 2);

        let other = key("mem", "h1");
        assert!(matches!(
            catalog.insert_recovered(SeriesId(1), other.clone()),
            Err(RecoveryConflict::IdBoundToOtherKey { .. })
        ));
        assert!(matches!(
            catalog.insert_recovered(SeriesId(2), a.clone()),
            Err(RecoveryConflict::KeyBoundToOtherId {
                existing: SeriesId(0),
                ..
            })
        ));
        let gap = catalog.insert_recovered(SeriesId(3), other).unwrap_err();
        assert_eq!(
            gap,
            RecoveryConflict::Gap {
                id: SeriesId(3),
                next: 2
            }
        );
        let err = gap.into_error("/db/wal/000001.log", 42);
        assert!(err.is_corruption());
        assert!(err.to_string().contains("offset 42"), "{err}");
        assert_eq!(catalog.len(), 2);
        // Recovered series count towards the limit of later creations.
        assert!(catalog.get_or_create(&[&key("x", "y")], 2).is_err());
    }
}
