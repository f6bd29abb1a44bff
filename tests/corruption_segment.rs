//! Segment corruption: a small database is written and flushed into several segment
//! files; then each segment in turn is truncated at many lengths (every length of the
//! last 80 bytes, and 40 spread over the rest), extended with garbage, or has single
//! bits flipped (every byte of header and trailer, 150 offsets spread over chunks and
//! footer, two bits each). The database is reopened on each damaged copy and must either
//! refuse to open with `Corruption` / `UnsupportedVersion` naming that file, or open and
//! then refuse to read the affected series with `Corruption` naming it — never panic,
//! never return a wrong or missing point (every series read is compared in full).
//!
//! The sweep runs on the in-memory `FaultFs` (buffered reads); a sample runs on real
//! files through `mmap`.

mod fault_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fault_support::{batch, expected_series, judge, sample_offsets, Tally, Verdict};
use sedimentdb::storage::{FaultFs, ReadMode};
use sedimentdb::{Db, Durability, Options};

const DB: &str = "/db";
const BATCHES: u64 = 30;

fn options() -> Options {
    Options::default()
        .durability(Durability::None)
        // 30 batches span 24 minutes: two flushes cut about six segments of 10-minute
        // partitions, each series in several 16-point chunks.
        .partition_duration(Duration::from_secs(600))
        .chunk_points(16)
}

fn fill(db: &Db) {
    for id in 0..BATCHES {
        db.write(&batch(id)).expect("write");
        if id == BATCHES / 2 {
            db.flush().expect("flush");
        }
    }
    db.flush().expect("flush");
    db.close().expect("close");
}

fn in_memory_base() -> FaultFs {
    let fs = FaultFs::new(0);
    fill(&Db::open(DB, options().file_system(Arc::new(fs.clone()))).expect("open"));
    fs
}

/// Damaged variants of `bytes`: (what was done, the damaged bytes).
fn mutations(bytes: &[u8], header: usize, trailer: usize) -> Vec<(String, Vec<u8>)> {
    let len = bytes.len();
    let mut out = Vec::new();
    for cut in sample_offsets(len, 0, 80, 40) {
        out.push((format!("truncated to {cut} bytes"), bytes[..cut].to_vec()));
    }
    out.push(("8 bytes of garbage appended".into(), {
        let mut b = bytes.to_vec();
        b.extend_from_slice(&[0xab; 8]);
        b
    }));
    for off in sample_offsets(len, header, trailer, 150) {
        for bit in [off % 8, 7 - off % 8] {
            let mut b = bytes.to_vec();
            b[off] ^= 1 << bit;
            out.push((format!("bit {bit} of byte {off} flipped"), b));
        }
    }
    out
}

fn segment_files(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .cloned()
        .collect()
}

#[test]
fn damaged_segments_are_refused_never_misread() {
    let base = in_memory_base();
    let expected = expected_series(0..BATCHES);
    let segments = segment_files(&base.files());
    assert!(segments.len() >= 4, "{segments:?}");
    let mut tally = Tally::default();
    let mut read_refusals = 0;
    for seg in &segments {
        let bytes = base.contents(seg).expect("segment");
        for (what, damaged) in mutations(&bytes, 16, 36) {
            let fs = base.deep_clone();
            fs.set_contents(seg, &damaged).expect("damage");
            let verdict = judge(
                || Db::open(DB, options().file_system(Arc::new(fs.clone()))),
                seg,
                &expected,
            );
            read_refusals += usize::from(matches!(verdict, Verdict::ReadRefused(_)));
            tally.add(format!("{} {what}", seg.display()), verdict);
        }
    }
    tally.report("segment corruption (in memory)");
    assert!(tally.open_refused > 0 && read_refusals > 0);
    // Every byte of a segment is covered by a check: header fields by value, chunks,
    // footer and trailer by CRCs, the length by the trailer.
    assert_eq!(tally.harmless, 0, "{:?}", tally.harmless_cases);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn damaged_segments_through_mmap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    fill(&Db::open(&base, options()).expect("open"));
    let expected = expected_series(0..BATCHES);
    let mut names: Vec<_> = std::fs::read_dir(base.join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    let mut tally = Tally::default();
    for name in names.iter().take(2) {
        let bytes = std::fs::read(base.join("segments").join(name)).expect("read");
        for (what, damaged) in mutations(&bytes, 16, 36).into_iter().step_by(9) {
            let case = tempfile::tempdir().expect("tempdir");
            let db_dir = case.path().join("db");
            copy_dir(&base, &db_dir);
            let seg = db_dir.join("segments").join(name);
            std::fs::write(&seg, &damaged).expect("damage");
            let verdict = judge(
                || Db::open(&db_dir, options().read_mode(ReadMode::Mmap)),
                &seg,
                &expected,
            );
            tally.add(format!("{} {what}", seg.display()), verdict);
        }
    }
    tally.report("segment corruption (files, mmap)");
}
