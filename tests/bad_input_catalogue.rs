//! The bad inputs of `tests/BAD_INPUTS.md` that no other test checks, one test per
//! group, and the check that the catalogue names only tests that exist.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sedimentdb::analytics::correlation::CorrelationMethod;
use sedimentdb::query::{AnomalyMethod, CorrelateOptions, TrendOptions};
use sedimentdb::{
    Aggregate, Db, Durability, Error, KeyLimits, Matcher, Options, Query, Selector, SeriesKey,
    TimeRange, WriteBatch, MAX_TIMESTAMP, MIN_TIMESTAMP,
};

const SEC: i64 = 1_000_000_000;

fn open(dir: &Path) -> Db {
    // The storable range is tested at its ends: no bound ahead of the wall clock.
    Db::open(
        dir,
        Options::default()
            .durability(Durability::None)
            .max_future(None),
    )
    .unwrap()
}

/// Every point, by series key, values as bits.
fn contents(db: &Db) -> BTreeMap<String, Vec<(i64, u64)>> {
    db.select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            let points = s.iter().map(|(t, v)| (t, v.to_bits())).collect();
            (s.key.to_string(), points)
        })
        .collect()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn special_floats_round_trip_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let values = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
        f64::from_bits(0x7ff8_dead_beef_0001), // NaN with a payload
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1), // the smallest subnormal
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
    ];
    let mut want = Vec::new();
    {
        let db = open(dir.path());
        let mut batch = WriteBatch::new();
        // Twice over, so that a chunk holds each kind next to each other kind.
        for (i, v) in values.iter().chain(values.iter()).enumerate() {
            let ts = i as i64 * SEC;
            batch.push_key(&SeriesKey::new("floats"), ts, *v);
            want.push((ts, v.to_bits()));
        }
        // A series of nothing but -0.0 (the constant codec) and one of NaN only.
        for i in 0..40 {
            batch.push_key(&SeriesKey::new("negzero"), i * SEC, -0.0);
            batch.push_key(&SeriesKey::new("nan"), i * SEC, f64::NAN);
        }
        db.write(&batch).unwrap();
        let check = |db: &Db, when: &str| {
            let got = contents(db);
            assert_eq!(got["floats"], want, "{when}");
            assert!(got["negzero"].iter().all(|p| p.1 == (-0.0f64).to_bits()));
            assert!(got["nan"].iter().all(|p| p.1 == f64::NAN.to_bits()));
        };
        check(&db, "head");
        db.flush().unwrap();
        check(&db, "segment");
        db.compact_partition(0, sedimentdb::Tier::Cold).unwrap();
        check(&db, "cold segment");
        db.close().unwrap();
    }
    let db = open(dir.path());
    assert_eq!(contents(&db)["floats"], want, "after reopen");
}

#[test]
fn path_like_names_and_values_never_reach_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = open(&root);
    // Names that look like paths are refused.
    for name in [
        "../../etc/passwd",
        "/etc/passwd",
        "a/b",
        "..",
        ".",
        "C:\\x",
        "a\0b",
    ] {
        assert!(
            matches!(
                db.series(&SeriesKey::new(name)),
                Err(Error::InvalidArgument(_))
            ),
            "{name:?}"
        );
        let key = SeriesKey::new("ok").with(name, "v");
        assert!(
            matches!(db.series(&key), Err(Error::InvalidArgument(_))),
            "key {name:?}"
        );
    }
    // Dimension values may hold anything but NUL: they are data, stored in the catalog,
    // never used to name a file.
    let values = [
        "../../../../tmp/sediment-escape",
        "/etc/passwd",
        "..",
        "C:\\Windows\\system32",
        "a/../../b",
        "%2e%2e%2f",
    ];
    let mut batch = WriteBatch::new();
    for (i, v) in values.iter().enumerate() {
        batch.push_key(&SeriesKey::new("paths").with("p", *v), i as i64, 1.0);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    assert!(!Path::new("/tmp/sediment-escape").exists());
    // Only the database's own files, all inside its directory.
    let after = files_under(dir.path());
    assert!(after.iter().all(|f| f.starts_with("db/")), "{after:?}");
    for f in &after {
        let name = Path::new(f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            name == "LOCK"
                || name == "MANIFEST"
                || [".wal", ".seg", ".cat"].iter().any(|e| name.ends_with(e)),
            "unexpected file {f}"
        );
    }
    let db = open(&root);
    let got = contents(&db);
    for v in values {
        let key = SeriesKey::new("paths").with("p", v).to_string();
        assert!(got.contains_key(&key), "{key}");
    }
}

#[test]
fn unicode_look_alikes_and_bidi_marks_are_distinct_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // Metric names and dimension keys are ASCII: look-alikes are refused there.
    for name in ["\u{0441}pu", "cpu\u{200b}", "cpu\u{202e}", "ｃｐｕ"] {
        let refused = |key: SeriesKey| matches!(db.series(&key), Err(Error::InvalidArgument(_)));
        assert!(refused(SeriesKey::new(name)), "{name:?}");
        assert!(refused(SeriesKey::new("m").with(name, "v")), "key {name:?}");
    }
    // Values are UTF-8 data: each look-alike is its own series, read back byte for byte.
    let values = [
        "admin",
        "\u{0430}dmin",          // Cyrillic a
        "admin\u{200b}",         // zero-width space
        "\u{202e}nimda",         // right-to-left override
        "\u{2067}admin\u{2069}", // right-to-left isolate
        "a\u{0301}dmin",         // combining accent
        "\u{e1}dmin",            // the precomposed form of the one above
        "\u{feff}admin",         // byte-order mark
    ];
    let mut batch = WriteBatch::new();
    for (i, v) in values.iter().enumerate() {
        batch.push_key(&SeriesKey::new("login").with("user", *v), 1, i as f64);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(
        db.list_series(&Selector::metric("login")).unwrap().len(),
        values.len()
    );
    for (i, v) in values.iter().enumerate() {
        let sel = Selector::metric("login").with(Matcher::eq("user", *v));
        let got: Vec<_> = db
            .select(&sel, TimeRange::all())
            .unwrap()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(got.len(), 1, "{v:?}");
        assert_eq!(got[0].key.dimension("user"), Some(*v));
        assert_eq!(got[0].values, vec![i as f64]);
    }
}

#[test]
fn duplicate_points_last_write_wins_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::new("dup");
    let mut batch = WriteBatch::new();
    batch.push_key(&key, 5, 1.0);
    batch.push_key(&key, 5, 2.0);
    batch.push_key(&key, 6, 1.0);
    db.write(&batch).unwrap();
    assert_eq!(
        contents(&db)["dup"],
        vec![(5, 2.0f64.to_bits()), (6, 1.0f64.to_bits())]
    );
    db.flush().unwrap();
    // A later batch overwrites a flushed point; compaction keeps the newer one.
    let mut batch = WriteBatch::new();
    batch.push_key(&key, 6, 3.0);
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.compact_partition(0, sedimentdb::Tier::Warm).unwrap();
    let want = vec![(5, 2.0f64.to_bits()), (6, 3.0f64.to_bits())];
    assert_eq!(contents(&db)["dup"], want);
    db.close().unwrap();
    assert_eq!(contents(&open(dir.path()))["dup"], want);
}

#[test]
fn key_limits_hold_exactly_at_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let l = KeyLimits::default();
    let ok = |key: SeriesKey| db.series(&key).is_ok();
    assert!(ok(SeriesKey::new("n".repeat(l.max_name_len))));
    assert!(!ok(SeriesKey::new("n".repeat(l.max_name_len + 1))));
    assert!(ok(
        SeriesKey::new("m").with("k", "v".repeat(l.max_dimension_value_len))
    ));
    assert!(!ok(
        SeriesKey::new("m").with("k", "v".repeat(l.max_dimension_value_len + 1))
    ));
    assert!(ok(
        SeriesKey::new("m").with("k".repeat(l.max_dimension_key_len), "v")
    ));
    assert!(!ok(
        SeriesKey::new("m").with("k".repeat(l.max_dimension_key_len + 1), "v")
    ));
    let dims = |n: usize| SeriesKey::from_parts("m", (0..n).map(|i| (format!("d{i}"), "v")));
    assert!(ok(dims(l.max_dimensions)));
    assert!(!ok(dims(l.max_dimensions + 1)));
    // Timestamps: the ends of the storable range are accepted, one past is refused.
    let h = db.series(&SeriesKey::new("t")).unwrap();
    for (ts, accepted) in [
        (MIN_TIMESTAMP, true),
        (MAX_TIMESTAMP, true),
        (MIN_TIMESTAMP - 1, false),
        (MAX_TIMESTAMP + 1, false),
    ] {
        let mut batch = WriteBatch::new();
        batch.push(h, ts, 1.0);
        assert_eq!(db.write(&batch).is_ok(), accepted, "{ts}");
    }
}

#[test]
fn pathological_regexes_are_refused_or_answered_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let long_a = "a".repeat(1_000);
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("r").with("v", long_a.clone()), 1, 1.0);
    batch.push_key(&SeriesKey::new("r").with("v", format!("{long_a}!")), 1, 2.0);
    batch.push_key(&SeriesKey::new("r").with("v", "b"), 1, 3.0);
    db.write(&batch).unwrap();
    // Shapes that take exponential time in a backtracking engine; the regex crate's
    // automata answer them in time linear in the input, so these return (a hang here
    // would stop the test suite) and answer right.
    for (pattern, matches) in [
        ("(a+)+", 1),
        ("(a|a)*", 1),
        ("(a|aa)*b", 1),
        ("(a*)*!", 1),
        ("(.*a){12}", 1),
        ("((a+)+)+b?", 1),
    ] {
        let sel = Selector::metric("r").with(Matcher::regex("v", pattern).unwrap());
        assert_eq!(db.list_series(&sel).unwrap().len(), matches, "{pattern}");
    }
    // Patterns whose compiled form would be huge are refused, typed, before matching.
    for pattern in [
        "a{1000}{1000}",
        "(\\w{500}){500}",
        "[\\p{L}\\p{N}]{10000}",
        &"(".repeat(5_000),
        &"a".repeat(4097), // one byte past the length limit
    ] {
        assert!(
            matches!(Matcher::regex("v", pattern), Err(Error::InvalidArgument(_))),
            "{pattern:.40}"
        );
    }
    // At the length limit exactly: accepted.
    assert!(Matcher::regex("v", &"a".repeat(4096)).is_ok());
}

#[test]
fn analytics_on_empty_and_constant_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let minute = Duration::from_secs(60);
    let q = |m: &str| Query::metric(m).downsample(minute, Aggregate::Avg);
    let rolling = AnomalyMethod::RollingZScore {
        window: 10,
        threshold: 3.5,
    };
    let seasonal = AnomalyMethod::Seasonal {
        period: Duration::from_secs(600),
        threshold: 3.5,
    };
    // Nothing in the database: every analysis answers "nothing", none fails.
    assert!(db
        .trend(&q("none"), &TrendOptions::default())
        .unwrap()
        .is_empty());
    assert!(db.anomalies(&q("none"), rolling).unwrap().is_empty());
    assert!(db.anomalies(&q("none"), seasonal).unwrap().is_empty());
    assert!(db.change_points(&q("none"), 5.0, 0.5).unwrap().is_empty());
    assert!(db
        .correlate(&q("none"), &q("none"), &CorrelateOptions::default())
        .unwrap()
        .is_empty());
    assert!(db
        .discover_correlated(&q("none"), &q("none"), 3, CorrelationMethod::Pearson)
        .unwrap()
        .is_empty());
    // Constant series, and a series of one point.
    let mut batch = WriteBatch::new();
    for t in 0..120 {
        batch.push_key(&SeriesKey::new("flat"), t * 60 * SEC, 7.0);
        batch.push_key(&SeriesKey::new("flat2"), t * 60 * SEC, -3.0);
    }
    batch.push_key(&SeriesKey::new("one"), 0, 1.0);
    db.write(&batch).unwrap();
    let trends = db.trend(&q("flat"), &TrendOptions::default()).unwrap();
    assert_eq!(trends.len(), 1);
    for t in &trends {
        assert_eq!(t.trend.slope_per_sec, 0.0);
        assert!(t.trend.r_squared.is_finite());
        assert_eq!(t.verdict, sedimentdb::analytics::trend::Verdict::Stable);
    }
    assert!(
        db.anomalies(&q("flat"), rolling).unwrap().is_empty(),
        "MAD 0: no anomaly"
    );
    assert!(db.anomalies(&q("flat"), seasonal).unwrap().is_empty());
    assert!(db.change_points(&q("flat"), 5.0, 0.5).unwrap().is_empty());
    let pairs = db
        .correlate(&q("flat"), &q("flat2"), &CorrelateOptions::default())
        .unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].r, None, "no correlation of constant series");
    assert!(db
        .trend(&q("one"), &TrendOptions::default())
        .unwrap()
        .is_empty());
    assert!(db.anomalies(&q("one"), rolling).unwrap().is_empty());
    let pairs = db
        .correlate(&q("one"), &q("flat"), &CorrelateOptions::default())
        .unwrap();
    assert!(pairs.iter().all(|p| p.r.is_none()));
}

/// A small database with flushed data and a live WAL; returns its series contents.
fn base_db(dir: &Path) -> BTreeMap<String, Vec<(i64, u64)>> {
    let db = open(dir);
    let mut batch = WriteBatch::new();
    for t in 0..50 {
        batch.push_key(&SeriesKey::new("m").with("h", "a"), t * SEC, t as f64);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("m").with("h", "b"), 0, 1.5);
    db.write(&batch).unwrap();
    let got = contents(&db);
    db.close().unwrap();
    got
}

fn only_file_in(dir: &Path, ext: &str) -> std::path::PathBuf {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

#[test]
fn lock_file_contents_are_ignored_and_a_directory_in_its_place_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let want = base_db(dir.path());
    let lock = dir.path().join("LOCK");
    std::fs::write(&lock, b"\xff\x00garbage left by someone else").unwrap();
    let db = open(dir.path());
    assert_eq!(contents(&db), want);
    db.close().unwrap();
    drop(db);
    std::fs::remove_file(&lock).unwrap();
    let db = open(dir.path());
    assert_eq!(contents(&db), want, "a missing lock file is recreated");
    drop(db);
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Io { path, .. }) => assert_eq!(path, lock),
        other => panic!("expected an I/O error naming LOCK, got {other:?}"),
    }
}

#[test]
fn leftover_temporary_and_orphan_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let want = base_db(dir.path());
    let d = dir.path();
    let planted = [
        d.join("MANIFEST.tmp"),
        d.join("segments/00000000000000000999.seg"),
        d.join("segments/00000000000000000999.seg.tmp"),
        d.join("catalog/00000000000000000998.cat"),
        d.join("catalog/00000000000000000999.cat.tmp"),
        d.join("wal/00000000000000000001.wal.tmp"),
    ];
    for p in &planted {
        std::fs::write(p, b"half-written by a crashed compaction or manifest write").unwrap();
    }
    // Not ours: left alone.
    let foreign = d.join("segments/README");
    std::fs::write(&foreign, b"notes").unwrap();
    let db = open(d);
    assert_eq!(contents(&db), want);
    let removed = &db.recovery_report().orphans_removed;
    for p in &planted {
        assert!(!p.exists(), "{} left behind", p.display());
        assert!(
            removed.contains(p),
            "{} not reported: {removed:?}",
            p.display()
        );
    }
    assert!(foreign.exists());
    // The database carries on: the next flush and compaction do not trip over them.
    let mut batch = WriteBatch::new();
    batch.push_key(&SeriesKey::new("m").with("h", "c"), 0, 2.0);
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(contents(&db).len(), want.len() + 1);
}

#[test]
fn empty_files_in_place_of_database_files() {
    // (file to empty, whether open must refuse naming it)
    let cases: [(&str, &str, bool); 4] = [
        ("", "MANIFEST", true),
        ("catalog", "cat", true),
        ("segments", "seg", true),
        // The newest WAL file: an empty one may be a crash while it was created, so
        // open goes on, but it reports it (a truncation looks the same).
        ("wal", "wal", false),
    ];
    for (sub, what, refused) in cases {
        let dir = tempfile::tempdir().unwrap();
        let want = base_db(dir.path());
        let file = if what == "MANIFEST" {
            dir.path().join("MANIFEST")
        } else {
            only_file_in(&dir.path().join(sub), what)
        };
        std::fs::write(&file, b"").unwrap();
        match Db::open(dir.path(), Options::default()) {
            Err(Error::Corruption { file: f, .. }) if refused => assert_eq!(f, file),
            Ok(db) if !refused => {
                // The emptied WAL held the last batch; the flushed data is intact.
                let got = contents(&db);
                assert_eq!(got.get("m{h=\"a\"}"), want.get("m{h=\"a\"}"), "{got:?}");
                assert_eq!(db.recovery_report().truncated_tail, Some((file.clone(), 0)));
            }
            other => panic!("{what} emptied: {other:?}"),
        }
    }
}

#[test]
fn retention_and_deletion_race_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let hour = 3600 * SEC;
    let opts = Options::default()
        .durability(Durability::None)
        .partition_duration(Duration::from_secs(3600))
        .retention(Duration::from_secs(5 * 3600))
        .retention_clock(sedimentdb::RetentionClock::NewestPoint);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let key = |s: u32| SeriesKey::new("race").with("s", s.to_string());
    // Ten hourly partitions, each written in two halves so that every partition has two
    // segments for compaction to merge.
    for half in 0..2 {
        let mut batch = WriteBatch::new();
        for s in 0..4 {
            for p in 0..10i64 {
                for m in 0..3i64 {
                    let ts = p * hour + (half * 3 + m) * 10 * 60 * SEC;
                    batch.push_key(&key(s), ts, (ts / SEC + i64::from(s)) as f64);
                }
            }
        }
        db.write(&batch).unwrap();
        db.flush().unwrap();
    }
    let newest = 9 * hour + 50 * 60 * SEC;
    // Retention's cut-off is 5 h behind the newest point: 4 h 50 min.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..3 {
                db.compact().unwrap();
            }
        });
        scope.spawn(|| {
            for _ in 0..3 {
                db.apply_retention().unwrap();
            }
        });
        scope.spawn(|| {
            let sel = Selector::metric("race").with(Matcher::eq("s", "2"));
            db.delete_series(&sel, TimeRange::all()).unwrap();
        });
        scope.spawn(|| {
            for _ in 0..20 {
                for s in db.select(&Selector::any(), TimeRange::all()).unwrap() {
                    s.unwrap();
                }
            }
        });
    });
    db.apply_retention().unwrap();
    db.compact().unwrap();
    // Retention drops whole segments older than the cut-off: partitions 0..=3 end before
    // it; of partition 4, the first half's segment ends before it too, unless compaction
    // merged it with the second half first. Either way, all series alike.
    let first_half_kept = std::cell::Cell::new(None);
    let check = |db: &Db, when: &str| {
        let got = contents(db);
        assert_eq!(got.len(), 3, "{when}: {:?}", got.keys());
        for s in [0u32, 1, 3] {
            let points = &got[&key(s).to_string()];
            let kept = points.len() == 6 * 6;
            assert!(
                kept || points.len() == 6 * 6 - 3,
                "{when}: series {s}: {}",
                points.len()
            );
            if kept {
                assert_eq!(points[0].0, 4 * hour);
            }
            assert_eq!(*first_half_kept.get().get_or_insert(kept), kept);
            for &(ts, bits) in points {
                assert!(ts >= 4 * hour && ts <= newest, "{when}: {ts}");
                assert_eq!(f64::from_bits(bits), (ts / SEC + i64::from(s)) as f64);
            }
        }
    };
    check(&db, "after the race");
    assert_eq!(
        db.stats().segments,
        6,
        "one segment per remaining partition"
    );
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts).unwrap();
    check(&db, "after reopen");
    let seg_files = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .count();
    assert_eq!(seg_files as u64, db.stats().segments, "no file left behind");
}

/// `tests/BAD_INPUTS.md` stays in sync: at least 30 numbered rows, numbered in order,
/// each naming at least one test, and every test named exists as a `#[test] fn` in the
/// file named.
#[test]
fn the_catalogue_names_only_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("tests/BAD_INPUTS.md")).unwrap();
    let mut rows = 0u32;
    let mut problems = Vec::new();
    for line in table.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| n | input | behaviour | tests |" splits into 6 cells, empty at both ends.
        let Some(n) = cells.get(1).and_then(|c| c.parse::<u32>().ok()) else {
            continue;
        };
        rows += 1;
        if cells.len() != 6 {
            problems.push(format!("row {n}: {} cells (a stray '|'?)", cells.len() - 2));
            continue;
        }
        if n != rows {
            problems.push(format!("row {n} is row {rows} of the table"));
        }
        let tests: Vec<&str> = cells[4].split('`').skip(1).step_by(2).collect();
        if tests.is_empty() {
            problems.push(format!("row {n} names no test"));
        }
        for test in tests {
            let Some((file, name)) = test.rsplit_once("::") else {
                problems.push(format!("row {n}: {test:?} is not file::function"));
                continue;
            };
            let Ok(source) = std::fs::read_to_string(root.join(file)) else {
                problems.push(format!("row {n}: no file {file}"));
                continue;
            };
            let Some(at) = source.find(&format!("fn {name}(")) else {
                problems.push(format!("row {n}: no fn {name} in {file}"));
                continue;
            };
            // The attribute sits just above the function (after its doc comment).
            let before = &source[..at];
            let attr = before.rfind("#[test]");
            let fn_before = before.rfind("\nfn ").max(before.rfind("    fn "));
            if attr.is_none() || attr < fn_before {
                problems.push(format!("row {n}: {file}::{name} is not a #[test]"));
            }
        }
    }
    assert!(rows >= 30, "only {rows} rows");
    assert!(problems.is_empty(), "{problems:#?}");
}
