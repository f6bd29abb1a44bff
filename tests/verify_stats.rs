//! `Db::verify()` recomputes every chunk's statistics from its decoded points: a segment
//! whose statistics were rewritten together with every checksum (what an adversary, not
//! an accident, does) decodes cleanly and answers aggregate queries from the forged
//! values, and only the recomputation finds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};

const TRAILER: usize = 36;
const FOOTER_FIXED: usize = 49;
/// Offset of `sum` in a 94-byte chunk entry (FORMAT.md, "ChunkMeta").
const SUM_AT: usize = 70;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Rewrites the `sum` of the first chunk of the segment `file` to `forged`, with the
/// footer re-compressed and every checksum recomputed: the file is well-formed.
fn forge_first_chunk_sum(file: &Path, forged: f64) {
    let bytes = std::fs::read(file).unwrap();
    let trailer = &bytes[bytes.len() - TRAILER..];
    let footer_offset = u64::from_le_bytes(trailer[0..8].try_into().unwrap()) as usize;
    let footer_len = u32_at(trailer, 8) as usize;
    let version = u32_at(trailer, 20);
    let magic = trailer[28..36].to_vec();
    let compressed = &bytes[footer_offset..footer_offset + footer_len];
    let mut footer = zstd::decode_all(compressed).unwrap();
    let at = FOOTER_FIXED + SUM_AT;
    footer[at..at + 8].copy_from_slice(&forged.to_le_bytes());
    let new_frame = zstd::encode_all(&footer[..], 3).unwrap();

    let mut out = bytes[..footer_offset].to_vec();
    out.extend_from_slice(&new_frame);
    let mut t = Vec::new();
    t.extend_from_slice(&(footer_offset as u64).to_le_bytes());
    t.extend_from_slice(&(new_frame.len() as u32).to_le_bytes());
    t.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    t.extend_from_slice(&crc32fast::hash(&new_frame).to_le_bytes());
    t.extend_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&t);
    t.extend_from_slice(&crc.to_le_bytes());
    t.extend_from_slice(&magic);
    out.extend_from_slice(&t);
    std::fs::write(file, out).unwrap();
}

fn only_segment(dir: &Path) -> PathBuf {
    let segs: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs[0].clone()
}

fn total(db: &Db) -> f64 {
    let result = db
        .query(&Query::metric("m").aggregate(Aggregate::Sum))
        .unwrap();
    result.series[0].values[0]
}

#[test]
fn verify_finds_chunk_statistics_forged_with_recomputed_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().head_window(Duration::from_secs(1 << 30));
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut batch = WriteBatch::new();
    for t in 0..10 {
        batch.push_key(&SeriesKey::new("m"), t, t as f64); // sum 45
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    assert_eq!(total(&db), 45.0);
    assert!(
        db.verify().unwrap().damaged.is_empty(),
        "an honest segment passes"
    );
    db.close().unwrap();

    let file = only_segment(dir.path());
    forge_first_chunk_sum(&file, 1e6);
    let db = Db::open(dir.path(), opts).unwrap();
    // The forgery passes every checksum: the aggregate is answered from it.
    assert_eq!(total(&db), 1e6, "the forged statistics are served");
    let report = db.verify().unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    let damage = &report.damaged[0];
    assert_eq!(damage.file, file);
    assert!(damage.what.contains("sum"), "{}", damage.what);
    assert!(damage.what.contains("45"), "{}", damage.what);
}
