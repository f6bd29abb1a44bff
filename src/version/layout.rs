//! Names of the files and folders inside a database directory (see FORMAT.md).

use std::path::{Path, PathBuf};

pub(crate) const LOCK_FILE: &str = "LOCK";
pub(crate) const MANIFEST_FILE: &str = "MANIFEST";
pub(crate) const WAL_DIR: &str = "wal";
pub(crate) const SEGMENT_DIR: &str = "segments";
pub(crate) const CATALOG_DIR: &str = "catalog";
/// Damaged segments set aside (never deleted by the engine).
pub(crate) const QUARANTINE_DIR: &str = "quarantine";
pub(crate) const SEGMENT_EXT: &str = "seg";
pub(crate) const CATALOG_EXT: &str = "cat";

/// Paths of one database directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
    pub manifest: PathBuf,
    pub wal: PathBuf,
    pub segments: PathBuf,
    pub catalog: PathBuf,
    pub quarantine: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_owned(),
            manifest: root.join(MANIFEST_FILE),
            wal: root.join(WAL_DIR),
            segments: root.join(SEGMENT_DIR),
            catalog: root.join(CATALOG_DIR),
            quarantine: root.join(QUARANTINE_DIR),
        }
    }

    pub(crate) fn segment_file(&self, id: u64) -> PathBuf {
        self.segments.join(format!("{id:020}.{SEGMENT_EXT}"))
    }

    pub(crate) fn catalog_file(&self, seq: u64) -> PathBuf {
        self.catalog.join(format!("{seq:020}.{CATALOG_EXT}"))
    }
}

/// Parses `"{n:020}.{ext}"` back into `n`.
pub(crate) fn parse_numbered(name: &str, ext: &str) -> Option<u64> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_round_trip() {
        let l = Layout::new(Path::new("/db"));
        let p = l.segment_file(42);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_numbered(name, SEGMENT_EXT), Some(42));
        assert_eq!(parse_numbered("42.seg", SEGMENT_EXT), None);
        assert_eq!(
            parse_numbered("00000000000000000042.seg.tmp", SEGMENT_EXT),
            None
        );
    }
}
