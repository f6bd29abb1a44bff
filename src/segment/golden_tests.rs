//! The segment and rollup files of the golden database (`tests/golden/v1`, see
//! `tests/compat.rs`): their footers decode with today's field-by-field decoder and
//! encode back to the very bytes on disk, so a change to the footer layout cannot go
//! unnoticed; and they hold every codec.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::format::{Footer, MAGIC, VERSION};
use super::rollup::{Rollup, RollupFooter, ROLLUP_MAGIC, ROLLUP_VERSION};
use super::Segment;
use crate::format::frame::parse_framed;
use crate::storage::{FileSystem, OsFileSystem, ReadMode};

fn golden_files(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/v1")
        .join(sub);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn golden_footers_decode_and_encode_to_the_same_bytes() {
    let fs = OsFileSystem;
    let (mut segments, mut rollups) = (Vec::new(), Vec::new());
    let mut files = golden_files("segments");
    files.extend(golden_files("quarantine"));
    for path in files {
        let bytes = fs.read(&path).unwrap();
        if bytes.starts_with(&MAGIC) {
            let framed = parse_framed(&bytes, &path, &MAGIC, VERSION).unwrap();
            let footer = Footer::decode(&framed.footer).unwrap();
            assert_eq!(footer.encode(), framed.footer, "{path:?}");
            segments.push((path, footer));
        } else {
            let framed = parse_framed(&bytes, &path, &ROLLUP_MAGIC, ROLLUP_VERSION).unwrap();
            let footer = RollupFooter::decode(&framed.footer).unwrap();
            assert_eq!(footer.encode(), framed.footer, "{path:?}");
            rollups.push((path, footer));
        }
    }
    // The cold segment of partition 0, the warm one of partition 1, the flushed one of
    // partition 2, and the quarantined one of partition 3.
    let summary: Vec<(i64, u8, i64, i64, u64, u64)> = segments
        .iter()
        .map(|(_, f)| (f.partition, f.level, f.min_ts, f.max_ts, f.points, f.series))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 2, 0, 997, 301, 3),
            (1, 1, 1000, 1869, 162, 3),
            (2, 0, 2000, 2877, 92, 4),
            (3, 0, 3000, 3090, 10, 1),
        ]
    );
    let ts_codecs: BTreeSet<u8> = segments
        .iter()
        .flat_map(|(_, f)| f.chunks.iter().map(|c| c.ts_codec))
        .collect();
    let value_codecs: BTreeSet<u8> = segments
        .iter()
        .flat_map(|(_, f)| f.chunks.iter().map(|c| c.value_codec))
        .collect();
    assert_eq!(ts_codecs, BTreeSet::from([0, 1, 2]));
    assert_eq!(value_codecs, BTreeSet::from([0, 1, 2]));

    let [(path, rollup)] = &rollups[..] else {
        panic!("one rollup file expected: {rollups:?}");
    };
    assert_eq!(
        (
            rollup.partition,
            rollup.resolution,
            rollup.min_ts,
            rollup.max_ts
        ),
        (0, 100, 0, 1000)
    );
    assert_eq!(
        (rollup.buckets, rollup.series, rollup.blocks.len()),
        (20, 2, 2)
    );
    let opened = Rollup::open(&fs, path, ReadMode::Buffered).unwrap();
    let mut buckets = Vec::new();
    for block in opened.blocks() {
        opened.decode_block(block, &mut buckets).unwrap();
    }
    assert_eq!(buckets.len(), 20);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 200);
}

#[test]
fn golden_segments_decode_every_chunk() {
    let fs = OsFileSystem;
    let mut files = golden_files("segments");
    files.extend(golden_files("quarantine"));
    let mut points = 0;
    for path in files {
        let Ok(segment) = Segment::open(&fs, &path, ReadMode::Buffered) else {
            continue; // the rollup file
        };
        for chunk in segment.chunks() {
            let (mut ts, mut values) = (Vec::new(), Vec::new());
            segment.decode_chunk(chunk, &mut ts, &mut values).unwrap();
            assert_eq!(ts.len(), chunk.stats.count as usize);
            points += ts.len();
        }
    }
    assert_eq!(points, 301 + 162 + 92 + 10);
}
