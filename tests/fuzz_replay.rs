//! Replays every stored fuzz input (`fuzz/regressions/<target>/`, inputs that once
//! crashed a target, and `fuzz/corpus/<target>/`) through the fuzz entry points on stable
//! Rust, then a bounded run of mutations of real database files: truncations, bit flips
//! and random bytes. Any panic fails the test.

use std::path::{Path, PathBuf};

use sedimentdb::{
    __fuzz, Db, Durability, Options, RollupPolicy, Selector, SeriesKey, Tier, WriteBatch,
};

type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 7] = [
    ("codecs", __fuzz::codecs),
    ("wal_replay", __fuzz::wal_replay),
    ("segment", __fuzz::segment),
    ("catalog", __fuzz::catalog),
    ("manifest", __fuzz::manifest),
    ("query", __fuzz::query),
    ("rollup", __fuzz::rollup),
];

fn stored_inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for kind in ["regressions", "corpus"] {
        if let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) {
            for e in entries.flatten() {
                let name = e.file_name();
                if !name.to_string_lossy().starts_with('.') {
                    out.push(e.path());
                }
            }
        }
    }
    out
}

#[test]
fn stored_fuzz_inputs_still_pass() {
    for (target, entry) in TARGETS {
        for path in stored_inputs(target) {
            let data = std::fs::read(&path).unwrap();
            entry(&data);
        }
    }
}

/// Real files of a small database: (target, bytes).
fn real_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options::default()
            .durability(Durability::None)
            .chunk_points(16)
            .rollup(
                Selector::metric("m"),
                RollupPolicy::new(std::time::Duration::from_secs(2)),
            ),
    )
    .unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..100i64 {
        batch.push_key(
            &SeriesKey::new("m").with("h", (i % 3).to_string()),
            i * 100_000_000,
            (i as f64) / 4.0,
        );
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    // A cold compaction writes the partition's rollup file beside the merged segment.
    db.compact_partition(0, Tier::Cold).unwrap();
    assert_eq!(
        db.stats().rollup_files,
        1,
        "the mutated files include a rollup"
    );
    db.write(&batch).unwrap(); // stays in the WAL
    let mut files = Vec::new();
    for (sub, target) in [
        ("wal", "wal_replay"),
        ("segments", "segment"),
        ("catalog", "catalog"),
    ] {
        for e in std::fs::read_dir(dir.path().join(sub)).unwrap().flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            if bytes.len() > 24 {
                // Rollup files share segments/ with the segments: each decoder gets both
                // kinds (and must reject the other one cleanly).
                if target == "segment" {
                    files.push(("rollup", bytes.clone()));
                }
                files.push((target, bytes));
            }
        }
    }
    files.push((
        "manifest",
        std::fs::read(dir.path().join("MANIFEST")).unwrap(),
    ));
    drop(db);
    files
}

#[test]
fn mutated_real_files_never_panic() {
    let entry = |name: &str| TARGETS.iter().find(|(t, _)| *t == name).unwrap().1;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let files = real_files();
    assert!(
        files.iter().any(|(t, _)| *t == "segment") && files.iter().any(|(t, _)| *t == "wal_replay")
    );
    for (target, bytes) in files {
        let run = entry(target);
        run(&bytes);
        for cut in (0..bytes.len()).step_by((bytes.len() / 64).max(1)) {
            run(&bytes[..cut]);
        }
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] ^= 1 << (next() % 8);
            }
            run(&b);
        }
        for _ in 0..50 {
            let len = (next() % 512) as usize;
            let random: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            run(&random);
        }
    }
}

/// The query target on pseudo-random parameter bytes: every builder call, serial and
/// parallel paths compared, limits at and past their bounds.
#[test]
fn random_queries_never_panic_and_agree_across_paths() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        let len = 8 + (x % 56) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        __fuzz::query(&bytes);
    }
}
