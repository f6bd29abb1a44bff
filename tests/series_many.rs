//! `Db::series_many`: many series created with one durable step, all or none, at the
//! series limit, on invalid keys, and across a crash or power cut at every I/O call it
//! makes.

use std::sync::Arc;
use std::time::Duration;

use sedimentdb::storage::fault::{Fault, FaultFs, FaultRule, Op};
use sedimentdb::{Db, Durability, Error, Options, Selector, SeriesKey, TimeRange, WriteBatch};

const DB: &str = "/db";

fn keys(range: std::ops::Range<u32>) -> Vec<SeriesKey> {
    range
        .map(|i| {
            SeriesKey::new("cpu")
                .with("host", format!("h{i:04}"))
                .with("dc", if i % 2 == 0 { "eu" } else { "us" })
        })
        .collect()
}

fn fault_options(fs: &FaultFs) -> Options {
    Options::default()
        .file_system(Arc::new(fs.clone()))
        .durability(Durability::Sync)
        // Small WAL files, so that the catalog record of a call rolls over to a new file.
        .wal_file_size(4096)
        .head_window(Duration::from_secs(365 * 86_400))
}

fn series_count(db: &Db) -> usize {
    db.list_series(&Selector::metric("cpu")).unwrap().len()
}

#[test]
fn handles_come_back_in_order_and_repeated_keys_share_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let existing = db.series(&keys(5..6)[0]).unwrap();
    let mut wanted = keys(0..10);
    wanted.push(wanted[3].clone());
    let handles = db.series_many(&wanted).unwrap();
    assert_eq!(handles.len(), 11);
    assert_eq!(handles[5], existing);
    assert_eq!(handles[10], handles[3]);
    for (key, handle) in wanted.iter().zip(&handles) {
        assert_eq!(db.series(key).unwrap(), *handle);
    }
    assert!(db.series_many(&[]).unwrap().is_empty());

    // The handles write to their own series, also after a reopen.
    let mut batch = WriteBatch::new();
    for (i, h) in handles.iter().take(10).enumerate() {
        batch.push(*h, 1_000, i as f64);
    }
    db.write(&batch).unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(series_count(&db), 10);
    for (i, key) in wanted.iter().take(10).enumerate() {
        let sel = Selector::metric("cpu").with(sedimentdb::Matcher::eq(
            "host",
            key.dimension("host").unwrap(),
        ));
        let got: Vec<_> = db
            .select(&sel, TimeRange::all())
            .unwrap()
            .map(|s| s.unwrap().iter().collect::<Vec<_>>())
            .collect();
        assert_eq!(got, vec![vec![(1_000, i as f64)]]);
    }
}

#[test]
fn past_the_series_limit_none_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().max_series(100)).unwrap();
    db.series_many(&keys(0..60)).unwrap();
    // 10 existing + 41 new would make 101.
    let err = db.series_many(&keys(50..101)).unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { limit: 100, .. }),
        "{err:?}"
    );
    assert_eq!(db.stats().series, 60);
    assert_eq!(series_count(&db), 60);
    // 40 new fit exactly.
    db.series_many(&keys(50..100)).unwrap();
    assert_eq!(db.stats().series, 100);
    assert!(matches!(
        db.series_many(&keys(100..101)),
        Err(Error::LimitExceeded { .. })
    ));
    // Already existing ones still resolve at the limit.
    assert_eq!(db.series_many(&keys(0..100)).unwrap().len(), 100);
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default().max_series(100)).unwrap();
    assert_eq!(series_count(&db), 100);
}

#[test]
fn an_invalid_key_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut wanted = keys(0..20);
    wanted.insert(7, SeriesKey::new("cpu").with("", "empty key"));
    let err = db.series_many(&wanted).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(db.stats().series, 0);
    db.close().unwrap();
    assert!(matches!(db.series_many(&keys(0..1)), Err(Error::Closed)));
}

#[test]
fn many_new_series_cost_one_fsync() {
    let fs = FaultFs::new(7);
    let db = Db::open(DB, fault_options(&fs)).unwrap();
    fs.set_tracing(true);
    let before = fs.trace().len();
    db.series_many(&keys(0..1_000)).unwrap();
    let syncs = fs.trace()[before..]
        .iter()
        .filter(|c| c.op == Op::Sync)
        .count();
    assert_eq!(syncs, 1, "{:?}", &fs.trace()[before..]);
    db.close().unwrap();
}

/// Opens a fresh database on `fs` with 5 series, so the call under test is not the first.
fn base(fs: &FaultFs) -> Db {
    let db = Db::open(DB, fault_options(fs)).unwrap();
    db.series_many(&keys(0..5)).unwrap();
    db
}

#[test]
fn a_fault_at_any_call_leaves_all_or_none_after_a_power_cut() {
    let wanted = keys(3..60); // 2 existing, 55 new; the record spans WAL files
                              // Learn which calls the operation makes.
    let fs = FaultFs::new(1);
    let db = base(&fs);
    let first = fs.calls();
    db.series_many(&wanted).unwrap();
    let last = fs.calls();
    drop(db);
    assert!(last > first);

    let (mut runs, mut failed, mut lost) = (0, 0, 0);
    for index in first..last {
        for seed in 0..4u64 {
            let fs = FaultFs::new(seed);
            let db = base(&fs);
            assert_eq!(fs.calls(), first);
            let fault = match seed {
                0 => Fault::PowerCut,
                1 => Fault::Crash,
                2 => Fault::Eio,
                _ => Fault::ShortWrite,
            };
            fs.add_rule(FaultRule::at_call(index, fault));
            let result = db.series_many(&wanted);
            drop(db);
            fs.power_cut();
            fs.reboot();
            let db = Db::open(DB, fault_options(&fs))
                .unwrap_or_else(|e| panic!("open after {fault:?} at call {index}: {e}"));
            let n = series_count(&db);
            match result {
                Ok(_) => assert_eq!(n, 60, "{fault:?} at call {index}: acknowledged"),
                Err(_) => {
                    assert!(n == 5 || n == 60, "{fault:?} at call {index}: {n} series");
                    failed += 1;
                    lost += usize::from(n == 5);
                }
            }
            // The database goes on: the whole set can be created (again).
            assert_eq!(db.series_many(&wanted).unwrap().len(), wanted.len());
            assert_eq!(series_count(&db), 60);
            db.close().unwrap();
            runs += 1;
        }
    }
    // The faults did hit the operation, and some cut it off before it was durable.
    assert!(
        runs >= 4 && failed > 0 && lost > 0,
        "{runs} {failed} {lost}"
    );
}
