//! `Db`: open/close, the write path, snapshots and maintenance calls.

mod delete;
mod flush;
mod maintenance;
mod open;
mod quarantine;
mod query;
mod read_only;
mod telemetry;
mod verify;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::batch::{SeriesHandle, WriteBatch, WriteReceipt, KEY_FLAG};
use crate::compaction::{CompactionReport, RetentionReport, Tier};
use crate::error::{Error, Result};
use crate::index::Catalog;
use crate::options::{Durability, Options};
use crate::query::select::SelectIter;
use crate::storage::DirLock;
use crate::types::{validate_timestamp, wall_clock_ns, Selector, SeriesId, SeriesKey, TimeRange};
use crate::version::VersionSet;
use crate::wal::{self, Wal};

pub use delete::DeleteReport;
pub use flush::FlushReport;
pub use maintenance::MaintenanceStatus;
pub use quarantine::QuarantineReport;
pub use read_only::RefreshReport;
pub use verify::{SegmentDamage, VerifyReport};

/// Distinguishes databases within a process, so that a [`SeriesHandle`] made by one is
/// refused by another.
static NEXT_DB_TAG: AtomicU64 = AtomicU64::new(1);

/// An open database. Cheap to clone (an `Arc` inside); `Send + Sync`.
///
/// ```
/// use sedimentdb::{Db, Matcher, Options, Selector, SeriesKey, TimeRange, WriteBatch};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let key = SeriesKey::new("cpu_usage").with("host", "h1");
/// let h = db.series(&key).unwrap();
/// let mut batch = WriteBatch::new();
/// for i in 0..10 {
///     batch.push(h, i * 10_000_000_000, 50.0 + i as f64);
/// }
/// db.write(&batch).unwrap();
/// db.flush().unwrap();
/// let sel = Selector::metric("cpu_usage").with(Matcher::eq("host", "h1"));
/// let series: Vec<_> = db.select(&sel, TimeRange::all()).unwrap().collect::<Result<_, _>>().unwrap();
/// assert_eq!(series.len(), 1);
/// assert_eq!(series[0].values.len(), 10);
/// db.close().unwrap();
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<DbInner>,
    /// Dropped with the last handle: stops and joins the background threads, so that the
    /// database (and its directory lock) is released by the time `drop` returns, even if
    /// a background flush was running.
    _workers: Arc<Workers>,
}

struct Workers(Arc<DbInner>);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.stop_flusher();
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.versions.layout().root)
            .finish()
    }
}

/// What happened while the database was opened.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// WAL files replayed.
    pub wal_files: usize,
    /// WAL records replayed.
    pub wal_records: u64,
    /// Points put back into the head.
    pub replayed_points: u64,
    /// A torn tail cut off the last WAL file: (file, offset). Its points were never
    /// acknowledged as durable. Offset 0: the file was removed, being empty or shorter
    /// than its header (a crash while creating it, or a truncation: they look the same).
    pub truncated_tail: Option<(PathBuf, u64)>,
    /// Damage skipped in salvage mode: (file, offset, what). A WAL file missing from the
    /// sequence is listed by its name, offset 0.
    pub salvaged: Vec<(PathBuf, u64, String)>,
    /// Points salvage could not put back because no intact WAL record and no catalog
    /// defines their series (its definition was in a damaged or missing part of the
    /// log): one entry per WAL record and series. Empty outside
    /// [`crate::RecoveryMode::Salvage`], where such a log fails `open` instead.
    pub skipped_points: Vec<SkippedPoints>,
    /// Files found on disk that the manifest does not list (left by a crash), removed.
    pub orphans_removed: Vec<PathBuf>,
    /// Damaged segments set aside under [`crate::DamagedSegments::Quarantine`].
    pub quarantined: Vec<QuarantineReport>,
}

/// Points of one series in one WAL record that salvage skipped: see
/// [`RecoveryReport::skipped_points`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkippedPoints {
    /// The series id the record names.
    pub series: u32,
    /// Points of that series in the record.
    pub points: u64,
    /// The WAL file holding the record.
    pub file: PathBuf,
    /// The record's offset in it.
    pub offset: u64,
}

/// Sizes per tier. Hot = head (memory) and WAL (disk); warm = segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Series in the catalog.
    pub series: u64,
    /// Points in the head, including heads being flushed.
    pub head_points: u64,
    /// Estimated memory held by the head.
    pub head_bytes: u64,
    /// Live segment files.
    pub segments: u64,
    /// Points in segments.
    pub segment_points: u64,
    /// Bytes of segment files.
    pub segment_bytes: u64,
    /// Bytes of WAL files.
    pub wal_bytes: u64,
    /// Bytes of the catalog file.
    pub catalog_bytes: u64,
    /// Deletions ([`Db::delete_series`]) whose points are still on disk (hidden from
    /// reads); compaction removes the points and then the deletion record.
    pub tombstones: u64,
    /// Live rollup files (see [`Options::rollup`]).
    pub rollup_files: u64,
    /// Buckets in them.
    pub rollup_buckets: u64,
    /// Bytes of them.
    pub rollup_bytes: u64,
    /// Per time partition with segments, oldest first.
    pub partitions: Vec<PartitionStats>,
}

/// Segments of one time partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionStats {
    /// First timestamp of the partition.
    pub start: crate::Timestamp,
    /// True when compaction made it cold (one dense segment).
    pub cold: bool,
    /// Segment files.
    pub segments: u64,
    /// Points in them.
    pub points: u64,
    /// Bytes of them.
    pub bytes: u64,
}

pub(crate) struct DbInner {
    pub(crate) opts: Options,
    pub(crate) tag: u64,
    pub(crate) catalog: Arc<Catalog>,
    /// `None` for a read-only open: every change is refused ([`DbInner::wal`]).
    pub(crate) wal: Option<Wal>,
    /// A read-only open: the manifest bytes its snapshot was loaded from (empty for a
    /// read-write open).
    pub(crate) loaded_manifest: Mutex<Vec<u8>>,
    /// The manifest, the version readers see, the directory layout and the commit lock.
    pub(crate) versions: VersionSet,
    /// Series whose points were all deleted; left out of selections until written again.
    pub(crate) hidden: RwLock<roaring::RoaringBitmap>,
    recovery: RecoveryReport,
    closed: AtomicBool,
    flusher: Mutex<Option<JoinHandle<()>>>,
    flush_signal: Arc<(Mutex<FlushRequest>, Condvar)>,
    /// The opt-in maintenance thread.
    scheduler: Mutex<Option<maintenance::Scheduler>>,
    /// Kept outside the scheduler so it stays readable after close.
    maintenance_status: Arc<Mutex<MaintenanceStatus>>,
    /// The directory lock; released by `close` so the directory can be reopened at once.
    dir_lock: Mutex<Option<Box<dyn DirLock>>>,
}

#[derive(Default)]
struct FlushRequest {
    pending: bool,
    shutdown: bool,
}

impl Db {
    /// Opens the database in `path`, creating it if missing (unless
    /// [`Options::create_if_missing`] is false), and replays its WAL.
    pub fn open(path: impl AsRef<std::path::Path>, opts: Options) -> Result<Db> {
        let inner = Arc::new(open::open(path.as_ref(), opts)?);
        telemetry::opened(path.as_ref(), false, &inner.recovery);
        let db = Db {
            _workers: Arc::new(Workers(inner.clone())),
            inner,
        };
        db.start_flusher();
        if db.inner.opts.maintenance.is_enabled() {
            let scheduler = maintenance::Scheduler::start(
                Arc::downgrade(&db.inner),
                db.inner.opts.maintenance,
                db.inner.maintenance_status.clone(),
            );
            *db.inner.scheduler.lock() = Some(scheduler);
        }
        Ok(db)
    }

    /// Opens the database in `path` read-only, beside a process that may hold it open
    /// for writing (a service keeps running while an operator queries it).
    ///
    /// Takes no lock and writes, creates, truncates and deletes nothing: the WAL is
    /// replayed into memory (a torn tail, typically the record the writer is appending,
    /// is skipped in memory and left on disk), segments are mapped, and queries see one
    /// consistent snapshot, every write batch whole or not at all. [`Db::refresh`]
    /// picks up what the writer has written since. Writes, flushes, compactions,
    /// deletions, retention and quarantine fail with [`Error::ReadOnly`]. A damaged
    /// segment fails the open (quarantining it would write). No background thread runs.
    ///
    /// ```
    /// use sedimentdb::{Db, Error, Options, SeriesKey, TimeRange, WriteBatch, Selector};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let writer = Db::open(dir.path(), Options::default())?;
    /// let mut batch = WriteBatch::new();
    /// batch.push_key(&SeriesKey::new("cpu"), 1, 0.5);
    /// writer.write(&batch)?;
    ///
    /// let reader = Db::open_read_only(dir.path(), Options::default())?; // writer still open
    /// assert_eq!(reader.stats().head_points, 1);
    /// assert!(matches!(reader.write(&batch), Err(Error::ReadOnly { .. })));
    ///
    /// batch.clear();
    /// batch.push_key(&SeriesKey::new("cpu"), 2, 0.7);
    /// writer.write(&batch)?;
    /// writer.flush()?;
    /// reader.refresh()?;
    /// let points: usize = reader.select(&Selector::metric("cpu"), TimeRange::all())?
    ///     .map(|s| s.map(|s| s.len()))
    ///     .sum::<Result<_, _>>()?;
    /// assert_eq!(points, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<std::path::Path>, opts: Options) -> Result<Db> {
        let inner = Arc::new(read_only::open_read_only(path.as_ref(), opts)?);
        telemetry::opened(path.as_ref(), true, &inner.recovery);
        Ok(Db {
            _workers: Arc::new(Workers(inner.clone())),
            inner,
        })
    }

    /// For a database opened with [`Db::open_read_only`]: loads what the writer has
    /// published since (a new manifest, new segments, new WAL records) and makes it the
    /// snapshot later reads see. Reads already running keep the old snapshot. Fails with
    /// [`Error::InvalidArgument`] on a read-write open, which is always current.
    pub fn refresh(&self) -> Result<RefreshReport> {
        self.inner.check_open()?;
        if self.inner.wal.is_some() {
            return Err(Error::invalid(
                "refresh is for read-only opens; a read-write open is always current",
            ));
        }
        read_only::refresh(&self.inner)
    }

    /// True for a database opened with [`Db::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.wal.is_none()
    }

    fn start_flusher(&self) {
        let weak = Arc::downgrade(&self.inner);
        let signal = self.inner.flush_signal.clone();
        let handle = std::thread::Builder::new()
            .name("sedimentdb-flush".into())
            .spawn(move || loop {
                {
                    let (lock, cvar) = &*signal;
                    let mut req = lock.lock();
                    while !req.pending && !req.shutdown {
                        cvar.wait(&mut req);
                    }
                    if req.shutdown {
                        return;
                    }
                    req.pending = false;
                }
                let Some(inner) = weak.upgrade() else { return };
                // A failed background flush leaves the head in place; the data stays
                // readable and in the WAL, and the next flush retries.
                let _ = flush::flush(&inner);
            });
        if let Ok(handle) = handle {
            *self.inner.flusher.lock() = Some(handle);
        }
    }

    /// Resolves (creating if new) the series named by `key`.
    pub fn series(&self, key: &SeriesKey) -> Result<SeriesHandle> {
        self.inner.check_open()?;
        if let Some(id) = self.inner.catalog.lookup(key) {
            return Ok(SeriesHandle {
                id,
                db_tag: self.inner.tag,
            });
        }
        key.validate(&self.inner.opts.key_limits)?;
        let ids = self.inner.ensure_series(&[key])?;
        Ok(SeriesHandle {
            id: ids[0],
            db_tag: self.inner.tag,
        })
    }

    /// Resolves many series at once, creating the missing ones together: one catalog
    /// record in the WAL and, under [`Durability::Sync`], one fsync for the whole call,
    /// where [`Db::series`] pays one per new series. Handles come back in the order of
    /// `keys`; a key given twice gets the same handle.
    ///
    /// Atomic: if a missing key is invalid, or creating the missing series would take
    /// the catalog past [`Options::max_series`], the call fails with
    /// [`Error::InvalidArgument`] or [`Error::LimitExceeded`] and creates none of them.
    /// After a crash, either all the series one call created are back or none (their
    /// definitions share one checksummed WAL record).
    ///
    /// ```
    /// use sedimentdb::{Db, Error, Options, SeriesKey};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default().max_series(3))?;
    /// let keys: Vec<SeriesKey> = ["h1", "h2", "h1"]
    ///     .iter()
    ///     .map(|h| SeriesKey::new("cpu").with("host", *h))
    ///     .collect();
    /// let handles = db.series_many(&keys)?;
    /// assert_eq!(handles[0], handles[2]);
    /// assert_eq!(db.stats().series, 2);
    ///
    /// // Two more would exceed the limit of 3: neither is created.
    /// let more = [SeriesKey::new("cpu").with("host", "h3"), SeriesKey::new("cpu").with("host", "h4")];
    /// assert!(matches!(db.series_many(&more), Err(Error::LimitExceeded { .. })));
    /// assert_eq!(db.stats().series, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn series_many(&self, keys: &[SeriesKey]) -> Result<Vec<SeriesHandle>> {
        self.inner.check_open()?;
        let mut ids: Vec<SeriesId> = Vec::with_capacity(keys.len());
        // (position in `keys`, key) of the keys the catalog lacks; validated before any
        // is created, so an invalid one fails the call with nothing created.
        let mut missing: Vec<(usize, &SeriesKey)> = Vec::new();
        for (at, key) in keys.iter().enumerate() {
            match self.inner.catalog.lookup(key) {
                Some(id) => ids.push(id),
                None => {
                    key.validate(&self.inner.opts.key_limits)?;
                    ids.push(SeriesId(u32::MAX));
                    missing.push((at, key));
                }
            }
        }
        if !missing.is_empty() {
            let missing_keys: Vec<&SeriesKey> = missing.iter().map(|&(_, k)| k).collect();
            let created = self.inner.ensure_series(&missing_keys)?;
            for (&(at, _), id) in missing.iter().zip(created) {
                ids[at] = id;
            }
        }
        Ok(ids
            .into_iter()
            .map(|id| SeriesHandle {
                id,
                db_tag: self.inner.tag,
            })
            .collect())
    }

    /// Writes a batch atomically. Under [`Durability::Sync`] the points are on stable
    /// storage when this returns; otherwise `receipt.durable` tells.
    pub fn write(&self, batch: &WriteBatch) -> Result<WriteReceipt> {
        self.inner.write(batch)
    }

    /// The points of every series matching `selector` inside `range`, one series at a
    /// time, merged across head and segments (a later write of the same timestamp wins).
    /// Series without points in the range are skipped.
    pub fn select(&self, selector: &Selector, range: TimeRange) -> Result<SelectIter> {
        self.inner.check_open()?;
        let ids = self.inner.visible(selector);
        let version = self.inner.versions.current();
        Ok(SelectIter::new(
            self.inner.catalog.clone(),
            version,
            ids,
            range,
        ))
    }

    /// Keys of the series matching `selector`, in id order.
    pub fn list_series(&self, selector: &Selector) -> Result<Vec<Arc<SeriesKey>>> {
        self.inner.check_open()?;
        let ids = self.inner.visible(selector);
        Ok(ids
            .iter()
            .filter_map(|id| self.inner.catalog.key(SeriesId(id)))
            .collect())
    }

    /// Writes the head to segment files, records them in the manifest and removes the WAL
    /// files they make redundant.
    pub fn flush(&self) -> Result<FlushReport> {
        self.inner.check_writable("flush")?;
        flush::flush(&self.inner)
    }

    /// Merges each partition's segments into one, re-encoding cold partitions (older
    /// than [`Options::warm_duration`]) densely. A partition holding points deleted by
    /// [`Db::delete_series`] is rewritten without them even if it is already one
    /// segment, in its tier, and the deletions it resolved leave the manifest in the
    /// same atomic swap. Readers keep working on their snapshot meanwhile, and writers
    /// are held only for the manifest swap. A partition one of whose segments turns out
    /// damaged is left as it was and listed in [`CompactionReport::skipped`]; the others
    /// are compacted all the same.
    pub fn compact(&self) -> Result<CompactionReport> {
        self.inner.check_writable("compact")?;
        let result = crate::compaction::compact(&self.inner.compaction());
        telemetry::compacted("compact", &result);
        result
    }

    /// Deletes the points of every series matching `selector` inside `range` (for
    /// example all of one user's data). They are invisible to reads when this returns,
    /// durably (the deletion is recorded in the manifest), and removed from disk by the
    /// next compaction of the partitions involved. A series left with no point at all
    /// disappears from [`Db::list_series`] and selections until it is written again.
    pub fn delete_series(&self, selector: &Selector, range: TimeRange) -> Result<DeleteReport> {
        self.inner.check_writable("delete")?;
        delete::delete_series(&self.inner, selector, range)
    }

    /// Compacts the partition holding timestamp `ts` into one segment encoded for `tier`,
    /// whatever its age (e.g. to make a finished day cold at once). A damaged segment
    /// in it fails the call with [`Error::Corruption`] naming the file and offset (the
    /// caller asked for this partition; [`Db::compact`] skips it instead).
    pub fn compact_partition(&self, ts: crate::Timestamp, tier: Tier) -> Result<CompactionReport> {
        self.inner.check_writable("compact")?;
        let result = crate::compaction::compact_partition(&self.inner.compaction(), ts, tier);
        telemetry::compacted("compact_partition", &result);
        result
    }

    /// Drops the segments wholly older than [`Options::retention`] (measured back from the
    /// newest point), by deleting files: nothing is rewritten; then applies the
    /// per-series rules of [`Options::retention_for`] with tombstones.
    pub fn apply_retention(&self) -> Result<RetentionReport> {
        self.inner.check_writable("retention")?;
        self.inner.apply_retention()
    }

    /// Sets a segment file aside: copies it into the database's `quarantine/` directory,
    /// removes it from the manifest (one atomic manifest swap, so a crash leaves the
    /// segment either live or quarantined) and deletes the original once no reader uses
    /// it. `file` is the segment as [`Error::Corruption`] names it
    /// (`<db>/segments/{id:020}.seg`), or its file name alone.
    ///
    /// This loses data, which is why nothing does it on its own: every point the segment
    /// held disappears from queries, including the undamaged chunks of a file whose
    /// damage is in one chunk. Where the segment had overwritten a point of an older
    /// segment (same series and timestamp, a later write), the older value shows again.
    /// Points of the same series in other segments and in the head are untouched. The
    /// report says what was lost; the file is kept for inspection, and the engine never
    /// deletes anything in `quarantine/`.
    ///
    /// Fails with [`Error::InvalidArgument`] if `file` does not name a live segment.
    ///
    /// ```
    /// # use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// batch.push_key(&SeriesKey::new("cpu"), 1, 0.5);
    /// db.write(&batch).unwrap();
    /// db.flush().unwrap();
    /// let segment = std::fs::read_dir(dir.path().join("segments")).unwrap()
    ///     .next().unwrap().unwrap().path();
    /// let report = db.quarantine_segment(&segment).unwrap();
    /// assert_eq!(report.points, 1);
    /// assert!(report.quarantined_as.starts_with(dir.path().join("quarantine")));
    /// assert_eq!(db.stats().segments, 0);
    /// ```
    pub fn quarantine_segment(
        &self,
        file: impl AsRef<std::path::Path>,
    ) -> Result<QuarantineReport> {
        self.inner.check_writable("quarantine")?;
        quarantine::quarantine_segment(&self.inner, file.as_ref())
    }

    /// Decodes every chunk of every live segment (checksums, decompression, codecs),
    /// recomputes each chunk's statistics from its decoded points and lists the damaged
    /// segments (a chunk that fails to decode, or whose stored statistics, which answer
    /// aggregates without decoding, disagree with its points), so that damage is found
    /// before a query or compaction meets it; [`Db::quarantine_segment`] then sets them aside. Reads every segment
    /// byte: as costly as reading the whole database once. Works on a snapshot; writes,
    /// flushes and compactions go on meanwhile.
    ///
    /// ```
    /// # use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// batch.push_key(&SeriesKey::new("cpu"), 1, 0.5);
    /// db.write(&batch).unwrap();
    /// db.flush().unwrap();
    /// let report = db.verify().unwrap();
    /// assert_eq!((report.segments, report.chunks), (1, 1));
    /// for damage in &report.damaged {
    ///     db.quarantine_segment(&damage.file).unwrap();
    /// }
    /// ```
    pub fn verify(&self) -> Result<VerifyReport> {
        self.inner.check_open()?;
        verify::verify(&self.inner)
    }

    /// Sizes per tier.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// What the background maintenance thread has done (all zero when it is off).
    pub fn maintenance_status(&self) -> MaintenanceStatus {
        self.inner.maintenance_status.lock().clone()
    }

    /// What open found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The database directory.
    pub fn path(&self) -> &std::path::Path {
        &self.inner.versions.layout().root
    }

    /// Makes the WAL durable and stops background work. Later calls on any clone of this
    /// `Db` fail with [`Error::Closed`]. Dropping without `close` is safe: unflushed
    /// points come back from the WAL on the next open.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.stop_flusher();
        // Wait for a flush (or other commit) another thread may be running before the
        // WAL goes away.
        let _commit = self.inner.versions.lock();
        let result = self.inner.wal.as_ref().map_or(Ok(()), Wal::close);
        self.inner.dir_lock.lock().take();
        result
    }
}

impl DbInner {
    /// [`Db::apply_retention`]: the API call and the maintenance thread both come here,
    /// so that both apply the per-selector rules as well as the global retention.
    pub(crate) fn apply_retention(&self) -> Result<RetentionReport> {
        let result = self.apply_retention_untraced();
        telemetry::retained(&result);
        result
    }

    fn apply_retention_untraced(&self) -> Result<RetentionReport> {
        let inner = self;
        // The database-wide retention and the rollup policies' retentions in one pass;
        // then the per-selector rules, as deletions.
        let mut report =
            crate::compaction::apply_retention(&inner.compaction(), inner.opts.retention)?;
        for (selector, keep) in &inner.opts.retention_rules {
            let Some(now) = crate::compaction::retention_now(&inner.opts, &inner.versions) else {
                break;
            };
            let cutoff = now.saturating_sub(*keep);
            let ids = inner.visible(selector);
            let version = inner.versions.current();
            let oldest_due = version
                .segments
                .iter()
                .filter(|s| s.entry.min_ts < cutoff)
                .map(|s| s.entry.id)
                .max();
            let head_due = std::iter::once(&version.live)
                .chain(version.frozen.iter())
                .any(|h| h.time_bounds().is_some_and(|(lo, _)| lo < cutoff));
            let due = match oldest_due {
                _ if ids.is_empty() => false,
                Some(seg) => head_due || !version.tombstones.covers(&ids, cutoff, seg),
                None => head_due,
            };
            if due {
                let deleted =
                    delete::delete_series(inner, selector, TimeRange::new(i64::MIN, cutoff))?;
                report.rule_series += deleted.series;
            }
        }
        Ok(report)
    }

    /// Series matching `selector`, less those whose points were all deleted.
    pub(crate) fn visible(&self, selector: &Selector) -> roaring::RoaringBitmap {
        let mut ids = self.catalog.select(selector);
        let hidden = self.hidden.read();
        if !hidden.is_empty() {
            ids -= &*hidden;
        }
        ids
    }

    /// What compaction and retention work with.
    pub(crate) fn compaction(&self) -> crate::compaction::Context<'_> {
        crate::compaction::Context {
            opts: &self.opts,
            catalog: &self.catalog,
            versions: &self.versions,
            closed: &self.closed,
        }
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// [`DbInner::check_open`], and refuses `op` on a read-only open.
    pub(crate) fn check_writable(&self, op: &'static str) -> Result<()> {
        self.check_open()?;
        self.wal(op).map(|_| ())
    }

    /// The WAL, or [`Error::ReadOnly`] naming `op` on a read-only open.
    pub(crate) fn wal(&self, op: &'static str) -> Result<&Wal> {
        self.wal.as_ref().ok_or_else(|| Error::ReadOnly {
            path: self.versions.layout().root.clone(),
            op,
        })
    }

    fn stop_flusher(&self) {
        if let Some(scheduler) = self.scheduler.lock().take() {
            scheduler.stop();
        }
        {
            let (lock, cvar) = &*self.flush_signal;
            lock.lock().shutdown = true;
            cvar.notify_all();
        }
        if let Some(handle) = self.flusher.lock().take() {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }

    fn request_flush(&self) {
        let (lock, cvar) = &*self.flush_signal;
        lock.lock().pending = true;
        cvar.notify_one();
    }

    /// Creates the series among `keys` that do not exist yet and returns every key's id.
    ///
    /// The catalog calls the logging closure under its write lock, before any other
    /// thread can see the new ids, so series records reach the WAL in id order and no
    /// writer can log a point for a series whose definition is not earlier in the WAL.
    pub(crate) fn ensure_series(&self, keys: &[&SeriesKey]) -> Result<Vec<SeriesId>> {
        let limit = self.opts.max_series.min(u64::from(KEY_FLAG));
        let mut lsn = None;
        let (ids, _created) = self.catalog.get_or_create_with(keys, limit, |created| {
            let mut payload = Vec::new();
            let rtype = wal::encode_series(created, &mut payload);
            lsn = Some(
                self.wal("create series")?
                    .append_with(rtype, &payload, || ())?
                    .0,
            );
            Ok(())
        })?;
        if let (Some(lsn), Durability::Sync) = (lsn, self.opts.durability) {
            self.wal("create series")?.sync_to(lsn)?;
        }
        Ok(ids)
    }

    fn write(&self, batch: &WriteBatch) -> Result<WriteReceipt> {
        self.check_open()?;
        let wal = self.wal("write")?;
        let n = batch.len();
        if n == 0 {
            return Ok(WriteReceipt {
                points: 0,
                durable: true,
            });
        }
        if n > self.opts.max_batch_points {
            return Err(Error::LimitExceeded {
                what: "points per batch",
                limit: self.opts.max_batch_points as u64,
            });
        }
        if batch.mixed_handles || batch.db_tag.is_some_and(|t| t != self.tag) {
            return Err(Error::invalid(
                "batch holds a series handle from another database",
            ));
        }
        for &ts in &batch.timestamps {
            validate_timestamp(ts)?;
        }
        if let (Some(max_ahead_ns), Some(&newest)) =
            (self.opts.max_future, batch.timestamps.iter().max())
        {
            // One clock read per batch; a batch is refused whole, like every bad input.
            let now = wall_clock_ns();
            if newest.saturating_sub(now) > max_ahead_ns {
                return Err(Error::FutureTimestamp {
                    timestamp: newest,
                    now,
                    max_ahead_ns,
                });
            }
        }
        let resolved;
        let series: &[u32] = if batch.keys.is_empty() {
            &batch.series
        } else {
            for key in &batch.keys {
                key.validate(&self.opts.key_limits)?;
            }
            let keys: Vec<&SeriesKey> = batch.keys.iter().collect();
            let ids = self.ensure_series(&keys)?;
            resolved = batch
                .series
                .iter()
                .map(|&s| {
                    if s & KEY_FLAG != 0 {
                        ids[(s & !KEY_FLAG) as usize].0
                    } else {
                        s
                    }
                })
                .collect::<Vec<u32>>();
            &resolved
        };
        let mut payload = Vec::with_capacity(n * 10 + 64);
        let rtype = wal::encode_points(series, &batch.timestamps, &batch.values, &mut payload);
        let (lsn, ()) = wal.append_with(rtype, &payload, || {
            let version = self.versions.read();
            version
                .live
                .insert(series, &batch.timestamps, &batch.values);
        })?;
        // After the insert, so that a concurrent delete_series either sees the new points
        // in the head or has already hidden the series and is un-hidden here.
        if !self.hidden.read().is_empty() {
            let mut hidden = self.hidden.write();
            for &id in series {
                hidden.remove(id);
            }
        }
        let durable = match self.opts.durability {
            Durability::Sync => {
                wal.sync_to(lsn)?;
                true
            }
            _ => wal.durable_lsn() >= lsn,
        };
        self.after_write();
        Ok(WriteReceipt { points: n, durable })
    }

    /// Flush triggers: the head window, and the memory budget. Past the budget the writer
    /// itself flushes (waiting for any flush in progress): that is the backpressure.
    fn after_write(&self) {
        let version = self.versions.current();
        let live_bytes = version.live.bytes();
        let frozen_bytes: usize = version.frozen.iter().map(|h| h.bytes()).sum();
        let budget = self.opts.head_memory_budget;
        if live_bytes + frozen_bytes >= budget {
            drop(version);
            let _ = flush::flush_if(self, |v| {
                v.live.bytes() + v.frozen.iter().map(|h| h.bytes()).sum::<usize>() >= budget
            });
        } else if live_bytes >= budget / 2
            || version.live.span_from_anchor() >= self.opts.head_window
        {
            self.request_flush();
        }
    }

    fn stats(&self) -> Stats {
        let version = self.versions.current();
        let manifest = self.versions.manifest();
        let layout = self.versions.layout();
        let fs = &*self.opts.file_system;
        let mut heads: Vec<&Arc<crate::head::Head>> = version.frozen.iter().collect();
        heads.push(&version.live);
        let wal_bytes = fs
            .list(&layout.wal)
            .unwrap_or_default()
            .iter()
            .filter_map(|name| fs.size(&layout.wal.join(name)).ok())
            .sum();
        let catalog_bytes = if manifest.catalog_seq > 0 {
            fs.size(&layout.catalog_file(manifest.catalog_seq))
                .unwrap_or(0)
        } else {
            0
        };
        Stats {
            series: self.catalog.len() as u64,
            head_points: heads.iter().map(|h| h.points()).sum(),
            head_bytes: heads.iter().map(|h| h.bytes() as u64).sum(),
            segments: version.segments.len() as u64,
            segment_points: version.segments.iter().map(|s| s.entry.points).sum(),
            segment_bytes: version.segments.iter().map(|s| s.entry.bytes).sum(),
            wal_bytes,
            catalog_bytes,
            tombstones: manifest.tombstones.len() as u64,
            rollup_files: manifest.rollups.len() as u64,
            rollup_buckets: manifest.rollups.iter().map(|r| r.buckets).sum(),
            rollup_bytes: manifest.rollups.iter().map(|r| r.bytes).sum(),
            partitions: partition_stats(&manifest.segments, self.opts.partition_duration),
        }
    }
}

fn partition_stats(
    segments: &[crate::version::manifest::SegmentEntry],
    partition_len: i64,
) -> Vec<PartitionStats> {
    let mut by_partition: std::collections::BTreeMap<i64, PartitionStats> = Default::default();
    for s in segments {
        let p = by_partition
            .entry(s.partition)
            .or_insert_with(|| PartitionStats {
                start: s.partition.saturating_mul(partition_len),
                cold: true,
                ..PartitionStats::default()
            });
        p.cold &= s.level >= crate::version::partition::LEVEL_COLD;
        p.segments += 1;
        p.points += s.points;
        p.bytes += s.bytes;
    }
    by_partition.into_values().collect()
}

impl Drop for DbInner {
    fn drop(&mut self) {
        self.stop_flusher();
    }
}
