//! Damaged segments set aside: the error names file and offset, `quarantine_segment`
//! moves the file into `quarantine/` and the rest of the database reads back exactly;
//! `DamagedSegments::Quarantine` opens a database whose segment fails its checks;
//! compaction skips (and reports) a partition with a damaged segment and compacts the
//! others, in the API call and in the maintenance thread; retention drops an expired
//! partition whose segment is damaged; a crash or power cut at every I/O call of a
//! quarantine leaves the segment either live or quarantined, never lost. `verify` finds
//! every damaged chunk without a query.

mod fault_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_support::{batch, expected_series, sample_offsets};
use sedimentdb::storage::fault::{Fault, FaultFs, FaultRule};
use sedimentdb::{
    DamagedSegments, Db, Durability, Error, Maintenance, Options, QuarantineReport, Selector, Tier,
    TimeRange,
};

const DB: &str = "/db";
const BATCHES: u64 = 30;
/// Length of the 36-byte segment trailer (FORMAT.md).
const TRAILER: usize = 36;

type Contents = BTreeMap<u64, Vec<(i64, u64)>>;

fn options(fs: &FaultFs) -> Options {
    Options::default()
        .file_system(Arc::new(fs.clone()))
        .durability(Durability::None)
        // 30 batches span 24 minutes: three 10-minute partitions, each series in several
        // 16-point chunks.
        .partition_duration(Duration::from_secs(600))
        .chunk_points(16)
}

/// A closed database of `BATCHES` batches, flushed every `flush_every` batches, with
/// everything durable. Flushes cut time-disjoint segments: a segment's time range holds
/// its points and no other segment's.
fn base(flush_every: u64) -> FaultFs {
    let fs = FaultFs::new(1);
    let db = Db::open(DB, options(&fs)).expect("open");
    for id in 0..BATCHES {
        db.write(&batch(id)).expect("write");
        if id % flush_every == flush_every - 1 {
            db.flush().expect("flush");
        }
    }
    db.flush().expect("flush");
    db.close().expect("close");
    drop(db);
    fs.sync_all();
    fs
}

fn segments(fs: &FaultFs) -> Vec<PathBuf> {
    fs.files()
        .into_iter()
        .filter(|p| p.starts_with("/db/segments") && p.extension().is_some_and(|e| e == "seg"))
        .collect()
}

fn quarantined(fs: &FaultFs) -> Vec<PathBuf> {
    fs.files()
        .into_iter()
        .filter(|p| p.starts_with("/db/quarantine"))
        .collect()
}

/// Every point in `db` by test series; the error of the first series that fails.
fn read_all(db: &Db) -> Result<Contents, Error> {
    let mut out = Contents::new();
    for series in db.select(&Selector::any(), TimeRange::all())? {
        let series = series?;
        let s = series
            .key
            .dimension("s")
            .and_then(|s| s.parse().ok())
            .expect("test series");
        out.insert(s, series.iter().map(|(t, v)| (t, v.to_bits())).collect());
    }
    Ok(out)
}

/// `all` less the points inside `[min_ts, max_ts]`, and how many that removed.
fn without(all: &Contents, min_ts: i64, max_ts: i64) -> (Contents, u64) {
    let mut removed = 0;
    let mut out = Contents::new();
    for (&s, points) in all {
        let kept: Vec<_> = points
            .iter()
            .copied()
            .filter(|&(t, _)| t < min_ts || t > max_ts)
            .collect();
        removed += (points.len() - kept.len()) as u64;
        if !kept.is_empty() {
            out.insert(s, kept);
        }
    }
    (out, removed)
}

/// Checks `report` against the data: what is left is exactly the rest, the lost points
/// are the segment's, its bytes (`kept`) are kept unchanged in quarantine, and the size
/// reported is the one the manifest recorded (`listed_len`).
fn check_quarantined(
    db: &Db,
    fs: &FaultFs,
    report: &QuarantineReport,
    kept: &[u8],
    listed_len: usize,
) {
    let (want, lost) = without(&expected_series(0..BATCHES), report.min_ts, report.max_ts);
    assert_eq!(report.points, lost, "{report:?}");
    assert_eq!(report.bytes, listed_len as u64);
    assert_eq!(read_all(db).expect("the rest reads"), want);
    assert!(report.quarantined_as.starts_with("/db/quarantine"));
    assert_eq!(fs.contents(&report.quarantined_as).as_deref(), Some(kept));
    assert!(fs.contents(&report.segment).is_none() || db.stats().segments > 0);
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x10;
    b
}

#[test]
fn a_damaged_chunk_is_named_then_quarantined_and_the_rest_reads_exactly() {
    let fs = base(15);
    let seg = segments(&fs)[1].clone();
    let pristine = fs.contents(&seg).expect("segment");
    // The first chunk's frame starts right after the 16-byte header.
    let damaged = flip(&pristine, 20);
    fs.set_contents(&seg, &damaged).expect("damage");

    let db = Db::open(DB, options(&fs)).expect("a damaged chunk does not stop open");
    match read_all(&db) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, seg);
            assert_eq!(offset, 16, "the chunk's offset");
        }
        other => panic!("expected corruption naming the segment, got {other:?}"),
    }
    // `verify` finds it without a query, and only it.
    let verified = db.verify().expect("verify");
    assert_eq!(verified.segments, db.stats().segments);
    assert_eq!(verified.damaged.len(), 1, "{verified:?}");
    assert_eq!(
        (&verified.damaged[0].file, verified.damaged[0].offset),
        (&seg, 16)
    );
    let segments_before = db.stats().segments;
    let report = db
        .quarantine_segment(&verified.damaged[0].file)
        .expect("quarantine");
    assert_eq!(report.segment, seg);
    assert_eq!(report.reason, None);
    assert_eq!(db.stats().segments, segments_before - 1);
    check_quarantined(&db, &fs, &report, &damaged, damaged.len());
    // The original goes once no snapshot holds it; the copy stays.
    assert!(fs.contents(&seg).is_none());

    // Not a live segment (any more), or not a segment at all: the caller's mistake.
    for bad in [
        seg.clone(),
        report.quarantined_as.clone(),
        PathBuf::from("/db/MANIFEST"),
    ] {
        assert!(
            matches!(db.quarantine_segment(&bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    db.close().expect("close");
    drop(db);

    // Reopened strictly: the segment is gone from the manifest, its copy is kept (not
    // taken for an orphan), and the rest is exact.
    let db = Db::open(DB, options(&fs)).expect("reopen");
    assert!(db.recovery_report().orphans_removed.is_empty());
    assert_eq!(quarantined(&fs), vec![report.quarantined_as.clone()]);
    check_quarantined(&db, &fs, &report, &damaged, damaged.len());
    assert!(db.verify().expect("verify").damaged.is_empty());
    // And it keeps working: writes, flush and compaction.
    db.write(&batch(BATCHES)).expect("write");
    db.flush().expect("flush");
    let compaction = db.compact().expect("compact");
    assert!(compaction.skipped.is_empty());
}

#[test]
fn a_segment_failing_its_checks_at_open_is_set_aside_when_asked() {
    let base = base(15);
    let seg = segments(&base)[2].clone();
    let pristine = base.contents(&seg).expect("segment");
    let len = pristine.len();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bit flip in the footer", flip(&pristine, len - TRAILER - 3)),
        ("bit flip in the trailer", flip(&pristine, len - 10)),
        ("bit flip in the header flags", flip(&pristine, 13)),
        ("truncated by 10 bytes", pristine[..len - 10].to_vec()),
        ("truncated to half", pristine[..len / 2].to_vec()),
        ("emptied", Vec::new()),
    ];
    for (what, damaged) in cases {
        let fs = base.deep_clone();
        fs.set_contents(&seg, &damaged).expect("damage");
        // Strict (the default): refused, naming the file and an offset inside it.
        match Db::open(DB, options(&fs)) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, seg, "{what}");
                assert!(offset <= damaged.len() as u64, "{what}: offset {offset}");
            }
            other => panic!("{what}: expected corruption, got {other:?}"),
        }
        // Set aside: opens, reports it, keeps the bytes in quarantine.
        let db = Db::open(
            DB,
            options(&fs).damaged_segments(DamagedSegments::Quarantine),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let report = db.recovery_report().quarantined.clone();
        assert_eq!(report.len(), 1, "{what}");
        assert_eq!(report[0].segment, seg);
        assert!(
            report[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("corruption")),
            "{what}: {:?}",
            report[0].reason
        );
        check_quarantined(&db, &fs, &report[0], &damaged, len);
        assert!(fs.contents(&seg).is_none(), "{what}: original removed");
        drop(db);
        // A strict reopen now works: the manifest no longer lists it.
        let db = Db::open(DB, options(&fs)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(db.recovery_report().quarantined.is_empty());
        check_quarantined(&db, &fs, &report[0], &damaged, len);
    }
}

#[test]
fn every_damage_that_fails_open_is_set_aside_when_asked() {
    let base = base(15);
    let all = expected_series(0..BATCHES);
    let (mut set_aside, mut found_on_read) = (0, 0);
    for seg in segments(&base) {
        let bytes = base.contents(&seg).expect("segment");
        let len = bytes.len();
        let mut variants: Vec<(String, Vec<u8>)> = sample_offsets(len, 0, 80, 20)
            .into_iter()
            .map(|cut| (format!("truncated to {cut}"), bytes[..cut].to_vec()))
            .collect();
        for off in sample_offsets(len, 16, TRAILER, 60) {
            variants.push((format!("byte {off} flipped"), flip(&bytes, off)));
        }
        for (what, damaged) in variants {
            let fs = base.deep_clone();
            fs.set_contents(&seg, &damaged).expect("damage");
            match Db::open(DB, options(&fs)) {
                // Damage in a chunk: found when read, and by `verify`.
                Ok(db) => {
                    let v = db.verify().expect("verify");
                    assert_eq!(v.damaged.len(), 1, "{} {what}: {v:?}", seg.display());
                    assert_eq!(v.damaged[0].file, seg);
                    found_on_read += 1;
                    continue;
                }
                Err(Error::Corruption { file, .. } | Error::UnsupportedVersion { file, .. })
                    if file == seg => {}
                Err(e) => panic!("{} {what}: {e}", seg.display()),
            }
            let db = Db::open(
                DB,
                options(&fs).damaged_segments(DamagedSegments::Quarantine),
            )
            .unwrap_or_else(|e| panic!("{} {what}: {e}", seg.display()));
            let q = &db.recovery_report().quarantined;
            assert_eq!(q.len(), 1, "{what}");
            assert_eq!(q[0].segment, seg);
            let (want, _) = without(&all, q[0].min_ts, q[0].max_ts);
            assert_eq!(
                read_all(&db).expect("read"),
                want,
                "{} {what}",
                seg.display()
            );
            set_aside += 1;
        }
    }
    eprintln!(
        "set aside at open: {set_aside} damaged segments; {found_on_read} opened (chunk damage)"
    );
    assert!(
        set_aside > 300 && found_on_read > 0,
        "{set_aside} {found_on_read}"
    );
}

#[test]
fn set_aside_at_open_through_memory_maps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let opts = || {
        Options::default()
            .durability(Durability::None)
            .partition_duration(Duration::from_secs(600))
            .chunk_points(16)
    };
    {
        let db = Db::open(&dir, opts()).expect("open");
        for id in 0..BATCHES {
            db.write(&batch(id)).expect("write");
        }
        db.flush().expect("flush");
        db.close().expect("close");
    }
    let mut names: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let seg = names[0].clone();
    let pristine = std::fs::read(&seg).expect("read");
    let damaged = flip(&pristine, pristine.len() - TRAILER - 2);
    std::fs::write(&seg, &damaged).expect("damage");
    assert!(matches!(
        Db::open(&dir, opts()),
        Err(Error::Corruption { ref file, .. }) if *file == seg
    ));
    let db = Db::open(&dir, opts().damaged_segments(DamagedSegments::Quarantine)).expect("open");
    let report = db.recovery_report().quarantined[0].clone();
    assert_eq!(
        report.quarantined_as,
        dir.join("quarantine").join(seg.file_name().unwrap())
    );
    assert_eq!(
        std::fs::read(&report.quarantined_as).expect("kept"),
        damaged
    );
    assert!(!seg.exists());
    let (want, lost) = without(&expected_series(0..BATCHES), report.min_ts, report.max_ts);
    assert_eq!(report.points, lost);
    assert_eq!(read_all(&db).expect("read"), want);
}

#[test]
fn compaction_skips_a_damaged_partition_and_compacts_the_others() {
    // Flushed every 4 batches: every partition has several segments to merge.
    let fs = base(4);
    let db = Db::open(DB, options(&fs)).expect("open");
    let partitions = db.stats().partitions;
    assert!(partitions.len() >= 3 && partitions.iter().all(|p| p.segments >= 2));
    let seg = segments(&fs)[0].clone();
    let damaged = flip(&fs.contents(&seg).expect("segment"), 20);
    fs.set_contents(&seg, &damaged).expect("damage");
    // Reopen so that the damaged bytes are what the segment reads.
    drop(db);
    let db = Db::open(DB, options(&fs)).expect("open");

    let report = db.compact().expect("compaction carries on");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].file, seg);
    assert_eq!(report.skipped[0].offset, 16);
    assert_eq!(report.skipped[0].partition_start, partitions[0].start);
    assert_eq!(report.partitions as usize, partitions.len() - 1);
    let after = db.stats().partitions;
    assert_eq!(after[0].segments, partitions[0].segments, "left as it was");
    assert!(after[1..].iter().all(|p| p.segments == 1), "{after:?}");
    // The damaged segment is still there, and a second run skips it again, no worse.
    assert_eq!(fs.contents(&seg).as_deref(), Some(&damaged[..]));
    assert_eq!(db.compact().expect("again").skipped.len(), 1);
    // Asked for that partition by name, the call fails, naming the file.
    assert!(matches!(
        db.compact_partition(partitions[0].start, Tier::Cold),
        Err(Error::Corruption { ref file, offset: 16, .. }) if *file == seg
    ));

    // Set aside, the partition compacts, and everything else is exact.
    let q = db.quarantine_segment(&seg).expect("quarantine");
    let report = db.compact().expect("compact");
    assert!(report.skipped.is_empty());
    assert_eq!(report.partitions, 1);
    assert!(db.stats().partitions.iter().all(|p| p.segments == 1));
    check_quarantined(&db, &fs, &q, &damaged, damaged.len());
}

#[test]
fn the_maintenance_thread_reports_a_damaged_partition_and_carries_on() {
    let fs = base(4);
    let seg = segments(&fs)[0].clone();
    let damaged = flip(&fs.contents(&seg).expect("segment"), 20);
    fs.set_contents(&seg, &damaged).expect("damage");
    let db = Db::open(
        DB,
        options(&fs).maintenance(Maintenance::new().compact_every(Duration::from_millis(5))),
    )
    .expect("open");
    // Bounded wait for two compaction runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.maintenance_status().compactions < 2 {
        assert!(Instant::now() < deadline, "{:?}", db.maintenance_status());
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = db.maintenance_status();
    let error = status.last_error.expect("the damage is reported");
    assert!(error.contains(&seg.display().to_string()), "{error}");
    let partitions = db.stats().partitions;
    assert!(partitions[0].segments >= 2);
    assert!(
        partitions[1..].iter().all(|p| p.segments == 1),
        "{partitions:?}"
    );
}

#[test]
fn retention_drops_an_expired_partition_whose_segment_is_damaged() {
    let fs = base(4);
    let seg = segments(&fs)[0].clone();
    let damaged = flip(&fs.contents(&seg).expect("segment"), 20);
    fs.set_contents(&seg, &damaged).expect("damage");
    // The newest point is ~24 minutes in: 10 minutes of retention expire the first
    // partition (0-10 minutes) at least.
    let db = Db::open(
        DB,
        options(&fs)
            .retention(Duration::from_secs(600))
            .retention_clock(sedimentdb::RetentionClock::NewestPoint),
    )
    .expect("open");
    assert!(read_all(&db).is_err(), "the damage is visible before");
    assert_eq!(db.compact().expect("compact").skipped.len(), 1);
    let first = db.stats().partitions[0].clone();
    let report = db.apply_retention().expect("retention needs no decoding");
    assert!(report.segments >= 1);
    assert!(fs.contents(&seg).is_none(), "the damaged file is gone");
    assert!(db.stats().partitions.iter().all(|p| p.start != first.start));
    // What is left reads back exactly: every point at or after the cut-off.
    let got = read_all(&db).expect("the rest reads");
    let (want, _) = without(&expected_series(0..BATCHES), i64::MIN, report.cutoff - 1);
    for (s, points) in &got {
        let want_s: Vec<_> = want.get(s).cloned().unwrap_or_default();
        // Retention drops whole segments: points before the cut-off may remain.
        assert!(points.ends_with(&want_s), "series {s}");
    }
    assert_eq!(db.compact().expect("compact").skipped.len(), 0);
}

/// What the database holds after the crash: the segment live (old state) or
/// quarantined (new state), never lost; and nothing half-done left behind.
fn check_either_state(fs: &FaultFs, seg: &Path, original: &[u8], all: &Contents) -> bool {
    let db = Db::open(DB, options(fs)).expect("reopen after the crash");
    assert!(
        quarantined(fs)
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "tmp")),
        "temporary copies removed: {:?}",
        quarantined(fs)
    );
    for copy in quarantined(fs) {
        assert_eq!(fs.contents(&copy).as_deref(), Some(original), "{copy:?}");
    }
    let live = db.stats().segments as usize == segments(fs).len()
        && fs.contents(seg).as_deref() == Some(original);
    let got = read_all(&db).expect("read");
    if got == *all {
        assert!(live, "every point is there, so the segment must be live");
        // Quarantining it now works.
        db.quarantine_segment(seg)
            .expect("quarantine after the crash");
        return false;
    }
    assert!(
        !quarantined(fs).is_empty(),
        "the segment is gone but not in quarantine"
    );
    assert!(
        fs.contents(seg).is_none(),
        "an unlisted original is an orphan, removed"
    );
    true
}

#[test]
fn a_crash_at_every_call_of_a_quarantine_leaves_either_state() {
    let base = base(15);
    let seg = segments(&base)[1].clone();
    let original = base.contents(&seg).expect("segment");
    let all = expected_series(0..BATCHES);
    // Count the calls a quarantine makes.
    let calls = {
        let fs = base.deep_clone();
        let db = Db::open(DB, options(&fs)).expect("open");
        let start = fs.calls();
        db.quarantine_segment(&seg).expect("quarantine");
        fs.calls() - start
    };
    assert!(calls >= 8, "{calls}");
    let (mut old, mut new) = (0, 0);
    for k in 0..calls {
        for fault in [Fault::Crash, Fault::PowerCut, Fault::Eio] {
            let fs = base.deep_clone();
            let db = Db::open(DB, options(&fs)).expect("open");
            fs.add_rule(FaultRule::at_call(fs.calls() + k, fault));
            let result = db.quarantine_segment(&seg);
            if fault == Fault::Eio {
                // A failed call is a typed error, and the database stays usable.
                if let Err(e) = &result {
                    assert!(matches!(e, Error::Io { .. }), "call {k}: {e}");
                }
                assert!(read_all(&db).is_ok(), "call {k}: reads go on");
            }
            drop(db);
            if fault == Fault::PowerCut && !fs.is_down() {
                fs.power_cut();
            }
            fs.reboot();
            if check_either_state(&fs, &seg, &original, &all) {
                new += 1;
            } else {
                old += 1;
            }
        }
    }
    eprintln!("quarantine crash sweep: {calls} calls x 3 faults: {old} old state, {new} new");
    assert!(old > 0 && new > 0);
}

#[test]
fn a_crash_at_every_call_of_an_open_that_sets_aside_leaves_either_state() {
    let base = base(15);
    let seg = segments(&base)[1].clone();
    let pristine = base.contents(&seg).expect("segment");
    let damaged = flip(&pristine, pristine.len() - TRAILER - 3);
    base.set_contents(&seg, &damaged).expect("damage");
    let opts = |fs: &FaultFs| options(fs).damaged_segments(DamagedSegments::Quarantine);
    // One clean run: how many calls the open makes, and what it leaves.
    let (calls, want) = {
        let fs = base.deep_clone();
        let start = fs.calls();
        let db = Db::open(DB, opts(&fs)).expect("open");
        let calls = fs.calls() - start;
        let q = db.recovery_report().quarantined[0].clone();
        (
            calls,
            without(&expected_series(0..BATCHES), q.min_ts, q.max_ts).0,
        )
    };
    let mut runs = 0;
    for k in 0..calls {
        for fault in [Fault::Crash, Fault::PowerCut, Fault::Eio] {
            let fs = base.deep_clone();
            fs.add_rule(FaultRule::at_call(fs.calls() + k, fault));
            drop(Db::open(DB, opts(&fs)));
            if fault == Fault::PowerCut && !fs.is_down() {
                fs.power_cut();
            }
            fs.reboot();
            // Whatever the interrupted open did, the next one opens without the segment,
            // every copy in quarantine is whole, and the rest is exact.
            let db = Db::open(DB, opts(&fs)).unwrap_or_else(|e| panic!("call {k} {fault:?}: {e}"));
            let copies = quarantined(&fs);
            assert!(!copies.is_empty(), "call {k} {fault:?}: no copy kept");
            for copy in &copies {
                assert_eq!(fs.contents(copy).as_deref(), Some(&damaged[..]), "{copy:?}");
            }
            assert!(fs.contents(&seg).is_none(), "call {k} {fault:?}");
            assert_eq!(db.stats().segments as usize, segments(&fs).len());
            assert_eq!(read_all(&db).expect("read"), want, "call {k} {fault:?}");
            runs += 1;
        }
    }
    eprintln!("set-aside open crash sweep: {calls} calls x 3 faults = {runs} runs");
}
