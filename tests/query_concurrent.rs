//! Queries running while writers write and flushes move the head into segments: every
//! answer comes from one consistent snapshot, so a series' count never goes backwards
//! and never exceeds what was written, and the final answer is complete.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sedimentdb::{Aggregate, Db, Durability, Options, Query, SeriesKey, WriteBatch};

const SEC: i64 = 1_000_000_000;
const SERIES: usize = 8;
const STEPS: i64 = 3000;

#[test]
fn queries_see_consistent_snapshots_during_writes_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .durability(Durability::None)
        .chunk_points(64)
        .head_window(Duration::from_secs(500));
    let db = Db::open(dir.path(), opts).unwrap();
    let keys: Vec<SeriesKey> = (0..SERIES)
        .map(|i| SeriesKey::new("m").with("s", format!("{i}")))
        .collect();
    let written = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (db, written, done) = (db.clone(), written.clone(), done.clone());
        std::thread::spawn(move || {
            for step in (0..STEPS).step_by(50) {
                let mut batch = WriteBatch::new();
                for t in step..step + 50 {
                    for k in &keys {
                        batch.push_key(k, t * SEC, 1.0);
                    }
                }
                // Announce the batch before writing it: a reader may see it as soon as
                // the write is in, before this thread runs again.
                written.store(step + 50, Ordering::SeqCst);
                db.write(&batch).unwrap();
                if step % 500 == 0 {
                    db.flush().unwrap();
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, written, done) = (db.clone(), written.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = vec![0.0; SERIES];
                let q = if r == 0 {
                    Query::metric("m").aggregate(Aggregate::Count)
                } else {
                    Query::metric("m").downsample(Duration::from_secs(100), Aggregate::Sum)
                };
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let result = db.query(&q).unwrap();
                    for s in result.iter() {
                        let i: usize = s.labels.get("s").unwrap().parse().unwrap();
                        let count: f64 = s.values.iter().sum();
                        assert!(
                            count >= last[i],
                            "series {i} went back from {} to {count}",
                            last[i]
                        );
                        let upper = written.load(Ordering::SeqCst);
                        assert!(count <= upper as f64, "series {i}: {count} of {upper}");
                        last[i] = count;
                    }
                    if finished {
                        return last;
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        let last = r.join().unwrap();
        assert!(last.iter().all(|&c| c == STEPS as f64), "{last:?}");
    }
}
