//! Entry points of the fuzz targets under `fuzz/` for the file decoders, also run by
//! `tests/fuzz_replay.rs` on stored inputs and pseudo-random ones. Each takes arbitrary
//! bytes as the content of one file and must return (an error is fine) without
//! panicking, reading out of bounds or allocating without limit. Not part of the API.

use std::path::Path;

use crate::options::RecoveryMode;
use crate::storage::{FaultFs, FileSystem, ReadMode};

/// Writes `data` as `path` on a fresh in-memory file system.
fn fs_with(path: &Path, data: &[u8]) -> FaultFs {
    let fs = FaultFs::new(0);
    if let Some(dir) = path.parent() {
        fs.create_dir_all(dir).expect("in-memory mkdir");
    }
    let file = fs.create_new(path).expect("in-memory create");
    file.append(data).expect("in-memory write");
    file.sync().expect("in-memory fsync");
    fs
}

/// WAL replay of `data` as the only (newest) WAL file, and as an older file followed by
/// an empty newest one, in strict and salvage modes.
pub fn wal_replay(data: &[u8]) {
    let dir = Path::new("/db/wal");
    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        let fs = fs_with(&dir.join(crate::wal::file_name(1)), data);
        let mut points = 0usize;
        let _ = crate::wal::replay(&fs, dir, 1, mode, |entry, _| {
            if let crate::wal::WalEntry::Points(cols) = entry {
                assert_eq!(cols.series.len(), cols.timestamps.len());
                assert_eq!(cols.series.len(), cols.values.len());
                points += cols.series.len();
            }
            Ok(())
        });
        let fs = fs_with(&dir.join(crate::wal::file_name(1)), data);
        let newest = fs
            .create_new(&dir.join(crate::wal::file_name(2)))
            .expect("create");
        drop(newest);
        let _ = crate::wal::replay(&fs, dir, 1, mode, |_, _| Ok(()));
    }
}

/// Opens `data` as a segment file and decodes every chunk it lists.
pub fn segment(data: &[u8]) {
    let path = Path::new("/db/segments/00000000000000000001.seg");
    let fs = fs_with(path, data);
    let Ok(segment) = crate::segment::Segment::open(&fs, path, ReadMode::Buffered) else {
        return;
    };
    let (mut ts, mut values) = (Vec::new(), Vec::new());
    for chunk in segment.chunks() {
        ts.clear();
        values.clear();
        if segment.decode_chunk(chunk, &mut ts, &mut values).is_ok() {
            assert_eq!(ts.len(), chunk.stats.count as usize);
            assert_eq!(values.len(), ts.len());
        }
    }
}

/// Opens `data` as a rollup file and decodes every block it accepts.
pub fn rollup(data: &[u8]) {
    let path = Path::new("/db/segments/00000000000000000002.seg");
    let fs = fs_with(path, data);
    let Ok(rollup) = crate::segment::rollup::Rollup::open(&fs, path, ReadMode::Buffered) else {
        return;
    };
    let mut buckets = Vec::new();
    for block in rollup.blocks() {
        buckets.clear();
        if rollup.decode_block(block, &mut buckets).is_ok() {
            assert_eq!(buckets.len(), block.buckets as usize);
        }
    }
}

/// Decodes `data` as a catalog file and, if it is accepted, uses it.
pub fn catalog(data: &[u8]) {
    if let Ok(catalog) = crate::index::Catalog::decode(data, Path::new("catalog.cat")) {
        let all = catalog.select(&crate::types::Selector::any());
        assert_eq!(all.len(), catalog.len() as u64);
        let _ = catalog.encode();
    }
}

/// Decodes `data` as a manifest and re-encodes what it accepts.
pub fn manifest(data: &[u8]) {
    if let Ok(body) = crate::version::manifest::ManifestBody::decode(data, Path::new("MANIFEST")) {
        let bytes = body.encode().expect("an accepted manifest encodes");
        let again = crate::version::manifest::ManifestBody::decode(&bytes, Path::new("MANIFEST"));
        assert_eq!(again.ok().as_ref(), Some(&body));
    }
}

/// Reads query parameters out of fuzz bytes; past the end, reads continue from a
/// generator seeded by the input, so that short inputs still pick varied parameters
/// (zeros would always pick the first, mostly invalid, choice).
struct Params<'a> {
    data: &'a [u8],
    state: u64,
}

impl Params<'_> {
    fn new(data: &[u8]) -> Params<'_> {
        let seed = data.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        });
        Params {
            data,
            state: seed | 1,
        }
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                (self.state >> 24) as u8
            }
        }
    }

    /// True once in `n` bytes.
    fn one_in(&mut self, n: u8) -> bool {
        self.byte().is_multiple_of(n)
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    /// Mostly small values near the data, sometimes any 64 bits.
    fn timestamp(&mut self) -> i64 {
        match self.byte() % 4 {
            0 => self.u64() as i64,
            // Around the data (0 to 320 s), to the nanosecond.
            _ => {
                i64::from(self.byte() % 70) * 5_000_000_000 - 10_000_000_000
                    + i64::from(self.byte())
            }
        }
    }

    fn duration(&mut self) -> std::time::Duration {
        match self.byte() % 16 {
            0 => std::time::Duration::from_nanos(self.u64()),
            1 => std::time::Duration::ZERO,
            _ => std::time::Duration::from_millis(u64::from(self.byte()) * 250 + 1),
        }
    }

    fn float(&mut self) -> f64 {
        match self.byte() % 8 {
            0 => f64::from_bits(self.u64()),
            1 => f64::NAN,
            2 => f64::INFINITY,
            3 => -0.0,
            _ => f64::from(self.byte() as i8) / 4.0,
        }
    }

    fn text(&mut self, choices: &[&'static str]) -> String {
        let b = self.byte() as usize;
        match (b % 8 != 7).then(|| choices[b / 8 % choices.len()]) {
            Some(s) => s.to_string(),
            None => {
                let n = self.byte() as usize % 12;
                (0..n).map(|_| char::from(self.byte() % 96 + 32)).collect()
            }
        }
    }

    fn aggregate(&mut self) -> crate::query::Aggregate {
        use crate::query::Aggregate::*;
        match self.byte() % 10 {
            0 => Count,
            1 => Sum,
            2 => Min,
            3 => Max,
            4 => Avg,
            5 => First,
            6 => Last,
            7 => Stddev,
            _ => Quantile(self.float()),
        }
    }

    fn value_filter(&mut self) -> crate::query::ValueFilter {
        use crate::query::ValueFilter;
        let x = self.float();
        match self.byte() % 6 {
            0 => ValueFilter::gt(x),
            1 => ValueFilter::ge(x),
            2 => ValueFilter::lt(x),
            3 => ValueFilter::le(x),
            4 => ValueFilter::eq(x),
            _ => ValueFilter::ne(x),
        }
    }
}

/// The database every `query` input runs against: two metrics over four hosts with
/// special values, duplicate and out-of-order points, part in segments (warm and cold),
/// part in the head, and a deletion. Built once per process on the in-memory file system.
fn query_db() -> &'static crate::Db {
    static DB: std::sync::OnceLock<crate::Db> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        use crate::{Db, Durability, Options, SeriesKey, WriteBatch};
        let fs = std::sync::Arc::new(FaultFs::new(0));
        let opts = Options::default()
            .durability(Durability::None)
            .partition_duration(std::time::Duration::from_secs(60))
            .file_system(fs);
        let db = Db::open("/db", opts).expect("in-memory open");
        let sec = 1_000_000_000i64;
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e308];
        for round in 0..3i64 {
            let mut batch = WriteBatch::new();
            for host in 0..4 {
                for metric in ["cpu", "mem"] {
                    let key = SeriesKey::new(metric)
                        .with("host", format!("h{host}"))
                        .with("region", if host % 2 == 0 { "eu" } else { "us" });
                    let h = db.series(&key).expect("series");
                    for i in 0..120i64 {
                        let t = round * 100 * sec + (i * 7 % 120) * sec;
                        let v = if i % 37 == 5 {
                            specials[(i as usize / 37 + host) % specials.len()]
                        } else {
                            ((i * (host as i64 + 1)) % 50) as f64 - 10.0
                        };
                        batch.push(h, t, v);
                    }
                }
            }
            db.write(&batch).expect("write");
            if round < 2 {
                db.flush().expect("flush");
            }
            if round == 0 {
                db.compact_partition(0, crate::Tier::Cold).expect("compact");
            }
        }
        let gone = crate::Selector::metric("mem").with(crate::Matcher::eq("host", "h3"));
        db.delete_series(&gone, crate::TimeRange::new(50 * sec, 150 * sec))
            .expect("delete");
        db
    })
}

/// Builds a query from arbitrary bytes (every builder call, parameters at and past their
/// limits), runs it, and checks what holds for any query: it returns, it honours its
/// limit, and the serial and parallel paths give bit-identical answers.
pub fn query(data: &[u8]) {
    use crate::query::{Fill, Parallelism, Query, QueryLimits};
    use crate::{Matcher, Selector, TimeRange};
    let db = query_db();
    let mut p = Params::new(data);
    let dims = ["host", "region", "__name__", ""];
    let mut selector = match p.byte() % 4 {
        0 => Selector::any(),
        _ => Selector::metric(p.text(&["cpu", "mem", "disk"])),
    };
    for _ in 0..p.byte() % 3 {
        let key = p.text(&dims);
        let matcher = match p.byte() % 6 {
            0 => Matcher::eq(key, p.text(&["h0", "h1", "eu"])),
            1 => Matcher::ne(key, p.text(&["h0", "us"])),
            2 => Matcher::one_of(key, [p.text(&["h1", "h2"]), p.text(&["eu"])]),
            3 => Matcher::exists(key),
            4 => Matcher::absent(key),
            _ => match Matcher::regex(key, &p.text(&["h[0-2]", "(a+)+$", ".*", "["])) {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        selector = selector.with(matcher);
    }
    let mut q = Query::select(selector);
    if p.one_in(4) {
        q = q.or(Selector::metric(p.text(&["cpu", "mem"])));
    }
    q = match p.byte() % 4 {
        0 => q,
        1 => {
            let (a, b) = (p.timestamp(), p.timestamp());
            match p.byte() % 8 {
                0 => q.range(TimeRange::new(a, b)),
                _ => q.range(TimeRange::new(a.min(b), a.max(b))),
            }
        }
        2 => q.last(p.duration()).now(p.timestamp()),
        _ => q.since(p.timestamp()).now(p.timestamp()),
    };
    match p.byte() % 5 {
        0 => q = q.rate(),
        1 => q = q.derivative(),
        _ => {}
    }
    if p.one_in(3) {
        q = q.where_value(p.value_filter());
    }
    // Mostly coherent combinations (so that the engine, not only the validation, is
    // exercised), sometimes any.
    let shape = p.byte();
    let downsampled = shape % 4 < 2;
    match shape % 4 {
        0 | 1 => q = q.downsample(p.duration(), p.aggregate()),
        2 => q = q.aggregate(p.aggregate()),
        _ => {}
    }
    let grouped = shape % 4 != 3 || p.one_in(8);
    if grouped {
        match p.byte() % 4 {
            0 => q = q.group_by([p.text(&dims)]),
            1 => q = q.group_all(),
            _ => {}
        }
        if p.one_in(3) {
            q = q.across_series(p.aggregate());
        }
    }
    if downsampled || p.one_in(8) {
        q = match p.byte() % 6 {
            0 => q.fill(Fill::Null),
            1 => q.fill(Fill::Previous),
            2 => q.fill(Fill::Linear),
            3 => q.fill(Fill::Value(p.float())),
            _ => q,
        };
    }
    if p.one_in(3) {
        q = q.having(p.value_filter());
    }
    match p.byte() % 4 {
        0 => {
            q = q.top_k(
                p.byte() as usize % 5 + usize::from(!p.one_in(8)),
                p.aggregate(),
            )
        }
        1 => q = q.bottom_k(p.u64() as usize, p.aggregate()),
        _ => {}
    }
    let limit = (p.one_in(2)).then(|| p.byte() as usize % 8);
    if let Some(n) = limit {
        q = q.limit(n);
    }
    if p.one_in(3) {
        q = q.limits(QueryLimits {
            max_series: p.u64() % 16 + u64::from(!p.one_in(8)),
            max_points_read: p.u64() % 4096,
            max_result_points: p.u64() % 4096,
        });
    }
    let serial = db.query(&q.clone().parallelism(Parallelism::Off));
    let parallel = db.query(&q.parallelism(Parallelism::Always));
    match (&serial, &parallel) {
        (Ok(a), Ok(b)) => {
            if let Some(n) = limit {
                assert!(a.series.len() <= n, "limit {n} not honoured");
            }
            for s in &a.series {
                assert_eq!(s.timestamps.len(), s.values.len());
                assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]));
            }
            let bits = |r: &crate::query::QueryResult| -> Vec<(Vec<i64>, Vec<u64>)> {
                r.series
                    .iter()
                    .map(|s| {
                        (
                            s.timestamps.clone(),
                            s.values.iter().map(|v| v.to_bits()).collect(),
                        )
                    })
                    .collect()
            };
            assert_eq!(bits(a), bits(b), "serial and parallel answers differ");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("serial {serial:?} and parallel {parallel:?} disagree on failing"),
    }
}
