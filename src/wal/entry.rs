//! WAL record payloads: what a record says, and its compact encoding.
//!
//! WAL bandwidth bounds ingest, so the points entry is a small hand-written columnar
//! format rather than serde: series ids run-length encoded, timestamps as
//! delta-of-delta varints, values as raw bits. The series entry is hand-written too so
//! that its bytes do not change when a field is added to [`SeriesKey`].
//!
//! The payload layouts are in FORMAT.md ("WAL files", "Entry payloads").
//!
//! Why this timestamp scheme: a batch is usually either series-major (each series'
//! points in turn, all at the same regular step) or time-major (one point per series, all at the same instant). In both, every
//! timestamp then costs one byte: a run starts where the previous run started, and
//! inside a run the step does not change. A batch of 1000 series x 10 regular timestamps
//! costs 9.2 bytes per point: 8 for the value, 1 for the timestamp, 0.2 for the runs.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::format::varint::{self, unzigzag, write_u64, zigzag, VarintError, MAX_LEN};
use crate::types::{SeriesId, SeriesKey};

/// The type byte of a record: which entry its payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RecordType {
    /// [`WalEntry::Series`].
    Series = 1,
    /// [`WalEntry::Points`].
    Points = 2,
}

/// What one WAL record says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WalEntry {
    /// New series created: (id, key). Written before any points that reference them.
    Series(Vec<(SeriesId, SeriesKey)>),
    /// A batch of points, columnar.
    Points(PointColumns),
}

/// A batch of points as three parallel columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PointColumns {
    /// Series id of each point.
    pub series: Vec<u32>,
    /// Timestamp of each point, nanoseconds since the Unix epoch.
    pub timestamps: Vec<i64>,
    /// Value of each point.
    pub values: Vec<f64>,
}

impl PointColumns {
    /// Number of points.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

/// Appends the encoding of `entry` to `out` and returns its record type byte.
#[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
pub(crate) fn encode_entry(entry: &WalEntry, out: &mut Vec<u8>) -> u8 {
    match entry {
        WalEntry::Series(list) => encode_series(list, out),
        WalEntry::Points(cols) => encode_points(&cols.series, &cols.timestamps, &cols.values, out),
    }
}

/// Appends a series entry to `out` and returns its record type byte.
pub(crate) fn encode_series(list: &[(SeriesId, SeriesKey)], out: &mut Vec<u8>) -> u8 {
    write_u64(list.len() as u64, out);
    for (id, key) in list {
        write_u64(u64::from(id.0), out);
        put_str(out, key.name());
        write_u64(key.dimensions().len() as u64, out);
        for (k, v) in key.dimensions() {
            put_str(out, k);
            put_str(out, v);
        }
    }
    RecordType::Series as u8
}

/// Appends a points entry built from three parallel columns to `out` and returns its
/// record type byte. Taking slices (not a [`PointColumns`]) lets the write path encode
/// a batch without copying it.
///
/// # Panics
/// If the columns differ in length: that is a bug in the caller, and logging a batch
/// other than the one inserted into the head would be worse than stopping.
pub(crate) fn encode_points(
    series: &[u32],
    timestamps: &[i64],
    values: &[f64],
    out: &mut Vec<u8>,
) -> u8 {
    assert!(
        series.len() == timestamps.len() && series.len() == values.len(),
        "point columns differ in length: {} series, {} timestamps, {} values",
        series.len(),
        timestamps.len(),
        values.len()
    );
    let n = series.len();
    let mut run_lens = Vec::new();
    let mut run_ids = Vec::new();
    let mut rest = series;
    while let Some(&id) = rest.first() {
        let run = rest.iter().take_while(|&&s| s == id).count();
        run_lens.push(run);
        run_ids.push(id);
        rest = rest.get(run..).unwrap_or_default();
    }
    // Worst case: two varints per run, a 10-byte varint per timestamp, 8 bytes per value.
    out.reserve(2 * MAX_LEN * (1 + run_lens.len()) + n * (MAX_LEN + 8));

    write_u64(n as u64, out);
    write_u64(run_lens.len() as u64, out);
    let mut prev_id = 0i64;
    for (&run, &id) in run_lens.iter().zip(&run_ids) {
        let id = i64::from(id);
        write_u64(zigzag(id.wrapping_sub(prev_id)), out);
        write_u64(run as u64, out);
        prev_id = id;
    }

    // The hot loop writes into a slice sized for the worst case, then gives back what it
    // did not use: no capacity check per byte.
    let start = out.len();
    out.resize(start + n * MAX_LEN, 0);
    let mut pos = 0;
    let fits = put_timestamps(&run_lens, timestamps, |v| {
        varint::write_u64_at(out.get_mut(start..).unwrap_or_default(), &mut pos, v).is_some()
    });
    out.truncate(start + pos);
    if !fits {
        // Cannot happen (the slice holds a longest varint per timestamp); should it, the
        // timestamps are written again the slow way rather than logged wrong.
        out.truncate(start);
        put_timestamps(&run_lens, timestamps, |v| {
            write_u64(v, out);
            true
        });
    }

    // One resize, then fixed-size chunks: this compiles to a plain copy loop, where a
    // push per value would check the capacity 8 times per point.
    let start = out.len();
    out.resize(start + n * 8, 0);
    let (words, _) = out
        .get_mut(start..)
        .unwrap_or_default()
        .as_chunks_mut::<8>();
    for (word, value) in words.iter_mut().zip(values) {
        *word = value.to_bits().to_le_bytes();
    }
    RecordType::Points as u8
}

/// Calls `put` with the varint of every timestamp, run by run (see the module docs);
/// stops and returns false as soon as `put` does.
#[inline(always)]
fn put_timestamps(
    run_lens: &[usize],
    timestamps: &[i64],
    mut put: impl FnMut(u64) -> bool,
) -> bool {
    let mut prev_first = 0i64;
    let mut prev_delta = 0i64;
    let mut rest = timestamps;
    for &run in run_lens {
        let Some((run_ts, after)) = rest.split_at_checked(run) else {
            return false;
        };
        rest = after;
        let Some((&first, following)) = run_ts.split_first() else {
            continue;
        };
        if !put(zigzag(first.wrapping_sub(prev_first))) {
            return false;
        }
        prev_first = first;
        let mut prev_ts = first;
        for &ts in following {
            let delta = ts.wrapping_sub(prev_ts);
            if !put(zigzag(delta.wrapping_sub(prev_delta))) {
                return false;
            }
            prev_ts = ts;
            prev_delta = delta;
        }
    }
    true
}

/// Decodes the payload of a record of type `rtype`.
///
/// Never panics, and allocates at most a small constant times `payload.len()`: every
/// count read from the payload is checked against the bytes that remain before it is
/// used to size anything.
pub(crate) fn decode_entry(rtype: u8, payload: &[u8]) -> Result<WalEntry, &'static str> {
    match rtype {
        t if t == RecordType::Series as u8 => decode_series(payload).map(WalEntry::Series),
        t if t == RecordType::Points as u8 => decode_points(payload).map(WalEntry::Points),
        _ => Err("unknown record type"),
    }
}

fn decode_series(payload: &[u8]) -> Result<Vec<(SeriesId, SeriesKey)>, &'static str> {
    let mut r = Reader::new(payload);
    let count = r.varint()?;
    // Each series takes at least three bytes: id, name length, dimension count.
    if count > (r.remaining() / 3) as u64 {
        return Err("series count exceeds what the payload can hold");
    }
    let mut list = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let id = u32::try_from(r.varint()?).map_err(|_| "series id does not fit in 32 bits")?;
        let name = r.str()?;
        let dims = r.varint()?;
        if dims > (r.remaining() / 2) as u64 {
            return Err("dimension count exceeds what the payload can hold");
        }
        let mut pairs = Vec::with_capacity(dims as usize);
        for _ in 0..dims {
            let key = r.str()?;
            let value = r.str()?;
            pairs.push((key, value));
        }
        list.push((SeriesId(id), SeriesKey::from_parts(name, pairs)));
    }
    if r.remaining() != 0 {
        return Err("trailing bytes after the series entry");
    }
    Ok(list)
}

fn decode_points(payload: &[u8]) -> Result<PointColumns, &'static str> {
    let mut r = Reader::new(payload);
    let n = r.varint()?;
    // Each point takes at least one timestamp byte and eight value bytes.
    if n > (r.remaining() / 9) as u64 {
        return Err("point count exceeds what the payload can hold");
    }
    let n = n as usize;
    let runs = r.varint()?;
    if runs > n as u64 || (runs == 0) != (n == 0) {
        return Err("series run count does not fit the point count");
    }

    let mut series = Vec::with_capacity(n);
    let mut run_lens = Vec::with_capacity(runs as usize);
    let mut prev_id = 0i64;
    for _ in 0..runs {
        let id = prev_id.wrapping_add(unzigzag(r.varint()?));
        let id_u32 = u32::try_from(id).map_err(|_| "series id does not fit in 32 bits")?;
        let run = r.varint()?;
        if run == 0 || run > (n - series.len()) as u64 {
            return Err("series run length is zero or runs past the point count");
        }
        series.resize(series.len() + run as usize, id_u32);
        run_lens.push(run as usize);
        prev_id = id;
    }
    if series.len() != n {
        return Err("series runs do not cover every point");
    }

    // The hot loop keeps its position in a register rather than in the reader.
    let mut timestamps = vec![0i64; n];
    let buf = r.rest();
    let mut pos = 0;
    let mut prev_first = 0i64;
    let mut prev_delta = 0i64;
    let mut rest = timestamps.as_mut_slice();
    for run in run_lens {
        let (run_ts, after) = rest
            .split_at_mut_checked(run)
            .ok_or("series runs do not cover every point")?;
        rest = after;
        let Some((first, following)) = run_ts.split_first_mut() else {
            continue;
        };
        *first = prev_first.wrapping_add(unzigzag(get_varint(buf, &mut pos)?));
        prev_first = *first;
        let mut prev_ts = *first;
        for ts in following {
            let delta = prev_delta.wrapping_add(unzigzag(get_varint(buf, &mut pos)?));
            *ts = prev_ts.wrapping_add(delta);
            prev_ts = *ts;
            prev_delta = delta;
        }
    }

    let (words, tail) = buf.get(pos..).unwrap_or_default().as_chunks::<8>();
    if words.len() != n || !tail.is_empty() {
        return Err("value column length does not match the point count");
    }
    let values = words
        .iter()
        .map(|w| f64::from_bits(u64::from_le_bytes(*w)))
        .collect();
    Ok(PointColumns {
        series,
        timestamps,
        values,
    })
}

/// Reads the varint at `*pos`, advancing it.
#[inline(always)]
fn get_varint(buf: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    varint::read_u64_at(buf, pos).map_err(VarintError::what)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    write_u64(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over payload bytes whose every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        get_varint(self.buf, &mut self.pos)
    }

    fn str(&mut self) -> Result<String, &'static str> {
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err("string runs past the end of the payload");
        }
        let end = self.pos + len as usize;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or("string runs past the end of the payload")?;
        self.pos = end;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| "string is not UTF-8")
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Equality that compares values bit by bit (so NaN equals the same NaN).
    pub(crate) fn same_entry(a: &WalEntry, b: &WalEntry) -> bool {
        match (a, b) {
            (WalEntry::Points(x), WalEntry::Points(y)) => {
                x.series == y.series
                    && x.timestamps == y.timestamps
                    && x.values.len() == y.values.len()
                    && x.values
                        .iter()
                        .zip(&y.values)
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            }
            _ => a == b,
        }
    }

    fn round_trip(entry: &WalEntry) -> WalEntry {
        let mut buf = vec![0xAA]; // encoders append: bytes already there stay untouched
        let rtype = encode_entry(entry, &mut buf);
        assert_eq!(buf[0], 0xAA);
        decode_entry(rtype, &buf[1..]).expect("decodes")
    }

    /// A batch of `series` series with `per_series` regular timestamps each.
    pub(crate) fn grid_batch(series: u32, per_series: i64, base_ts: i64) -> PointColumns {
        let mut cols = PointColumns::default();
        for s in 0..series {
            for k in 0..per_series {
                cols.series.push(s);
                cols.timestamps.push(base_ts + k * 10_000_000_000);
                cols.values.push(f64::from(s) * 0.5 + k as f64 * 1.25);
            }
        }
        cols
    }

    #[test]
    fn empty_and_special_values_round_trip() {
        let empty = WalEntry::Points(PointColumns::default());
        assert_eq!(round_trip(&empty), empty);
        assert_eq!(
            round_trip(&WalEntry::Series(vec![])),
            WalEntry::Series(vec![])
        );

        let nan_payload = f64::from_bits(0x7ff8_dead_beef_0001);
        let cols = PointColumns {
            series: vec![u32::MAX, 0, 0, u32::MAX, 7],
            timestamps: vec![i64::MIN, i64::MAX, 0, -1, i64::MIN],
            values: vec![
                nan_payload,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE,
            ],
        };
        let entry = WalEntry::Points(cols);
        assert!(same_entry(&round_trip(&entry), &entry));
    }

    #[test]
    fn series_entry_round_trips_unicode() {
        let entry = WalEntry::Series(vec![
            (SeriesId(0), SeriesKey::new("cpu")),
            (
                SeriesId(u32::MAX),
                SeriesKey::new("mem_bytes")
                    .with("host", "h\u{e9}1")
                    .with("az", ""),
            ),
        ]);
        assert_eq!(round_trip(&entry), entry);
    }

    #[test]
    fn grid_batch_is_compact() {
        let cols = grid_batch(1000, 10, 1_700_000_000_000_000_000);
        let mut buf = Vec::new();
        encode_points(&cols.series, &cols.timestamps, &cols.values, &mut buf);
        let per_point = buf.len() as f64 / cols.len() as f64;
        assert!(per_point < 11.0, "{per_point} bytes per point");
    }

    #[test]
    fn truncated_or_extended_payloads_are_rejected() {
        let cols = grid_batch(3, 4, 1_000);
        let mut buf = Vec::new();
        let rtype = encode_points(&cols.series, &cols.timestamps, &cols.values, &mut buf);
        for cut in 0..buf.len() {
            assert!(decode_entry(rtype, &buf[..cut]).is_err(), "cut at {cut}");
        }
        buf.push(0);
        assert!(decode_entry(rtype, &buf).is_err());
        assert!(decode_entry(0, &[]).is_err());
        assert!(decode_entry(3, &[]).is_err());
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        // n = 2^63 with a tiny payload, and a run longer than the batch.
        let mut huge = Vec::new();
        write_u64(1 << 63, &mut huge);
        assert!(decode_points(&huge).is_err());
        let mut long_run = Vec::new();
        for v in [1, 1, 0, u64::MAX] {
            write_u64(v, &mut long_run);
        }
        long_run.extend_from_slice(&[0; 9]);
        assert!(decode_points(&long_run).is_err());
        // An 11-byte varint.
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]).varint(),
            Ok(u64::MAX)
        );
    }

    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (-1e6f64..1e6),
        ]
    }

    fn any_timestamp() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            any::<i64>(),
            (0i64..1_000_000)
        ]
    }

    fn any_points() -> impl Strategy<Value = PointColumns> {
        prop::collection::vec(
            (
                prop_oneof![any::<u32>(), 0u32..4],
                any_timestamp(),
                any_value(),
            ),
            0..200,
        )
        .prop_map(|points| PointColumns {
            series: points.iter().map(|p| p.0).collect(),
            timestamps: points.iter().map(|p| p.1).collect(),
            values: points.iter().map(|p| p.2).collect(),
        })
    }

    fn any_key() -> impl Strategy<Value = SeriesKey> {
        (
            "[a-z_][a-z0-9_]{0,12}",
            prop::collection::vec(("[a-z]{1,6}", "\\PC{0,8}"), 0..4),
        )
            .prop_map(|(name, dims)| SeriesKey::from_parts(name, dims))
    }

    proptest! {
        #[test]
        fn points_round_trip_bit_exactly(cols in any_points()) {
            let entry = WalEntry::Points(cols);
            prop_assert!(same_entry(&round_trip(&entry), &entry));
        }

        #[test]
        fn series_round_trip(list in prop::collection::vec((any::<u32>(), any_key()), 0..20)) {
            let entry = WalEntry::Series(list.into_iter().map(|(id, k)| (SeriesId(id), k)).collect());
            prop_assert_eq!(round_trip(&entry), entry);
        }

        #[test]
        fn arbitrary_bytes_never_panic(rtype in 0u8..4, bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_entry(rtype, &bytes);
        }

        #[test]
        fn damaged_encodings_never_panic(cols in any_points(), at in any::<usize>(), xor in 1u8..=255) {
            let mut buf = Vec::new();
            let rtype = encode_points(&cols.series, &cols.timestamps, &cols.values, &mut buf);
            if !buf.is_empty() {
                let i = at % buf.len();
                buf[i] ^= xor;
            }
            if let Ok(WalEntry::Points(p)) = decode_entry(rtype, &buf) {
                prop_assert!(p.series.len() == p.timestamps.len() && p.series.len() == p.values.len());
            }
        }
    }
}
