//! The catalog file: every series key and every posting of a catalog. The byte layout
//! and what its checks catch are in FORMAT.md ("Catalog files"), the one description of
//! them; the offsets below are chained constants that mirror its tables.
//!
//! ## Why postings are stored although keys imply them
//!
//! Loading is the point: for 100 k TSBS-like series, reading and cross-checking the
//! stored bitmaps takes about 12 ms, rebuilding them from the keys 70-100 ms. The check
//! against the key table walks each bitmap once and costs no hashing.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use roaring::{MultiOps, RoaringBitmap};

#[cfg(test)]
use super::catalog::Catalog;
use super::postings::{DimPostings, Postings};
use super::MAX_SERIES;
use crate::error::{Error, Result};
use crate::format::bytes::{u32_at, u64_at};
use crate::format::compress;
use crate::format::varint::{self, write_u64, VarintError};
use crate::types::SeriesKey;

/// First bytes of every catalog file.
pub(super) const MAGIC: [u8; 8] = *b"SDCAT\0\0\x01";
/// The format version this build writes and the newest it reads.
pub(super) const VERSION: u32 = 1;

const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + MAGIC.len();
const FLAGS_AT: usize = VERSION_AT + 4;
/// Bytes of the header.
pub(super) const HEADER_LEN: usize = FLAGS_AT + 4;

const PAYLOAD_LEN_SIZE: usize = 8;
const PAYLOAD_CRC_SIZE: usize = 4;
/// Bytes of a block frame before its payload.
pub(super) const FRAME_LEN: usize = PAYLOAD_LEN_SIZE + PAYLOAD_CRC_SIZE;
/// Bytes of the payload before the body (`kind`, `codec`, `raw_len`).
const PAYLOAD_HEAD_LEN: usize = 1 + 1 + 8;

const FILE_LEN_SIZE: usize = 8;
const FILE_CRC_SIZE: usize = 4;
/// Bytes of the trailer.
pub(super) const TRAILER_LEN: usize = FILE_LEN_SIZE + FILE_CRC_SIZE;

const _: () = assert!(HEADER_LEN == 16);
const _: () = assert!(FRAME_LEN == 12);
const _: () = assert!(TRAILER_LEN == 12);

const KIND_KEYS: u8 = 1;
const KIND_POSTINGS: u8 = 2;
const CODEC_STORED: u8 = 0;
const CODEC_ZSTD: u8 = 1;

/// Largest `raw_len / len(data)` accepted for a zstd body.
const MAX_ZSTD_RATIO: u64 = 256;
/// zstd level for both blocks: the file is written rarely and read at every open, and
/// higher levels barely shrink it further while decompression speed stays the same.
const ZSTD_LEVEL: i32 = 3;

/// Cookie of a portable roaring bitmap without run containers.
const ROARING_COOKIE_NO_RUNS: u32 = 12346;

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Encodes `keys` (series `i` is `keys[i]`) and their `postings` as a catalog file.
pub(super) fn encode(keys: &[Arc<SeriesKey>], postings: &Postings) -> Vec<u8> {
    let (key_table, postings_body) = match encode_bodies(keys, postings) {
        Some(bodies) => bodies,
        // The postings lack a name or pair that a key has: a bug, but one that must not
        // produce a file that fails to load. The keys are the truth; rebuild from them.
        None => {
            let rebuilt = Postings::from_keys(keys);
            // Rebuilt postings hold every name and pair of the keys, so this succeeds.
            encode_bodies(keys, &rebuilt).unwrap_or_default()
        }
    };

    assemble(&key_table, &postings_body)
}

/// A whole file around a key table body and a postings body.
fn assemble(key_table: &[u8], postings_body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + key_table.len() + postings_body.len() + 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    put_block(&mut out, KIND_KEYS, key_table);
    put_block(&mut out, KIND_POSTINGS, postings_body);
    finish(out)
}

/// Appends the trailer to a header and blocks.
fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let file_len = (out.len() + TRAILER_LEN) as u64;
    out.extend_from_slice(&file_len.to_le_bytes());
    let file_crc = crc32fast::hash(&out);
    out.extend_from_slice(&file_crc.to_le_bytes());
    out
}

/// The key table and postings bodies, or `None` if `postings` miss a name or pair that
/// `keys` have.
fn encode_bodies(keys: &[Arc<SeriesKey>], postings: &Postings) -> Option<(Vec<u8>, Vec<u8>)> {
    // Symbols and pairs come from the postings, which hold each distinct string once, so
    // that building the tables does not touch every key.
    let mut symbols: BTreeSet<&str> = BTreeSet::new();
    symbols.extend(postings.metrics.keys().map(String::as_str));
    for (key, dim) in &postings.dims {
        symbols.insert(key);
        symbols.extend(dim.values.keys().map(String::as_str));
    }
    let symbols: Vec<&str> = symbols.into_iter().collect();
    let sym_of: HashMap<&str, u32> = symbols.iter().copied().zip(0u32..).collect();

    let mut pairs: Vec<(u32, u32, &RoaringBitmap)> = Vec::new();
    for (key, dim) in &postings.dims {
        let key_sym = *sym_of.get(key.as_str())?;
        for (value, bitmap) in &dim.values {
            pairs.push((key_sym, *sym_of.get(value.as_str())?, bitmap));
        }
    }
    pairs.sort_unstable_by_key(|&(k, v, _)| (k, v));
    let pair_of: HashMap<(&str, &str), u32> = pairs
        .iter()
        .zip(0u32..)
        .map(|(&(k, v, _), i)| {
            let symbol = |sym: u32| symbols.get(sym as usize).copied();
            Some(((symbol(k)?, symbol(v)?), i))
        })
        .collect::<Option<_>>()?;

    let mut table = Vec::new();
    write_u64(keys.len() as u64, &mut table);
    write_u64(symbols.len() as u64, &mut table);
    for symbol in &symbols {
        write_u64(symbol.len() as u64, &mut table);
        table.extend_from_slice(symbol.as_bytes());
    }
    write_u64(pairs.len() as u64, &mut table);
    for &(k, v, _) in &pairs {
        write_u64(u64::from(k), &mut table);
        write_u64(u64::from(v), &mut table);
    }
    for key in keys {
        write_u64(u64::from(*sym_of.get(key.name())?), &mut table);
        write_u64(key.dimensions().len() as u64, &mut table);
        for (k, v) in key.dimensions() {
            write_u64(
                u64::from(*pair_of.get(&(k.as_str(), v.as_str()))?),
                &mut table,
            );
        }
    }

    let mut body = Vec::new();
    let mut names: Vec<(u32, &RoaringBitmap)> = postings
        .metrics
        .iter()
        .map(|(name, bitmap)| Some((*sym_of.get(name.as_str())?, bitmap)))
        .collect::<Option<_>>()?;
    names.sort_unstable_by_key(|&(sym, _)| sym);
    write_u64(names.len() as u64, &mut body);
    for (sym, bitmap) in names {
        write_u64(u64::from(sym), &mut body);
        put_bitmap(&mut body, bitmap);
    }
    write_u64(pairs.len() as u64, &mut body);
    for (_, _, bitmap) in pairs {
        put_bitmap(&mut body, bitmap);
    }
    Some((table, body))
}

fn put_bitmap(out: &mut Vec<u8>, bitmap: &RoaringBitmap) {
    write_u64(bitmap.serialized_size() as u64, out);
    // Writing to a Vec cannot fail.
    let _ = bitmap.serialize_into(&mut *out);
}

/// Appends a framed block holding `body`, zstd-compressed when that pays and stays
/// within the ratio the reader accepts.
fn put_block(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let compressed = compress::compress(body, ZSTD_LEVEL)
        .ok()
        .filter(|c| c.len() < body.len() && body.len() as u64 <= MAX_ZSTD_RATIO * c.len() as u64);
    match &compressed {
        Some(c) => put_frame(out, kind, CODEC_ZSTD, body.len() as u64, c),
        None => put_frame(out, kind, CODEC_STORED, body.len() as u64, body),
    }
}

/// Appends a block frame and its payload.
fn put_frame(out: &mut Vec<u8>, kind: u8, codec: u8, raw_len: u64, data: &[u8]) {
    let mut payload = Vec::with_capacity(PAYLOAD_HEAD_LEN + data.len());
    payload.push(kind);
    payload.push(codec);
    payload.extend_from_slice(&raw_len.to_le_bytes());
    payload.extend_from_slice(data);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// What a catalog file holds, checked against itself; the catalog builds itself from
/// it (and checks that no key repeats).
pub(super) struct Decoded {
    /// Series `i` is `keys[i]`.
    pub keys: Vec<Arc<SeriesKey>>,
    pub postings: Postings,
    /// File offset of the key table block, for errors about keys.
    pub keys_at: u64,
}

/// Decodes a catalog file; `path` only names the file in errors.
pub(super) fn decode(bytes: &[u8], path: &Path) -> Result<Decoded> {
    let corrupt = |offset: usize, what: String| Error::corruption(path, offset as u64, what);

    let too_short = || {
        corrupt(
            bytes.len(),
            format!(
                "catalog file is {} bytes, shorter than a header and a trailer",
                bytes.len()
            ),
        )
    };
    let (header, rest) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(too_short)?;
    let (_, trailer) = rest
        .split_last_chunk::<TRAILER_LEN>()
        .ok_or_else(too_short)?;
    if header[MAGIC_AT..VERSION_AT] != MAGIC {
        return Err(corrupt(MAGIC_AT, "not a catalog file (bad magic)".into()));
    }
    let version = le_u32(&header[VERSION_AT..]);
    if version > VERSION {
        return Err(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found: version,
            supported: VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt(
            VERSION_AT,
            "format version 0 does not exist".into(),
        ));
    }
    let trailer_at = bytes.len() - TRAILER_LEN;
    let crc_at = trailer_at + FILE_LEN_SIZE;
    let file_len = le_u64(trailer);
    if file_len != bytes.len() as u64 {
        return Err(corrupt(
            trailer_at,
            format!(
                "trailer says the file is {file_len} bytes but it is {}: truncated or damaged",
                bytes.len()
            ),
        ));
    }
    let file_crc = le_u32(&trailer[FILE_LEN_SIZE..]);
    let actual_crc = crc32fast::hash(bytes.get(..crc_at).unwrap_or_default());
    if file_crc != actual_crc {
        return Err(corrupt(
            crc_at,
            format!("file CRC is {actual_crc:#010x}, trailer says {file_crc:#010x}"),
        ));
    }
    let flags = le_u32(&header[FLAGS_AT..]);
    if flags != 0 {
        return Err(corrupt(FLAGS_AT, format!("unknown flags {flags:#x}")));
    }

    let mut at = HEADER_LEN;
    let (keys_at, key_table) = read_block(bytes, &mut at, trailer_at, KIND_KEYS, path)?;
    let (postings_at, postings_body) = read_block(bytes, &mut at, trailer_at, KIND_POSTINGS, path)?;
    if at != trailer_at {
        return Err(corrupt(
            at,
            format!("{} bytes after the last block", trailer_at - at),
        ));
    }

    let table = parse_key_table(&key_table)
        .map_err(|damage| corrupt(keys_at, format!("key table: {damage}")))?;
    let postings = parse_postings(&postings_body, &table)
        .map_err(|damage| corrupt(postings_at, format!("postings: {damage}")))?;
    Ok(Decoded {
        keys: table.keys(),
        postings,
        keys_at: keys_at as u64,
    })
}

/// Reads the framed block at `*at` (which must end by `end`), checks its CRC and kind,
/// and returns its offset and decoded body.
fn read_block(
    bytes: &[u8],
    at: &mut usize,
    end: usize,
    kind: u8,
    path: &Path,
) -> Result<(usize, Vec<u8>)> {
    let block_at = *at;
    let corrupt = |what: String| Error::corruption(path, block_at as u64, what);
    let name = if kind == KIND_KEYS {
        "key table"
    } else {
        "postings"
    };
    let (payload_len, payload_crc) = bytes
        .get(block_at..end)
        .and_then(|b| b.split_first_chunk::<PAYLOAD_LEN_SIZE>())
        .and_then(|(len, rest)| {
            Some((
                u64::from_le_bytes(*len),
                rest.first_chunk::<PAYLOAD_CRC_SIZE>()?,
            ))
        })
        .map(|(len, crc)| (len, u32::from_le_bytes(*crc)))
        .ok_or_else(|| corrupt(format!("{name} block frame runs past the trailer")))?;
    let payload_at = block_at + FRAME_LEN;
    let payload = usize::try_from(payload_len)
        .ok()
        .and_then(|len| payload_at.checked_add(len))
        .filter(|&payload_end| payload_end <= end)
        .and_then(|payload_end| bytes.get(payload_at..payload_end))
        .ok_or_else(|| {
            corrupt(format!(
                "{name} block says it has {payload_len} bytes, past the trailer"
            ))
        })?;
    let actual_crc = crc32fast::hash(payload);
    if actual_crc != payload_crc {
        return Err(corrupt(format!(
            "{name} block CRC is {actual_crc:#010x}, frame says {payload_crc:#010x}"
        )));
    }
    let Some(([payload_kind, codec, raw_len @ ..], data)) =
        payload.split_first_chunk::<PAYLOAD_HEAD_LEN>()
    else {
        return Err(corrupt(format!(
            "{name} block is {} bytes, too short for its head",
            payload.len()
        )));
    };
    if *payload_kind != kind {
        return Err(corrupt(format!(
            "expected the {name} block (kind {kind}), found kind {payload_kind}"
        )));
    }
    let codec = *codec;
    let raw_len = le_u64(raw_len);
    let body = match codec {
        CODEC_STORED => {
            if raw_len != data.len() as u64 {
                return Err(corrupt(format!(
                    "stored {name} block says {raw_len} bytes but holds {}",
                    data.len()
                )));
            }
            data.to_vec()
        }
        CODEC_ZSTD => {
            let capacity = usize::try_from(raw_len)
                .ok()
                .filter(|_| raw_len <= MAX_ZSTD_RATIO.saturating_mul(data.len() as u64))
                .ok_or_else(|| {
                    corrupt(format!(
                        "compressed {name} block claims {raw_len} bytes from {}, beyond the accepted ratio",
                        data.len()
                    ))
                })?;
            let body = compress::decompress(data, capacity)
                .map_err(|e| corrupt(format!("{name} block does not decompress: {e}")))?;
            if body.len() != capacity {
                return Err(corrupt(format!(
                    "{name} block decompresses to {} bytes, it says {raw_len}",
                    body.len()
                )));
            }
            body
        }
        other => return Err(corrupt(format!("{name} block has unknown codec {other}"))),
    };
    *at = payload_at + payload.len();
    Ok((block_at, body))
}

/// The decoded key table, still as indexes into its symbols.
struct KeyTable<'a> {
    symbols: Vec<&'a str>,
    /// `(key_sym, value_sym)` of each pair.
    pairs: Vec<(u32, u32)>,
    /// Metric name symbol of each series.
    names: Vec<u32>,
    /// The pairs of series `i` are `series_pairs[pair_start[i]..pair_start[i + 1]]`.
    pair_start: Vec<usize>,
    series_pairs: Vec<u32>,
}

impl KeyTable<'_> {
    fn series_count(&self) -> usize {
        self.names.len()
    }

    fn pairs_of(&self, series: usize) -> &[u32] {
        match (self.pair_start.get(series), self.pair_start.get(series + 1)) {
            (Some(&start), Some(&end)) => self.series_pairs.get(start..end).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn symbol(&self, sym: u32) -> &str {
        // Every index was checked against the symbol count while parsing.
        self.symbols.get(sym as usize).copied().unwrap_or("")
    }

    /// Builds the series keys. All indexes were checked while parsing.
    ///
    /// Each key goes through its serde form (bincode) rather than
    /// `SeriesKey::from_parts`: that pushes dimensions one by one and leaves a
    /// 10-dimension key with room for 16 (288 wasted bytes a series), while serde
    /// allocates exactly. The buffer is built here from checked parts, so deserializing it
    /// cannot fail; `from_parts` is the fallback all the same.
    fn keys(&self) -> Vec<Arc<SeriesKey>> {
        let mut buf = Vec::new();
        (0..self.series_count())
            .map(|series| {
                let name = self.symbol(self.names.get(series).copied().unwrap_or(0));
                let dims = || {
                    self.pairs_of(series).iter().map(|&pair| {
                        let (k, v) = self.pairs.get(pair as usize).copied().unwrap_or((0, 0));
                        (self.symbol(k), self.symbol(v))
                    })
                };
                buf.clear();
                put_bincode_str(&mut buf, name);
                buf.extend_from_slice(&(self.pairs_of(series).len() as u64).to_le_bytes());
                for (k, v) in dims() {
                    put_bincode_str(&mut buf, k);
                    put_bincode_str(&mut buf, v);
                }
                let key = bincode::deserialize::<SeriesKey>(&buf)
                    .unwrap_or_else(|_| SeriesKey::from_parts(name, dims()));
                Arc::new(key)
            })
            .collect()
    }

    /// The keys as `SeriesKey::from_parts` builds them (for tests and figures).
    #[cfg(test)]
    fn keys_from_parts(&self) -> Vec<Arc<SeriesKey>> {
        (0..self.series_count())
            .map(|series| {
                let dims = self.pairs_of(series).iter().map(|&pair| {
                    let (k, v) = self.pairs.get(pair as usize).copied().unwrap_or((0, 0));
                    (self.symbol(k), self.symbol(v))
                });
                let name = self.names.get(series).copied().unwrap_or(0);
                Arc::new(SeriesKey::from_parts(self.symbol(name), dims))
            })
            .collect()
    }
}

/// A string as bincode 1 (default options) encodes it: u64 length, then the bytes.
fn put_bincode_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// What is wrong inside a body; the caller adds the file and block offset.
type Damage = String;

fn parse_key_table(body: &[u8]) -> std::result::Result<KeyTable<'_>, Damage> {
    let mut r = BodyReader {
        bytes: body,
        pos: 0,
    };
    // The smallest series record is 2 bytes (name, no dimensions), a symbol 1 byte (an
    // empty string), a pair 2 bytes: counts are checked against the bytes left before
    // anything is allocated for them.
    let series_count = r.count(2, "series count")?;
    if series_count as u64 > MAX_SERIES {
        return Err(format!(
            "{series_count} series, more than the {MAX_SERIES} a catalog holds"
        ));
    }
    let symbol_count = r.count(1, "symbol count")?;
    let mut symbols: Vec<&str> = Vec::with_capacity(symbol_count);
    for i in 0..symbol_count {
        let len = r.count(1, "symbol length")?;
        let at = r.pos;
        let raw = r.take(len)?;
        let symbol = std::str::from_utf8(raw)
            .map_err(|_| format!("symbol {i} at byte {at} is not UTF-8"))?;
        if let Some(previous) = symbols.last() {
            if *previous >= symbol {
                return Err(format!("symbol {i} at byte {at} is out of order"));
            }
        }
        symbols.push(symbol);
    }
    let pair_count = r.count(2, "pair count")?;
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(pair_count);
    for i in 0..pair_count {
        let at = r.pos;
        let key = r.index(symbol_count, "pair key symbol")?;
        let value = r.index(symbol_count, "pair value symbol")?;
        if pairs
            .last()
            .is_some_and(|&previous| previous >= (key, value))
        {
            return Err(format!("pair {i} at byte {at} is out of order"));
        }
        pairs.push((key, value));
    }
    let mut names = Vec::with_capacity(series_count);
    let mut pair_start = Vec::with_capacity(series_count + 1);
    let mut series_pairs = Vec::new();
    pair_start.push(0);
    for series in 0..series_count {
        let at = r.pos;
        names.push(r.index(symbol_count, "metric name symbol")?);
        let dim_count = r.count(1, "dimension count")?;
        let mut previous: Option<(u32, u32)> = None;
        for _ in 0..dim_count {
            let pair = r.index(pair_count, "pair index")?;
            let key_sym = pairs.get(pair as usize).map_or(0, |&(k, _)| k);
            if previous.is_some_and(|(p, k)| p >= pair || k >= key_sym) {
                return Err(format!(
                    "series {series} at byte {at}: dimensions out of order or repeated"
                ));
            }
            previous = Some((pair, key_sym));
            series_pairs.push(pair);
        }
        pair_start.push(series_pairs.len());
    }
    if r.pos != body.len() {
        return Err(format!(
            "{} bytes after the last series",
            body.len() - r.pos
        ));
    }
    Ok(KeyTable {
        symbols,
        pairs,
        names,
        pair_start,
        series_pairs,
    })
}

/// Parses the postings body and checks that every bitmap holds exactly the series that
/// the key table gives that name or pair.
fn parse_postings(body: &[u8], table: &KeyTable<'_>) -> std::result::Result<Postings, Damage> {
    let mut r = BodyReader {
        bytes: body,
        pos: 0,
    };
    let series_count = table.series_count();
    let mut postings = Postings::default();

    // Smallest name entry: name, length, and an 8-byte empty bitmap.
    let name_count = r.count(10, "name count")?;
    let mut previous_name: Option<u32> = None;
    let mut named = 0u64;
    for _ in 0..name_count {
        let at = r.pos;
        let sym = r.index(table.symbols.len(), "metric name symbol")?;
        if previous_name.is_some_and(|p| p >= sym) {
            return Err(format!("metric name at byte {at} is out of order"));
        }
        previous_name = Some(sym);
        let bitmap = r.bitmap(series_count)?;
        for id in &bitmap {
            if table.names.get(id as usize) != Some(&sym) {
                return Err(format!(
                    "metric name {:?} at byte {at} lists series {id}, which has another name",
                    table.symbol(sym)
                ));
            }
        }
        named += bitmap.len();
        postings
            .metrics
            .insert(table.symbol(sym).to_owned(), bitmap);
    }
    if named != series_count as u64 {
        return Err(format!(
            "metric names cover {named} series of {series_count}"
        ));
    }

    let pair_count = r.count(9, "pair count")?;
    if pair_count != table.pairs.len() {
        return Err(format!(
            "{pair_count} pair bitmaps for {} pairs",
            table.pairs.len()
        ));
    }
    // Pairs come in increasing order and so do the pairs of each series: walking the
    // bitmaps in order must meet each series' pairs in its own order, one by one.
    let mut next_of_series: Vec<usize> = table
        .pair_start
        .iter()
        .take(series_count)
        .copied()
        .collect();
    for (pair, &(key_sym, value_sym)) in (0u32..).zip(&table.pairs) {
        let at = r.pos;
        let bitmap = r.bitmap(series_count)?;
        for id in &bitmap {
            let id = id as usize;
            let expected = table.pair_start.get(id + 1).copied().unwrap_or(0);
            let next = next_of_series.get_mut(id).ok_or("bitmap out of range")?;
            if *next >= expected || table.series_pairs.get(*next) != Some(&pair) {
                return Err(format!(
                    "bitmap of pair {pair} at byte {at} lists series {id}, which lacks it"
                ));
            }
            *next += 1;
        }
        let dim = match postings.dims.get_mut(table.symbol(key_sym)) {
            Some(dim) => dim,
            None => postings
                .dims
                .entry(table.symbol(key_sym).to_owned())
                .or_insert_with(DimPostings::default),
        };
        dim.values
            .insert(table.symbol(value_sym).to_owned(), bitmap);
    }
    for (series, &next) in next_of_series.iter().enumerate() {
        if table.pair_start.get(series + 1) != Some(&next) {
            return Err(format!(
                "series {series} has a pair whose bitmap does not list it"
            ));
        }
    }
    if r.pos != body.len() {
        return Err(format!(
            "{} bytes after the last bitmap",
            body.len() - r.pos
        ));
    }
    for dim in postings.dims.values_mut() {
        dim.all = dim.values.values().union();
    }
    Ok(postings)
}

/// A bounds-checked cursor over a decoded body.
struct BodyReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BodyReader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], Damage> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("{len} bytes at byte {} run past the end", self.pos))?;
        let slice = self.bytes.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(slice)
    }

    fn varint(&mut self, what: &str) -> std::result::Result<u64, Damage> {
        let at = self.pos;
        varint::read_u64_at(self.bytes, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => format!("{what} at byte {at} runs past the end"),
            e => format!("{what} at byte {at} is not a valid varint: {e}"),
        })
    }

    /// A count of items of at least `min_item_len` bytes each, which must fit in the
    /// bytes left.
    fn count(&mut self, min_item_len: usize, what: &str) -> std::result::Result<usize, Damage> {
        let at = self.pos;
        let n = self.varint(what)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| {
                n.checked_mul(min_item_len)
                    .is_some_and(|len| len <= self.remaining())
            })
            .ok_or_else(|| {
                format!(
                    "{what} {n} at byte {at} needs more than the {} bytes left",
                    self.remaining()
                )
            })
    }

    /// An index into a table of `len` entries.
    fn index(&mut self, len: usize, what: &str) -> std::result::Result<u32, Damage> {
        let at = self.pos;
        let n = self.varint(what)?;
        u32::try_from(n)
            .ok()
            .filter(|&n| (n as usize) < len)
            .ok_or_else(|| format!("{what} {n} at byte {at} is out of range (table of {len})"))
    }

    /// A length-prefixed roaring bitmap, non-empty, with every id below `series_count`.
    fn bitmap(&mut self, series_count: usize) -> std::result::Result<RoaringBitmap, Damage> {
        let at = self.pos;
        let len = self.count(1, "bitmap length")?;
        let mut bytes = self.take(len)?;
        // Only the form the writer produces is accepted: run containers would let a few
        // bytes expand into 8 KiB each.
        let cookie = bytes.get(..4).map(le_u32);
        if cookie != Some(ROARING_COOKIE_NO_RUNS) {
            return Err(format!("bitmap at byte {at} has an unknown cookie"));
        }
        // Reads from a slice bounded by `len`; every container costs at least as many
        // input bytes as a quarter of what it allocates.
        let bitmap = RoaringBitmap::deserialize_from(&mut bytes)
            .map_err(|e| format!("bitmap at byte {at} is damaged: {e}"))?;
        if !bytes.is_empty() {
            return Err(format!(
                "bitmap at byte {at} has {} bytes more than it uses",
                bytes.len()
            ));
        }
        match bitmap.max() {
            None => Err(format!("bitmap at byte {at} is empty")),
            Some(max) if max as usize >= series_count => Err(format!(
                "bitmap at byte {at} lists series {max}, beyond the {series_count} series"
            )),
            Some(_) => Ok(bitmap),
        }
    }
}

/// The little-endian `u32` that starts `bytes`, or 0 if `bytes` is shorter (callers pass
/// slices whose length they have checked; the fallback only keeps this panic-free).
fn le_u32(bytes: &[u8]) -> u32 {
    u32_at(bytes, 0).unwrap_or(0)
}

/// The little-endian `u64` that starts `bytes`; see [`le_u32`].
fn le_u64(bytes: &[u8]) -> u64 {
    u64_at(bytes, 0).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;
    use crate::index::postings::tests::{arb_catalog, arb_selector, build, reference};
    use crate::types::{Matcher, Selector};

    fn path() -> PathBuf {
        PathBuf::from("/db/catalog")
    }

    fn small_catalog() -> Catalog {
        build(&[
            SeriesKey::new("cpu")
                .with("host", "h1")
                .with("region", "eu"),
            SeriesKey::new("cpu")
                .with("host", "h2")
                .with("region", "eu"),
            SeriesKey::new("mem").with("host", "h1"),
            SeriesKey::new("up"),
            SeriesKey::new("cpu").with("host", "").with("zone", "é"),
        ])
    }

    /// Decodes, and insists on an error a caller can act on (never a panic).
    fn decode_err(bytes: &[u8]) -> Error {
        match decode(bytes, &path()) {
            Ok(_) => panic!("damaged file of {} bytes decoded", bytes.len()),
            Err(err @ (Error::Corruption { .. } | Error::UnsupportedVersion { .. })) => err,
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }

    fn bodies(catalog: &Catalog) -> (Vec<u8>, Vec<u8>) {
        let inner = catalog.inner_for_tests();
        encode_bodies(&inner.keys, &inner.postings).unwrap()
    }

    #[test]
    fn keys_built_through_serde_equal_from_parts() {
        let catalog = small_catalog();
        let (table, _) = bodies(&catalog);
        let parsed = parse_key_table(&table).unwrap();
        assert_eq!(parsed.keys(), parsed.keys_from_parts());
        assert_eq!(
            parsed
                .keys()
                .iter()
                .map(|k| SeriesKey::clone(k))
                .collect::<Vec<_>>(),
            catalog.all_keys()
        );
    }

    fn assert_same(a: &Catalog, b: &Catalog) {
        assert_eq!(a.all_keys(), b.all_keys());
        assert!(a.inner_for_tests().postings == b.inner_for_tests().postings);
        b.assert_consistent();
    }

    #[test]
    fn round_trip_keeps_keys_and_postings() {
        let catalog = small_catalog();
        let bytes = catalog.encode();
        let decoded = Catalog::decode(&bytes, &path()).unwrap();
        assert_same(&catalog, &decoded);
        assert_eq!(decoded.encode(), bytes, "encoding is deterministic");
        let sel = Selector::metric("cpu").with(Matcher::eq("region", "eu"));
        assert_eq!(decoded.select(&sel).iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(
            decoded.lookup(&SeriesKey::new("up")),
            Some(crate::SeriesId(3))
        );
        // New series continue after the decoded ones.
        let (ids, _) = decoded
            .get_or_create(&[&SeriesKey::new("new")], u64::MAX)
            .unwrap();
        assert_eq!(ids, [crate::SeriesId(5)]);
    }

    #[test]
    fn empty_catalog_round_trips() {
        let bytes = Catalog::new().encode();
        let decoded = Catalog::decode(&bytes, &path()).unwrap();
        assert!(decoded.is_empty());
        assert!(decoded.select(&Selector::any()).is_empty());
        assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let bytes = small_catalog().encode();
        for len in 0..bytes.len() {
            decode_err(&bytes[..len]);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        decode_err(&longer);
        let mut damaged = bytes.clone();
        for at in 0..bytes.len() {
            for bit in 0..8 {
                damaged[at] ^= 1 << bit;
                let err = decode_err(&damaged);
                if !(VERSION_AT..FLAGS_AT).contains(&at) {
                    assert!(err.is_corruption(), "byte {at} bit {bit}: {err}");
                }
                damaged[at] ^= 1 << bit;
            }
        }
    }

    #[test]
    fn newer_version_is_unsupported_not_corrupt() {
        let mut bytes = small_catalog().encode();
        bytes[VERSION_AT..FLAGS_AT].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            decode(&bytes, &path()),
            Err(Error::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn stored_and_compressed_blocks_both_decode() {
        // A catalog big enough for zstd to pay on both blocks, and a tiny one where it
        // does not.
        let keys: Vec<SeriesKey> = (0..500)
            .map(|i| {
                SeriesKey::new(format!("m{}", i % 5))
                    .with("host", format!("host_{}", i / 5))
                    .with("os", "linux")
            })
            .collect();
        for catalog in [build(&keys), build(&keys[..1])] {
            let bytes = catalog.encode();
            assert_same(&catalog, &Catalog::decode(&bytes, &path()).unwrap());
        }
        let bytes = build(&keys).encode();
        assert_eq!(bytes[HEADER_LEN + FRAME_LEN + 1], CODEC_ZSTD);
    }

    /// Assembles a file from raw parts with valid checksums, for structural tests.
    fn file_with(blocks: &[(u8, u8, u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for &(kind, codec, raw_len, data) in blocks {
            put_frame(&mut out, kind, codec, raw_len, data);
        }
        finish(out)
    }

    #[test]
    fn hostile_lengths_are_rejected_before_allocating() {
        let (table, body) = bodies(&small_catalog());
        let stored = |kind, data: &[u8]| (kind, CODEC_STORED, data.len() as u64, data.to_vec());
        type RawBlock = (u8, u8, u64, Vec<u8>);
        let cases: Vec<(&str, Vec<RawBlock>)> = vec![
            (
                "ratio",
                vec![
                    (
                        KIND_KEYS,
                        CODEC_ZSTD,
                        1 << 40,
                        compress::compress(&table, 3).unwrap(),
                    ),
                    stored(KIND_POSTINGS, &body),
                ],
            ),
            (
                "stored length",
                vec![
                    (
                        KIND_KEYS,
                        CODEC_STORED,
                        table.len() as u64 + 1,
                        table.clone(),
                    ),
                    stored(KIND_POSTINGS, &body),
                ],
            ),
            (
                "codec",
                vec![(KIND_KEYS, 7, table.len() as u64, table.clone())],
            ),
            (
                "kind",
                vec![stored(KIND_POSTINGS, &body), stored(KIND_KEYS, &table)],
            ),
            ("missing block", vec![stored(KIND_KEYS, &table)]),
            (
                "extra block",
                vec![
                    stored(KIND_KEYS, &table),
                    stored(KIND_POSTINGS, &body),
                    stored(KIND_POSTINGS, &body),
                ],
            ),
        ];
        for (name, blocks) in cases {
            let blocks: Vec<(u8, u8, u64, &[u8])> = blocks
                .iter()
                .map(|(k, c, r, d)| (*k, *c, *r, d.as_slice()))
                .collect();
            let err = decode_err(&file_with(&blocks));
            assert!(err.is_corruption(), "{name}: {err}");
        }

        // Counts far beyond the bytes that follow them.
        let mut huge = Vec::new();
        write_u64(u64::from(u32::MAX) - 1, &mut huge);
        write_u64(0, &mut huge);
        let err = decode_err(&file_with(&[
            (KIND_KEYS, CODEC_STORED, huge.len() as u64, &huge),
            (KIND_POSTINGS, CODEC_STORED, body.len() as u64, &body),
        ]));
        assert!(err.to_string().contains("series count"), "{err}");
        let mut overlong = Vec::new();
        overlong.extend_from_slice(&[0xff; 10]);
        overlong.push(0x01);
        let err = decode_err(&file_with(&[
            (KIND_KEYS, CODEC_STORED, overlong.len() as u64, &overlong),
            (KIND_POSTINGS, CODEC_STORED, body.len() as u64, &body),
        ]));
        assert!(err.to_string().contains("varint"), "{err}");
    }

    #[test]
    fn run_container_bitmaps_are_rejected() {
        let catalog = build(&[SeriesKey::new("up")]);
        let (table, _) = bodies(&catalog);
        // One name, symbol 0, then a bitmap with the run-container cookie: one container
        // of one run 0..=0.
        let mut body = Vec::new();
        write_u64(1, &mut body);
        write_u64(0, &mut body);
        let bitmap: [u8; 12] = [0x3b, 0x30, 0, 0, 0x01, 0, 0, 0, 0x01, 0, 0, 0];
        write_u64(bitmap.len() as u64, &mut body);
        body.extend_from_slice(&bitmap);
        write_u64(0, &mut body);
        let err = decode_err(&file_with(&[
            (KIND_KEYS, CODEC_STORED, table.len() as u64, &table),
            (KIND_POSTINGS, CODEC_STORED, body.len() as u64, &body),
        ]));
        assert!(err.to_string().contains("cookie"), "{err}");
    }

    #[test]
    fn postings_that_disagree_with_keys_are_corruption() {
        let a = build(&[
            SeriesKey::new("cpu").with("host", "h1"),
            SeriesKey::new("cpu").with("host", "h2"),
        ]);
        // Same names and pairs, but the bitmaps swapped between the two hosts.
        let b = build(&[
            SeriesKey::new("cpu").with("host", "h2"),
            SeriesKey::new("cpu").with("host", "h1"),
        ]);
        let (table, _) = bodies(&a);
        let (_, body) = bodies(&b);
        let err = decode_err(&assemble(&table, &body));
        assert!(err.to_string().contains("postings"), "{err}");
        // Two series with the same key.
        let (table, body) = bodies(&build(&[SeriesKey::new("x"), SeriesKey::new("y")]));
        let mut table = table;
        let last = table.len() - 2;
        table[last] = table[last - 2];
        let err = decode_err(&assemble(&table, &body));
        assert!(err.is_corruption(), "{err}");
    }

    #[test]
    fn golden_v1_still_reads() {
        // Written by this test when SEDIMENTDB_BLESS=1; never rewrite it for a change of
        // format: add a new version and a new golden file instead.
        let golden_path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/index/testdata/catalog_v1.bin");
        let catalog = small_catalog();
        if std::env::var_os("SEDIMENTDB_BLESS").is_some() {
            std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
            std::fs::write(&golden_path, catalog.encode()).unwrap();
        }
        let golden = include_bytes!("testdata/catalog_v1.bin");
        let decoded = Catalog::decode(golden, &golden_path).unwrap();
        assert_same(&catalog, &decoded);
    }

    proptest! {
        #[test]
        fn random_catalogs_round_trip(keys in arb_catalog()) {
            let catalog = build(&keys);
            let bytes = catalog.encode();
            let decoded = Catalog::decode(&bytes, &path()).unwrap();
            assert_same(&catalog, &decoded);
            prop_assert_eq!(decoded.encode(), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..600),
            with_header in any::<bool>(),
        ) {
            let mut bytes = bytes;
            if with_header && bytes.len() >= HEADER_LEN {
                bytes[..MAGIC.len()].copy_from_slice(&MAGIC);
                bytes[VERSION_AT..FLAGS_AT].copy_from_slice(&VERSION.to_le_bytes());
            }
            let _ = Catalog::decode(&bytes, &path());
            let _ = Catalog::decode(&finish(bytes), &path());
        }

        /// Damage behind valid checksums (a writer bug, or forgery): the decoder must
        /// reject it or produce a catalog that is consistent in itself.
        #[test]
        fn damaged_bodies_with_valid_checksums_never_panic(
            keys in arb_catalog(),
            damage in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in prop::option::of((any::<bool>(), any::<prop::sample::Index>())),
            selectors in prop::collection::vec(arb_selector(), 3),
        ) {
            let (mut table, mut body) = bodies(&build(&keys));
            for (in_table, at, byte) in damage {
                let target = if in_table { &mut table } else { &mut body };
                if !target.is_empty() {
                    let at = at.index(target.len());
                    target[at] = byte;
                }
            }
            if let Some((in_table, at)) = cut {
                let target = if in_table { &mut table } else { &mut body };
                let at = at.index(target.len() + 1);
                target.truncate(at);
            }
            if let Ok(decoded) = Catalog::decode(&assemble(&table, &body), &path()) {
                decoded.assert_consistent();
                for selector in &selectors {
                    prop_assert_eq!(decoded.select(selector), reference(&decoded, selector));
                }
                let again = Catalog::decode(&decoded.encode(), &path()).unwrap();
                assert_same(&decoded, &again);
            }
        }
    }
}

// The TSBS host generator of the examples and benches (std only), so that the figures
// below are for the same tags as theirs.
#[cfg(test)]
#[path = "../../crates/sedimentdb-bench/src/tsbs_data.rs"]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tsbs_data;

/// Figures for the catalog of a TSBS-like "devops" data set. Run with
/// `cargo test --release --lib index::file::figures -- --ignored --nocapture`.
#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod figures {
    use std::path::Path;
    use std::time::Instant;

    use super::*;
    use crate::types::{Matcher, Selector};

    use super::tsbs_data;

    /// `hosts` hosts with TSBS' ten tags, times the ten cpu fields as metric names.
    pub(super) fn tsbs_keys(hosts: usize) -> Vec<SeriesKey> {
        let mut keys = Vec::with_capacity(hosts * tsbs_data::FIELDS.len());
        for host in tsbs_data::make_hosts(hosts, 1) {
            for field in 0..tsbs_data::FIELDS.len() {
                let tags = host.tag_pairs().map(|(k, v)| (k, v.to_owned()));
                keys.push(SeriesKey::from_parts(tsbs_data::metric_name(field), tags));
            }
        }
        keys
    }

    fn rss_bytes() -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * 4096)
    }

    /// Nanoseconds this thread has spent on a CPU (from the scheduler): unlike wall time,
    /// it does not count the time other processes on this shared machine held the CPU.
    fn on_cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Smallest CPU time of `runs` runs of `f`, in milliseconds: the machine is shared,
    /// and the minimum is the figure least disturbed by other processes.
    fn best_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
        let mut best = f64::INFINITY;
        let mut last = None;
        for _ in 0..runs {
            let start = on_cpu_ns();
            let out = f();
            best = best.min((on_cpu_ns() - start) as f64 / 1e6);
            last = Some(out);
        }
        (best, last.expect("runs > 0"))
    }

    #[test]
    #[ignore = "prints figures; run in release"]
    fn tsbs_100k() {
        let keys = tsbs_keys(10_000);
        let n = keys.len() as f64;
        let per_key = |ms: f64| ms * 1e6 / n;
        let refs: Vec<&SeriesKey> = keys.iter().collect();

        let rss_before = rss_bytes();
        let kept = Catalog::new();
        for batch in refs.chunks(1000) {
            kept.get_or_create(batch, u64::MAX).unwrap();
        }
        let rss = rss_bytes().saturating_sub(rss_before) as f64;
        let (create_ms, catalog) = best_ms(3, || {
            let catalog = Catalog::new();
            for batch in refs.chunks(1000) {
                catalog.get_or_create(batch, u64::MAX).unwrap();
            }
            catalog
        });
        drop(kept);
        println!(
            "{} series: create {create_ms:.1} ms ({:.0} ns/series); RSS +{:.1} MiB ({:.0} B/series)",
            catalog.len(),
            per_key(create_ms),
            rss / (1 << 20) as f64,
            rss / n,
        );
        let (existing_ms, _) = best_ms(5, || {
            for batch in refs.chunks(1000) {
                let (_, created) = catalog.get_or_create(batch, u64::MAX).unwrap();
                assert!(created.is_empty());
            }
        });
        let (lookup_ms, _) = best_ms(5, || keys.iter().filter_map(|k| catalog.lookup(k)).count());
        let (hash_ms, _) = best_ms(5, || {
            keys.iter().fold(0u64, |acc, k| {
                acc.wrapping_add(catalog.key_hash_for_tests(k))
            })
        });
        let hot = &keys[..1000];
        let (hot_hash_ms, _) = best_ms(5, || {
            (0..100).fold(0u64, |acc, _| {
                hot.iter().fold(acc, |acc, k| {
                    acc.wrapping_add(catalog.key_hash_for_tests(k))
                })
            })
        });
        let hot_refs: Vec<&SeriesKey> = hot.iter().collect();
        let (hot_existing_ms, _) = best_ms(5, || {
            for _ in 0..100 {
                catalog.get_or_create(&hot_refs, u64::MAX).unwrap();
            }
        });
        println!(
            "in cache (1000 keys x 100): key hash {:.0} ns, get_or_create of existing {:.0} ns/key",
            per_key(hot_hash_ms),
            per_key(hot_existing_ms),
        );
        println!(
            "all 100k keys (out of cache): get_or_create of existing {:.0} ns/key, lookup {:.0} ns/key, key hash alone {:.0} ns",
            per_key(existing_ms),
            per_key(lookup_ms),
            per_key(hash_ms),
        );

        let (encode_ms, bytes) = best_ms(3, || catalog.encode());
        let inner = catalog.inner_for_tests();
        let (table, body) = encode_bodies(&inner.keys, &inner.postings).unwrap();
        drop(inner);
        let keys_block = le_u64(&bytes[HEADER_LEN..]) as usize;
        let postings_block = le_u64(&bytes[HEADER_LEN + FRAME_LEN + keys_block..]) as usize;
        println!(
            "catalog file: {} bytes ({:.2} B/series), encode {encode_ms:.1} ms; key table {} B raw -> {} B block, postings {} B raw -> {} B block",
            bytes.len(),
            bytes.len() as f64 / n,
            table.len(),
            keys_block,
            body.len(),
            postings_block,
        );

        let path = Path::new("catalog");
        let (decode_ms, decoded) = best_ms(3, || Catalog::decode(&bytes, path).unwrap());
        let end = bytes.len() - TRAILER_LEN;
        let (blocks_ms, (raw_table, raw_body)) = best_ms(3, || {
            let mut at = HEADER_LEN;
            let (_, raw_table) = read_block(&bytes, &mut at, end, KIND_KEYS, path).unwrap();
            let (_, raw_body) = read_block(&bytes, &mut at, end, KIND_POSTINGS, path).unwrap();
            (raw_table, raw_body)
        });
        let (table_ms, parsed) = best_ms(3, || parse_key_table(&raw_table).unwrap());
        let (postings_ms, _) = best_ms(3, || parse_postings(&raw_body, &parsed).unwrap());
        let (keys_ms, built) = best_ms(3, || parsed.keys());
        let (from_parts_ms, by_parts) = best_ms(3, || parsed.keys_from_parts());
        assert_eq!(built, by_parts);
        println!(
            "building SeriesKeys: via serde {keys_ms:.1} ms, via from_parts {from_parts_ms:.1} ms"
        );
        let (rebuild_ms, rebuilt) =
            best_ms(3, || Postings::from_keys(&decoded.inner_for_tests().keys));
        assert!(rebuilt == decoded.inner_for_tests().postings);
        println!(
            "decode {decode_ms:.1} ms: blocks (CRC + zstd) {blocks_ms:.1}, key table {table_ms:.1}, postings + check {postings_ms:.1}, building SeriesKeys {keys_ms:.1}, rest (lookup table) ~{:.1}; rebuilding postings from keys instead would take {rebuild_ms:.1} ms",
            decode_ms - blocks_ms - table_ms - postings_ms - keys_ms,
        );

        let queries = [
            ("metric", Selector::metric("cpu_usage_user")),
            (
                "metric + host",
                Selector::metric("cpu_usage_user").with(Matcher::eq("hostname", "host_42")),
            ),
            (
                "metric + region + os!=",
                Selector::metric("cpu_usage_user")
                    .with(Matcher::eq("region", "eu-west-1"))
                    .with(Matcher::ne("os", "Ubuntu15.10")),
            ),
            (
                "metric + host regex (10k values)",
                Selector::metric("cpu_usage_user")
                    .with(Matcher::regex("hostname", "host_[1-8]").unwrap()),
            ),
            (
                "region + team + host regex",
                Selector::any()
                    .with(Matcher::eq("region", "eu-west-1"))
                    .with(Matcher::eq("team", "LON"))
                    .with(Matcher::regex("hostname", "host_1.*").unwrap()),
            ),
        ];
        for (name, selector) in &queries {
            // Too short for the scheduler's CPU clock: fastest wall time of many runs.
            let mut best = f64::INFINITY;
            let mut ids = RoaringBitmap::new();
            for _ in 0..200 {
                let t = Instant::now();
                ids = decoded.select(selector);
                best = best.min(t.elapsed().as_secs_f64() * 1e6);
            }
            println!("select {name}: {} series in {best:.1} µs", ids.len());
        }
    }
}
