//! Named fault scenarios on [`FaultFs`], one behaviour each: a full disk, a failed WAL
//! fsync, a failed manifest rename, a power cut under `Durability::Periodic`. The
//! sweep in `fault_sweep.rs` covers every call; these say what must happen, readably.

mod fault_support;

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use fault_support::{batch, check};
use sedimentdb::storage::fault::{Fault, FaultFs, FaultRule, Op};
use sedimentdb::{Db, Durability, Error, Options};

const DB: &str = "/db";

fn options(fs: &FaultFs, durability: Durability) -> Options {
    Options::default()
        .file_system(Arc::new(fs.clone()))
        .durability(durability)
        .partition_duration(Duration::from_secs(600))
        .wal_file_size(8192)
}

fn open(fs: &FaultFs) -> Db {
    Db::open(DB, options(fs, Durability::Sync)).expect("open")
}

fn is_disk_full(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull)
}

/// Power cut, reboot, reopen, and check that `acked` survived.
fn survives_power_cut(fs: &FaultFs, db: Db, acked: &BTreeSet<u64>, written: &BTreeSet<u64>) {
    drop(db);
    fs.power_cut();
    fs.reboot();
    let db = open(fs);
    check(&db, acked, |id| written.contains(&id)).expect("after the power cut");
    db.close().expect("close");
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_reads_go_on() {
    let fs = FaultFs::new(1);
    let db = open(&fs);
    let mut acked = BTreeSet::new();
    let mut written = BTreeSet::new();
    for id in 0..10 {
        db.write(&batch(id)).expect("write");
        acked.insert(id);
        written.insert(id);
    }
    // Room for a few more batches, then the disk is full.
    fs.set_capacity(Some(fs.used_bytes() + 1500));
    let mut failures = 0;
    for id in 10..40 {
        written.insert(id);
        match db.write(&batch(id)) {
            Ok(_) => {
                acked.insert(id);
            }
            Err(e) => {
                assert!(is_disk_full(&e), "batch {id}: {e}");
                failures += 1;
                // Reads see exactly the acknowledged batches (and never part of one).
                check(&db, &acked, |id| written.contains(&id)).expect("reads on a full disk");
            }
        }
    }
    assert!(
        failures > 15,
        "the disk never filled up: {failures} failures"
    );
    // A flush needs room too: it fails cleanly, and the data stays readable.
    assert!(db.flush().is_err());
    check(&db, &acked, |id| written.contains(&id)).expect("reads after a failed flush");

    // Space comes back: the database was not poisoned, writes and flushes resume.
    fs.set_capacity(None);
    for id in 40..45 {
        db.write(&batch(id)).expect("write after space came back");
        acked.insert(id);
        written.insert(id);
    }
    db.flush().expect("flush after space came back");
    check(&db, &acked, |id| written.contains(&id)).expect("reads after the flush");
    survives_power_cut(&fs, db, &acked, &written);
}

#[test]
fn enospc_creating_a_file_fails_the_flush_not_the_database() {
    let fs = FaultFs::new(2);
    let db = open(&fs);
    let all: BTreeSet<u64> = (0..6).collect();
    for id in &all {
        db.write(&batch(*id)).expect("write");
    }
    fs.add_rule(FaultRule::on(Op::CreateNew, Fault::NoSpace).path_contains("/segments/"));
    let err = db.flush().expect_err("the segment cannot be created");
    assert!(is_disk_full(&err), "{err}");
    check(&db, &all, |id| all.contains(&id)).expect("reads after the failed flush");
    db.write(&batch(6)).expect("writes go on");
    let all: BTreeSet<u64> = (0..7).collect();
    db.flush().expect("the next flush works");
    check(&db, &all, |id| all.contains(&id)).expect("reads after the flush");
    survives_power_cut(&fs, db, &all, &all);
}

#[test]
fn a_failed_wal_fsync_poisons_until_reopen() {
    let fs = FaultFs::new(3);
    let db = open(&fs);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    for id in 0..5 {
        db.write(&batch(id)).expect("write");
        acked.insert(id);
    }
    fs.add_rule(FaultRule::on(Op::Sync, Fault::Eio).path_contains("/wal/"));
    let err = db.write(&batch(5)).expect_err("the fsync failed");
    assert!(matches!(err, Error::Io { op: "fsync", .. }), "{err}");
    // The fsync is not retried as if it had worked: everything after it is refused.
    for id in 6..9 {
        assert!(
            matches!(db.write(&batch(id)), Err(Error::Poisoned(_))),
            "batch {id}"
        );
    }
    assert!(matches!(db.flush(), Err(Error::Poisoned(_))));
    // Reads still answer: the acknowledged batches, and batch 5 whole or not at all.
    let written: BTreeSet<u64> = (0..6).collect();
    check(&db, &acked, |id| written.contains(&id)).expect("reads while poisoned");

    // Reopening in the same boot clears the poison.
    drop(db);
    let db = open(&fs);
    db.write(&batch(9)).expect("write after reopening");
    acked.insert(9);
    let written: BTreeSet<u64> = (0..10).collect();
    check(&db, &acked, |id| written.contains(&id)).expect("after reopening");
    // The pages the failed fsync dropped never reach the disk; the reopen must not
    // have trusted them.
    survives_power_cut(&fs, db, &acked, &written);
}

#[test]
fn a_failed_manifest_rename_keeps_the_old_state() {
    let fs = FaultFs::new(4);
    let db = open(&fs);
    let first: BTreeSet<u64> = (0..4).collect();
    for id in &first {
        db.write(&batch(*id)).expect("write");
    }
    fs.add_rule(FaultRule::on(Op::Rename, Fault::Eio).path_contains("MANIFEST"));
    assert!(db.flush().is_err());
    assert_eq!(db.stats().segments, 0, "nothing published");
    check(&db, &first, |id| first.contains(&id)).expect("reads after the failed flush");
    let all: BTreeSet<u64> = (0..8).collect();
    for id in 4..8 {
        db.write(&batch(id)).expect("write after the failed flush");
    }
    db.flush().expect("the next flush works");
    check(&db, &all, |id| all.contains(&id)).expect("after the flush");
    drop(db);
    let db = open(&fs);
    check(&db, &all, |id| all.contains(&id)).expect("after reopening");
    survives_power_cut(&fs, db, &all, &all);
}

#[test]
fn periodic_durability_survives_power_cuts_with_whole_batches() {
    for seed in 0..20u64 {
        let fs = FaultFs::new(seed);
        let db = Db::open(
            DB,
            options(&fs, Durability::Periodic(Duration::from_millis(2))),
        )
        .expect("open");
        let mut durable = BTreeSet::new();
        let mut written = BTreeSet::new();
        for id in 0..(20 + seed * 3) {
            written.insert(id);
            let receipt = db.write(&batch(id)).expect("write");
            if receipt.durable {
                durable.insert(id);
            }
            if id % 7 == 6 {
                // A flush makes everything before it durable.
                db.flush().expect("flush");
                durable.extend(written.iter().copied());
            }
            std::thread::sleep(Duration::from_micros(300));
        }
        // Whatever the fsync thread managed by now, the cut may take the rest; the
        // database must open, keep what was durable, and hold whole batches only.
        drop(db);
        fs.power_cut();
        fs.reboot();
        let db = open(&fs);
        check(&db, &durable, |id| written.contains(&id))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        db.close().expect("close");
    }
}
