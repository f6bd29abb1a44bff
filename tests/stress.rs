//! Stress: writer threads, reader threads and a maintenance thread on one database for a
//! bounded time, then the data is compared with what was acknowledged.
//!
//! - **Writers** (one per group of series) write in order, out of order (inside the head
//!   window), late (older partitions, some of them past retention) and rewrites of
//!   timestamps already written (last write wins), in batches of 1 to ~1000 points, with
//!   `Durability::Sync` (every receipt must say durable).
//! - **Readers** select and run downsampling queries while that goes on, and check what
//!   a snapshot must show: timestamps strictly increasing, every value one that was
//!   written for that series and timestamp, and every in-order point acknowledged before
//!   the read (and not yet due for retention) present, in the raw points and in the
//!   per-bucket counts alike. In-order points are never deleted, so a series never loses
//!   points it was seen to have.
//! - **Maintenance** runs flush, compact, compact_partition (warm and cold),
//!   apply_retention and delete_series (on the series set aside for it) in random order.
//!
//! At the end, and again after a reopen, every point must be what the model says: the
//! last acknowledged write of each (series, timestamp), unless a deletion that started
//! after that write covers it (then absent) or overlapped it (either), and points older
//! than the retention cutoff may be gone.
//!
//! Every point's value encodes its series, timestamp and write version, so any point
//! read can be checked on its own. `SEDIMENTDB_STRESS_SECS` sets the load phase (default
//! 5 s); e.g. `SEDIMENTDB_STRESS_SECS=600 cargo test --release --test stress`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sedimentdb::{
    Aggregate, Db, Durability, Matcher, Options, Query, Selector, SeriesHandle, SeriesKey, Tier,
    TimeRange, WriteBatch,
};

const METRIC: &str = "stress";
const WRITERS: u64 = 4;
/// Series per writer; series 0 of each writer is the one deletions target.
const SERIES_PER_WRITER: u64 = 4;
const READERS: usize = 2;
/// A multiple of every bucket width and the partition length (epoch-aligned), so that
/// buckets and partitions start at slots that are multiples of their width.
const BASE_TS: i64 = 1_699_992_000_000_000_000;
/// One timestamp slot ("k") is a second.
const STEP: i64 = 1_000_000_000;
/// First in-order slot; late writes reach back up to `VERY_LATE` below the cursor.
const FIRST_K: u64 = 100_000;
const PARTITION_K: u64 = 3600;
const HEAD_WINDOW_K: u64 = 600;
const RETENTION_K: u64 = 6 * 3600;
const VERY_LATE_K: u64 = 30_000;
/// A writer ahead of the slowest by more than this waits, so that no writer's data falls
/// behind the retention cutoff the fastest one sets.
const MAX_LAG_K: u64 = 4000;
/// Write versions wrap at this (a point rewritten this often looks new again).
const VERSIONS: u64 = 1024;

fn secs() -> u64 {
    std::env::var("SEDIMENTDB_STRESS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn options() -> Options {
    Options::default()
        .durability(Durability::Sync)
        // Cheap cold re-encoding, so that maintenance keeps pace with the writers.
        .cold_zstd_level(3)
        .partition_duration(Duration::from_secs(PARTITION_K))
        .head_window(Duration::from_secs(HEAD_WINDOW_K))
        .head_memory_budget(8 << 20)
        .chunk_points(128)
        .cold_chunk_points(512)
        .warm_duration(Duration::from_secs(2 * PARTITION_K))
        .retention(Duration::from_secs(RETENTION_K))
        .retention_clock(sedimentdb::RetentionClock::NewestPoint)
        .wal_file_size(256 << 10)
}

fn ts(k: u64) -> i64 {
    BASE_TS + k as i64 * STEP
}

fn k_of(ts: i64) -> Option<u64> {
    let off = ts.checked_sub(BASE_TS)?;
    (off >= 0 && off % STEP == 0).then_some((off / STEP) as u64)
}

/// Series `g` (0..WRITERS * SERIES_PER_WRITER) belongs to writer `g / SERIES_PER_WRITER`.
fn key(g: u64) -> SeriesKey {
    let w = g / SERIES_PER_WRITER;
    let local = g % SERIES_PER_WRITER;
    SeriesKey::new(METRIC)
        .with("w", w.to_string())
        .with("g", g.to_string())
        .with("del", if local == 0 { "yes" } else { "no" })
}

fn series_of(key: &SeriesKey) -> u64 {
    key.dimension("g")
        .and_then(|g| g.parse().ok())
        .unwrap_or_else(|| panic!("foreign series {key}"))
}

fn value(k: u64, g: u64, version: u64) -> f64 {
    ((k * WRITERS * SERIES_PER_WRITER + g) * VERSIONS + version) as f64
}

/// (k, series, version) a value encodes, if it is one of ours.
fn decode(v: f64) -> Option<(u64, u64, u64)> {
    if !(v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53)) {
        return None;
    }
    let x = v as u64;
    let kg = x / VERSIONS;
    Some((
        kg / (WRITERS * SERIES_PER_WRITER),
        kg % (WRITERS * SERIES_PER_WRITER),
        x % VERSIONS,
    ))
}

/// Checks one point read from series `g` on its own: its value must be one written there.
fn check_point(g: u64, t: i64, v: f64) -> Result<u64, String> {
    let k = k_of(t).ok_or_else(|| format!("series {g}: foreign timestamp {t}"))?;
    match decode(v) {
        Some((vk, vg, _)) if vk == k && vg == g => Ok(k),
        _ => Err(format!(
            "series {g}: value {v:?} at slot {k} was never written there"
        )),
    }
}

/// The last acknowledged write of one (series, slot).
#[derive(Debug, Clone, Copy)]
struct LastWrite {
    version: u64,
    /// Logical clock before the write call and after it returned.
    start: u64,
    end: u64,
}

/// A `delete_series` call: slots `[lo, hi)` of the deletable series of `writers`.
#[derive(Debug, Clone)]
struct Deletion {
    writers: Vec<u64>,
    lo: u64,
    hi: u64,
    start: u64,
    end: u64,
}

impl Deletion {
    fn covers(&self, g: u64, k: u64) -> bool {
        g.is_multiple_of(SERIES_PER_WRITER)
            && self.writers.contains(&(g / SERIES_PER_WRITER))
            && self.lo <= k
            && k < self.hi
    }
}

/// What the threads share.
struct Shared {
    db: Db,
    /// Logical clock ordering writes and deletions.
    clock: AtomicU64,
    /// Largest slot any writer has started to write (retention's "now" is at most this).
    max_k: AtomicU64,
    /// Per writer: every even slot below this was written in order and acknowledged.
    cursors: Vec<AtomicU64>,
    deletions: Mutex<Vec<Deletion>>,
    stop_writers: AtomicBool,
    stop_others: AtomicBool,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    points: AtomicU64,
    selects: AtomicU64,
    queries: AtomicU64,
    points_checked: AtomicU64,
    flushes: AtomicU64,
    compactions: AtomicU64,
    partition_compactions: AtomicU64,
    retentions: AtomicU64,
    segments_dropped: AtomicU64,
    deletions: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

type Model = BTreeMap<u64, BTreeMap<u64, LastWrite>>;

fn writer(shared: &Shared, w: u64, seed: u64) -> Model {
    let db = &shared.db;
    let mut rng = Rng(seed);
    let series: Vec<u64> = (0..SERIES_PER_WRITER)
        .map(|i| w * SERIES_PER_WRITER + i)
        .collect();
    let handles: Vec<SeriesHandle> = series
        .iter()
        .map(|&g| db.series(&key(g)).unwrap())
        .collect();
    let mut model: Model = series.iter().map(|&g| (g, BTreeMap::new())).collect();
    let mut cursor = FIRST_K;
    let mut batch = WriteBatch::new();
    let mut slots: Vec<(usize, u64)> = Vec::new();
    let mut since_prune = 0u64;
    while !shared.stop_writers.load(Ordering::Relaxed) {
        // Wait for the slowest writer (bounded by the stop flag).
        let slowest = shared
            .cursors
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(cursor);
        if cursor > slowest + MAX_LAG_K {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        slots.clear();
        let sizes = [1, 4, 32, 250];
        let n = sizes[rng.below(4) as usize];
        let kind = rng.below(100);
        let mut in_order = false;
        if kind < 55 {
            // In order: the next `n` even slots of every series.
            in_order = true;
            for i in 0..n {
                for s in 0..series.len() {
                    slots.push((s, cursor + 2 * i));
                }
            }
        } else {
            let reach = match kind {
                55..=74 => HEAD_WINDOW_K,      // out of order, inside the head
                75..=84 => HEAD_WINDOW_K * 10, // late: older partitions
                85..=89 => VERY_LATE_K,        // very late: past retention too
                _ => 2 * HEAD_WINDOW_K,        // rewrites of in-order points
            };
            let rewrite = kind >= 90;
            for _ in 0..n {
                let back = 1 + rng.below(reach.min(cursor - 1));
                let mut k = cursor - back;
                // Odd slots are new points (or rewrites of them); even ones rewrites.
                if rewrite {
                    k &= !1;
                } else {
                    k |= 1;
                }
                let s = rng.below(series.len() as u64) as usize;
                if k < cursor && !slots.contains(&(s, k)) {
                    slots.push((s, k));
                }
            }
        }
        batch.clear();
        let by_key = rng.below(4) == 0;
        let mut versions = Vec::with_capacity(slots.len());
        let mut top = 0;
        for &(s, k) in &slots {
            let g = series[s];
            let version = model[&g].get(&k).map_or(0, |l| (l.version + 1) % VERSIONS);
            versions.push(version);
            top = top.max(k);
            if by_key {
                batch.push_key(&key(g), ts(k), value(k, g, version));
            } else {
                batch.push(handles[s], ts(k), value(k, g, version));
            }
        }
        shared.max_k.fetch_max(top, Ordering::SeqCst);
        let start = shared.clock.fetch_add(1, Ordering::SeqCst);
        let receipt = db.write(&batch).expect("write");
        let end = shared.clock.fetch_add(1, Ordering::SeqCst);
        assert!(receipt.durable, "a Sync write was not durable");
        assert_eq!(receipt.points, slots.len());
        for (&(s, k), &version) in slots.iter().zip(&versions) {
            model.get_mut(&series[s]).unwrap().insert(
                k,
                LastWrite {
                    version,
                    start,
                    end,
                },
            );
        }
        if in_order {
            cursor += 2 * n;
            shared.cursors[w as usize].store(cursor, Ordering::SeqCst);
        }
        bump(&shared.counts.batches, 1);
        bump(&shared.counts.points, slots.len() as u64);
        since_prune += 1;
        if since_prune == 1000 {
            // Slots this far back are past any retention cutoff at the end: forget them,
            // so a long run's model stays small.
            since_prune = 0;
            let line = shared
                .max_k
                .load(Ordering::SeqCst)
                .saturating_sub(RETENTION_K + VERY_LATE_K);
            for m in model.values_mut() {
                *m = m.split_off(&line);
            }
        }
    }
    model
}

/// Slots that a read made after the cursor of writer `w` was `cursor` must hold in each
/// of that writer's undeletable series: every even slot from the retention line up.
fn required_even(shared: &Shared, cursor: u64) -> std::ops::Range<u64> {
    // Read after the snapshot: no retention run before it cut above this line.
    let line = shared
        .max_k
        .load(Ordering::SeqCst)
        .saturating_sub(RETENTION_K)
        .max(FIRST_K);
    let line = line + (line & 1);
    line..cursor.max(line)
}

fn reader(shared: &Shared, seed: u64) {
    let db = &shared.db;
    let mut rng = Rng(seed);
    while !shared.stop_others.load(Ordering::Relaxed) {
        let w = rng.below(WRITERS);
        let cursor = shared.cursors[w as usize].load(Ordering::SeqCst);
        let kept = Selector::metric(METRIC)
            .with(Matcher::eq("w", w.to_string()))
            .with(Matcher::eq("del", "no"));
        if rng.below(2) == 0 {
            // Raw points of the writer's undeletable series.
            let iter = db.select(&kept, TimeRange::all()).expect("select");
            let mut got = Vec::new();
            for series in iter {
                got.push(series.expect("read a series"));
            }
            let required = required_even(shared, cursor);
            for series in &got {
                let g = series_of(&series.key);
                let mut evens = 0u64;
                for pair in series.timestamps.windows(2) {
                    assert!(pair[0] < pair[1], "series {g}: timestamps not increasing");
                }
                for (t, v) in series.iter() {
                    let k = check_point(g, t, v).unwrap_or_else(|e| panic!("select: {e}"));
                    evens += u64::from(k.is_multiple_of(2) && required.contains(&k));
                }
                let want = (required.end - required.start) / 2;
                assert_eq!(
                    evens, want,
                    "series {g}: {evens} of the {want} acknowledged in-order points in \
                     slots {required:?} visible"
                );
                bump(&shared.counts.points_checked, series.len() as u64);
            }
            if !required.is_empty() {
                assert_eq!(
                    got.len() as u64,
                    SERIES_PER_WRITER - 1,
                    "writer {w}: undeletable series missing"
                );
            }
            // The deletable series: only their points' own consistency.
            let deletable = Selector::metric(METRIC)
                .with(Matcher::eq("w", w.to_string()))
                .with(Matcher::eq("del", "yes"));
            for series in db.select(&deletable, TimeRange::all()).expect("select") {
                let series = series.expect("read a series");
                let g = series_of(&series.key);
                for pair in series.timestamps.windows(2) {
                    assert!(pair[0] < pair[1], "series {g}: timestamps not increasing");
                }
                for (t, v) in series.iter() {
                    check_point(g, t, v).unwrap_or_else(|e| panic!("select: {e}"));
                }
            }
            bump(&shared.counts.selects, 2);
        } else {
            // Downsampled counts and maxima over a recent window of one series.
            let g = w * SERIES_PER_WRITER + 1 + rng.below(SERIES_PER_WRITER - 1);
            let bucket_k = [16u64, 64, 600][rng.below(3) as usize];
            let hi = cursor;
            let lo = hi.saturating_sub(bucket_k * (1 + rng.below(40)));
            let sel = Selector::metric(METRIC).with(Matcher::eq("g", g.to_string()));
            let base = Query::select(sel).between(ts(lo), ts(hi));
            let counts = db
                .query(
                    &base
                        .clone()
                        .downsample(Duration::from_secs(bucket_k), Aggregate::Count),
                )
                .expect("count query");
            let maxima = db
                .query(&base.downsample(Duration::from_secs(bucket_k), Aggregate::Max))
                .expect("max query");
            let required = required_even(shared, cursor);
            let mut counted: BTreeMap<u64, f64> = BTreeMap::new();
            for series in counts.iter() {
                for (t, c) in series.points() {
                    let b = k_of(t).expect("bucket start on the grid");
                    assert_eq!(b % bucket_k, 0, "bucket {b} not aligned to {bucket_k}");
                    assert!(c >= 1.0 && c <= bucket_k as f64, "bucket {b}: count {c}");
                    counted.insert(b, c);
                }
            }
            // Every bucket inside [lo, hi) must count its acknowledged in-order points.
            let mut b = lo - lo % bucket_k;
            while b < hi {
                let from = b.max(lo).max(required.start);
                let to = (b + bucket_k).min(hi).min(required.end);
                let must = (from..to).filter(|k| k.is_multiple_of(2)).count() as f64;
                let got = counted.get(&b).copied().unwrap_or(0.0);
                assert!(
                    got >= must,
                    "series {g}: bucket {b} counts {got} points, {must} acknowledged"
                );
                b += bucket_k;
            }
            for series in maxima.iter() {
                for (t, m) in series.points() {
                    let b = k_of(t).expect("bucket start on the grid");
                    let (mk, mg, _) = decode(m)
                        .unwrap_or_else(|| panic!("series {g}: bucket {b} max {m} not written"));
                    assert_eq!(mg, g, "bucket {b}: max from another series");
                    assert!(
                        mk >= b.max(lo) && mk < (b + bucket_k).min(hi),
                        "series {g}: bucket {b} max from slot {mk}, outside [{lo}, {hi})"
                    );
                }
            }
            bump(&shared.counts.queries, 2);
        }
    }
}

fn maintenance(shared: &Shared, seed: u64) {
    let db = &shared.db;
    let mut rng = Rng(seed);
    while !shared.stop_others.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(rng.below(30)));
        let now = shared.max_k.load(Ordering::SeqCst);
        match rng.below(10) {
            0..=2 => {
                db.flush().expect("flush");
                bump(&shared.counts.flushes, 1);
            }
            3 | 4 => {
                db.compact().expect("compact");
                bump(&shared.counts.compactions, 1);
            }
            5 => {
                let k = now.saturating_sub(rng.below(4 * PARTITION_K));
                let tier = if rng.below(2) == 0 {
                    Tier::Warm
                } else {
                    Tier::Cold
                };
                db.compact_partition(ts(k), tier)
                    .expect("compact_partition");
                bump(&shared.counts.partition_compactions, 1);
            }
            6 | 7 => {
                let report = db.apply_retention().expect("apply_retention");
                bump(&shared.counts.retentions, 1);
                bump(&shared.counts.segments_dropped, report.segments);
            }
            _ => {
                let writers: Vec<u64> = if rng.below(3) == 0 {
                    (0..WRITERS).collect()
                } else {
                    vec![rng.below(WRITERS)]
                };
                let hi = now.saturating_sub(rng.below(2 * HEAD_WINDOW_K));
                let lo = hi.saturating_sub(1 + rng.below(3 * HEAD_WINDOW_K));
                let mut sel = Selector::metric(METRIC).with(Matcher::eq("del", "yes"));
                if let [w] = writers[..] {
                    sel = sel.with(Matcher::eq("w", w.to_string()));
                }
                let start = shared.clock.fetch_add(1, Ordering::SeqCst);
                db.delete_series(&sel, TimeRange::new(ts(lo), ts(hi)))
                    .expect("delete_series");
                let end = shared.clock.fetch_add(1, Ordering::SeqCst);
                shared.deletions.lock().unwrap().push(Deletion {
                    writers,
                    lo,
                    hi,
                    start,
                    end,
                });
                bump(&shared.counts.deletions, 1);
            }
        }
    }
}

/// Compares everything in `db` with the model; slots below `line` may be gone.
fn check_final(db: &Db, model: &Model, deletions: &[Deletion], line: u64) -> Result<u64, String> {
    let mut found: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    for series in db
        .select(&Selector::metric(METRIC), TimeRange::all())
        .map_err(|e| format!("select: {e}"))?
    {
        let series = series.map_err(|e| format!("read: {e}"))?;
        let g = series_of(&series.key);
        let mut last = None;
        for (t, v) in series.iter() {
            if last.is_some_and(|l| l >= t) {
                return Err(format!("series {g}: timestamps not increasing at {t}"));
            }
            last = Some(t);
            let k = check_point(g, t, v)?;
            let version = decode(v).map_or(0, |(_, _, version)| version);
            found.entry(g).or_default().insert(k, version);
        }
    }
    let mut checked = 0u64;
    for (&g, writes) in model {
        let present = found.remove(&g).unwrap_or_default();
        for (&k, got) in present.range(line..) {
            if !writes.contains_key(&k) {
                return Err(format!(
                    "series {g}: slot {k} (version {got}) was never written"
                ));
            }
        }
        for (&k, write) in writes.range(line..) {
            // Only deletions that did not end before this write began can touch it.
            let mut after = false;
            let mut racing = false;
            for d in deletions
                .iter()
                .filter(|d| d.covers(g, k) && d.end > write.start)
            {
                if d.start > write.end {
                    after = true;
                } else {
                    racing = true;
                }
            }
            let got = present.get(&k).copied();
            let ok = if after {
                got.is_none()
            } else if racing {
                got.is_none() || got == Some(write.version)
            } else {
                got == Some(write.version)
            };
            if !ok {
                let covering: Vec<_> = deletions.iter().filter(|d| d.covers(g, k)).collect();
                return Err(format!(
                    "series {g} slot {k}: found version {got:?}, last acknowledged write \
                     {write:?} (deleted after it: {after}, deletion racing it: {racing}); \
                     deletions covering the slot: {covering:?}"
                ));
            }
            checked += 1;
        }
    }
    if let Some((g, _)) = found.into_iter().next() {
        return Err(format!("series {g} was never written"));
    }
    Ok(checked)
}

#[test]
fn writers_readers_and_maintenance_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("SEDIMENTDB_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let shared = Arc::new(Shared {
        db: Db::open(dir.path(), options()).unwrap(),
        clock: AtomicU64::new(0),
        max_k: AtomicU64::new(FIRST_K),
        cursors: (0..WRITERS).map(|_| AtomicU64::new(FIRST_K)).collect(),
        deletions: Mutex::new(Vec::new()),
        stop_writers: AtomicBool::new(false),
        stop_others: AtomicBool::new(false),
        counts: Counts::default(),
    });
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let shared = shared.clone();
            std::thread::spawn(move || writer(&shared, w, seed ^ ((w + 1) * 0x1000)))
        })
        .collect();
    let others: Vec<_> = (0..READERS)
        .map(|r| {
            let shared = shared.clone();
            std::thread::spawn(move || reader(&shared, seed ^ ((r as u64 + 1) * 0x10_0000)))
        })
        .chain(std::iter::once({
            let shared = shared.clone();
            std::thread::spawn(move || maintenance(&shared, seed ^ 0xabcd))
        }))
        .collect();

    // The load phase, cut short if a thread dies (its panic is reported below).
    let deadline = started + Duration::from_secs(secs());
    while Instant::now() < deadline
        && writers.iter().all(|h| !h.is_finished())
        && others.iter().all(|h| !h.is_finished())
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stop_writers.store(true, Ordering::SeqCst);
    let mut model = Model::new();
    let mut failure = None;
    for h in writers {
        match h.join() {
            Ok(m) => model.extend(m),
            Err(p) => failure = failure.or(Some(p)),
        }
    }
    shared.stop_others.store(true, Ordering::SeqCst);
    for h in others {
        if let Err(p) = h.join() {
            failure = failure.or(Some(p));
        }
    }
    if let Some(p) = failure {
        std::panic::resume_unwind(p);
    }
    let load_secs = started.elapsed().as_secs_f64();

    let deletions = shared.deletions.lock().unwrap().clone();
    let line = shared
        .max_k
        .load(Ordering::SeqCst)
        .saturating_sub(RETENTION_K);
    let checked = check_final(&shared.db, &model, &deletions, line)
        .unwrap_or_else(|e| panic!("after the load: {e}"));
    let stats = shared.db.stats();
    shared.db.close().unwrap();
    let reopened = Db::open(dir.path(), options()).unwrap();
    let checked_again = check_final(&reopened, &model, &deletions, line)
        .unwrap_or_else(|e| panic!("after reopening: {e}"));
    assert_eq!(checked, checked_again);
    reopened.close().unwrap();

    let c = &shared.counts;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "stress: {load_secs:.1} s, {} writers / {READERS} readers / 1 maintenance thread: \
         {} batches, {} points written; {} selects, {} queries, {} points checked by \
         readers; {} flushes, {} compactions, {} partition compactions, {} retention runs \
         ({} segments dropped), {} deletions; at the end {} segments in {} partitions, \
         {checked} slots checked exactly",
        WRITERS,
        n(&c.batches),
        n(&c.points),
        n(&c.selects),
        n(&c.queries),
        n(&c.points_checked),
        n(&c.flushes),
        n(&c.compactions),
        n(&c.partition_compactions),
        n(&c.retentions),
        n(&c.segments_dropped),
        n(&c.deletions),
        stats.segments,
        stats.partitions.len(),
    );
    assert!(n(&c.batches) > 0 && n(&c.selects) + n(&c.queries) > 0);
}
