//! Format compatibility: databases written by an earlier build still open, and read back
//! exactly what was written.
//!
//! `tests/golden/v1/` is a whole database directory written by [`build`] (format version
//! 1 of every file type; manifest version 2); `tests/golden/v2/` the same written after
//! the WAL moved to version 2 (records carry a durable mark), the other files as in
//! v1. Each holds every file type FORMAT.md describes:
//!
//! - `MANIFEST` with segments, rollups, a tombstone and a hidden series;
//! - `segments/`: a cold (level 2) segment with its rollup file, a warm (level 1)
//!   segment, a flushed (level 0) segment, with every timestamp and value codec;
//! - `catalog/`: the catalog of the flushed series;
//! - `wal/`: a WAL file holding a series entry and points entries not yet flushed
//!   (NaN, infinities, -0.0);
//! - `quarantine/`: a segment set aside by `Db::quarantine_segment`.
//!
//! The golden files are never rewritten for a format change: a change to any file layout
//! is a new format version, with a new golden directory beside this one and the reader
//! still accepting (or deliberately refusing, with `UnsupportedVersion`) the old one.
//! To write the directory (only when adding a new version):
//!
//! ```text
//! SEDIMENTDB_GOLDEN_OUT=tests/golden/v3 cargo test -p sedimentdb --test compat -- --ignored write_golden
//! ```
//!
//! Every test here opens a copy (open rewrites the WAL tail and starts a new WAL file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sedimentdb::{
    Aggregate, Db, Durability, Matcher, Options, Query, RollupPolicy, Selector, SeriesKey, Tier,
    TimeRange, WriteBatch,
};

/// Nanoseconds per partition: small numbers keep the files a few KB.
const PART: i64 = 1000;
/// Rollup resolution of `cpu`.
const RES: i64 = 100;

/// The golden directories, oldest first; the last is what this build writes.
const VERSIONS: [&str; 2] = ["v1", "v2"];

fn golden_dir(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(version)
}

/// The options the golden database was written with; reads must use the same partition
/// duration and rollup policy.
fn options() -> Options {
    Options::default()
        .durability(Durability::Sync)
        .partition_duration(Duration::from_nanos(PART as u64))
        .warm_duration(Duration::from_nanos(2 * PART as u64))
        .head_window(Duration::from_secs(3600))
        .chunk_points(16)
        .cold_chunk_points(64)
        .rollup(
            Selector::metric("cpu"),
            RollupPolicy::new(Duration::from_nanos(RES as u64)),
        )
}

fn cpu(host: &str, dc: &str) -> SeriesKey {
    SeriesKey::new("cpu").with("host", host).with("dc", dc)
}

fn mem() -> SeriesKey {
    SeriesKey::new("mem").with("host", "h0")
}

fn temp() -> SeriesKey {
    SeriesKey::new("temperature").with("room", "salle ✓ ü")
}

fn gone() -> SeriesKey {
    SeriesKey::new("gone").with("x", "y")
}

fn disk() -> SeriesKey {
    SeriesKey::new("disk").with("dev", "sda")
}

/// A 64-bit mix (splitmix64), so that values are pseudo-random but the same on every
/// platform (no libm).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Every point written, per series, in write order: `(batch, key, ts, value)`. Batches
/// are the steps of [`build`].
struct Writes {
    batches: Vec<Vec<(SeriesKey, i64, f64)>>,
}

/// Step numbers of [`writes`], which [`build`] carries out in order.
const P0_A: usize = 0;
const P0_B: usize = 1;
const P1_A: usize = 2;
const P1_B: usize = 3;
const P2: usize = 4;
const P3_QUARANTINED: usize = 5;
const WAL_ONLY: usize = 6;

fn writes() -> Writes {
    let mut batches = vec![Vec::new(); 7];
    // Partition 0: regular cpu (Constant timestamps, Decimal values), jittered mem
    // (Delta timestamps, Xor values), in two flushes; compacted cold, with a rollup.
    for (step, range) in [(P0_A, 0..50), (P0_B, 50..100)] {
        for i in range {
            let t = i * 10;
            batches[step].push((cpu("h0", "eu"), t, (mix(i as u64) % 400) as f64 * 0.25));
            batches[step].push((cpu("h1", "us"), t + 3, ((i * 7) % 50) as f64 * 0.5));
            let jitter = (mix(1000 + i as u64) % 5) as i64;
            let v = (mix(2000 + i as u64) % 1_000_000) as f64 / 7.0;
            batches[step].push((mem(), t + jitter, v));
        }
    }
    // A NaN inside a rollup bucket: rollups skip it, raw reads keep it.
    batches[P0_B].push((cpu("h1", "us"), 997, f64::NAN));
    // Partition 1: two flushes compacted warm; drifting timestamps (DeltaOfDelta).
    for (step, range) in [(P1_A, 0..40), (P1_B, 40..80)] {
        for i in range {
            let t = 1000 + i * 10 + i * i / 80;
            batches[step].push((cpu("h0", "eu"), t, (i % 9) as f64));
            batches[step].push((cpu("h1", "us"), t + 1, 100.0 - i as f64 * 0.125));
        }
    }
    batches[P1_B].push((temp(), 1500, -0.0));
    batches[P1_B].push((temp(), 1600, 21.5));
    // Partition 2: one flush, left as it is (level 0).
    for i in 0..30 {
        let t = 2000 + i * 30;
        batches[P2].push((cpu("h0", "eu"), t, i as f64 * 1.5));
        batches[P2].push((cpu("h1", "us"), t, -(i as f64)));
        batches[P2].push((mem(), t + 7, (mix(3000 + i as u64) % 1000) as f64 / 3.0));
    }
    batches[P2].push((gone(), 2100, 1.0));
    batches[P2].push((gone(), 2200, 2.0));
    // Partition 3: flushed, then the segment is quarantined (these points are lost).
    for i in 0..10 {
        batches[P3_QUARANTINED].push((cpu("h0", "eu"), 3000 + i * 10, 7.0));
    }
    // Only in the WAL: a new series and special values, plus one overwrite of a point
    // in a segment (the head wins).
    batches[WAL_ONLY].push((cpu("h0", "eu"), 3500, 1.25));
    batches[WAL_ONLY].push((cpu("h0", "eu"), 2030, 99.0));
    for (i, v) in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::MIN_POSITIVE,
    ]
    .into_iter()
    .enumerate()
    {
        batches[WAL_ONLY].push((disk(), 4000 + i as i64 * 1_000_000, v));
    }
    Writes { batches }
}

/// The deletion [`build`] makes: `cpu{host=h1}` in `[1500, 2500)`.
const DELETED: (i64, i64) = (1500, 2500);

fn write_batch(db: &Db, points: &[(SeriesKey, i64, f64)]) {
    let mut batch = WriteBatch::new();
    for (key, t, v) in points {
        batch.push_key(key, *t, *v);
    }
    db.write(&batch).unwrap();
}

/// Writes the golden database into `dir` (which must not hold one). Deterministic: the
/// same build writes the same bytes (no wall clock or randomness reaches the files).
fn build(dir: &Path) {
    let w = writes();
    let db = Db::open(dir, options()).unwrap();
    for step in [P0_A, P0_B] {
        write_batch(&db, &w.batches[step]);
        db.flush().unwrap();
    }
    let report = db.compact_partition(0, Tier::Cold).unwrap();
    assert_eq!((report.output_segments, report.rollup_files), (1, 1));
    for step in [P1_A, P1_B] {
        write_batch(&db, &w.batches[step]);
        db.flush().unwrap();
    }
    db.compact_partition(1000, Tier::Warm).unwrap();
    write_batch(&db, &w.batches[P2]);
    db.flush().unwrap();
    let h1 = Selector::metric("cpu").with(Matcher::eq("host", "h1"));
    db.delete_series(&h1, TimeRange::new(DELETED.0, DELETED.1))
        .unwrap();
    let report = db
        .delete_series(&Selector::metric("gone"), TimeRange::all())
        .unwrap();
    assert_eq!(report.emptied, 1);
    write_batch(&db, &w.batches[P3_QUARANTINED]);
    db.flush().unwrap();
    let newest = newest_segment(dir);
    let report = db.quarantine_segment(&newest).unwrap();
    assert_eq!(report.points, 10);
    write_batch(&db, &w.batches[WAL_ONLY]);
    db.close().unwrap();
}

/// The segment file with the largest id.
fn newest_segment(dir: &Path) -> PathBuf {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.pop().unwrap()
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// A copy of the golden database in a fresh temporary directory.
fn golden_copy(version: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let golden = files(&golden_dir(version));
    assert!(
        !golden.is_empty(),
        "no golden files under {:?}",
        golden_dir(version)
    );
    for (rel, bytes) in &golden {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    for sub in ["wal", "segments", "catalog"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    (tmp, dir)
}

/// What the database must hold: series key -> points (bit patterns of the values), after
/// last-write-wins, the deletions and the quarantine.
fn expected() -> BTreeMap<String, BTreeMap<i64, u64>> {
    let w = writes();
    let mut out: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for (step, batch) in w.batches.iter().enumerate() {
        if step == P3_QUARANTINED {
            continue;
        }
        for (key, t, v) in batch {
            out.entry(key.to_string())
                .or_default()
                .insert(*t, v.to_bits());
        }
    }
    out.remove(&gone().to_string());
    let h1 = out.get_mut(&cpu("h1", "us").to_string()).unwrap();
    h1.retain(|t, _| !(DELETED.0..DELETED.1).contains(t));
    out
}

fn open_golden(version: &str) -> (tempfile::TempDir, Db) {
    let (tmp, dir) = golden_copy(version);
    let db = Db::open(&dir, options()).unwrap();
    (tmp, db)
}

#[test]
fn the_golden_directory_holds_every_file_type() {
    for version in VERSIONS {
        let golden = files(&golden_dir(version));
        let names: Vec<String> = golden
            .keys()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        let count = |prefix: &str, ext: &str| {
            names
                .iter()
                .filter(|n| n.starts_with(prefix) && n.ends_with(ext))
                .count()
        };
        assert!(names.contains(&"MANIFEST".to_string()), "{names:?}");
        assert_eq!(count("wal/", ".wal"), 1, "{names:?}");
        assert_eq!(count("catalog/", ".cat"), 1, "{names:?}");
        // Cold, its rollup, warm, level 0.
        assert_eq!(count("segments/", ".seg"), 4, "{names:?}");
        assert_eq!(count("quarantine/", ".seg"), 1, "{names:?}");
        let magic = |prefix: &str| -> Vec<[u8; 8]> {
            golden
                .iter()
                .filter(|(p, _)| p.starts_with(prefix))
                .map(|(_, b)| b[..8].try_into().unwrap())
                .collect()
        };
        assert_eq!(magic("MANIFEST"), vec![*b"SDMANIF\x01"]);
        assert_eq!(magic("wal"), vec![*b"SDWAL\r\n\x1a"]);
        // The WAL's format version (bytes 8..12): the one thing v2 changed.
        let wal_version: Vec<u32> = golden
            .iter()
            .filter(|(p, _)| p.starts_with("wal"))
            .map(|(_, b)| u32::from_le_bytes(b[8..12].try_into().unwrap()))
            .collect();
        let want: u32 = version[1..].parse().unwrap();
        assert_eq!(wal_version, vec![want]);
        assert_eq!(magic("catalog"), vec![*b"SDCAT\0\0\x01"]);
        assert_eq!(magic("quarantine"), vec![*b"SDSEGMT\x01"]);
        let mut segs = magic("segments");
        segs.sort();
        assert_eq!(
            segs,
            vec![
                *b"SDROLUP\x01",
                *b"SDSEGMT\x01",
                *b"SDSEGMT\x01",
                *b"SDSEGMT\x01"
            ]
        );
        let total: usize = golden.values().map(Vec::len).sum();
        assert!(total < 64 << 10, "golden files are {total} bytes");
    }
}

#[test]
fn golden_database_reads_back_every_point_exactly() {
    for version in VERSIONS {
        let (_tmp, db) = open_golden(version);
        let report = db.recovery_report();
        assert_eq!(report.wal_files, 1);
        assert_eq!(
            report.replayed_points,
            writes().batches[WAL_ONLY].len() as u64
        );
        assert!(report.orphans_removed.is_empty(), "{report:?}");
        assert!(report.truncated_tail.is_none());

        let expected = expected();
        let listed: Vec<String> = db
            .list_series(&Selector::any())
            .unwrap()
            .iter()
            .map(|k| k.to_string())
            .collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(sorted, expected.keys().cloned().collect::<Vec<_>>());

        let mut got: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
        for series in db.select(&Selector::any(), TimeRange::all()).unwrap() {
            let series = series.unwrap();
            let points = got.entry(series.key.to_string()).or_default();
            for (t, v) in series.iter() {
                assert!(points.insert(t, v.to_bits()).is_none());
            }
        }
        assert_eq!(got, expected);
        assert!(db.verify().unwrap().damaged.is_empty());
    }
}

#[test]
fn golden_manifest_lists_tiers_rollups_tombstones_and_quarantine() {
    for version in VERSIONS {
        let (_tmp, db) = open_golden(version);
        let stats = db.stats();
        // One series name each for cpu x2, mem, température, gone (hidden, still in the
        // catalog) and disk (from the WAL).
        assert_eq!(stats.series, 6);
        assert_eq!(stats.segments, 3);
        // cpu{host=h1} in a range, and all of `gone`.
        assert_eq!(stats.tombstones, 2);
        assert_eq!((stats.rollup_files, stats.rollup_buckets), (1, 20));
        let parts: Vec<(i64, bool, u64)> = stats
            .partitions
            .iter()
            .map(|p| (p.start, p.cold, p.segments))
            .collect();
        assert_eq!(
            parts,
            vec![(0, true, 1), (1000, false, 1), (2000, false, 1)]
        );
        // Every distinct point written before the quarantined partition, hidden or not:
        // tombstones hide points, compaction (not run after the deletions) removes them.
        let mut flushed = std::collections::BTreeSet::new();
        for batch in &writes().batches[P0_A..=P2] {
            for (key, t, _) in batch {
                flushed.insert((key.to_string(), *t));
            }
        }
        let points = flushed.len() as u64;
        assert_eq!(stats.segment_points, points);
        assert_eq!(stats.head_points, writes().batches[WAL_ONLY].len() as u64);

        let quarantined = files(&golden_dir(version))
            .into_iter()
            .find(|(p, _)| p.starts_with("quarantine"))
            .unwrap();
        let name = quarantined.0.file_name().unwrap().to_owned();
        assert!(
            !db.path().join("segments").join(&name).exists(),
            "a quarantined segment is not live"
        );
        assert_eq!(
            std::fs::read(db.path().join(&quarantined.0)).unwrap(),
            quarantined.1,
            "open leaves quarantine/ alone"
        );
        // A written-again hidden series is visible again, with only its new point.
        let mut batch = WriteBatch::new();
        batch.push_key(&gone(), 5000, 3.0);
        db.write(&batch).unwrap();
        let back: Vec<_> = db
            .select(&Selector::metric("gone"), TimeRange::all())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].timestamps, vec![5000]);
    }
}

/// Per-bucket aggregates of the raw points of `cpu` in partition 0, computed here.
fn expected_buckets(agg: Aggregate) -> BTreeMap<String, Vec<(i64, f64)>> {
    let w = writes();
    let mut raw: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for batch in &w.batches[P0_A..=P0_B] {
        for (key, t, v) in batch {
            if key.name() == "cpu" && !v.is_nan() {
                raw.entry(key.to_string()).or_default().insert(*t, *v);
            }
        }
    }
    raw.into_iter()
        .map(|(key, points)| {
            let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for (t, v) in points {
                buckets.entry(t - t.rem_euclid(RES)).or_default().push(v);
            }
            let values = buckets
                .into_iter()
                .map(|(start, vs)| {
                    let n = vs.len() as f64;
                    let sum: f64 = vs.iter().sum();
                    let mean = sum / n;
                    let m2: f64 = vs.iter().map(|v| (v - mean) * (v - mean)).sum();
                    let value = match agg {
                        Aggregate::Count => n,
                        Aggregate::Sum => sum,
                        Aggregate::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
                        Aggregate::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        Aggregate::First => vs[0],
                        Aggregate::Last => vs[vs.len() - 1],
                        Aggregate::Stddev => (m2 / (n - 1.0)).sqrt(),
                        other => panic!("{other:?}"),
                    };
                    (start, value)
                })
                .collect();
            (key, values)
        })
        .collect()
}

#[test]
fn golden_rollup_answers_coarse_queries_with_its_buckets() {
    for version in VERSIONS {
        let (_tmp, db) = open_golden(version);
        for agg in [
            Aggregate::Count,
            Aggregate::Sum,
            Aggregate::Min,
            Aggregate::Max,
            Aggregate::First,
            Aggregate::Last,
            Aggregate::Stddev,
        ] {
            let q = Query::metric("cpu")
                .between(0, PART)
                .downsample(Duration::from_nanos(RES as u64), agg);
            let (result, explain) = db.query_explained(&q).unwrap();
            assert_eq!(explain.rollup_partitions, 1, "{agg:?}: {explain}");
            assert_eq!(explain.rollup_buckets, 20, "{agg:?}: {explain}");
            assert_eq!(explain.chunks_decoded, 0, "{agg:?}: {explain}");
            let got: BTreeMap<String, Vec<(i64, f64)>> = result
                .series
                .iter()
                .map(|s| {
                    let key = s.labels.series_key().unwrap().to_string();
                    (key, s.points().collect())
                })
                .collect();
            let want = expected_buckets(agg);
            assert_eq!(got.len(), want.len(), "{agg:?}");
            for (key, want) in &want {
                let got = &got[key];
                assert_eq!(got.len(), want.len(), "{agg:?} {key}");
                for ((gt, gv), (wt, wv)) in got.iter().zip(want) {
                    assert_eq!(gt, wt, "{agg:?} {key}");
                    let close = if agg == Aggregate::Stddev {
                        (gv - wv).abs() <= 1e-9 * wv.abs().max(1.0)
                    } else {
                        gv.to_bits() == wv.to_bits()
                    };
                    assert!(close, "{agg:?} {key} bucket {gt}: {gv} vs {wv}");
                }
            }
        }
    }
}

#[test]
fn golden_wal_and_manifest_are_what_this_build_writes() {
    // The files without zstd frames must come out byte for byte the same; segments,
    // rollups and the catalog hold zstd frames whose bytes depend on the zstd version,
    // and are checked by reading them (above).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    build(&dir);
    let mut fresh = files(&dir);
    fresh.remove(Path::new("LOCK"));
    let newest = VERSIONS[VERSIONS.len() - 1];
    let golden = files(&golden_dir(newest));
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        golden.keys().collect::<Vec<_>>(),
        "file names differ"
    );
    for (rel, bytes) in &golden {
        let name = rel.to_string_lossy();
        if name.starts_with("MANIFEST") || name.starts_with("wal") {
            assert!(fresh[rel] == *bytes, "{name} differs from the golden file");
        }
    }
}

/// Writes the golden directory to `$SEDIMENTDB_GOLDEN_OUT` (see the module docs).
#[test]
#[ignore]
fn write_golden() {
    let out = std::env::var("SEDIMENTDB_GOLDEN_OUT").expect("set SEDIMENTDB_GOLDEN_OUT");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join(out);
    assert!(
        !out.exists(),
        "{out:?} exists: golden files are never rewritten"
    );
    build(&out);
    // The lock file is empty and the engine creates it; keep it out of the repository.
    let _ = std::fs::remove_file(out.join("LOCK"));
}
