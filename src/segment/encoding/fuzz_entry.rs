//! Entry point for the `codecs` fuzz target (`fuzz/fuzz_targets/codecs.rs`), also run by
//! a unit test on pseudo-random inputs. Exposed to the fuzz crate through a hidden
//! re-export in `lib.rs`; not part of the API.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::{
    constant_timestamp_positions, constant_value, decode_timestamps, decode_values,
    encode_timestamps, encode_timestamps_as, encode_values, encode_values_as, TimestampCodec,
    ValueCodec,
};

/// Feeds `data` to every decoder as an untrusted encoding, then round-trips values and
/// timestamps derived from it through every encoder. Panics on any violation: a decoder
/// panic, a round trip that is not bit-exact, or a decoder accepting a truncated column.
///
/// Layout of `data`: byte 0 picks the codec id for the decoding half (any byte, so
/// unknown ids are exercised too), bytes 1..3 the count (1..=65 536), the rest is the
/// encoding; the same rest, read as 8-byte words, is the round-trip input.
pub fn codecs(data: &[u8]) {
    let [codec_id, count_low, count_high, rest @ ..] = data else {
        return;
    };
    let count = usize::from(u16::from_le_bytes([*count_low, *count_high])) + 1;
    let mut timestamps = Vec::new();
    let mut values = Vec::new();
    if decode_timestamps(*codec_id, rest, count, &mut timestamps).is_ok() {
        assert_eq!(timestamps.len(), count);
        check_fast_paths(*codec_id, rest, &timestamps);
    } else {
        assert!(
            timestamps.is_empty(),
            "a failed decode must not leave output"
        );
    }
    if decode_values(*codec_id, rest, count, &mut values).is_ok() {
        assert_eq!(values.len(), count);
        if let Some(constant) = constant_value(*codec_id, rest) {
            assert!(values.iter().all(|v| v.to_bits() == constant.to_bits()));
        }
    } else {
        assert!(values.is_empty(), "a failed decode must not leave output");
    }

    let words: Vec<u64> = rest
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .collect();
    if words.is_empty() {
        return;
    }
    // Raw bit patterns, and short decimals built from the low bits, so that the decimal
    // codec is reached too (random bit patterns are almost never decimals).
    let raw: Vec<f64> = words.iter().map(|&w| f64::from_bits(w)).collect();
    let exponent = i32::from(*codec_id % 7);
    let decimals: Vec<f64> = words
        .iter()
        .map(|&w| f64::from(w as i32 >> (w >> 59)) / 10f64.powi(exponent))
        .collect();
    round_trip_values(&raw);
    round_trip_values(&decimals);
    let mut sorted: Vec<i64> = words.iter().map(|&w| w as i64).collect();
    round_trip_timestamps(&sorted);
    sorted.sort_unstable();
    sorted.dedup();
    round_trip_timestamps(&sorted);
    let start = sorted.first().copied().unwrap_or(0);
    let regular: Vec<i64> = (0..words.len() as i64)
        .map(|i| start.wrapping_add(i.wrapping_mul(sorted.len() as i64 + 1)))
        .collect();
    round_trip_timestamps(&regular);
}

/// When the constant-timestamp fast path answers, it must agree with a binary search of
/// the decoded column, for ranges around its ends and inside it.
pub(super) fn check_fast_paths(codec: u8, bytes: &[u8], ts: &[i64]) {
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return;
    };
    let middle = ts.get(ts.len() / 2).copied().unwrap_or(first);
    let probes = [
        i64::MIN,
        first.saturating_sub(1),
        first,
        first.saturating_add(1),
        middle,
        middle.saturating_add(1),
        last,
        last.saturating_add(1),
        i64::MAX,
    ];
    for &start in &probes {
        for &end in &probes {
            if let Some(positions) =
                constant_timestamp_positions(codec, bytes, ts.len(), start, end)
            {
                let lo = ts.partition_point(|&t| t < start);
                let hi = ts.partition_point(|&t| t < end).max(lo);
                assert_eq!(positions, lo..hi, "constant fast path for [{start}, {end})");
            }
        }
    }
}

/// Round-trips `values` through the chooser and through every codec that accepts them.
pub(super) fn round_trip_values(values: &[f64]) -> ValueCodec {
    let mut bytes = Vec::new();
    let chosen = encode_values(values, &mut bytes);
    check_values(values, chosen, &bytes);
    for codec in [ValueCodec::Constant, ValueCodec::Xor, ValueCodec::Decimal] {
        bytes.clear();
        if encode_values_as(values, codec, &mut bytes) {
            check_values(values, codec, &bytes);
        } else {
            assert!(bytes.is_empty(), "{codec:?} refused but wrote bytes");
        }
    }
    chosen
}

fn check_values(values: &[f64], codec: ValueCodec, bytes: &[u8]) {
    let mut decoded = Vec::new();
    decode_values(codec as u8, bytes, values.len(), &mut decoded)
        .unwrap_or_else(|e| panic!("{codec:?} cannot decode its own output: {e}"));
    let same = decoded
        .iter()
        .zip(values)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(
        same && decoded.len() == values.len(),
        "{codec:?} is not bit-exact"
    );
    for cut in cut_points(bytes.len()) {
        decoded.clear();
        if let Some(prefix) = bytes.get(..cut) {
            assert!(
                decode_values(codec as u8, prefix, values.len(), &mut decoded).is_err(),
                "{codec:?} accepted a column truncated to {cut} of {} bytes",
                bytes.len()
            );
        }
    }
}

/// Round-trips `ts` through the chooser and through every codec that accepts them.
pub(super) fn round_trip_timestamps(ts: &[i64]) -> TimestampCodec {
    let mut bytes = Vec::new();
    let chosen = encode_timestamps(ts, &mut bytes);
    check_timestamps(ts, chosen, &bytes);
    for codec in [
        TimestampCodec::Constant,
        TimestampCodec::DeltaOfDelta,
        TimestampCodec::Delta,
    ] {
        bytes.clear();
        if encode_timestamps_as(ts, codec, &mut bytes) {
            check_timestamps(ts, codec, &bytes);
        } else {
            assert!(bytes.is_empty(), "{codec:?} refused but wrote bytes");
        }
    }
    chosen
}

fn check_timestamps(ts: &[i64], codec: TimestampCodec, bytes: &[u8]) {
    let mut decoded = Vec::new();
    decode_timestamps(codec as u8, bytes, ts.len(), &mut decoded)
        .unwrap_or_else(|e| panic!("{codec:?} cannot decode its own output: {e}"));
    assert_eq!(decoded, ts, "{codec:?} did not round-trip");
    check_fast_paths(codec as u8, bytes, ts);
    for cut in cut_points(bytes.len()) {
        decoded.clear();
        if let Some(prefix) = bytes.get(..cut) {
            assert!(
                decode_timestamps(codec as u8, prefix, ts.len(), &mut decoded).is_err(),
                "{codec:?} accepted timestamps truncated to {cut} of {} bytes",
                bytes.len()
            );
        }
    }
}

/// Truncation points checked: every length for short encodings, every length near both
/// ends for long ones, so that long inputs do not make each fuzz iteration quadratic.
fn cut_points(len: usize) -> impl Iterator<Item = usize> {
    let all_below = if len <= 2048 { len } else { 64 };
    (0..all_below).chain(len.saturating_sub(64).max(all_below)..len)
}
