//! The WAL writer: appends, group commit, rotation, and what happens when I/O fails.
//!
//! Two locks, never held together in the order sync -> append:
//! - the *append lock* (`Shared::writer`) orders records; it is held while a record is
//!   written and while the caller's `then` runs, so the head sees points in WAL order;
//! - the *group lock* (`Shared::group`) elects one fsync leader at a time. The leader
//!   fsyncs without holding the append lock, so appends go on while the disk works, and
//!   every caller whose record was written before the leader read the end of the log
//!   returns when that one fsync completes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::record::{self, HEADER_LEN, MAX_RECORD_LEN, RECORD_HEADER_LEN};
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::storage::{FileSystem, WritableFile};

/// How the WAL writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalOptions {
    /// Size past which the current file is closed and a new one started. A record is
    /// never split, so a file holds at least one record and may exceed this by one record.
    pub file_size: u64,
    /// When appended records are fsynced.
    pub durability: Durability,
}

/// The writing end of the write-ahead log. `Send + Sync`: share it by reference.
///
/// Life cycle: [`super::replay`] the directory first (it truncates a torn tail and
/// removes a file left half-created by a crash), then [`Wal::open`], which always starts
/// a new file; [`Wal::append_with`] and [`Wal::sync_to`] on the write path;
/// [`Wal::rotate_with`] when the head is frozen; [`Wal::remove_before`] once the frozen
/// head is in segments listed by the manifest; [`Wal::close`] at the end. Dropping a
/// `Wal` without closing it stops the background thread but does not fsync.
pub(crate) struct Wal {
    shared: Arc<Shared>,
    ticker: Mutex<Option<Ticker>>,
}

// The database shares one `Wal` between all writer threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Wal>();
};

/// A log sequence number: the number of record bytes appended since [`Wal::open`].
/// Only meaningful within one open `Wal`.
type Lsn = u64;

struct Shared {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    file_size: u64,
    durability: Durability,
    writer: Mutex<Writer>,
    /// End of the last record written; updated under the append lock.
    written_lsn: AtomicU64,
    /// Everything up to here has been fsynced.
    durable_lsn: AtomicU64,
    group: Mutex<Group>,
    group_done: Condvar,
    closed: AtomicBool,
    /// Set once, by the first failure after which the log's state on disk is unknown.
    poison: OnceLock<String>,
}

/// State behind the append lock.
struct Writer {
    /// `None` once the WAL is closed.
    file: Option<Arc<dyn WritableFile>>,
    path: PathBuf,
    seq: u64,
    /// Bytes in the current file, header included.
    len: u64,
    /// A write to this file failed and was cut off again; the next append starts a new
    /// file rather than trusting the file's tail.
    sealed: bool,
    lsn: Lsn,
    /// The LSN at which this file's first record starts (at its header's end).
    file_start: Lsn,
    /// Reused buffer for framing a record, so an append is one write call.
    frame: Vec<u8>,
}

impl Writer {
    /// The durable mark of a record appended now, when everything up to `durable_lsn`
    /// is known fsynced: the offset in this file up to which it is durable. The header
    /// was fsynced when the file was made, and older files before it.
    fn durable_mark(&self, durable_lsn: Lsn) -> u64 {
        let in_file = durable_lsn.saturating_sub(self.file_start);
        (HEADER_LEN as u64 + in_file).min(self.len)
    }
}

#[derive(Default)]
struct Group {
    /// A leader is fsyncing; others wait on `group_done`.
    syncing: bool,
}

/// The background thread of [`Durability::Periodic`].
struct Ticker {
    stop: Arc<TickerStop>,
    handle: JoinHandle<()>,
}

#[derive(Default)]
struct TickerStop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// The frame buffer is dropped after a record bigger than this, so that one huge batch
/// does not pin its size in memory for the life of the database.
const KEEP_FRAME_CAPACITY: usize = 4 << 20;

impl Wal {
    /// Opens the WAL for writing after replay: starts a new file with
    /// `seq = max(largest existing seq, min_seq - 1) + 1` (it never appends to an old
    /// file, whose tail it cannot vouch for), fsyncs it and the directory.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        opts: WalOptions,
        min_seq: u64,
    ) -> Result<Wal> {
        if !fs.exists(dir) {
            fs.create_dir_all(dir)
                .map_err(|e| Error::io("create directory", dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs.sync_dir(parent)
                    .map_err(|e| Error::io("fsync", parent, e))?;
            }
        }
        let names = fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
        let existing = names
            .iter()
            .filter_map(|n| record::parse_file_seq(n))
            .max()
            .unwrap_or(0);
        let seq = existing
            .max(min_seq.saturating_sub(1))
            .checked_add(1)
            .ok_or_else(|| Error::Internal("WAL sequence numbers exhausted".into()))?;

        let shared = Arc::new(Shared {
            fs,
            dir: dir.to_path_buf(),
            file_size: opts.file_size,
            durability: opts.durability,
            writer: Mutex::new(Writer {
                file: None,
                path: record::file_path(dir, seq),
                seq,
                len: 0,
                sealed: false,
                lsn: 0,
                file_start: 0,
                frame: Vec::new(),
            }),
            written_lsn: AtomicU64::new(0),
            durable_lsn: AtomicU64::new(0),
            group: Mutex::new(Group::default()),
            group_done: Condvar::new(),
            closed: AtomicBool::new(false),
            poison: OnceLock::new(),
        });
        {
            let file = shared.create_file(seq)?;
            let mut w = shared.writer.lock();
            w.file = Some(file);
            w.len = HEADER_LEN as u64;
        }
        let ticker = match opts.durability {
            Durability::Periodic(interval) => Some(Ticker::spawn(&shared, interval)?),
            Durability::Sync | Durability::None => None,
        };
        Ok(Wal {
            shared,
            ticker: Mutex::new(ticker),
        })
    }

    /// Appends one record (type + payload already encoded by the caller) and, while the
    /// append lock is still held after a successful write, calls `then()`: the database
    /// inserts into its head there, so that head order equals WAL order. Returns the LSN
    /// of the end of the record, to pass to [`Wal::sync_to`].
    ///
    /// If the write fails, the file is cut back to its length before the record and
    /// sealed (the next append starts a new file), and the I/O error is returned; if even
    /// the cut fails, the WAL is poisoned. `then` does not run on failure. `then` must
    /// not call into the `Wal` (the append lock is not reentrant).
    pub fn append_with<R>(
        &self,
        rtype: u8,
        payload: &[u8],
        then: impl FnOnce() -> R,
    ) -> Result<(u64, R)> {
        if payload.len() > MAX_RECORD_LEN {
            return Err(Error::LimitExceeded {
                what: "bytes in one WAL record",
                limit: MAX_RECORD_LEN as u64,
            });
        }
        let frame_len = (RECORD_HEADER_LEN + payload.len()) as u64;
        let shared = &*self.shared;
        let mut guard = shared.writer.lock();
        shared.check_writable()?;
        let w = &mut *guard;
        if w.sealed || (w.len > HEADER_LEN as u64 && w.len + frame_len > shared.file_size) {
            shared.rotate_locked(w)?;
        }
        let file = w.file.as_ref().ok_or(Error::Closed)?;

        w.frame.clear();
        let durable = w.durable_mark(shared.durable_lsn.load(Ordering::Acquire));
        record::frame_record(rtype, durable, payload, &mut w.frame);
        let written = file.append(&w.frame);
        if w.frame.capacity() > KEEP_FRAME_CAPACITY {
            w.frame = Vec::new();
        }
        if let Err(e) = written {
            // The write may have put any prefix of the record on disk. Cut it off so the
            // file ends at a record boundary, then seal it: a file whose last write failed
            // is not trusted with more records.
            match file.truncate(w.len) {
                Ok(()) => w.sealed = true,
                Err(te) => shared.set_poison(format!(
                    "cutting a failed WAL write off {} failed: {te}",
                    w.path.display()
                )),
            }
            return Err(Error::io("write", &w.path, e));
        }
        w.len += frame_len;
        w.lsn += frame_len;
        shared.written_lsn.store(w.lsn, Ordering::Release);
        let result = then();
        Ok((w.lsn, result))
    }

    /// Makes every record up to `lsn` durable. Concurrent callers share one fsync (group
    /// commit); a caller whose `lsn` is already durable returns at once. Under
    /// [`Durability::None`] this is a no-op (the WAL is fsynced on rotation and close).
    ///
    /// A failed fsync poisons the WAL: after it the kernel may have dropped the dirty
    /// pages, so a retried fsync could succeed without the data. Every later append and
    /// sync returns [`Error::Poisoned`]; the database must be reopened (replay then
    /// sees what really reached the disk).
    pub fn sync_to(&self, lsn: u64) -> Result<()> {
        if self.shared.durability == Durability::None {
            return self.shared.check_poison();
        }
        self.shared.sync_to(lsn)
    }

    /// Everything up to this LSN is durable.
    pub fn durable_lsn(&self) -> u64 {
        self.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// Closes the current file (fsync), starts a new one, and runs `then()` under the
    /// append lock, so no record can land between the rotation and `then` (the database
    /// freezes its head there). Returns the seq of the new file and `then`'s result: all
    /// files with a smaller seq hold only records appended before `then` ran, and are
    /// durable, whatever the durability mode.
    ///
    /// When the current file holds no record yet it is kept rather than replaced by
    /// another empty file; its seq is returned and the guarantee is the same.
    pub fn rotate_with<R>(&self, then: impl FnOnce() -> R) -> Result<(u64, R)> {
        let shared = &*self.shared;
        let mut guard = shared.writer.lock();
        shared.check_writable()?;
        let w = &mut *guard;
        if w.sealed || w.len > HEADER_LEN as u64 {
            shared.rotate_locked(w)?;
        }
        Ok((w.seq, then()))
    }

    /// Deletes the WAL files whose seq is below `seq` (their records are in segments the
    /// manifest lists), then fsyncs the directory. The current file is never deleted.
    pub fn remove_before(&self, seq: u64) -> Result<()> {
        let shared = &*self.shared;
        let current = shared.writer.lock().seq;
        let below = seq.min(current);
        let dir = &shared.dir;
        let names = shared.fs.list(dir).map_err(|e| Error::io("list", dir, e))?;
        let mut removed = false;
        for name in names {
            if record::parse_file_seq(&name).is_some_and(|s| s < below) {
                let path = dir.join(&name);
                shared
                    .fs
                    .remove(&path)
                    .map_err(|e| Error::io("remove", &path, e))?;
                removed = true;
            }
        }
        if removed {
            shared
                .fs
                .sync_dir(dir)
                .map_err(|e| Error::io("fsync", dir, e))?;
        }
        Ok(())
    }

    /// fsyncs the current file and stops the background thread. Later appends return
    /// [`Error::Closed`]; closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        let result = self.shared.close();
        self.stop_ticker();
        result
    }

    /// The seq of the file being appended to.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub fn current_seq(&self) -> u64 {
        self.shared.writer.lock().seq
    }

    fn stop_ticker(&self) {
        // Taken out of the lock before joining: the thread never touches `ticker`, but
        // joining under a lock is a trap for whoever edits this next.
        let ticker = self.ticker.lock().take();
        if let Some(ticker) = ticker {
            ticker.stop();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .field("durability", &self.shared.durability)
            .field("durable_lsn", &self.durable_lsn())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn check_poison(&self) -> Result<()> {
        match self.poison.get() {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    fn check_writable(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.check_poison()
    }

    fn set_poison(&self, why: String) {
        // Only the first failure is kept: it is the cause, later ones are consequences.
        let _ = self.poison.set(why);
    }

    /// Group commit; see [`Wal::sync_to`].
    fn sync_to(&self, lsn: Lsn) -> Result<()> {
        // An LSN beyond the end of the log would never become durable; the caller can
        // only mean "everything", which is what the clamp gives.
        let lsn = lsn.min(self.written_lsn.load(Ordering::Acquire));
        let mut group = self.group.lock();
        loop {
            self.check_poison()?;
            if self.durable_lsn.load(Ordering::Acquire) >= lsn {
                return Ok(());
            }
            if group.syncing {
                self.group_done.wait(&mut group);
                continue;
            }
            group.syncing = true;
            let result = MutexGuard::unlocked(&mut group, || self.sync_current());
            group.syncing = false;
            self.group_done.notify_all();
            result?;
        }
    }

    /// fsyncs the current file as the group leader.
    fn sync_current(&self) -> Result<()> {
        let (file, target, path) = {
            let w = self.writer.lock();
            match &w.file {
                Some(file) => (file.clone(), w.lsn, w.path.clone()),
                None => return Err(Error::Closed),
            }
        };
        // Records before `target` are in this file or in older files, and older files
        // were fsynced before this one was created, so one fsync covers all of them.
        if let Err(e) = file.sync() {
            self.set_poison(format!("fsync of {} failed: {e}", path.display()));
            return Err(Error::io("fsync", &path, e));
        }
        self.durable_lsn.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// fsyncs the current file and switches to a new one. Called under the append lock.
    fn rotate_locked(&self, w: &mut Writer) -> Result<()> {
        let file = w.file.as_ref().ok_or(Error::Closed)?;
        if let Err(e) = file.sync() {
            self.set_poison(format!("fsync of {} failed: {e}", w.path.display()));
            return Err(Error::io("fsync", &w.path, e));
        }
        self.durable_lsn.fetch_max(w.lsn, Ordering::AcqRel);
        let seq = w
            .seq
            .checked_add(1)
            .ok_or_else(|| Error::Internal("WAL sequence numbers exhausted".into()))?;
        let file = self.create_file(seq)?;
        w.file = Some(file);
        w.path = record::file_path(&self.dir, seq);
        w.seq = seq;
        w.len = HEADER_LEN as u64;
        w.file_start = w.lsn;
        w.sealed = false;
        Ok(())
    }

    /// Creates file `seq` with its header, fsynced together with the directory before
    /// any record goes in (replay relies on it: only the newest file may lack a header).
    fn create_file(&self, seq: u64) -> Result<Arc<dyn WritableFile>> {
        let fs = &*self.fs;
        let path = record::file_path(&self.dir, seq);
        let file = fs
            .create_new(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        if let Err(e) = file.append(&record::encode_header(seq)) {
            drop(file);
            // A headerless file must not stay behind a newer one. If it cannot be
            // removed, stop here: after a reopen it is the newest file and replay
            // removes it.
            if let Err(re) = fs.remove(&path) {
                self.set_poison(format!(
                    "removing the half-created WAL file {} failed: {re}",
                    path.display()
                ));
            }
            return Err(Error::io("write", &path, e));
        }
        if let Err(e) = file.sync() {
            self.set_poison(format!("fsync of {} failed: {e}", path.display()));
            return Err(Error::io("fsync", &path, e));
        }
        if let Err(e) = fs.sync_dir(&self.dir) {
            self.set_poison(format!("fsync of {} failed: {e}", self.dir.display()));
            return Err(Error::io("fsync", &self.dir, e));
        }
        Ok(file)
    }

    fn close(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let Some(file) = w.file.take() else {
            return Ok(());
        };
        self.check_poison()?;
        if let Err(e) = file.sync() {
            self.set_poison(format!("fsync of {} failed: {e}", w.path.display()));
            return Err(Error::io("fsync", &w.path, e));
        }
        self.durable_lsn.fetch_max(w.lsn, Ordering::AcqRel);
        Ok(())
    }
}

/// Shortest interval of the periodic fsync thread; a zero interval would spin.
const MIN_PERIOD: Duration = Duration::from_millis(1);

impl Ticker {
    /// Starts the thread that fsyncs every `interval`. It holds only a `Weak` to the
    /// WAL, so it never keeps a dropped WAL alive.
    fn spawn(shared: &Arc<Shared>, interval: Duration) -> Result<Ticker> {
        let interval = interval.max(MIN_PERIOD);
        let weak: Weak<Shared> = Arc::downgrade(shared);
        let stop = Arc::new(TickerStop::default());
        let thread_stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name("sedimentdb-wal-sync".into())
            .spawn(move || Ticker::run(&weak, &thread_stop, interval))
            .map_err(|e| Error::io("spawn the fsync thread", &shared.dir, e))?;
        Ok(Ticker { stop, handle })
    }

    fn run(weak: &Weak<Shared>, stop: &TickerStop, interval: Duration) {
        let mut stopped = stop.stopped.lock();
        let mut next = Instant::now() + interval;
        loop {
            while !*stopped && Instant::now() < next {
                stop.wake.wait_until(&mut stopped, next);
            }
            if *stopped {
                return;
            }
            next += interval;
            let keep_going = MutexGuard::unlocked(&mut stopped, || {
                let Some(shared) = weak.upgrade() else {
                    return false;
                };
                let end = shared.written_lsn.load(Ordering::Acquire);
                // An error poisons the WAL (or it is closed); writers see it on their
                // next call, and there is nothing left for this thread to do.
                shared.sync_to(end).is_ok()
            });
            if !keep_going {
                return;
            }
            // After a slow fsync, do not fire a burst of catch-up ticks.
            let now = Instant::now();
            if next < now {
                next = now + interval;
            }
        }
    }

    fn stop(self) {
        *self.stop.stopped.lock() = true;
        self.stop.wake.notify_all();
        // A panic in the thread has nothing to tell us here that the WAL's state does not.
        let _ = self.handle.join();
    }
}
