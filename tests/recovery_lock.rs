//! The directory lock is released by `close()` (and by the last drop) even while another
//! thread of the process is spawning a child process.
//!
//! A child being forked shares the parent's open file descriptions until it execs; a
//! lock that is released only by closing the descriptor stays held by the child for
//! that moment, and an `open` right after `close` saw `Error::Locked`. The lock is now
//! released explicitly (`flock(LOCK_UN)` on the same description) before the file is
//! closed.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use sedimentdb::{Db, Error, Options, SeriesKey, WriteBatch};

/// Opens, writes and closes (or drops) the database `rounds` times while another
/// thread spawns `true` in a loop; returns how many opens failed with `Locked`.
fn locked_opens_while_spawning(rounds: usize, close_explicitly: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut spawned = 0u64;
            while !stop.load(Ordering::Relaxed) {
                Command::new("true").status().expect("spawn `true`");
                spawned += 1;
            }
            spawned
        })
    };
    let key = SeriesKey::new("lock_race");
    let mut locked = 0;
    for i in 0..rounds {
        let db = match Db::open(dir.path(), Options::default()) {
            Ok(db) => db,
            Err(Error::Locked { .. }) => {
                locked += 1;
                continue;
            }
            Err(e) => panic!("open {i}: {e}"),
        };
        let h = db.series(&key).unwrap();
        let mut batch = WriteBatch::new();
        batch.push(h, i as i64 * 1_000_000_000, i as f64);
        db.write(&batch).unwrap();
        if close_explicitly {
            db.close().unwrap();
        } else {
            drop(db);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let spawned = spawner.join().unwrap();
    assert!(spawned > 0, "the spawning thread never ran");
    locked
}

#[test]
fn close_then_open_while_another_thread_spawns_children() {
    let locked = locked_opens_while_spawning(150, true);
    assert_eq!(
        locked, 0,
        "{locked} of 150 opens after close() failed with Locked"
    );
}

#[test]
fn drop_then_open_while_another_thread_spawns_children() {
    let locked = locked_opens_while_spawning(150, false);
    assert_eq!(
        locked, 0,
        "{locked} of 150 opens after drop failed with Locked"
    );
}
