//! Shared by the reliability tests (`crash.rs`, `fault_*.rs`, `corruption_*.rs`):
//! batches whose every point is a pure function of (batch id, index), so that a test can
//! tell from a database's contents alone which batches it holds, and whether whole.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use sedimentdb::{Db, Selector, SeriesKey, TimeRange, WriteBatch};

/// The metric every test series belongs to.
pub const METRIC: &str = "reliab";
/// Number of distinct series the batches write to.
pub const SERIES: u64 = 7;
/// Most points in one batch; a batch owns this many timestamp slots.
pub const MAX_POINTS: u64 = 48;
/// Timestamp of point 0 of batch 0.
pub const BASE_TS: i64 = 1_700_000_000_000_000_000;
/// Distance between timestamp slots.
pub const STEP: i64 = 1_000_000_000;

/// SplitMix64: a good hash of a counter, and the RNG of these tests.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small seeded RNG.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// The key of test series `s`.
pub fn key(s: u64) -> SeriesKey {
    SeriesKey::new(METRIC)
        .with("host", format!("h{}", s % 3))
        .with("s", format!("{s}"))
}

/// Points in batch `id`: 1 to `MAX_POINTS`.
pub fn points_in(id: u64) -> u64 {
    1 + mix(id) % MAX_POINTS
}

/// Point `i` of batch `id`: (series, timestamp, value). Every (id, i) has its own
/// timestamp, so batches never overwrite each other.
pub fn point(id: u64, i: u64) -> (u64, i64, f64) {
    let slot = id * MAX_POINTS + i;
    let h = mix(slot ^ 0xa5a5_0000_0000_0000);
    let ts = BASE_TS + slot as i64 * STEP;
    let series = mix(slot) % SERIES;
    // Values that exercise every value codec: decimals, arbitrary floats, counters,
    // constants and negative zero.
    let value = match h % 5 {
        0 => (h >> 8) as f64 % 100_000.0 / 100.0,
        1 => {
            let v = f64::from_bits(h);
            if v.is_finite() {
                v
            } else {
                (h >> 12) as f64
            }
        }
        2 => slot as f64,
        3 => 42.0,
        _ => -0.0,
    };
    (series, ts, value)
}

/// The (batch id, index) a timestamp belongs to, if it is one of ours.
pub fn slot_of(ts: i64) -> Option<(u64, u64)> {
    let off = ts.checked_sub(BASE_TS)?;
    if off < 0 || off % STEP != 0 {
        return None;
    }
    let slot = (off / STEP) as u64;
    Some((slot / MAX_POINTS, slot % MAX_POINTS))
}

/// Batch `id` as a write batch (series named by key, created on first use).
pub fn batch(id: u64) -> WriteBatch {
    let n = points_in(id);
    let mut b = WriteBatch::with_capacity(n as usize);
    for i in 0..n {
        let (s, ts, v) = point(id, i);
        b.push_key(&key(s), ts, v);
    }
    b
}

/// A `delete_series` call, as the checker models it: points of `series` (every series
/// if `None`) with a timestamp in `[start, end)` from the batches in `before` (written
/// before the call). Retention is modelled as a `partial` deletion.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub series: Option<u64>,
    pub start: i64,
    pub end: i64,
    pub before: BTreeSet<u64>,
    /// The call returned `Ok`: the deletion must hold. Otherwise it may or may not have
    /// taken effect, but if it did, it did for every point it covers.
    pub certain: bool,
    /// Any subset of the points covered may be gone, whether the call succeeded or not:
    /// retention drops whole segment files older than a cut-off measured from the newest
    /// point, so which of the covered points it removes depends on how they were cut
    /// into segments. (`end` is then an upper bound of the cut-off.)
    pub partial: bool,
}

impl Deletion {
    /// Retention (or a per-selector retention rule) run after the batches in `before`:
    /// points of `series` older than `end` may be gone, any of them.
    pub fn retention(series: Option<u64>, end: i64, before: BTreeSet<u64>) -> Deletion {
        Deletion {
            series,
            start: i64::MIN,
            end,
            before,
            certain: false,
            partial: true,
        }
    }

    fn covers(&self, id: u64, series: u64, ts: i64) -> bool {
        self.series.is_none_or(|s| s == series)
            && self.start <= ts
            && ts < self.end
            && self.before.contains(&id)
    }
}

/// The newest timestamp any batch in `ids` wrote.
pub fn newest_ts(ids: &BTreeSet<u64>) -> Option<i64> {
    ids.iter()
        .flat_map(|&id| (0..points_in(id)).map(move |i| point(id, i).1))
        .max()
}

/// Reads everything in `db` and checks it against the model: every point is one that
/// some batch wrote, with its exact value and series; every batch present is present
/// whole (batches are atomic); every batch in `acked` is present; every batch present
/// satisfies `may_exist`. Returns the batches present, or what was wrong.
pub fn check(
    db: &Db,
    acked: &BTreeSet<u64>,
    may_exist: impl Fn(u64) -> bool,
) -> Result<BTreeSet<u64>, String> {
    check_with_deletions(db, acked, may_exist, &[])
}

/// [`check`], with the points `deletions` remove taken out of the batches they touch.
pub fn check_with_deletions(
    db: &Db,
    acked: &BTreeSet<u64>,
    may_exist: impl Fn(u64) -> bool,
    deletions: &[Deletion],
) -> Result<BTreeSet<u64>, String> {
    let mut seen: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let iter = db
        .select(&Selector::any(), TimeRange::all())
        .map_err(|e| format!("select failed: {e}"))?;
    for series in iter {
        let series = series.map_err(|e| format!("reading a series failed: {e}"))?;
        let s: u64 = series
            .key
            .dimension("s")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unknown series {}", series.key))?;
        for (ts, v) in series.iter() {
            let (id, i) =
                slot_of(ts).ok_or_else(|| format!("series {s}: foreign timestamp {ts}"))?;
            if i >= points_in(id) {
                return Err(format!(
                    "series {s}: point {i} of batch {id} was never written"
                ));
            }
            let (want_s, _, want_v) = point(id, i);
            if want_s != s {
                return Err(format!(
                    "point {i} of batch {id} is in series {s}, written to {want_s}"
                ));
            }
            if want_v.to_bits() != v.to_bits() {
                return Err(format!(
                    "point {i} of batch {id}: value {v:?}, written {want_v:?}"
                ));
            }
            if !seen.entry(id).or_default().insert(i) {
                return Err(format!("point {i} of batch {id} read twice"));
            }
        }
    }
    // Per uncertain deletion: (seen a point it covers, missed one).
    let mut evidence = vec![(false, false); deletions.len()];
    for (&id, points) in &seen {
        if !may_exist(id) {
            return Err(format!("batch {id} is present but was never written"));
        }
        for i in 0..points_in(id) {
            let (s, ts, _) = point(id, i);
            let covering: Vec<usize> = (0..deletions.len())
                .filter(|&d| deletions[d].covers(id, s, ts))
                .collect();
            let present = points.contains(&i);
            if covering.iter().any(|&d| deletions[d].partial) {
                // Present or not, either is right.
            } else if covering.iter().any(|&d| deletions[d].certain) {
                if present {
                    return Err(format!("point {i} of batch {id} was deleted but is back"));
                }
            } else if covering.is_empty() {
                if !present {
                    return Err(format!(
                        "batch {id} is partly present: point {i} of {} missing",
                        points_in(id)
                    ));
                }
            } else if let [d] = covering[..] {
                if present {
                    evidence[d].0 = true;
                } else {
                    evidence[d].1 = true;
                }
            }
        }
    }
    if let Some(d) = evidence.iter().position(|&(kept, gone)| kept && gone) {
        return Err(format!("deletion {d} took effect for some points only"));
    }
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|&id| !seen.contains_key(&id))
        .filter(|&id| {
            // A batch all of whose points may have been deleted proves nothing.
            (0..points_in(id)).any(|i| {
                let (s, ts, _) = point(id, i);
                !deletions.iter().any(|d| d.covers(id, s, ts))
            })
        })
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "{} acknowledged batches lost: {:?}",
            lost.len(),
            &lost[..lost.len().min(20)]
        ));
    }
    Ok(seen.into_keys().collect())
}

/// Every point of batches `ids`, by series, sorted by time: what a database holding
/// exactly those batches returns.
pub fn expected_series(ids: impl IntoIterator<Item = u64>) -> BTreeMap<u64, Vec<(i64, u64)>> {
    let mut out: BTreeMap<u64, Vec<(i64, u64)>> = BTreeMap::new();
    for id in ids {
        for i in 0..points_in(id) {
            let (s, ts, v) = point(id, i);
            out.entry(s).or_default().push((ts, v.to_bits()));
        }
    }
    for points in out.values_mut() {
        points.sort_unstable();
    }
    out
}

/// How a database with one damaged file behaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `open` refused with `Corruption` or `UnsupportedVersion` naming the file.
    OpenRefused,
    /// `open` worked; reading this many series failed with `Corruption` naming the
    /// file, every other series read back exactly.
    ReadRefused(usize),
    /// Everything read back exactly (the damage was in bytes no reader depends on).
    Harmless,
    /// Anything else: a panic, an error naming another file or of another kind, a
    /// wrong or missing point.
    Violation(String),
}

/// Opens a database whose file `damaged` was damaged and judges what it does; see
/// [`Verdict`]. `expected` is every series' full contents.
pub fn judge(
    open: impl FnOnce() -> sedimentdb::Result<Db>,
    damaged: &std::path::Path,
    expected: &BTreeMap<u64, Vec<(i64, u64)>>,
) -> Verdict {
    use sedimentdb::Error;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let db = match open() {
            Err(Error::Corruption { file, .. } | Error::UnsupportedVersion { file, .. })
                if file == damaged =>
            {
                return Verdict::OpenRefused
            }
            Err(e) => return Verdict::Violation(format!("open failed otherwise: {e}")),
            Ok(db) => db,
        };
        let iter = match db.select(&Selector::any(), TimeRange::all()) {
            Ok(iter) => iter,
            Err(e) => return Verdict::Violation(format!("select failed: {e}")),
        };
        let mut good = 0;
        let mut refused = 0;
        for item in iter {
            match item {
                Ok(series) => {
                    let Some(s) = series
                        .key
                        .dimension("s")
                        .and_then(|s| s.parse::<u64>().ok())
                    else {
                        return Verdict::Violation(format!("unknown series {}", series.key));
                    };
                    let got: Vec<(i64, u64)> =
                        series.iter().map(|(t, v)| (t, v.to_bits())).collect();
                    if expected.get(&s) != Some(&got) {
                        return Verdict::Violation(format!(
                            "series {s} read back wrong: {} points, expected {}",
                            got.len(),
                            expected.get(&s).map_or(0, Vec::len)
                        ));
                    }
                    good += 1;
                }
                Err(Error::Corruption { file, .. }) if file == damaged => refused += 1,
                Err(e) => return Verdict::Violation(format!("read failed otherwise: {e}")),
            }
        }
        if good + refused != expected.len() {
            return Verdict::Violation(format!(
                "{} series read, {refused} refused, {} expected: series missing",
                good,
                expected.len()
            ));
        }
        if refused > 0 {
            Verdict::ReadRefused(refused)
        } else {
            Verdict::Harmless
        }
    }));
    result.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Verdict::Violation(format!("PANIC: {msg}"))
    })
}

/// Tally of verdicts over a corruption sweep.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: usize,
    pub open_refused: usize,
    pub read_refused: usize,
    pub harmless: usize,
    /// What was done in the harmless cases (the damage no check caught).
    pub harmless_cases: Vec<String>,
    pub violations: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, what: String, verdict: Verdict) {
        self.cases += 1;
        match verdict {
            Verdict::OpenRefused => self.open_refused += 1,
            Verdict::ReadRefused(_) => self.read_refused += 1,
            Verdict::Harmless => {
                self.harmless += 1;
                self.harmless_cases.push(what);
            }
            Verdict::Violation(v) => self.violations.push(format!("{what}: {v}")),
        }
    }

    pub fn report(&self, name: &str) {
        eprintln!(
            "{name}: {} damaged files tried: open refused {}, read refused {}, harmless {}, \
             violations {}",
            self.cases,
            self.open_refused,
            self.read_refused,
            self.harmless,
            self.violations.len()
        );
        for h in self.harmless_cases.iter().take(40) {
            eprintln!("  harmless: {h}");
        }
        for v in self.violations.iter().take(30) {
            eprintln!("  {v}");
        }
        assert!(
            self.violations.is_empty(),
            "{} violations",
            self.violations.len()
        );
    }
}

/// Offsets to damage in a file of `len` bytes: all of the first `head` and last `tail`
/// bytes, and `spread` more evenly across the rest.
pub fn sample_offsets(len: usize, head: usize, tail: usize, spread: usize) -> Vec<usize> {
    let mut out: BTreeSet<usize> = (0..head.min(len)).collect();
    out.extend(len.saturating_sub(tail)..len);
    if len > 0 && spread > 0 {
        let step = (len / spread).max(1);
        out.extend(
            (0..len)
                .step_by(step)
                .map(|o| (o + len / (2 * spread)) % len),
        );
    }
    out.into_iter().collect()
}
