//! Catalog and manifest corruption: every byte of the manifest and of the catalog file
//! gets a bit flipped (two bits per byte), and each is truncated at many lengths. Both
//! files carry checksums over every byte, so the database must refuse to open with
//! `Corruption` or `UnsupportedVersion` naming the damaged file — never panic, never
//! open with a damaged catalog or manifest.

mod fault_support;

use std::sync::Arc;
use std::time::Duration;

use fault_support::{batch, expected_series, judge, sample_offsets, Tally, Verdict};
use sedimentdb::storage::FaultFs;
use sedimentdb::{Db, Durability, Options};

const DB: &str = "/db";
const BATCHES: u64 = 12;

fn options() -> Options {
    Options::default()
        .durability(Durability::None)
        .partition_duration(Duration::from_secs(600))
}

fn base() -> FaultFs {
    let fs = FaultFs::new(0);
    let db = Db::open(DB, options().file_system(Arc::new(fs.clone()))).expect("open");
    for id in 0..BATCHES {
        db.write(&batch(id)).expect("write");
    }
    db.flush().expect("flush");
    db.close().expect("close");
    fs
}

fn sweep(file_kind: &str, pick: impl Fn(&std::path::Path) -> bool) -> Tally {
    let base = base();
    let expected = expected_series(0..BATCHES);
    let file = base
        .files()
        .into_iter()
        .find(|p| pick(p))
        .unwrap_or_else(|| panic!("no {file_kind} file"));
    let bytes = base.contents(&file).expect("contents");
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in sample_offsets(bytes.len(), 64, 64, 64) {
        cases.push((format!("truncated to {cut}"), bytes[..cut].to_vec()));
    }
    for off in 0..bytes.len() {
        for bit in [off % 8, 7 - off % 8] {
            let mut b = bytes.clone();
            b[off] ^= 1 << bit;
            cases.push((format!("bit {bit} of byte {off} flipped"), b));
        }
    }
    let mut tally = Tally::default();
    for (what, damaged) in cases {
        let fs = base.deep_clone();
        fs.set_contents(&file, &damaged).expect("damage");
        let verdict = judge(
            || Db::open(DB, options().file_system(Arc::new(fs.clone()))),
            &file,
            &expected,
        );
        let verdict = match verdict {
            Verdict::OpenRefused | Verdict::Violation(_) => verdict,
            other => Verdict::Violation(format!("opened despite the damage: {other:?}")),
        };
        tally.add(format!("{} {what}", file.display()), verdict);
    }
    eprintln!("{file_kind}: {} bytes", bytes.len());
    tally
}

#[test]
fn damaged_manifest_is_refused_at_open() {
    sweep("manifest", |p| p.ends_with("MANIFEST")).report("manifest corruption");
}

#[test]
fn damaged_catalog_is_refused_at_open() {
    sweep("catalog", |p| p.extension().is_some_and(|e| e == "cat")).report("catalog corruption");
}
