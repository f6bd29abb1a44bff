//! Concurrent writers, readers and flushes: every acknowledged point is readable, and a
//! reader never sees a series lose points it saw before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sedimentdb::{Db, Durability, Options, Selector, SeriesKey, TimeRange, WriteBatch};

#[test]
fn writers_readers_and_flushes_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default().durability(Durability::Sync).head_memory_budget(1 << 18)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    const WRITERS: usize = 4;
    const BATCHES: i64 = 60;
    const PER_BATCH: i64 = 50;

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let h = db.series(&SeriesKey::new("load").with("writer", w.to_string())).unwrap();
                for b in 0..BATCHES {
                    let mut batch = WriteBatch::new();
                    for i in 0..PER_BATCH {
                        let t = b * PER_BATCH + i;
                        batch.push(h, t, t as f64);
                    }
                    assert!(db.write(&batch).unwrap().durable);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = vec![0usize; WRITERS];
                while !stop.load(Ordering::Relaxed) {
                    for s in db.select(&Selector::metric("load"), TimeRange::all()).unwrap() {
                        let s = s.unwrap();
                        let w: usize = s.key.dimension("writer").unwrap().parse().unwrap();
                        // Each writer writes a prefix 0..n in order: a snapshot holds a prefix.
                        assert!(s.values.iter().enumerate().all(|(i, &v)| v == i as f64));
                        assert!(s.len() >= seen[w], "series shrank: {} < {}", s.len(), seen[w]);
                        seen[w] = s.len();
                    }
                }
            })
        })
        .collect();
    let flusher = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                db.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    flusher.join().unwrap();

    let check = |db: &Db| {
        let all: Vec<_> = db.select(&Selector::metric("load"), TimeRange::all()).unwrap().map(|s| s.unwrap()).collect();
        assert_eq!(all.len(), WRITERS);
        for s in all {
            assert_eq!(s.len() as i64, BATCHES * PER_BATCH);
        }
    };
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    check(&db);
}
