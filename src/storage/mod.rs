//! The I/O boundary: every file the engine touches goes through [`FileSystem`].
//!
//! The real implementation is [`OsFileSystem`]. Tests put a fault-injecting
//! implementation in its place (see [`crate::Options::file_system`]) to simulate short
//! writes, EIO, ENOSPC and power cuts without touching engine code.

#[cfg(feature = "fault-injection")]
pub mod fault;
mod mmap;
mod os;

#[cfg(feature = "fault-injection")]
pub use fault::FaultFs;
pub use os::OsFileSystem;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file opened for appending. Methods take `&self` so that one writer can append while
/// another thread fsyncs the same file (group commit).
pub trait WritableFile: Send + Sync {
    /// Appends all of `buf` at the end of the file.
    fn append(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Shrinks the file to `len` bytes (used to cut a failed append back off).
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// True when the file holds no bytes.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// An exclusive lock on a database directory, released on drop.
pub trait DirLock: Send + Sync {}

/// Read-only bytes of a whole file: a memory map or an owned buffer.
pub struct FileBytes {
    inner: BytesInner,
}

enum BytesInner {
    Owned(Vec<u8>),
    Mapped(mmap::MappedFile),
}

impl FileBytes {
    /// Wraps an owned buffer.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        FileBytes {
            inner: BytesInner::Owned(bytes),
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.inner {
            BytesInner::Owned(v) => v,
            BytesInner::Mapped(m) => m.as_slice(),
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            BytesInner::Owned(_) => "owned",
            BytesInner::Mapped(_) => "mapped",
        };
        write!(f, "FileBytes({kind}, {} bytes)", self.as_slice().len())
    }
}

/// How immutable files (segments) are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Memory-map the file (the default: no copy, the page cache is the cache).
    ///
    /// A mapped file that is truncated by another process while mapped raises SIGBUS;
    /// sedimentdb never truncates its own immutable files, but if something else might,
    /// use [`ReadMode::Buffered`].
    #[default]
    Mmap,
    /// Read the whole file into memory with ordinary reads.
    Buffered,
}

/// The file operations the engine needs. Paths are absolute or relative to the process.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates `path` (failing if it exists) and opens it for appending.
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>>;
    /// Opens an existing file for appending.
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens a whole file read-only, mapped or read according to `mode`.
    fn open_bytes(&self, path: &Path, mode: ReadMode) -> io::Result<FileBytes>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Lists the file names (not paths) in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Length of a file in bytes.
    fn size(&self, path: &Path) -> io::Result<u64>;
    /// True when `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Takes an exclusive lock on `path` (creating it), failing at once if it is held.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>>;
}

/// Reads the whole file `path` and checks that the read returned as many bytes as the
/// file holds: a short read must not pass for a shorter file (a WAL tail cut there would
/// drop acknowledged records).
pub(crate) fn read_whole(fs: &dyn FileSystem, path: &Path) -> crate::Result<Vec<u8>> {
    let bytes = fs
        .read(path)
        .map_err(|e| crate::Error::io("read", path, e))?;
    check_length(fs, path, bytes.len())?;
    Ok(bytes)
}

/// [`FileSystem::open_bytes`], with the length check of [`read_whole`].
pub(crate) fn open_whole(
    fs: &dyn FileSystem,
    path: &Path,
    mode: ReadMode,
) -> crate::Result<FileBytes> {
    let bytes = fs
        .open_bytes(path, mode)
        .map_err(|e| crate::Error::io("open", path, e))?;
    check_length(fs, path, bytes.len())?;
    Ok(bytes)
}

/// Fails unless `path` holds exactly `got` bytes: the check after a whole-file read.
pub(crate) fn check_length(fs: &dyn FileSystem, path: &Path, got: usize) -> crate::Result<()> {
    let size = fs
        .size(path)
        .map_err(|e| crate::Error::io("stat", path, e))?;
    if size != got as u64 {
        return Err(crate::Error::io(
            "read",
            path,
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("short read: {got} of {size} bytes"),
            ),
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: write a temporary file, fsync it, rename it over
/// `path`, fsync the directory. A crash leaves either the old or the new file.
pub(crate) fn write_atomic(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) -> crate::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tmp_path(path);
    // Not `exists` first: a failed stat reads as "absent" and the create would fail.
    match fs.remove(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(crate::Error::io("remove", &tmp, e))
        }
        _ => {}
    }
    let file = fs
        .create_new(&tmp)
        .map_err(|e| crate::Error::io("create", &tmp, e))?;
    file.append(bytes)
        .map_err(|e| crate::Error::io("write", &tmp, e))?;
    file.sync()
        .map_err(|e| crate::Error::io("fsync", &tmp, e))?;
    drop(file);
    fs.rename(&tmp, path)
        .map_err(|e| crate::Error::io("rename", path, e))?;
    fs.sync_dir(dir)
        .map_err(|e| crate::Error::io("fsync", dir, e))?;
    Ok(())
}

/// The temporary name used while writing `path`.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
