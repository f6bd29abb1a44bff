//! [`FaultFs`]: an in-memory [`FileSystem`] that fails on request and simulates power
//! cuts. A testing tool; nothing in the engine uses it.
//!
//! # What it models
//!
//! Every file keeps two states: the bytes a reader sees now (the page cache) and the
//! bytes that are *durable* (on the platter). Writes, truncations, creations, renames
//! and removals change what readers see at once; [`WritableFile::sync`] makes a file's
//! bytes durable and [`FileSystem::sync_dir`] makes a directory's entries durable, as
//! POSIX promises and no more: syncing a new file does not make its name durable, and
//! syncing a directory does not make the directory's own entry in its parent durable.
//!
//! A **power cut** ([`Fault::PowerCut`] or [`FaultFs::power_cut`]) rebuilds every file
//! and directory from its durable state, then replays each change made since the last
//! sync with an outcome drawn from a seeded RNG, as SQLite's crash-test VFS does:
//!
//! - a write is kept, dropped, filled with zeros (the size reached the disk, the data
//!   did not), filled with garbage, or torn: each 512-byte sector of it independently
//!   kept, dropped or garbled. Outcomes are independent per write, so a later write may
//!   survive an earlier one (reordering); a gap left that way reads as zeros;
//! - a truncation is kept or dropped;
//! - a directory change (create, rename, remove, mkdir) is kept or dropped, each
//!   independently; a change whose source vanished with an earlier dropped change is
//!   skipped. A rename is atomic: both names change or neither. A directory whose own
//!   entry was dropped disappears with everything in it.
//!
//! A failed fsync ([`Fault::Eio`] on [`Op::Sync`]) behaves like Linux after a failed
//! writeback (the PostgreSQL "fsyncgate"): the unsynced writes of that file stay
//! readable but are *lost* — no later fsync makes them durable, even one that succeeds,
//! and after a power cut their bytes read as zeros or as whatever was durable before.
//!
//! A **process crash** ([`Fault::Crash`] or [`FaultFs::crash`]) loses nothing: the
//! kernel keeps what was written. After either, every call fails (the process is dead)
//! until the test drops the database and calls [`FaultFs::reboot`]; file handles from
//! before the reboot keep failing.
//!
//! # Faults
//!
//! Calls are numbered from 0 in the order they reach the file system (calls made while
//! it is down are not counted). A [`FaultRule`] picks calls by number, by [`Op`], by
//! path, or all of these, and injects a [`Fault`]. [`FaultFs::set_tracing`] records every
//! call, so a test can run a workload once, then again with a fault at each call in turn.
//! [`FaultFs::set_capacity`] simulates a full disk: an append that does not fit writes
//! what fits and fails with `ENOSPC` ([`io::ErrorKind::StorageFull`]).
//!
//! Reads fail too: [`Fault::Eio`] on a whole-file read, a mapping ([`Op::OpenBytes`]),
//! a listing or a `stat`; [`Fault::ShortRead`] hands back half a file without an error;
//! and a failed [`FileSystem::exists`] answers `false`, as `Path::exists` does.
//!
//! ```
//! use std::sync::Arc;
//! use sedimentdb::storage::fault::{Fault, FaultFs, FaultRule, Op};
//! use sedimentdb::{Db, Error, Options, SeriesKey, WriteBatch};
//!
//! let fs = FaultFs::new(7);
//! let opts = Options::default().file_system(Arc::new(fs.clone()));
//! let db = Db::open("/db", opts.clone()).unwrap();
//! let mut batch = WriteBatch::new();
//! batch.push_key(&SeriesKey::new("cpu"), 1, 0.5);
//! db.write(&batch).unwrap();
//!
//! // The next fsync of a WAL file fails: the write fails, and so does every later one.
//! fs.add_rule(FaultRule::on(Op::Sync, Fault::Eio).path_contains("/wal/"));
//! assert!(db.write(&batch).is_err());
//! assert!(matches!(db.write(&batch), Err(Error::Poisoned(_))));
//!
//! // Pull the plug, restart, reopen: the acknowledged point is there.
//! drop(db);
//! fs.power_cut();
//! fs.reboot();
//! let db = Db::open("/db", opts).unwrap();
//! assert_eq!(db.stats().head_points, 1);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{DirLock, FileBytes, FileSystem, ReadMode, WritableFile};

/// The kinds of call a [`FaultFs`] counts, traces and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// [`FileSystem::create_new`].
    CreateNew,
    /// [`FileSystem::open_append`].
    OpenAppend,
    /// [`FileSystem::read`].
    Read,
    /// [`FileSystem::open_bytes`].
    OpenBytes,
    /// [`FileSystem::rename`].
    Rename,
    /// [`FileSystem::remove`].
    Remove,
    /// [`FileSystem::list`].
    List,
    /// [`FileSystem::create_dir_all`].
    CreateDirAll,
    /// [`FileSystem::sync_dir`].
    SyncDir,
    /// [`FileSystem::size`].
    Size,
    /// [`FileSystem::exists`].
    Exists,
    /// [`FileSystem::lock`].
    Lock,
    /// [`WritableFile::append`].
    Append,
    /// [`WritableFile::sync`].
    Sync,
    /// [`WritableFile::truncate`].
    Truncate,
    /// [`WritableFile::len`].
    Len,
}

impl Op {
    /// True for calls that change files or directories or make changes durable: the
    /// calls at which a crash can leave a different state than at the call before.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Op::CreateNew
                | Op::Rename
                | Op::Remove
                | Op::CreateDirAll
                | Op::SyncDir
                | Op::Lock
                | Op::Append
                | Op::Sync
                | Op::Truncate
        )
    }

    /// The faults that can be injected into this kind of call.
    pub fn faults(self) -> &'static [Fault] {
        use Fault::*;
        match self {
            Op::Append => &[Eio, ShortWrite, NoSpace, Crash, PowerCut],
            Op::CreateNew | Op::CreateDirAll => &[Eio, NoSpace, Crash, PowerCut],
            Op::Read | Op::OpenBytes => &[Eio, ShortRead, Crash, PowerCut],
            _ => &[Eio, Crash, PowerCut],
        }
    }
}

/// What a [`FaultRule`] does to the call it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The call fails with an I/O error and changes nothing. On [`Op::Sync`] the file's
    /// unsynced writes are lost as well (see the module docs). On [`Op::Exists`] the
    /// answer is `false`, as [`std::path::Path::exists`] says when `stat` fails.
    Eio,
    /// An append writes the first half of its buffer, then fails with an I/O error.
    ShortWrite,
    /// A whole-file read ([`Op::Read`], [`Op::OpenBytes`]) returns only the first half
    /// of the file, without an error: what a reader sees when the file shrinks under it
    /// or a lower layer reports end-of-file early. The file itself is unchanged.
    ShortRead,
    /// The call fails with `ENOSPC` ([`io::ErrorKind::StorageFull`]) and changes nothing.
    NoSpace,
    /// The process dies just before the call: the call and every later one fail until
    /// [`FaultFs::reboot`]; nothing written is lost.
    Crash,
    /// The power fails just before the call: like [`Fault::Crash`], and everything not
    /// yet durable is kept, dropped, torn or garbled (see the module docs).
    PowerCut,
}

/// Which calls a fault hits. Built with [`FaultRule::at_call`] or [`FaultRule::on`],
/// narrowed with the other methods. A rule only matches calls its fault applies to
/// (see [`Op::faults`]); by default it fires once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    fault: Fault,
    at_call: Option<u64>,
    op: Option<Op>,
    path_contains: Option<String>,
    skip: u64,
    remaining: u64,
}

impl FaultRule {
    /// Injects `fault` into call number `index` (counted from 0, see [`FaultFs::calls`]).
    pub fn at_call(index: u64, fault: Fault) -> FaultRule {
        FaultRule {
            at_call: Some(index),
            ..FaultRule::any(fault)
        }
    }

    /// Injects `fault` into the next call of kind `op`.
    pub fn on(op: Op, fault: Fault) -> FaultRule {
        FaultRule {
            op: Some(op),
            ..FaultRule::any(fault)
        }
    }

    /// Injects `fault` into the next call it applies to, whatever its kind.
    pub fn any(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            at_call: None,
            op: None,
            path_contains: None,
            skip: 0,
            remaining: 1,
        }
    }

    /// Only calls whose path contains `part`.
    pub fn path_contains(mut self, part: impl Into<String>) -> FaultRule {
        self.path_contains = Some(part.into());
        self
    }

    /// Lets the first `n` matching calls through.
    pub fn skip(mut self, n: u64) -> FaultRule {
        self.skip = n;
        self
    }

    /// Fires on `n` matching calls (after the skipped ones), not just one.
    pub fn times(mut self, n: u64) -> FaultRule {
        self.remaining = n;
        self
    }

    /// Fires on every matching call until the rule is cleared.
    pub fn always(self) -> FaultRule {
        self.times(u64::MAX)
    }

    fn matches(&self, call: &CallRecord) -> bool {
        self.remaining > 0
            && call.op.faults().contains(&self.fault)
            && self.at_call.is_none_or(|n| n == call.index)
            && self.op.is_none_or(|op| op == call.op)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|part| call.path.to_string_lossy().contains(part))
    }
}

/// One call as [`FaultFs::trace`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The call's number, from 0.
    pub index: u64,
    /// What kind of call.
    pub op: Op,
    /// The file or directory (the source, for a rename).
    pub path: PathBuf,
}

/// A fault that fired, as [`FaultFs::fired`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredFault {
    /// The call that was hit.
    pub call: CallRecord,
    /// What was done to it.
    pub fault: Fault,
}

/// The fault-injecting in-memory file system; see the [module docs](self).
///
/// Cheap to clone: clones share one file system, so a test keeps a clone to steer the
/// faults while the database holds another in [`crate::Options::file_system`].
#[derive(Clone)]
pub struct FaultFs {
    shared: Arc<Mutex<State>>,
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("FaultFs")
            .field("calls", &st.calls)
            .field("files", &st.inodes.len())
            .field("down", &st.down)
            .finish_non_exhaustive()
    }
}

/// A write since the last sync, kept as the bytes it wrote so that a power cut can
/// replay it with any outcome.
#[derive(Debug, Clone)]
enum FileOp {
    Write {
        offset: u64,
        bytes: Vec<u8>,
        /// A failed fsync dropped it: it never becomes durable.
        lost: bool,
    },
    Truncate(u64),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<FileOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir,
}

#[derive(Debug, Clone)]
enum DirOp {
    Add(String, Node),
    Remove(String),
    Rename(String, String, Node),
}

#[derive(Debug, Clone, Default)]
struct Dir {
    entries: BTreeMap<String, Node>,
    durable: BTreeMap<String, Node>,
    pending: Vec<DirOp>,
}

#[derive(Debug, Clone)]
struct State {
    /// Bumped by every reboot; handles from an older epoch are dead.
    epoch: u64,
    /// Set by a crash or power cut until the reboot.
    down: Option<Fault>,
    dirs: BTreeMap<PathBuf, Dir>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    calls: u64,
    tracing: bool,
    trace: Vec<CallRecord>,
    rules: Vec<FaultRule>,
    fired: Vec<FiredFault>,
    capacity: Option<u64>,
    locks: HashMap<PathBuf, u64>,
    next_lock: u64,
    rng: u64,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("injected EIO: {what}"))
}

fn enospc() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "injected ENOSPC")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

fn down_error(fault: Fault) -> io::Error {
    io::Error::other(format!(
        "file system is down after an injected {fault:?}; reboot it"
    ))
}

/// Sector size for torn writes.
const SECTOR: u64 = 512;

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let parent = path.parent().unwrap_or(Path::new(""));
    Ok((parent.to_owned(), name.to_owned()))
}

/// Writes `bytes` at `offset`, zero-filling any gap.
fn write_at(content: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let offset = offset as usize;
    let end = offset + bytes.len();
    if content.len() < end {
        content.resize(end, 0);
    }
    content[offset..end].copy_from_slice(bytes);
}

impl State {
    fn new(seed: u64) -> State {
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::from("/"), Dir::default());
        dirs.insert(PathBuf::new(), Dir::default());
        State {
            epoch: 0,
            down: None,
            dirs,
            inodes: HashMap::new(),
            next_inode: 1,
            calls: 0,
            tracing: false,
            trace: Vec::new(),
            rules: Vec::new(),
            fired: Vec::new(),
            capacity: None,
            locks: HashMap::new(),
            next_lock: 1,
            rng: seed ^ 0x5eed_f00d_dead_beef,
        }
    }

    /// SplitMix64.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    fn garbage(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// Counts a call and decides its fate: `Err` if the file system is down (or goes down
    /// now), `Ok(Some(fault))` for a fault the caller must carry out.
    fn begin(&mut self, op: Op, path: &Path) -> io::Result<Option<Fault>> {
        if let Some(fault) = self.down {
            return Err(down_error(fault));
        }
        let call = CallRecord {
            index: self.calls,
            op,
            path: path.to_owned(),
        };
        self.calls += 1;
        let mut fire = None;
        for rule in &mut self.rules {
            if !rule.matches(&call) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            rule.remaining -= 1;
            fire = Some(rule.fault);
            break;
        }
        if self.tracing {
            self.trace.push(call.clone());
        }
        let Some(fault) = fire else {
            return Ok(None);
        };
        self.fired.push(FiredFault { call, fault });
        match fault {
            Fault::Crash => {
                self.down = Some(Fault::Crash);
                Err(down_error(fault))
            }
            Fault::PowerCut => {
                self.cut_power();
                Err(down_error(fault))
            }
            other => Ok(Some(other)),
        }
    }

    /// What a whole-file read returns after `fault` (if any) was drawn for it.
    fn read_whole(&self, path: &Path, fault: Option<Fault>) -> io::Result<Vec<u8>> {
        if fault.is_some_and(|f| f != Fault::ShortRead) {
            return Err(eio("read"));
        }
        let id = self.file(path)?;
        let mut bytes = self
            .inodes
            .get(&id)
            .map(|i| i.data.clone())
            .unwrap_or_default();
        if fault == Some(Fault::ShortRead) {
            bytes.truncate(bytes.len() / 2);
        }
        Ok(bytes)
    }

    fn check_epoch(&self, epoch: u64) -> io::Result<()> {
        if let Some(fault) = self.down {
            return Err(down_error(fault));
        }
        if epoch != self.epoch {
            return Err(io::Error::other("file handle from before a reboot"));
        }
        Ok(())
    }

    fn dir(&self, path: &Path) -> io::Result<&Dir> {
        self.dirs.get(path).ok_or_else(|| not_found(path))
    }

    fn dir_mut(&mut self, path: &Path) -> io::Result<&mut Dir> {
        self.dirs.get_mut(path).ok_or_else(|| not_found(path))
    }

    fn node(&self, path: &Path) -> Option<Node> {
        if self.dirs.contains_key(path) {
            return Some(Node::Dir);
        }
        let (parent, name) = split(path).ok()?;
        self.dirs.get(&parent)?.entries.get(&name).copied()
    }

    fn file(&self, path: &Path) -> io::Result<u64> {
        match self.node(path) {
            Some(Node::File(id)) => Ok(id),
            Some(Node::Dir) => Err(io::Error::other(format!(
                "{} is a directory",
                path.display()
            ))),
            None => Err(not_found(path)),
        }
    }

    fn used(&self) -> u64 {
        self.inodes.values().map(|i| i.data.len() as u64).sum()
    }

    fn create_file(&mut self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        let id = self.next_inode;
        let dir = self.dir_mut(&parent)?;
        if dir.entries.contains_key(&name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", path.display()),
            ));
        }
        dir.entries.insert(name.clone(), Node::File(id));
        dir.pending.push(DirOp::Add(name, Node::File(id)));
        self.next_inode += 1;
        self.inodes.insert(id, Inode::default());
        Ok(id)
    }

    fn append(&mut self, id: u64, bytes: &[u8]) {
        if let Some(inode) = self.inodes.get_mut(&id) {
            let offset = inode.data.len() as u64;
            inode.data.extend_from_slice(bytes);
            inode.pending.push(FileOp::Write {
                offset,
                bytes: bytes.to_vec(),
                lost: false,
            });
        }
    }

    /// Applies a file's pending changes to its durable bytes, all of them kept (except
    /// the lost ones): what a successful fsync does.
    fn sync_inode(&mut self, id: u64) {
        let Some(inode) = self.inodes.get_mut(&id) else {
            return;
        };
        for op in inode.pending.drain(..) {
            match op {
                FileOp::Write {
                    offset,
                    bytes,
                    lost: false,
                } => write_at(&mut inode.durable, offset, &bytes),
                FileOp::Write {
                    offset,
                    bytes,
                    lost: true,
                } => {
                    // The size reaches the disk with the metadata; the data never does.
                    let end = (offset as usize) + bytes.len();
                    if inode.durable.len() < end {
                        inode.durable.resize(end, 0);
                    }
                }
                FileOp::Truncate(len) => inode.durable.resize(len as usize, 0),
            }
        }
    }

    fn lose_pending(&mut self, id: u64) {
        if let Some(inode) = self.inodes.get_mut(&id) {
            for op in &mut inode.pending {
                if let FileOp::Write { lost, .. } = op {
                    *lost = true;
                }
            }
        }
    }

    /// Rebuilds everything from its durable state plus a random selection of the
    /// changes since; see the module docs.
    fn cut_power(&mut self) {
        self.down = Some(Fault::PowerCut);
        let mut ids: Vec<u64> = self.inodes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(mut inode) = self.inodes.remove(&id) else {
                continue;
            };
            let mut content = std::mem::take(&mut inode.durable);
            for op in inode.pending.drain(..) {
                match op {
                    FileOp::Write {
                        offset,
                        bytes,
                        lost,
                    } => self.replay_write(&mut content, offset, &bytes, lost),
                    FileOp::Truncate(len) => {
                        if self.below(2) == 0 {
                            content.resize(len as usize, 0);
                        }
                    }
                }
            }
            inode.data = content.clone();
            inode.durable = content;
            self.inodes.insert(id, inode);
        }

        let paths: Vec<PathBuf> = self.dirs.keys().cloned().collect();
        for path in &paths {
            let Some(mut dir) = self.dirs.remove(path) else {
                continue;
            };
            let mut entries = std::mem::take(&mut dir.durable);
            for op in std::mem::take(&mut dir.pending) {
                if self.below(2) == 0 {
                    continue; // dropped
                }
                match op {
                    DirOp::Add(name, node) => {
                        entries.insert(name, node);
                    }
                    DirOp::Remove(name) => {
                        entries.remove(&name);
                    }
                    DirOp::Rename(from, to, node) => {
                        if entries.get(&from) == Some(&node) {
                            entries.remove(&from);
                            entries.insert(to, node);
                        }
                    }
                }
            }
            dir.entries = entries.clone();
            dir.durable = entries;
            self.dirs.insert(path.clone(), dir);
        }
        // A directory survives if its parent does and still names it. BTreeMap order
        // puts parents before children.
        for path in paths {
            let keep = match path.parent() {
                None => true,
                Some(parent) => split(&path).is_ok_and(|(_, name)| {
                    self.dirs
                        .get(parent)
                        .is_some_and(|d| d.entries.get(&name) == Some(&Node::Dir))
                }),
            };
            if !keep {
                self.dirs.remove(&path);
            }
        }
        self.collect_garbage();
    }

    fn replay_write(&mut self, content: &mut Vec<u8>, offset: u64, bytes: &[u8], lost: bool) {
        let end = offset as usize + bytes.len();
        if lost {
            if self.below(2) == 0 && content.len() < end {
                content.resize(end, 0);
            }
            return;
        }
        match self.below(10) {
            // Kept.
            0..=3 => write_at(content, offset, bytes),
            // Dropped.
            4 | 5 => {}
            // The size reached the disk, the data did not.
            6 => {
                if content.len() < end {
                    content.resize(end, 0);
                }
            }
            // Garbage.
            7 => {
                let junk = self.garbage(bytes.len());
                write_at(content, offset, &junk);
            }
            // Torn: sector by sector.
            _ => {
                let mut at = offset;
                while at < offset + bytes.len() as u64 {
                    let sector_end = ((at / SECTOR) + 1) * SECTOR;
                    let to = sector_end.min(offset + bytes.len() as u64);
                    let piece = &bytes[(at - offset) as usize..(to - offset) as usize];
                    match self.below(3) {
                        0 => write_at(content, at, piece),
                        1 => {}
                        _ => {
                            let junk = self.garbage(piece.len());
                            write_at(content, at, &junk);
                        }
                    }
                    at = to;
                }
            }
        }
    }

    /// Forgets inodes no directory names. (Handles to them are dead after a reboot, and
    /// a live unlinked file only matters until then.)
    fn collect_garbage(&mut self) {
        let mut linked = std::collections::HashSet::new();
        for dir in self.dirs.values() {
            for node in dir.entries.values().chain(dir.durable.values()) {
                if let Node::File(id) = node {
                    linked.insert(*id);
                }
            }
            for op in &dir.pending {
                if let DirOp::Add(_, Node::File(id)) | DirOp::Rename(_, _, Node::File(id)) = op {
                    linked.insert(*id);
                }
            }
        }
        self.inodes.retain(|id, _| linked.contains(id));
    }
}

impl FaultFs {
    /// An empty file system whose power cuts draw their outcomes from `seed`.
    pub fn new(seed: u64) -> FaultFs {
        FaultFs {
            shared: Arc::new(Mutex::new(State::new(seed))),
        }
    }

    /// Adds a fault rule. Rules are tried in the order they were added; the first that
    /// matches a call fires.
    pub fn add_rule(&self, rule: FaultRule) {
        self.shared.lock().rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        self.shared.lock().rules.clear();
    }

    /// Number of calls counted so far; the next call gets this number.
    pub fn calls(&self) -> u64 {
        self.shared.lock().calls
    }

    /// Starts (or stops) recording every call for [`FaultFs::trace`].
    pub fn set_tracing(&self, on: bool) {
        self.shared.lock().tracing = on;
    }

    /// The calls recorded while tracing was on.
    pub fn trace(&self) -> Vec<CallRecord> {
        self.shared.lock().trace.clone()
    }

    /// The faults that fired so far, oldest first.
    pub fn fired(&self) -> Vec<FiredFault> {
        self.shared.lock().fired.clone()
    }

    /// Limits the bytes all files may hold together (`None`: unlimited). Past it,
    /// appends write what fits and fail with `ENOSPC`, and creating a file fails.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.shared.lock().capacity = bytes;
    }

    /// Bytes all files hold together.
    pub fn used_bytes(&self) -> u64 {
        self.shared.lock().used()
    }

    /// Simulates a power cut now (see the module docs). The file system is down until
    /// [`FaultFs::reboot`]. Does nothing if it is already down.
    pub fn power_cut(&self) {
        let mut st = self.shared.lock();
        if st.down.is_none() {
            st.cut_power();
        }
    }

    /// Simulates a crash of the process now: nothing written is lost, but every call
    /// fails until [`FaultFs::reboot`]. Does nothing if the file system is already down.
    pub fn crash(&self) {
        let mut st = self.shared.lock();
        if st.down.is_none() {
            st.down = Some(Fault::Crash);
        }
    }

    /// True between a crash or power cut and the reboot.
    pub fn is_down(&self) -> bool {
        self.shared.lock().down.is_some()
    }

    /// Brings the file system back after a crash or power cut (or kills the "process"
    /// if neither happened): releases every lock and kills every open handle. Drop the
    /// database that used the file system before rebooting, so that no call of the old
    /// process reaches the new one.
    pub fn reboot(&self) {
        let mut st = self.shared.lock();
        st.down = None;
        st.epoch += 1;
        st.locks.clear();
    }

    /// Makes everything durable, as if every file and directory were synced.
    pub fn sync_all(&self) {
        let mut st = self.shared.lock();
        let ids: Vec<u64> = st.inodes.keys().copied().collect();
        for id in ids {
            st.sync_inode(id);
        }
        for dir in st.dirs.values_mut() {
            dir.durable = dir.entries.clone();
            dir.pending.clear();
        }
    }

    /// An independent copy of the whole file system (files, durable state, rules, RNG),
    /// for tests that try many things from one starting point.
    pub fn deep_clone(&self) -> FaultFs {
        let st = self.shared.lock().clone();
        FaultFs {
            shared: Arc::new(Mutex::new(st)),
        }
    }

    /// Every file, sorted by path.
    pub fn files(&self) -> Vec<PathBuf> {
        let st = self.shared.lock();
        let mut out = Vec::new();
        for (path, dir) in &st.dirs {
            for (name, node) in &dir.entries {
                if let Node::File(_) = node {
                    out.push(path.join(name));
                }
            }
        }
        out.sort();
        out
    }

    /// What a reader sees in `path` now, without counting a call.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.shared.lock();
        let id = st.file(path).ok()?;
        st.inodes.get(&id).map(|i| i.data.clone())
    }

    /// Replaces the contents of the existing file `path`, durably and without counting
    /// a call: how a test damages a file.
    pub fn set_contents(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut st = self.shared.lock();
        let id = st.file(path)?;
        let inode = st.inodes.get_mut(&id).ok_or_else(|| not_found(path))?;
        inode.data = bytes.to_vec();
        inode.durable = bytes.to_vec();
        inode.pending.clear();
        Ok(())
    }
}

/// An open file of a [`FaultFs`].
struct FaultFile {
    shared: Arc<Mutex<State>>,
    inode: u64,
    path: PathBuf,
    epoch: u64,
}

impl WritableFile for FaultFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut st = self.shared.lock();
        st.check_epoch(self.epoch)?;
        match st.begin(Op::Append, &self.path)? {
            Some(Fault::ShortWrite) => {
                st.append(self.inode, &buf[..buf.len() / 2]);
                return Err(eio("short write"));
            }
            Some(Fault::NoSpace) => return Err(enospc()),
            Some(_) => return Err(eio("write")),
            None => {}
        }
        if let Some(capacity) = st.capacity {
            let free = capacity.saturating_sub(st.used()) as usize;
            if buf.len() > free {
                st.append(self.inode, &buf[..free]);
                return Err(enospc());
            }
        }
        st.append(self.inode, buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        st.check_epoch(self.epoch)?;
        if st.begin(Op::Sync, &self.path)?.is_some() {
            st.lose_pending(self.inode);
            return Err(eio("fsync"));
        }
        st.sync_inode(self.inode);
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut st = self.shared.lock();
        st.check_epoch(self.epoch)?;
        if st.begin(Op::Truncate, &self.path)?.is_some() {
            return Err(eio("truncate"));
        }
        if let Some(inode) = st.inodes.get_mut(&self.inode) {
            inode.data.resize(len as usize, 0);
            inode.pending.push(FileOp::Truncate(len));
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut st = self.shared.lock();
        st.check_epoch(self.epoch)?;
        if st.begin(Op::Len, &self.path)?.is_some() {
            return Err(eio("fstat"));
        }
        Ok(st
            .inodes
            .get(&self.inode)
            .map_or(0, |i| i.data.len() as u64))
    }
}

/// A lock taken through a [`FaultFs`]; released on drop unless a reboot released it.
struct FaultLock {
    shared: Arc<Mutex<State>>,
    path: PathBuf,
    id: u64,
}

impl DirLock for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if st.locks.get(&self.path) == Some(&self.id) {
            st.locks.remove(&self.path);
        }
    }
}

impl FaultFs {
    fn handle(&self, st: &State, inode: u64, path: &Path) -> Arc<dyn WritableFile> {
        Arc::new(FaultFile {
            shared: self.shared.clone(),
            inode,
            path: path.to_owned(),
            epoch: st.epoch,
        })
    }
}

impl FileSystem for FaultFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let mut st = self.shared.lock();
        match st.begin(Op::CreateNew, path)? {
            Some(Fault::NoSpace) => return Err(enospc()),
            Some(_) => return Err(eio("create")),
            None => {}
        }
        if st.capacity.is_some_and(|c| st.used() >= c) {
            return Err(enospc());
        }
        let id = st.create_file(path)?;
        Ok(self.handle(&st, id, path))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let mut st = self.shared.lock();
        if st.begin(Op::OpenAppend, path)?.is_some() {
            return Err(eio("open"));
        }
        let id = st.file(path)?;
        Ok(self.handle(&st, id, path))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut st = self.shared.lock();
        let fault = st.begin(Op::Read, path)?;
        st.read_whole(path, fault)
    }

    fn open_bytes(&self, path: &Path, _mode: ReadMode) -> io::Result<FileBytes> {
        let mut st = self.shared.lock();
        let fault = st.begin(Op::OpenBytes, path)?;
        Ok(FileBytes::from_vec(st.read_whole(path, fault)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.shared.lock();
        if st.begin(Op::Rename, from)?.is_some() {
            return Err(eio("rename"));
        }
        let id = st.file(from)?;
        let node = Node::File(id);
        if st.node(to) == Some(Node::Dir) {
            return Err(io::Error::other(format!("{} is a directory", to.display())));
        }
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        st.dir(&to_dir)?;
        if from_dir == to_dir {
            let dir = st.dir_mut(&from_dir)?;
            dir.entries.remove(&from_name);
            dir.entries.insert(to_name.clone(), node);
            dir.pending.push(DirOp::Rename(from_name, to_name, node));
        } else {
            let dir = st.dir_mut(&from_dir)?;
            dir.entries.remove(&from_name);
            dir.pending.push(DirOp::Remove(from_name));
            let dir = st.dir_mut(&to_dir)?;
            dir.entries.insert(to_name.clone(), node);
            dir.pending.push(DirOp::Add(to_name, node));
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.shared.lock();
        if st.begin(Op::Remove, path)?.is_some() {
            return Err(eio("remove"));
        }
        st.file(path)?;
        let (parent, name) = split(path)?;
        let dir = st.dir_mut(&parent)?;
        dir.entries.remove(&name);
        dir.pending.push(DirOp::Remove(name));
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut st = self.shared.lock();
        if st.begin(Op::List, dir)?.is_some() {
            return Err(eio("readdir"));
        }
        Ok(st.dir(dir)?.entries.keys().cloned().collect())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.shared.lock();
        match st.begin(Op::CreateDirAll, dir)? {
            Some(Fault::NoSpace) => return Err(enospc()),
            Some(_) => return Err(eio("mkdir")),
            None => {}
        }
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|p| !st.dirs.contains_key(*p))
            .map(Path::to_path_buf)
            .collect();
        for path in missing.into_iter().rev() {
            let (parent, name) = split(&path)?;
            let parent_dir = st.dir_mut(&parent)?;
            if parent_dir.entries.contains_key(&name) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a file", path.display()),
                ));
            }
            parent_dir.entries.insert(name.clone(), Node::Dir);
            parent_dir.pending.push(DirOp::Add(name, Node::Dir));
            st.dirs.insert(path, Dir::default());
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.shared.lock();
        if st.begin(Op::SyncDir, dir)?.is_some() {
            return Err(eio("fsync directory"));
        }
        let d = st.dir_mut(dir)?;
        d.durable = d.entries.clone();
        d.pending.clear();
        Ok(())
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        let mut st = self.shared.lock();
        if st.begin(Op::Size, path)?.is_some() {
            return Err(eio("stat"));
        }
        let id = st.file(path)?;
        Ok(st.inodes.get(&id).map_or(0, |i| i.data.len() as u64))
    }

    fn exists(&self, path: &Path) -> bool {
        let mut st = self.shared.lock();
        match st.begin(Op::Exists, path) {
            Ok(None) => st.node(path).is_some(),
            // A failed `stat` reads as "does not exist", as `Path::exists` has it.
            Ok(Some(_)) | Err(_) => false,
        }
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        let mut st = self.shared.lock();
        if st.begin(Op::Lock, path)?.is_some() {
            return Err(eio("lock"));
        }
        match st.node(path) {
            Some(Node::File(_)) => {}
            Some(Node::Dir) => {
                return Err(io::Error::other(format!(
                    "{} is a directory",
                    path.display()
                )))
            }
            None => {
                st.create_file(path)?;
            }
        }
        if st.locks.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "lock held by another process",
            ));
        }
        let id = st.next_lock;
        st.next_lock += 1;
        st.locks.insert(path.to_owned(), id);
        Ok(Box::new(FaultLock {
            shared: self.shared.clone(),
            path: path.to_owned(),
            id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn setup(seed: u64) -> FaultFs {
        let fs = FaultFs::new(seed);
        fs.create_dir_all(&p("/d")).unwrap();
        fs.sync_dir(&p("/")).unwrap();
        fs
    }

    #[test]
    fn synced_bytes_and_entries_survive_every_power_cut() {
        for seed in 0..200 {
            let fs = setup(seed);
            let f = fs.create_new(&p("/d/a")).unwrap();
            f.append(b"durable").unwrap();
            f.sync().unwrap();
            fs.sync_dir(&p("/d")).unwrap();
            f.append(b" maybe").unwrap();
            fs.power_cut();
            fs.reboot();
            let got = fs.contents(&p("/d/a")).unwrap();
            assert_eq!(&got[..7], b"durable", "seed {seed}");
            assert!(got.len() <= 13);
            assert!(f.append(b"x").is_err(), "old handles die with the reboot");
        }
    }

    #[test]
    fn unsynced_changes_get_every_outcome() {
        let mut kept = 0;
        let mut lost = 0;
        let mut names = 0;
        for seed in 0..400 {
            let fs = setup(seed);
            let f = fs.create_new(&p("/d/a")).unwrap();
            f.append(&[7u8; 1500]).unwrap();
            f.sync().unwrap();
            fs.power_cut();
            fs.reboot();
            match fs.contents(&p("/d/a")) {
                None => names += 1,
                Some(c) if c == vec![7u8; 1500] => kept += 1,
                Some(c) => panic!("synced bytes changed: {} bytes", c.len()),
            }
            let fs = setup(seed);
            let f = fs.create_new(&p("/d/a")).unwrap();
            fs.sync_dir(&p("/d")).unwrap();
            f.append(&[7u8; 1500]).unwrap();
            fs.power_cut();
            fs.reboot();
            if fs.contents(&p("/d/a")).unwrap() != vec![7u8; 1500] {
                lost += 1;
            }
        }
        assert!(kept > 100 && names > 100, "kept {kept}, name lost {names}");
        assert!(lost > 100 && lost < 350, "{lost}");
    }

    #[test]
    fn a_failed_fsync_loses_the_writes_for_good() {
        for seed in 0..50 {
            let fs = setup(seed);
            let f = fs.create_new(&p("/d/a")).unwrap();
            fs.sync_dir(&p("/d")).unwrap();
            f.append(b"one").unwrap();
            fs.add_rule(FaultRule::on(Op::Sync, Fault::Eio));
            assert!(f.sync().is_err());
            f.append(b"two").unwrap();
            f.sync().unwrap();
            assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"onetwo");
            fs.power_cut();
            fs.reboot();
            assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"\0\0\0two");
        }
    }

    #[test]
    fn renames_are_atomic_and_directories_take_their_files_along() {
        for seed in 0..100 {
            let fs = setup(seed);
            let old = fs.create_new(&p("/d/M")).unwrap();
            old.append(b"old").unwrap();
            old.sync().unwrap();
            fs.sync_dir(&p("/d")).unwrap();
            let new = fs.create_new(&p("/d/M.tmp")).unwrap();
            new.append(b"new").unwrap();
            new.sync().unwrap();
            fs.rename(&p("/d/M.tmp"), &p("/d/M")).unwrap();
            fs.create_dir_all(&p("/d/sub")).unwrap();
            fs.create_new(&p("/d/sub/x")).unwrap();
            fs.sync_dir(&p("/d/sub")).unwrap();
            fs.power_cut();
            fs.reboot();
            let m = fs.contents(&p("/d/M")).unwrap();
            assert!(m == b"old" || m == b"new");
            if !fs.exists(&p("/d/sub")) {
                assert!(fs.contents(&p("/d/sub/x")).is_none());
                assert!(fs.list(&p("/d/sub")).is_err());
            }
        }
    }

    #[test]
    fn rules_count_calls_and_the_disk_fills_up() {
        let fs = setup(1);
        fs.set_tracing(true);
        let start = fs.calls();
        fs.add_rule(FaultRule::at_call(start + 2, Fault::ShortWrite));
        let f = fs.create_new(&p("/d/a")).unwrap();
        f.append(b"1234").unwrap();
        assert!(f.append(b"5678").is_err());
        assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"123456");
        assert_eq!(fs.fired().len(), 1);
        assert_eq!(fs.trace().len(), 3);
        fs.set_capacity(Some(8));
        let err = f.append(b"abcd").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"123456ab");
        assert!(fs.create_new(&p("/d/b")).is_err());
        fs.set_capacity(None);
        f.append(b"!").unwrap();
        fs.add_rule(FaultRule::on(Op::Rename, Fault::Eio).path_contains("/d/a"));
        assert!(fs.rename(&p("/d/a"), &p("/d/c")).is_err());
        fs.rename(&p("/d/a"), &p("/d/c")).unwrap();
        fs.add_rule(FaultRule::any(Fault::Crash));
        assert!(fs.list(&p("/d")).is_err());
        assert!(fs.list(&p("/d")).is_err(), "down until reboot");
        fs.reboot();
        assert_eq!(fs.list(&p("/d")).unwrap(), vec!["c".to_string()]);
        assert!(fs.contents(&p("/d/c")).unwrap().ends_with(b"!"));
    }

    #[test]
    fn read_faults_fail_shorten_or_hide_and_change_nothing() {
        let fs = setup(2);
        let f = fs.create_new(&p("/d/a")).unwrap();
        f.append(b"0123456789").unwrap();
        fs.add_rule(FaultRule::on(Op::Read, Fault::ShortRead));
        assert_eq!(fs.read(&p("/d/a")).unwrap(), b"01234");
        assert_eq!(fs.read(&p("/d/a")).unwrap(), b"0123456789", "fires once");
        fs.add_rule(FaultRule::on(Op::OpenBytes, Fault::ShortRead));
        let bytes = fs.open_bytes(&p("/d/a"), ReadMode::Mmap).unwrap();
        assert_eq!(&*bytes, b"01234");
        fs.add_rule(FaultRule::on(Op::OpenBytes, Fault::Eio));
        assert!(fs.open_bytes(&p("/d/a"), ReadMode::Buffered).is_err());
        fs.add_rule(FaultRule::on(Op::Exists, Fault::Eio));
        assert!(!fs.exists(&p("/d/a")), "a failed stat reads as absent");
        assert!(fs.exists(&p("/d/a")));
        // ShortRead applies to whole-file reads only.
        fs.add_rule(FaultRule::on(Op::Size, Fault::ShortRead));
        assert_eq!(fs.size(&p("/d/a")).unwrap(), 10);
        assert_eq!(fs.contents(&p("/d/a")).unwrap(), b"0123456789");
        assert_eq!(fs.fired().len(), 4);
    }

    #[test]
    fn locks_are_exclusive_until_dropped_or_rebooted() {
        let fs = setup(0);
        let lock = fs.lock(&p("/d/LOCK")).unwrap();
        assert_eq!(
            fs.lock(&p("/d/LOCK")).err().map(|e| e.kind()),
            Some(io::ErrorKind::WouldBlock)
        );
        drop(lock);
        let lock = fs.lock(&p("/d/LOCK")).unwrap();
        fs.reboot();
        let again = fs.lock(&p("/d/LOCK")).unwrap();
        drop(lock);
        assert!(
            fs.lock(&p("/d/LOCK")).is_err(),
            "a stale lock's drop is a no-op"
        );
        drop(again);
    }
}
