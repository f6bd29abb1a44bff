//! Read faults: a deterministic workload (open, writes, flushes, compaction, queries,
//! a deletion, a crash, reopen with WAL replay, more of the same) runs on [`FaultFs`]
//! once per read call and read fault: EIO on a whole-file read, a mapping, a listing,
//! a `stat` or an `exists` (which then answers "absent"), and a short read (half the
//! file, no error). For every run:
//!
//! - a step that fails does so with a typed error naming a file of the database
//!   (`Io` or `Corruption`), never a panic;
//! - reads answer exactly the acknowledged batches after every step, failed or not;
//! - the failed step, retried once (the fault fires once), succeeds: the database is not
//!   left poisoned by a read error;
//! - after the run the process dies, the database reopens and holds every acknowledged
//!   batch, whole, and nothing never written.
//!
//! Queries read no file (segments are opened, validated and kept at open or when
//! written); the read calls are those of open, replay, flush and compaction.

mod fault_support;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_support::{batch, check_with_deletions, Deletion, METRIC};
use sedimentdb::storage::fault::{CallRecord, Fault, FaultFs, FaultRule, Op};
use sedimentdb::{Aggregate, Db, Durability, Error, Matcher, Options, Query, Selector, TimeRange};

const DB: &str = "/db";

fn options(fs: &FaultFs) -> Options {
    Options::default()
        .file_system(Arc::new(fs.clone()))
        .durability(Durability::Sync)
        .partition_duration(Duration::from_secs(60))
        .chunk_points(16)
        .wal_file_size(4096)
        .head_window(Duration::from_secs(365 * 86_400))
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Open,
    Write(u64),
    Flush,
    Compact,
    Query,
    Delete(u64),
    Crash,
    Close,
}

fn script() -> Vec<Step> {
    use Step::*;
    vec![
        Open,
        Write(0),
        Write(1),
        Write(2),
        Flush,
        Write(3),
        Write(4),
        Flush,
        Compact,
        Query,
        Delete(2),
        Write(5),
        Crash,
        Open,
        Query,
        Write(6),
        Flush,
        Compact,
        Query,
        Close,
    ]
}

#[derive(Debug, Default)]
struct Run {
    acked: BTreeSet<u64>,
    attempted: BTreeSet<u64>,
    deletions: Vec<Deletion>,
    violations: Vec<String>,
}

impl Run {
    fn check_reads(&mut self, db: &Db, when: &str) {
        let attempted = &self.attempted;
        if let Err(e) = check_with_deletions(
            db,
            &self.acked,
            |id| attempted.contains(&id),
            &self.deletions,
        ) {
            self.violations.push(format!("{when}: {e}"));
        }
    }

    /// A failed step's error must be typed and name a file of the database.
    fn judge_error(&mut self, step: Step, e: &Error) {
        let names_ours = |p: &Path| p.starts_with(DB) || p == Path::new("/");
        match e {
            Error::Io { path, .. } if names_ours(path) => {}
            Error::Corruption { file, .. } if names_ours(file) => {}
            other => self.violations.push(format!(
                "{step:?} failed with {other:?}: not an I/O or corruption error naming a file"
            )),
        }
    }
}

/// Runs one step; `Err` carries the step's error.
fn step_once(fs: &FaultFs, db: &mut Option<Db>, step: Step, run: &mut Run) -> Result<(), Error> {
    match step {
        Step::Open => {
            *db = Some(Db::open(DB, options(fs))?);
        }
        Step::Write(id) => {
            let Some(d) = db else { return Ok(()) };
            run.attempted.insert(id);
            d.write(&batch(id))?;
            run.acked.insert(id);
        }
        Step::Flush => {
            if let Some(d) = db {
                d.flush()?;
            }
        }
        Step::Compact => {
            if let Some(d) = db {
                d.compact()?;
            }
        }
        Step::Query => {
            if let Some(d) = db {
                let q = Query::metric(METRIC).aggregate(Aggregate::Count);
                d.query(&q)?;
            }
        }
        Step::Delete(series) => {
            let Some(d) = db else { return Ok(()) };
            let selector = Selector::metric(METRIC).with(Matcher::eq("s", series.to_string()));
            let result = d.delete_series(&selector, TimeRange::all());
            run.deletions.push(Deletion {
                series: Some(series),
                start: i64::MIN,
                end: i64::MAX,
                before: run.attempted.clone(),
                certain: result.is_ok(),
                partial: false,
            });
            result?;
            // Certain now, whatever an earlier failed attempt left.
            for d in run
                .deletions
                .iter_mut()
                .filter(|d| d.series == Some(series))
            {
                d.certain = true;
            }
        }
        Step::Crash => {
            drop(db.take());
            fs.crash();
            fs.reboot();
        }
        Step::Close => {
            if let Some(d) = db.take() {
                d.close()?;
            }
        }
    }
    Ok(())
}

fn run_script(fs: &FaultFs, run: &mut Run) {
    let mut db: Option<Db> = None;
    for step in script() {
        if let Err(e) = step_once(fs, &mut db, step, run) {
            run.judge_error(step, &e);
            // The fault fired once: the same step again must work.
            if let Err(e) = step_once(fs, &mut db, step, run) {
                run.violations
                    .push(format!("{step:?} failed again on retry: {e}"));
            }
        }
        if let Some(d) = &db {
            run.check_reads(d, &format!("reads after {step:?}"));
        }
    }
}

fn verify_reopen(fs: &FaultFs, run: &mut Run) {
    fs.crash();
    fs.reboot();
    match Db::open(DB, options(fs)) {
        Ok(db) => {
            run.check_reads(&db, "after reopening");
            if let Err(e) = db.close() {
                run.violations.push(format!("close failed: {e}"));
            }
        }
        Err(e) => run.violations.push(format!("reopen failed: {e}")),
    }
}

fn is_read(op: Op) -> bool {
    matches!(
        op,
        Op::Read | Op::OpenBytes | Op::List | Op::Size | Op::Exists | Op::Len
    )
}

fn read_faults(op: Op) -> Vec<Fault> {
    op.faults()
        .iter()
        .copied()
        .filter(|f| matches!(f, Fault::Eio | Fault::ShortRead))
        .collect()
}

fn clean_trace() -> Vec<CallRecord> {
    let fs = FaultFs::new(0);
    fs.set_tracing(true);
    let mut run = Run::default();
    run_script(&fs, &mut run);
    assert!(run.violations.is_empty(), "{:?}", run.violations);
    assert_eq!(run.acked.len(), run.attempted.len());
    fs.trace()
}

fn run_one(call: &CallRecord, fault: Fault) -> Vec<String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let fs = FaultFs::new(call.index);
        fs.add_rule(FaultRule::at_call(call.index, fault));
        let mut run = Run::default();
        run_script(&fs, &mut run);
        match fs.fired().first() {
            Some(f) if f.call.op == call.op && f.call.path == call.path => {}
            other => run.violations.push(format!(
                "the workload is not deterministic: expected {call:?}, fault hit {other:?}"
            )),
        }
        verify_reopen(&fs, &mut run);
        run.violations
    }));
    result.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        vec![format!("PANIC: {msg}")]
    })
}

#[test]
fn every_read_fault_at_every_read_call() {
    let started = Instant::now();
    let trace = clean_trace();
    let reads: Vec<&CallRecord> = trace.iter().filter(|c| is_read(c.op)).collect();
    let mut runs = 0;
    let mut short_reads = 0;
    let mut failures = Vec::new();
    for call in &reads {
        for fault in read_faults(call.op) {
            runs += 1;
            short_reads += usize::from(fault == Fault::ShortRead);
            for v in run_one(call, fault) {
                failures.push(format!(
                    "call {} {:?} {} + {fault:?}: {v}",
                    call.index,
                    call.op,
                    call.path.display()
                ));
            }
        }
    }
    eprintln!(
        "read fault sweep: {} calls, {} reads, {runs} runs ({short_reads} short reads), {} failures, {:.1} s",
        trace.len(),
        reads.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for f in failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(short_reads > 0 && runs > 20, "the sweep swept");
    assert!(failures.is_empty(), "{} failures", failures.len());
}

/// The bug the sweep found first: a short read of the newest WAL file looked like a
/// torn tail, and replay cut the acknowledged records after it off for good.
#[test]
fn a_short_read_of_the_wal_does_not_cut_acknowledged_records() {
    let fs = FaultFs::new(3);
    let db = Db::open(DB, options(&fs)).unwrap();
    let acked: BTreeSet<u64> = (0..4).collect();
    for &id in &acked {
        db.write(&batch(id)).unwrap();
    }
    drop(db);
    fs.crash();
    fs.reboot();
    fs.add_rule(FaultRule::on(Op::Read, Fault::ShortRead).path_contains("/wal/"));
    match Db::open(DB, options(&fs)) {
        Err(Error::Io { path, .. }) => assert!(path.starts_with("/db/wal")),
        other => panic!("expected a read error naming the WAL file, got {other:?}"),
    }
    let db = Db::open(DB, options(&fs)).unwrap();
    fault_support::check(&db, &acked, |id| acked.contains(&id)).unwrap();
}

/// A failed `stat` reads as "absent" through `exists`: open must not take a present
/// manifest for a missing one, nor skip the WAL replay for a missing directory.
#[test]
fn a_failed_exists_does_not_hide_the_manifest_or_the_wal() {
    let fs = FaultFs::new(4);
    let db = Db::open(DB, options(&fs)).unwrap();
    let acked: BTreeSet<u64> = (0..3).collect();
    for &id in &acked {
        db.write(&batch(id)).unwrap();
    }
    drop(db);
    fs.crash();
    fs.reboot();
    fs.add_rule(FaultRule::on(Op::Exists, Fault::Eio).always());
    let db = Db::open(DB, options(&fs)).unwrap();
    fault_support::check(&db, &acked, |id| acked.contains(&id)).unwrap();
    drop(db);
    fs.clear_rules();
    fs.crash();
    fs.reboot();
    let db = Db::open(DB, options(&fs)).unwrap();
    fault_support::check(&db, &acked, |id| acked.contains(&id)).unwrap();
}

/// A read error while open checks a directory an interrupted first open left behind is
/// an I/O error naming it, not `NotADatabase`; the retry creates the database.
#[test]
fn a_failed_listing_during_creation_is_an_io_error() {
    let fs = FaultFs::new(5);
    // A first open that died after creating the sub-directories, before the manifest.
    fs.add_rule(FaultRule::on(Op::CreateNew, Fault::Crash).path_contains("MANIFEST"));
    assert!(Db::open(DB, options(&fs)).is_err());
    fs.reboot();
    fs.clear_rules();
    assert!(fs.contents(Path::new("/db/MANIFEST")).is_none());
    fs.add_rule(FaultRule::on(Op::List, Fault::Eio).path_contains("/db/wal"));
    match Db::open(DB, options(&fs)) {
        Err(Error::Io { path, .. }) => assert_eq!(path, Path::new("/db/wal")),
        other => panic!("expected an I/O error naming /db/wal, got {other:?}"),
    }
    let db = Db::open(DB, options(&fs)).unwrap();
    db.write(&batch(0)).unwrap();
}
