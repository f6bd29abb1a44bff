//! Column codecs for one segment chunk: pure functions from columns to bytes and back.
//!
//! A chunk holds up to 65 536 points of one series: timestamps (strictly ascending) and
//! f64 values. Each column is encoded on its own, tagged with a one-byte codec id that
//! the segment writer stores next to it, and then zstd-compressed by the writer. The
//! codecs therefore aim for byte streams that zstd compresses well (byte-aligned,
//! low-entropy planes, see `planes`) rather than for the smallest raw size.
//!
//! | column     | codec            | id | when                                        |
//! |------------|------------------|----|---------------------------------------------|
//! | timestamps | `Constant`       | 0  | one step for the whole chunk: 16 bytes      |
//! | timestamps | `DeltaOfDelta`   | 1  | intervals that drift smoothly               |
//! | timestamps | `Delta`          | 2  | jittered or irregular intervals             |
//! | values     | `Constant`       | 0  | all values bit-identical: 8 bytes           |
//! | values     | `Xor`            | 1  | anything (Gorilla); the fallback            |
//! | values     | `Decimal`        | 2  | short decimals, as scaled-integer deltas    |
//!
//! Every codec is bit-exact (NaN payloads, infinities, `-0.0`, subnormals). Decoders
//! treat their input as untrusted: they never panic, allocate O(count) at most, and
//! reject short input, trailing bytes and non-canonical padding with a [`DecodeError`].
//! On error the output vector is left as it was.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

mod bits;
mod decimal;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_entry;
mod planes;
mod timestamps;
mod xor;

use std::fmt;

/// A decoder was given bytes that are not a valid encoding. The caller (the segment
/// reader) turns it into a corruption error naming the file and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DecodeError {}

impl From<crate::format::varint::VarintError> for DecodeError {
    fn from(e: crate::format::varint::VarintError) -> Self {
        DecodeError(e.what())
    }
}

/// How a chunk's timestamps are encoded. The discriminant is stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum TimestampCodec {
    /// First timestamp and one step, 16 bytes.
    Constant = 0,
    /// Second differences of the GCD-scaled timestamps, zig-zagged, in planes.
    DeltaOfDelta = 1,
    /// GCD-scaled deltas minus their minimum, in planes.
    Delta = 2,
}

impl TryFrom<u8> for TimestampCodec {
    type Error = DecodeError;

    fn try_from(id: u8) -> Result<Self, DecodeError> {
        match id {
            0 => Ok(TimestampCodec::Constant),
            1 => Ok(TimestampCodec::DeltaOfDelta),
            2 => Ok(TimestampCodec::Delta),
            _ => Err(DecodeError("unknown timestamp codec id")),
        }
    }
}

/// How a chunk's values are encoded. The discriminant is stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum ValueCodec {
    /// One value repeated, 8 bytes.
    Constant = 0,
    /// Gorilla XOR with the previous value, bit-packed.
    Xor = 1,
    /// `m / 10^e` with the deltas of `m` zig-zagged, in planes.
    Decimal = 2,
}

impl TryFrom<u8> for ValueCodec {
    type Error = DecodeError;

    fn try_from(id: u8) -> Result<Self, DecodeError> {
        match id {
            0 => Ok(ValueCodec::Constant),
            1 => Ok(ValueCodec::Xor),
            2 => Ok(ValueCodec::Decimal),
            _ => Err(DecodeError("unknown value codec id")),
        }
    }
}

/// Appends the encoding of `ts` (sorted ascending, len >= 1) to `out`; returns the codec
/// used. Any `i64` sequence round-trips; sortedness only makes it small.
pub(crate) fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) -> TimestampCodec {
    debug_assert!(!ts.is_empty(), "a chunk holds at least one point");
    timestamps::encode(ts, out)
}

/// Decodes exactly `count` timestamps from `bytes` (the whole encoding, nothing after
/// it), appending them to `out`.
pub(crate) fn decode_timestamps(
    codec: u8,
    bytes: &[u8],
    count: usize,
    out: &mut Vec<i64>,
) -> Result<(), DecodeError> {
    let codec = TimestampCodec::try_from(codec)?;
    let len_before = out.len();
    let result = timestamps::decode(codec, bytes, count, out);
    if result.is_err() {
        out.truncate(len_before);
    }
    result
}

/// Below this many meaningful bits per decimal delta, `Decimal` beats `Xor` without
/// asking: 2 raw bytes per value that zstd still shrinks, against an XOR stream that
/// needs at least that for any value that changes.
const DECIMAL_SURE_WIN_BITS: u32 = 16;

/// Appends the smallest encoding of `values` (len >= 1) to `out`; returns the codec used.
///
/// Order of preference: `Constant` when all values are bit-identical; `Decimal` when it
/// applies, unless its deltas are wide (long mantissas, e.g. `0.1234567891`) and the XOR
/// stream is smaller; then the two are compared after a fast zstd pass, because decimal
/// planes still shrink under zstd while XOR streams barely do. `Xor` otherwise.
pub(crate) fn encode_values(values: &[f64], out: &mut Vec<u8>) -> ValueCodec {
    debug_assert!(!values.is_empty(), "a chunk holds at least one point");
    if encode_constant_values(values, out) {
        return ValueCodec::Constant;
    }
    let start = out.len();
    let Some(delta_bits) = decimal::encode(values, out) else {
        xor::encode(values, out);
        return ValueCodec::Xor;
    };
    if delta_bits <= DECIMAL_SURE_WIN_BITS {
        return ValueCodec::Decimal;
    }
    let mut xor_bytes = Vec::new();
    xor::encode(values, &mut xor_bytes);
    let decimal_bytes = out.get(start..).unwrap_or_default();
    if xor_bytes.len() >= decimal_bytes.len() {
        return ValueCodec::Decimal;
    }
    let close = xor_bytes.len() * 10 > decimal_bytes.len() * 7;
    if close && compressed_len(decimal_bytes) <= compressed_len(&xor_bytes) {
        return ValueCodec::Decimal;
    }
    out.truncate(start);
    out.extend_from_slice(&xor_bytes);
    ValueCodec::Xor
}

/// Size after the fastest zstd level: a stand-in for what the segment writer will get.
fn compressed_len(bytes: &[u8]) -> usize {
    crate::format::compress::compress(bytes, 1).map_or(bytes.len(), |c| c.len())
}

/// Decodes exactly `count` values from `bytes` (the whole encoding, nothing after it),
/// appending them to `out`.
pub(crate) fn decode_values(
    codec: u8,
    bytes: &[u8],
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let codec = ValueCodec::try_from(codec)?;
    let len_before = out.len();
    let result = match codec {
        ValueCodec::Constant => decode_constant_values(bytes, count, out),
        ValueCodec::Xor => xor::decode(bytes, count, out),
        ValueCodec::Decimal => decimal::decode(bytes, count, out),
    };
    if result.is_err() {
        out.truncate(len_before);
    }
    result
}

/// Writes the 8-byte constant encoding if all values are bit-identical.
fn encode_constant_values(values: &[f64], out: &mut Vec<u8>) -> bool {
    let Some(first) = values.first().map(|v| v.to_bits()) else {
        return false;
    };
    if values.iter().all(|v| v.to_bits() == first) {
        out.extend_from_slice(&first.to_le_bytes());
        true
    } else {
        false
    }
}

fn decode_constant_values(
    bytes: &[u8],
    count: usize,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    let bits: [u8; 8] = bytes
        .try_into()
        .map_err(|_| DecodeError("constant value is not 8 bytes"))?;
    if count == 0 {
        return Err(DecodeError("constant values: empty column"));
    }
    out.resize(out.len() + count, f64::from_bits(u64::from_le_bytes(bits)));
    Ok(())
}

#[cfg(any(test, feature = "fuzzing"))]
/// Query fast path: the positions of the timestamps inside `[start, end)` of a
/// `Constant` column, computed from its 16 bytes without decoding.
///
/// Returns `None` for other codecs, for bytes that do not decode, and for columns that are
/// not ascending (a step <= 0 or a last timestamp past `i64::MAX`, which only unsorted
/// input produces); the caller then decodes and searches.
pub(crate) fn constant_timestamp_positions(
    codec: u8,
    bytes: &[u8],
    count: usize,
    start: i64,
    end: i64,
) -> Option<std::ops::Range<usize>> {
    if TimestampCodec::try_from(codec).ok()? != TimestampCodec::Constant || count == 0 {
        return None;
    }
    let (first, step) = bytes.split_first_chunk::<8>()?;
    let first = i128::from(i64::from_le_bytes(*first));
    let step = i128::from(i64::from_le_bytes(step.try_into().ok()?));
    let count_wide = i128::try_from(count).ok()?;
    let step = match step {
        0 if count == 1 => 1,
        s if s > 0 && first + (count_wide - 1) * s <= i128::from(i64::MAX) => s,
        _ => return None,
    };
    // Index of the first timestamp >= t: ceil((t - first) / step), clamped to 0..=count.
    let lower_bound = |t: i64| -> usize {
        let offset = i128::from(t) - first;
        let index = if offset <= 0 {
            0
        } else {
            (offset + step - 1) / step
        };
        usize::try_from(index.min(count_wide)).unwrap_or(count)
    };
    let lo = lower_bound(start);
    Some(lo..lower_bound(end).max(lo))
}

#[cfg(any(test, feature = "fuzzing"))]
/// Query fast path: the value of a `Constant` value column (aggregates over it need no
/// decoding). `None` for other codecs or bytes that do not decode.
pub(crate) fn constant_value(codec: u8, bytes: &[u8]) -> Option<f64> {
    if ValueCodec::try_from(codec).ok()? != ValueCodec::Constant {
        return None;
    }
    let bits: [u8; 8] = bytes.try_into().ok()?;
    Some(f64::from_bits(u64::from_le_bytes(bits)))
}

#[cfg(any(test, feature = "fuzzing"))]
/// Appends `values` in exactly `codec`, or returns false (writing nothing) when `codec`
/// cannot represent them. For tests and the fuzz entry, which check every codec, not
/// just the chooser's pick.
pub(crate) fn encode_values_as(values: &[f64], codec: ValueCodec, out: &mut Vec<u8>) -> bool {
    match codec {
        ValueCodec::Constant => encode_constant_values(values, out),
        ValueCodec::Xor => {
            xor::encode(values, out);
            !values.is_empty()
        }
        ValueCodec::Decimal => decimal::encode(values, out).is_some(),
    }
}

#[cfg(any(test, feature = "fuzzing"))]
/// Timestamp counterpart of [`encode_values_as`].
pub(crate) fn encode_timestamps_as(ts: &[i64], codec: TimestampCodec, out: &mut Vec<u8>) -> bool {
    timestamps::encode_as(ts, codec, out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests;
