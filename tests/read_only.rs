//! `Db::open_read_only` beside a writer: no lock, nothing written, consistent snapshots,
//! `refresh`, typed `ReadOnly` errors, a writer process running concurrently and one
//! killed with SIGKILL in the middle of its flushes.
//!
//! The writer is this test binary itself, run with `SEDIMENT_RO_WRITER=<dir>` and the
//! name of the `writer_process` test: it writes batches whose points are all-or-nothing
//! checkable (batch `i` writes `SERIES` series at timestamp `i`, value `i`), flushing and
//! compacting as it goes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sedimentdb::{Db, Durability, Error, Options, Selector, SeriesKey, TimeRange, WriteBatch};

const SERIES: usize = 16;
const ENV_DIR: &str = "SEDIMENT_RO_WRITER";
const ENV_FLUSH_EVERY: &str = "SEDIMENT_RO_FLUSH_EVERY";

fn key(s: usize) -> SeriesKey {
    SeriesKey::new("batch").with("s", format!("{s:02}"))
}

fn write_batch(db: &Db, i: i64) -> sedimentdb::Result<()> {
    let mut batch = WriteBatch::with_capacity(SERIES);
    for s in 0..SERIES {
        batch.push_key(&key(s), i, i as f64);
    }
    db.write(&batch).map(|_| ())
}

/// Checks the snapshot: every batch whole, batches 0..n all present. Returns n.
fn check_snapshot(db: &Db) -> i64 {
    let mut per_ts: BTreeMap<i64, usize> = BTreeMap::new();
    for series in db
        .select(&Selector::metric("batch"), TimeRange::all())
        .unwrap()
    {
        let series = series.unwrap();
        for (&ts, &v) in series.timestamps.iter().zip(&series.values) {
            assert_eq!(v, ts as f64, "value of batch {ts}");
            *per_ts.entry(ts).or_default() += 1;
        }
    }
    for (&ts, &n) in &per_ts {
        assert_eq!(
            n, SERIES,
            "batch {ts} is half there: {n} of {SERIES} points"
        );
    }
    let n = per_ts.len() as i64;
    if let Some((&last, _)) = per_ts.last_key_value() {
        assert_eq!(last, n - 1, "a batch before {last} is missing");
    }
    n
}

/// The writer's body, when run as the child process.
#[test]
fn writer_process() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let flush_every: i64 = std::env::var(ENV_FLUSH_EVERY)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let db = Db::open(
        PathBuf::from(dir),
        Options::default().durability(Durability::Sync),
    )
    .unwrap();
    let mut i = 0i64;
    // Until the parent kills it or 20 s have passed (a guard against a lost parent).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        write_batch(&db, i).unwrap();
        i += 1;
        if i % flush_every == 0 {
            db.flush().unwrap();
        }
        if i % (flush_every * 7) == 0 {
            db.compact().unwrap();
        }
        if std::path::Path::new(&format!("{}.stop", db.path().display())).exists() {
            break;
        }
    }
    db.close().unwrap();
    println!("batches={i}");
}

fn spawn_writer(dir: &Path, flush_every: u32) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_FLUSH_EVERY, flush_every.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every file under `dir` with its length and bytes' hash: what "nothing written" means.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), (0, 0));
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let mut h = crc32fast::Hasher::new();
                h.update(&bytes);
                out.insert(p, (bytes.len() as u64, u64::from(h.finalize())));
            }
        }
    }
    out
}

#[test]
fn reader_beside_an_open_writer_changes_nothing_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..30 {
        write_batch(&writer, i).unwrap();
        if i == 19 {
            writer.flush().unwrap();
        }
    }
    let before = tree(dir.path());
    let reader = Db::open_read_only(dir.path(), Options::default()).unwrap();
    assert!(reader.is_read_only());
    assert_eq!(check_snapshot(&reader), 30);
    assert_eq!(reader.stats().head_points, 10 * SERIES as u64);

    let mut batch = WriteBatch::new();
    batch.push_key(&key(0), 1000, 1.0);
    for (op, result) in [
        ("write", reader.write(&batch).map(|_| ())),
        (
            "create series",
            reader.series(&SeriesKey::new("new")).map(|_| ()),
        ),
        ("flush", reader.flush().map(|_| ())),
        ("compact", reader.compact().map(|_| ())),
        (
            "delete",
            reader
                .delete_series(&Selector::metric("batch"), TimeRange::all())
                .map(|_| ()),
        ),
        ("retention", reader.apply_retention().map(|_| ())),
    ] {
        match result {
            Err(Error::ReadOnly { op: got, .. }) => assert_eq!(got, op),
            other => panic!("{op}: {other:?}"),
        }
    }
    // An existing series resolves (reading the catalog is fine).
    assert!(reader.series(&key(3)).is_ok());
    reader.refresh().unwrap();
    reader.close().unwrap();
    drop(reader);
    assert_eq!(tree(dir.path()), before, "the read-only open changed files");

    // Refresh sees the writer's later batches, flushed or not.
    let reader = Db::open_read_only(dir.path(), Options::default()).unwrap();
    for i in 30..45 {
        write_batch(&writer, i).unwrap();
    }
    assert_eq!(
        check_snapshot(&reader),
        30,
        "a snapshot does not move by itself"
    );
    let report = reader.refresh().unwrap();
    assert!(!report.manifest_changed);
    assert_eq!(check_snapshot(&reader), 45);
    writer.flush().unwrap();
    writer.compact().unwrap();
    let report = reader.refresh().unwrap();
    assert!(report.manifest_changed);
    assert!(report.segments_added >= 1, "{report:?}");
    assert_eq!(check_snapshot(&reader), 45);
    // A read-write open still refuses to share.
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    assert!(writer.refresh().is_err());
}

#[test]
fn torn_tail_is_skipped_in_memory_and_left_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..5 {
            write_batch(&db, i).unwrap();
        }
        // Dropped without close: the WAL holds the batches.
    }
    let wal_dir = dir.path().join("wal");
    let newest = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let intact = bytes.len();
    // Half a record header and payload: what a reader sees while a writer appends.
    bytes.extend_from_slice(&[0x40, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
    std::fs::write(&newest, &bytes).unwrap();
    let before = tree(dir.path());

    let reader = Db::open_read_only(dir.path(), Options::default()).unwrap();
    assert_eq!(check_snapshot(&reader), 5);
    let (file, offset) = reader.recovery_report().truncated_tail.clone().unwrap();
    assert_eq!((file, offset), (newest.clone(), intact as u64));
    drop(reader);
    assert_eq!(tree(dir.path()), before, "the torn tail was cut on disk");

    // A missing database and a directory that is not one are refused, and not created.
    let missing = dir.path().join("nope");
    assert!(matches!(
        Db::open_read_only(&missing, Options::default()),
        Err(Error::NotADatabase { .. })
    ));
    assert!(!missing.exists());
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Db::open_read_only(empty.path(), Options::default()),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn concurrent_writer_process_reader_never_sees_half_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    // Create it, so the reader has something to open from the start.
    Db::open(&db_dir, Options::default())
        .unwrap()
        .close()
        .unwrap();
    let child = spawn_writer(&db_dir, 40);
    let started = Instant::now();
    let reader = Db::open_read_only(&db_dir, Options::default())
        .unwrap_or_else(|e| panic!("read-only open beside the writer: {e}"));
    let mut last = 0;
    let mut opens = 0;
    let mut refreshes = 0;
    while started.elapsed() < Duration::from_secs(4) {
        reader
            .refresh()
            .unwrap_or_else(|e| panic!("refresh beside the writer: {e}"));
        refreshes += 1;
        let n = check_snapshot(&reader);
        assert!(
            n >= last,
            "the snapshot went back from {last} to {n} batches"
        );
        last = n;
        // Fresh opens too, racing the writer's flushes and compactions.
        let fresh = Db::open_read_only(&db_dir, Options::default())
            .unwrap_or_else(|e| panic!("read-only open beside the writer: {e}"));
        assert!(check_snapshot(&fresh) >= last);
        opens += 1;
    }
    std::fs::write(format!("{}.stop", db_dir.display()), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the writer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints its own words around it: "test writer_process ... batches=N".
    let written: i64 = stdout
        .lines()
        .find_map(|l| l.split("batches=").nth(1))
        .unwrap_or_else(|| panic!("no batch count from the writer: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    reader.refresh().unwrap();
    assert_eq!(check_snapshot(&reader), written);
    assert!(last > 0 && opens > 0 && refreshes > 0);
    eprintln!("writer batches={written} reader refreshes={refreshes} opens={opens}");
}

#[test]
fn writer_killed_mid_flush_leaves_a_consistent_snapshot() {
    for round in 0..3u64 {
        let dir = tempfile::tempdir().unwrap();
        let db_dir = dir.path().join("db");
        Db::open(&db_dir, Options::default())
            .unwrap()
            .close()
            .unwrap();
        // A flush every other batch: most of the writer's time is in a flush.
        let mut child = spawn_writer(&db_dir, 2);
        let reader = Db::open_read_only(&db_dir, Options::default()).unwrap();
        let deadline = Instant::now() + Duration::from_millis(300 + 250 * round);
        while Instant::now() < deadline {
            reader.refresh().unwrap();
            check_snapshot(&reader);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        reader.refresh().unwrap();
        let seen = check_snapshot(&reader);
        let fresh = Db::open_read_only(&db_dir, Options::default()).unwrap();
        assert_eq!(check_snapshot(&fresh), seen);
        drop(fresh);
        // The writer's own recovery finds the same batches (the killed process's
        // writes are in the page cache: nothing acknowledged or seen is lost).
        let reopened = Db::open(&db_dir, Options::default()).unwrap();
        assert_eq!(check_snapshot(&reopened), seen, "round {round}");
        assert!(seen > 0);
    }
}
