//! The real file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use super::{mmap::MappedFile, BytesInner, DirLock, FileBytes, FileSystem, ReadMode, WritableFile};

/// [`FileSystem`] backed by the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFileSystem;

struct OsFile {
    file: File,
}

impl WritableFile for OsFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        (&self.file).write_all(buf)
    }
    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

struct OsLock {
    file: File,
}

impl DirLock for OsLock {}

impl Drop for OsLock {
    fn drop(&mut self) {
        // Release the lock on the open file description itself, before the descriptor
        // is closed. Closing alone is not enough: a child process being spawned by
        // another thread shares the description until it execs (or exits), and the
        // lock would stay held for that moment, failing an `open` right after `close`
        // with `Locked`. An error here has no caller to go to; closing the file still
        // releases the lock once no other descriptor shares it.
        let _ = self.file.unlock();
    }
}

impl FileSystem for OsFileSystem {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        Ok(Arc::new(OsFile { file }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Arc::new(OsFile { file }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn open_bytes(&self, path: &Path, mode: ReadMode) -> io::Result<FileBytes> {
        match mode {
            ReadMode::Buffered => Ok(FileBytes::from_vec(fs::read(path)?)),
            ReadMode::Mmap => {
                let file = File::open(path)?;
                Ok(FileBytes {
                    inner: BytesInner::Mapped(MappedFile::map(&file)?),
                })
            }
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(OsLock { file })),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "lock held by another process",
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
