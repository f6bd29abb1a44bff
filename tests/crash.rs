//! Kill -9 crash harness.
//!
//! The child is this test binary itself, re-executed on the `child_entry` test with
//! `SEDIMENT_CRASH_CHILD=<db dir>`: it opens the database and writes batch after batch
//! (ids from `SEDIMENT_CRASH_START`), printing `ack <id>` once each write returns,
//! flushes every few batches (the head window starts background flushes too) and
//! compacts every few flushes (partitions older than 2 hours go cold). The
//! parent kills it with SIGKILL at a random moment — sometimes while it is still
//! opening (replaying), mostly after a random number of acknowledgements — then opens
//! the database itself and checks:
//!
//! - it opens, with no repair by hand;
//! - every acknowledged batch is present, every point with its exact value;
//! - nothing is present that was never written; the one batch in flight at the kill
//!   is present whole or not at all (batches are atomic), and stays so in later trials.
//!
//! Trials follow each other on the same database, so later children recover from the
//! damage of earlier kills. Under `Durability::Periodic` a kill (unlike a power cut)
//! must lose nothing acknowledged either: the kernel keeps what was written.
//!
//! `cargo test --test crash` runs a bounded number of trials per durability mode
//! (`SEDIMENT_CRASH_TRIALS`, default 25), and as many with four writer threads
//! (`SEDIMENT_CRASH_WRITERS` in the child; each writer acknowledges its own ids in
//! order, and each may have one batch in flight at the kill); `scripts/crash_soak.sh` (the ignored
//! `crash_soak` test) runs thousands.

mod fault_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fault_support::{batch, check, points_in, Rng};
use sedimentdb::{Db, Durability, Options};

const CHILD_ENV: &str = "SEDIMENT_CRASH_CHILD";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Periodic,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Periodic => "periodic",
        }
    }
}

fn options(mode: Mode) -> Options {
    let durability = match mode {
        Mode::Sync => Durability::Sync,
        Mode::Periodic => Durability::Periodic(Duration::from_millis(20)),
    };
    Options::default()
        .durability(durability)
        // A batch spans at most 48 s of timestamps: these make flushes cut several
        // partitions, start in the background every ~40 batches, and rotate the WAL.
        .partition_duration(Duration::from_secs(3600))
        .head_window(Duration::from_secs(1800))
        .chunk_points(64)
        .wal_file_size(64 << 10)
        .warm_duration(Duration::from_secs(7200))
        .cold_chunk_points(1024)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The child: a no-op unless `SEDIMENT_CRASH_CHILD` is set.
#[test]
fn child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let start = env_u64("SEDIMENT_CRASH_START").expect("SEDIMENT_CRASH_START");
    let seed = env_u64("SEDIMENT_CRASH_SEED").unwrap_or(0);
    let mode = match std::env::var("SEDIMENT_CRASH_MODE").as_deref() {
        Ok("periodic") => Mode::Periodic,
        _ => Mode::Sync,
    };
    let writers = env_u64("SEDIMENT_CRASH_WRITERS").unwrap_or(1).max(1);
    let db = Db::open(&dir, options(mode)).expect("child: open");
    // Written straight to stdout (not through the test harness's capture), one line
    // per acknowledgement, so the parent has it even if the next instant is a SIGKILL.
    writeln!(std::io::stdout(), "opened").expect("stdout");
    let mut rng = Rng(seed);
    let flush_every = 3 + rng.below(8);
    let compact_every = flush_every * (2 + rng.below(4));
    // Writer `w` of `writers` writes ids `start + w`, `start + w + writers`, ...; with
    // several, their fsyncs are shared (group commit). Writer 0 also flushes and compacts.
    std::thread::scope(|scope| {
        for w in 0..writers {
            let db = &db;
            scope.spawn(move || {
                let mut out = std::io::stdout();
                for id in (start + w..).step_by(writers as usize) {
                    db.write(&batch(id)).expect("child: write");
                    // A write error here means the parent is gone: stop.
                    writeln!(out, "ack {id}").expect("stdout");
                    if w == 0 && (id / writers).is_multiple_of(flush_every) {
                        db.flush().expect("child: flush");
                    }
                    if w == 0 && (id / writers).is_multiple_of(compact_every) {
                        db.compact().expect("child: compact");
                    }
                }
            });
        }
    });
}

/// What the parent knows across trials.
#[derive(Debug, Default)]
struct Ledger {
    /// Batches a child acknowledged.
    acked: BTreeSet<u64>,
    /// Batches present at the last check (acknowledged or not).
    present: BTreeSet<u64>,
    /// Where the next child starts.
    next: u64,
    trials: u64,
    kills_before_open: u64,
    acked_points: u64,
    /// Live segments at the end (compaction keeps them few).
    segments: u64,
    /// How long the last child took from spawn to "opened" (exec, open, replay).
    open_latency: Duration,
}

/// One child run with `writers` writer threads: spawn, kill at a random moment,
/// collect the acknowledgements. Returns the ids that may have been in flight at the
/// kill (one per writer).
fn run_child(
    dir: &Path,
    mode: Mode,
    writers: u64,
    ledger: &mut Ledger,
    rng: &mut Rng,
) -> BTreeSet<u64> {
    let start = ledger.next;
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args([
            "child_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_ENV, dir)
        .env("SEDIMENT_CRASH_START", start.to_string())
        .env("SEDIMENT_CRASH_SEED", rng.next_u64().to_string())
        .env("SEDIMENT_CRASH_MODE", mode.name())
        .env("SEDIMENT_CRASH_WRITERS", writers.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut lines = Vec::new();
    let mut acks = 0u64;
    // A third of the kills at a random instant (often during open and replay), the
    // rest after a random number of acknowledgements.
    let spawned = Instant::now();
    if rng.below(3) == 0 {
        // Up to twice the last open's latency: about half of these land in open.
        let window = ledger.open_latency.max(Duration::from_millis(5)) * 2;
        let deadline = spawned + window.mul_f64(rng.below(1000) as f64 / 1000.0);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            lines.push(line);
        }
    } else {
        let target = 1 + rng.below(120);
        let deadline = Instant::now() + Duration::from_secs(20);
        while acks < target && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if line == "opened" {
                        ledger.open_latency = spawned.elapsed();
                    }
                    acks += u64::from(line.starts_with("ack "));
                    lines.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
    }
    let _ = child.kill();
    let status = child.wait().expect("wait for the child");
    reader.join().expect("reader thread");
    lines.extend(rx.try_iter());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child ended by itself ({status}) instead of being killed:\n{stderr}"
        );
    }
    #[cfg(not(unix))]
    let _ = status;

    if !lines.iter().any(|l| l == "opened") {
        ledger.kills_before_open += 1;
    }
    // Per writer, the next id it would acknowledge.
    let mut expected: Vec<u64> = (start..start + writers).collect();
    for line in &lines {
        if let Some(id) = line.strip_prefix("ack ") {
            let id: u64 = id.parse().expect("ack id");
            let w = ((id - start) % writers) as usize;
            assert_eq!(
                id, expected[w],
                "acknowledgements of writer {w} out of order"
            );
            expected[w] += writers;
            ledger.acked.insert(id);
            ledger.acked_points += points_in(id);
        }
    }
    // Each writer writes one batch at a time: the only one of it that can be in the
    // database without an acknowledgement is the one after its last acknowledged.
    expected.into_iter().collect()
}

/// Opens the database in the parent and checks it against the ledger.
fn verify(dir: &Path, mode: Mode, ledger: &mut Ledger, in_flight: &BTreeSet<u64>) {
    let db = Db::open(dir, options(mode))
        .unwrap_or_else(|e| panic!("trial {}: open after the kill failed: {e}", ledger.trials));
    let previous = &ledger.present;
    let present = check(&db, &ledger.acked, |id| {
        in_flight.contains(&id) || previous.contains(&id) || ledger.acked.contains(&id)
    })
    .unwrap_or_else(|e| {
        panic!(
            "trial {}: {e} (batches in flight {in_flight:?}, last acknowledged {:?})",
            ledger.trials,
            ledger.acked.last()
        )
    });
    let vanished: Vec<_> = previous.difference(&present).collect();
    assert!(
        vanished.is_empty(),
        "trial {}: batches present before are gone: {vanished:?}",
        ledger.trials
    );
    db.close().expect("close");
    ledger.present = present;
    // Past every id a writer may have started (an unacknowledged one is never reused).
    ledger.next = in_flight.last().map_or(ledger.next, |&last| last + 1);
}

/// Copies directory `from` to `to` (replaced), for a post-mortem of a failing trial.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            // A file the child was writing may be gone already; that is what it is.
            let _ = std::fs::copy(entry.path(), &target);
        }
    }
}

/// Harnesses run one at a time. The directory lock is an flock, which every process
/// forked while the parent's verifying `Db` is open shares until it execs: a child spawned
/// by a harness on another test thread at that moment held the lock a little longer, and
/// the next child of this harness failed to open with `Locked` (seen once in CI and once
/// at a merge; a test-harness race, not a lost point).
static ONE_HARNESS_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn harness(mode: Mode, trials: u64, seed: u64) -> Ledger {
    harness_with(mode, 1, trials, seed)
}

fn harness_with(mode: Mode, writers: u64, trials: u64, seed: u64) -> Ledger {
    let _one = ONE_HARNESS_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    // With `SEDIMENT_CRASH_KEEP=<dir>`, the database lives in `<dir>/<mode>/db` and is
    // kept, and before each check the state the kill left is copied to
    // `<dir>/<mode>/killed`: the evidence of a failing trial survives the test.
    let keep = std::env::var_os("SEDIMENT_CRASH_KEEP").map(|k| Path::new(&k).join(mode.name()));
    let dir = match &keep {
        Some(keep) => {
            let _ = std::fs::remove_dir_all(keep);
            keep.join("db")
        }
        None => tmp.path().join("db"),
    };
    let mut ledger = Ledger::default();
    let mut rng = Rng(seed);
    let started = Instant::now();
    for _ in 0..trials {
        let in_flight = run_child(&dir, mode, writers, &mut ledger, &mut rng);
        ledger.trials += 1;
        if let Some(keep) = &keep {
            if dir.exists() {
                copy_dir(&dir, &keep.join("killed"));
            }
        }
        verify(&dir, mode, &mut ledger, &in_flight);
    }
    // A last write and a clean reopen cycle on the survivor.
    {
        let db = Db::open(&dir, options(mode)).expect("final open");
        let id = ledger.next;
        db.write(&batch(id)).expect("final write");
        ledger.acked.insert(id);
        ledger.next += 1;
        db.flush().expect("final flush");
        ledger.segments = db.stats().segments;
        db.close().expect("final close");
    }
    let last = BTreeSet::from([ledger.next - 1]);
    verify(&dir, mode, &mut ledger, &last);
    eprintln!(
        "crash harness ({}, {writers} writers): {} kill -9 trials ({} during open), {} batches / {} points \
         acknowledged, 0 lost, {} batches present, {} segments, {:.1} s",
        mode.name(),
        ledger.trials,
        ledger.kills_before_open,
        ledger.acked.len(),
        ledger.acked_points,
        ledger.present.len(),
        ledger.segments,
        started.elapsed().as_secs_f64()
    );
    ledger
}

fn trials() -> u64 {
    env_u64("SEDIMENT_CRASH_TRIALS").unwrap_or(25)
}

#[test]
fn kill9_sync_loses_nothing_acknowledged() {
    harness(Mode::Sync, trials(), 1);
}

#[test]
fn kill9_periodic_loses_nothing_acknowledged() {
    harness(Mode::Periodic, trials(), 2);
}

/// Four writer threads, `Sync`: group commit shares their fsyncs, and every
/// acknowledged batch of every writer must survive the kill (issue #11).
#[test]
fn kill9_concurrent_writers_lose_nothing_acknowledged() {
    let ledger = harness_with(Mode::Sync, 4, trials(), 3);
    assert!(
        ledger.acked.len() as u64 > ledger.trials,
        "the writers wrote"
    );
}

/// Thousands of trials: `SEDIMENT_CRASH_TRIALS` per mode (default 1000), seed from
/// `SEDIMENT_CRASH_SEED`, modes from `SEDIMENT_CRASH_MODES` (`sync,periodic` by
/// default). See `scripts/crash_soak.sh`.
#[test]
#[ignore = "soak: SEDIMENT_CRASH_TRIALS trials per mode (default 1000)"]
fn crash_soak() {
    let trials = env_u64("SEDIMENT_CRASH_TRIALS").unwrap_or(1000);
    let seed = env_u64("SEDIMENT_CRASH_SEED").unwrap_or(7);
    let modes = std::env::var("SEDIMENT_CRASH_MODES").unwrap_or_else(|_| "sync,periodic".into());
    for name in modes.split(',').map(str::trim) {
        match name {
            "sync" => harness(Mode::Sync, trials, seed),
            "periodic" => harness(Mode::Periodic, trials, seed + 1),
            other => panic!("SEDIMENT_CRASH_MODES: unknown mode {other:?}"),
        };
    }
}
