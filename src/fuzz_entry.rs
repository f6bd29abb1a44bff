//! Entry points of the fuzz targets under `fuzz/` for the file decoders, also run by
//! `tests/fuzz_replay.rs` on stored inputs and pseudo-random ones. Each takes arbitrary
//! bytes as the content of one file and must return (an error is fine) without
//! panicking, reading out of bounds or allocating without limit. Not part of the API.

use std::path::Path;

use crate::options::RecoveryMode;
use crate::storage::{FaultFs, FileSystem, ReadMode};

/// Writes `data` as `path` on a fresh in-memory file system.
fn fs_with(path: &Path, data: &[u8]) -> FaultFs {
    let fs = FaultFs::new(0);
    if let Some(dir) = path.parent() {
        fs.create_dir_all(dir).expect("in-memory mkdir");
    }
    let file = fs.create_new(path).expect("in-memory create");
    file.append(data).expect("in-memory write");
    file.sync().expect("in-memory fsync");
    fs
}

/// WAL replay of `data` as the only (newest) WAL file, and as an older file followed by
/// an empty newest one, in strict and salvage modes.
pub fn wal_replay(data: &[u8]) {
    let dir = Path::new("/db/wal");
    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        let fs = fs_with(&dir.join(crate::wal::file_name(1)), data);
        let mut points = 0usize;
        let _ = crate::wal::replay(&fs, dir, 1, mode, |entry| {
            if let crate::wal::WalEntry::Points(cols) = entry {
                assert_eq!(cols.series.len(), cols.timestamps.len());
                assert_eq!(cols.series.len(), cols.values.len());
                points += cols.series.len();
            }
            Ok(())
        });
        let fs = fs_with(&dir.join(crate::wal::file_name(1)), data);
        let newest = fs
            .create_new(&dir.join(crate::wal::file_name(2)))
            .expect("create");
        drop(newest);
        let _ = crate::wal::replay(&fs, dir, 1, mode, |_| Ok(()));
    }
}

/// Opens `data` as a segment file and decodes every chunk it lists.
pub fn segment(data: &[u8]) {
    let path = Path::new("/db/segments/00000000000000000001.seg");
    let fs = fs_with(path, data);
    let Ok(segment) = crate::segment::Segment::open(&fs, path, ReadMode::Buffered) else {
        return;
    };
    let (mut ts, mut values) = (Vec::new(), Vec::new());
    for chunk in segment.chunks() {
        ts.clear();
        values.clear();
        if segment.decode_chunk(chunk, &mut ts, &mut values).is_ok() {
            assert_eq!(ts.len(), chunk.stats.count as usize);
            assert_eq!(values.len(), ts.len());
        }
    }
}

/// Opens `data` as a rollup file and decodes every block it accepts.
pub fn rollup(data: &[u8]) {
    let path = Path::new("/db/segments/00000000000000000002.seg");
    let fs = fs_with(path, data);
    let Ok(rollup) = crate::segment::rollup::Rollup::open(&fs, path, ReadMode::Buffered) else {
        return;
    };
    let mut buckets = Vec::new();
    for block in rollup.blocks() {
        buckets.clear();
        if rollup.decode_block(block, &mut buckets).is_ok() {
            assert_eq!(buckets.len(), block.buckets as usize);
        }
    }
}

/// Decodes `data` as a catalog file and, if it is accepted, uses it.
pub fn catalog(data: &[u8]) {
    if let Ok(catalog) = crate::index::Catalog::decode(data, Path::new("catalog.cat")) {
        let all = catalog.select(&crate::types::Selector::any());
        assert_eq!(all.len(), catalog.len() as u64);
        let _ = catalog.encode();
    }
}

/// Decodes `data` as a manifest and re-encodes what it accepts.
pub fn manifest(data: &[u8]) {
    if let Ok(body) = crate::partition::manifest::ManifestBody::decode(data, Path::new("MANIFEST"))
    {
        let again =
            crate::partition::manifest::ManifestBody::decode(&body.encode(), Path::new("MANIFEST"));
        assert_eq!(again.ok().as_ref(), Some(&body));
    }
}
