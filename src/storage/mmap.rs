//! Read-only memory maps: the only module of the crate that uses `unsafe`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// A read-only mapping of a whole file.
pub(crate) struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `file` read-only. An empty file gets no mapping (mapping zero bytes fails on
    /// some platforms).
    pub(crate) fn map(file: &File) -> io::Result<MappedFile> {
        if file.metadata()?.len() == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: memmap2 marks mapping unsafe because another process could change or
        // truncate the file while it is mapped, which would change bytes behind a `&[u8]`
        // or raise SIGBUS. sedimentdb maps only immutable files (segments, catalogs) that
        // it wrote completely, fsynced and never modifies again; the directory is held
        // under an exclusive lock so no other sedimentdb process writes there. Users who
        // cannot rule out outside interference choose `ReadMode::Buffered` instead.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(MappedFile { map: Some(map) })
    }

    /// The mapped bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}
