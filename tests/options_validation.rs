//! `Db::open` validates every option with a range: a value outside it is
//! `Error::InvalidArgument` naming the option (never silently clamped), and the bounds
//! themselves are accepted.

use std::time::Duration;

use sedimentdb::{Db, Error, Options};

fn open(opts: Options) -> Result<Db, Error> {
    let dir = tempfile::tempdir().unwrap();
    let result = Db::open(dir.path(), opts);
    if let Ok(db) = &result {
        db.close().unwrap();
    }
    result
}

fn refused(name: &str, opts: Options) {
    match open(opts) {
        Err(Error::InvalidArgument(msg)) => {
            assert!(msg.contains(name), "{name}: {msg}");
        }
        Err(other) => panic!("{name}: expected InvalidArgument, got {other:?}"),
        Ok(_) => panic!("{name}: a bad value was accepted"),
    }
}

fn accepted(name: &str, opts: Options) {
    if let Err(e) = open(opts) {
        panic!("{name}: a value within the bounds was refused: {e}");
    }
}

#[test]
fn head_memory_budget_is_at_least_64_kib() {
    refused(
        "head_memory_budget",
        Options::default().head_memory_budget(1),
    );
    refused(
        "head_memory_budget",
        Options::default().head_memory_budget((64 << 10) - 1),
    );
    accepted(
        "head_memory_budget",
        Options::default().head_memory_budget(64 << 10),
    );
    // The setter stores what it is given.
    assert_eq!(
        Options::default()
            .head_memory_budget(1)
            .get_head_memory_budget(),
        1
    );
}

#[test]
fn partition_duration_is_positive() {
    refused(
        "partition_duration",
        Options::default().partition_duration(Duration::ZERO),
    );
    accepted(
        "partition_duration",
        Options::default().partition_duration(Duration::from_nanos(1)),
    );
}

#[test]
fn zstd_levels_are_1_to_22() {
    for bad in [0, -1, 23, i32::MAX] {
        refused("warm_zstd_level", Options::default().warm_zstd_level(bad));
        refused("cold_zstd_level", Options::default().cold_zstd_level(bad));
    }
    for good in [1, 22] {
        accepted("warm_zstd_level", Options::default().warm_zstd_level(good));
        accepted("cold_zstd_level", Options::default().cold_zstd_level(good));
    }
}

#[test]
fn chunk_points_are_16_to_65536() {
    for bad in [0, 15, 65_537, usize::MAX] {
        refused("chunk_points", Options::default().chunk_points(bad));
        refused(
            "cold_chunk_points",
            Options::default().cold_chunk_points(bad),
        );
    }
    for good in [16, 65_536] {
        accepted("chunk_points", Options::default().chunk_points(good));
        accepted(
            "cold_chunk_points",
            Options::default().cold_chunk_points(good),
        );
    }
}

#[test]
fn io_sizes_are_at_least_4096() {
    refused("wal_file_size", Options::default().wal_file_size(4095));
    accepted("wal_file_size", Options::default().wal_file_size(4096));
    refused(
        "compaction_io_limit",
        Options::default().compaction_io_limit(0),
    );
    accepted(
        "compaction_io_limit",
        Options::default().compaction_io_limit(4096),
    );
}

#[test]
fn max_batch_points_is_at_least_1() {
    refused("max_batch_points", Options::default().max_batch_points(0));
    accepted("max_batch_points", Options::default().max_batch_points(1));
}
