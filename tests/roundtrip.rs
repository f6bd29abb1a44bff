//! Round trips through head, flush and reopen, with out-of-order and duplicate points.

use std::collections::BTreeMap;

use sedimentdb::{Db, Durability, Matcher, Options, Selector, SeriesKey, TimeRange, WriteBatch};

type Model = BTreeMap<String, BTreeMap<i64, u64>>;

fn key(host: usize, metric: &str) -> SeriesKey {
    SeriesKey::new(metric)
        .with("host", format!("h{host}"))
        .with("dc", if host.is_multiple_of(2) { "eu" } else { "us" })
}

fn read_all(db: &Db, sel: &Selector, range: TimeRange) -> Model {
    let mut out = Model::new();
    for s in db.select(sel, range).unwrap() {
        let s = s.unwrap();
        assert!(
            s.timestamps.windows(2).all(|w| w[0] < w[1]),
            "timestamps sorted and unique"
        );
        let m = out.entry(s.key.to_string()).or_default();
        for (t, v) in s.iter() {
            m.insert(t, v.to_bits());
        }
    }
    out
}

fn write_some(db: &Db, model: &mut Model, seed: u64, n: usize) {
    let mut x = seed;
    let mut batch = WriteBatch::new();
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let host = (x % 5) as usize;
        let metric = if x.is_multiple_of(3) { "cpu" } else { "mem" };
        let ts = ((x >> 8) % 500) as i64 * 1_000_000_000;
        let special = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::MIN_POSITIVE / 2.0,
        ];
        let value = if x.is_multiple_of(17) {
            special[(x % 5) as usize]
        } else {
            ((x >> 20) % 10_000) as f64 / 100.0
        };
        let k = key(host, metric);
        model
            .entry(k.to_string())
            .or_default()
            .insert(ts, value.to_bits());
        batch.push_key(&k, ts, value);
    }
    db.write(&batch).unwrap();
}

#[test]
fn points_survive_flush_reopen_and_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let all = Selector::any();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        write_some(&db, &mut model, 1, 300);
        assert_eq!(read_all(&db, &all, TimeRange::all()), model);
        db.flush().unwrap();
        assert_eq!(read_all(&db, &all, TimeRange::all()), model);
        // Overwrites of flushed points, out of order, live in the head and must win.
        write_some(&db, &mut model, 2, 300);
        assert_eq!(read_all(&db, &all, TimeRange::all()), model);
        db.flush().unwrap();
        write_some(&db, &mut model, 3, 100);
        db.close().unwrap();
    }
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(read_all(&db, &all, TimeRange::all()), model);
        write_some(&db, &mut model, 4, 100);
        // Dropped without close: the WAL brings the unflushed points back.
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.recovery_report().replayed_points > 0);
    assert_eq!(read_all(&db, &all, TimeRange::all()), model);

    // Time ranges are half-open and selectors filter by dimension.
    let range = TimeRange::new(100_000_000_000, 200_000_000_000);
    let eu = Selector::metric("cpu").with(Matcher::eq("dc", "eu"));
    let mut want = Model::new();
    for (k, pts) in &model {
        if k.starts_with("cpu{") && k.contains("dc=\"eu\"") {
            let sub: BTreeMap<i64, u64> = pts
                .range(range.start..range.end)
                .map(|(a, b)| (*a, *b))
                .collect();
            if !sub.is_empty() {
                want.insert(k.clone(), sub);
            }
        }
    }
    assert_eq!(read_all(&db, &eu, range), want);
}

#[test]
fn list_series_and_regex_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::None)).unwrap();
    for h in 0..12 {
        db.series(&key(h, "cpu")).unwrap();
    }
    let sel = Selector::metric("cpu").with(Matcher::regex("host", "h1[01]").unwrap());
    let names: Vec<String> = db
        .list_series(&sel)
        .unwrap()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        names,
        vec![key(10, "cpu").to_string(), key(11, "cpu").to_string()]
    );
    let none = Selector::metric("cpu").with(Matcher::absent("host"));
    assert!(db.list_series(&none).unwrap().is_empty());
    let ne = Selector::metric("cpu").with(Matcher::ne("dc", "eu"));
    assert_eq!(db.list_series(&ne).unwrap().len(), 6);
    // Series with no points are listed but not selected.
    assert_eq!(
        db.select(&Selector::any(), TimeRange::all())
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn handles_write_without_resolving_keys_and_series_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1, "cpu");
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let h = db.series(&k).unwrap();
        assert_eq!(db.series(&k).unwrap(), h);
        let mut batch = WriteBatch::with_capacity(1000);
        for i in 0..1000 {
            batch.push(h, i * 10, i as f64);
        }
        let r = db.write(&batch).unwrap();
        assert_eq!((r.points, r.durable), (1000, true));
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let h = db.series(&k).unwrap();
    assert_eq!(h.id().0, 0);
    let got: Vec<_> = db
        .select(&Selector::metric("cpu"), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].values,
        (0..1000).map(|i| i as f64).collect::<Vec<_>>()
    );
    assert_eq!(db.stats().series, 1);
}

#[test]
fn automatic_flush_by_window_and_budget_keeps_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .durability(Durability::None)
        .head_window(std::time::Duration::from_secs(60))
        .head_memory_budget(1 << 16)
        .partition_duration(std::time::Duration::from_secs(300));
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let handles: Vec<_> = (0..20)
        .map(|h| db.series(&key(h, "cpu")).unwrap())
        .collect();
    let mut batch = WriteBatch::new();
    let mut total = 0;
    for step in 0..600i64 {
        for h in &handles {
            batch.push(*h, step * 1_000_000_000, step as f64);
            total += 1;
        }
        if batch.len() >= 1000 {
            db.write(&batch).unwrap();
            batch.clear();
        }
    }
    db.write(&batch).unwrap();
    let stats = db.stats();
    assert!(
        stats.segments > 1,
        "window and budget should have flushed: {stats:?}"
    );
    let count: usize = db
        .select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().len())
        .sum();
    assert_eq!(count, total);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    let count: usize = db
        .select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().len())
        .sum();
    assert_eq!(count, total);
}

#[test]
fn dropping_the_last_handle_releases_the_directory_at_once() {
    // A background flush may be running when the last handle goes; the drop waits for it,
    // so an immediate reopen never finds the lock held.
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .durability(Durability::None)
        .head_window(std::time::Duration::from_nanos(1));
    for round in 0..30i64 {
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..200 {
            batch.push_key(&key(0, "cpu"), round * 1000 + i, 1.0);
        }
        db.write(&batch).unwrap();
        drop(db);
    }
    let db = Db::open(dir.path(), opts).unwrap();
    let n: usize = db
        .select(&Selector::any(), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap().len())
        .sum();
    assert_eq!(n, 30 * 200);
}
