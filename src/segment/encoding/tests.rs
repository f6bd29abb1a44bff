//! Round trips, hostile inputs, codec choice and density of the column codecs.
//!
//! The per-column checks (chooser and every applicable codec round-trip bit-exactly,
//! every truncation is rejected) live in `fuzz_entry` so that the fuzz target and these
//! tests enforce the same properties.

use super::fuzz_entry::{check_fast_paths, codecs, round_trip_timestamps, round_trip_values};
use super::*;
use crate::format::varint;
use proptest::prelude::*;

/// Deterministic generator for test data: xorshift64 plus Box-Muller, so the density
/// figures are reproducible without another dependency.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The benchmark series: a random walk reflected into [0, 100] with N(0, sigma) steps,
/// rounded to 0.01 (so hundredths-deltas are ~N(0, (100 sigma)^2)).
fn random_walk(rng: &mut XorShift, n: usize, sigma: f64) -> Vec<f64> {
    let mut x = 50.0f64;
    (0..n)
        .map(|_| {
            x += rng.normal() * sigma;
            if x < 0.0 {
                x = -x;
            }
            if x > 100.0 {
                x = 200.0 - x;
            }
            (x * 100.0).round() / 100.0
        })
        .collect()
}

fn decode_v(codec: ValueCodec, bytes: &[u8], count: usize) -> Vec<f64> {
    let mut out = Vec::new();
    decode_values(codec as u8, bytes, count, &mut out).expect("valid encoding");
    out
}

fn encoded_values(values: &[f64]) -> (ValueCodec, Vec<u8>) {
    let mut bytes = Vec::new();
    let codec = encode_values(values, &mut bytes);
    (codec, bytes)
}

fn encoded_timestamps(ts: &[i64]) -> (TimestampCodec, Vec<u8>) {
    let mut bytes = Vec::new();
    let codec = encode_timestamps(ts, &mut bytes);
    (codec, bytes)
}

// ---------------------------------------------------------------- strategies

/// Any f64, with the awkward ones (NaN payloads, signed zeros and infinities,
/// subnormals, extremes) much more likely than uniform bit patterns would make them.
fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<u64>().prop_map(f64::from_bits),
        1 => (any::<bool>(), 1u64..(1 << 52)).prop_map(|(sign, payload)| {
            f64::from_bits((u64::from(sign) << 63) | 0x7ff0_0000_0000_0000 | payload)
        }),
        1 => (any::<bool>(), 0u64..(1 << 52)).prop_map(|(sign, mantissa)| {
            f64::from_bits((u64::from(sign) << 63) | mantissa)
        }),
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            5e-324,
            -5e-324,
            1.0,
            0.1,
        ]),
    ]
}

/// Decimals with 0..=6 digits after the point.
fn decimals() -> impl Strategy<Value = Vec<f64>> {
    (
        0i32..=6,
        prop::collection::vec(-1_000_000_000i64..1_000_000_000, 1..200),
    )
        .prop_map(|(digits, ms)| {
            let scale = 10f64.powi(digits);
            ms.into_iter().map(|m| m as f64 / scale).collect()
        })
}

/// Runs of repeated values (a chunk of one run is a constant column).
fn runs() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((any_float(), 1usize..40), 1..6).prop_map(|runs| {
        runs.into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()
    })
}

/// Random walks, rounded to a few digits or not rounded at all.
fn walks() -> impl Strategy<Value = Vec<f64>> {
    (any::<u64>(), 1usize..300, 0.001f64..50.0, 0i32..=7).prop_map(|(seed, n, sigma, digits)| {
        let mut rng = XorShift(seed | 1);
        let mut x = 0.0f64;
        let scale = 10f64.powi(digits);
        (0..n)
            .map(|_| {
                x += rng.normal() * sigma;
                if digits == 7 {
                    x
                } else {
                    (x * scale).round() / scale
                }
            })
            .collect()
    })
}

fn value_columns() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(any_float(), 1..200),
        decimals(),
        runs(),
        walks(),
    ]
}

fn timestamp_columns() -> impl Strategy<Value = Vec<i64>> {
    let regular =
        (any::<i64>(), 1i64..1_000_000_000_000, 1usize..300).prop_map(|(start, step, n)| {
            (0..n as i64)
                .map(|i| start.wrapping_add(i * step))
                .collect()
        });
    let jittered = (
        0i64..1 << 61,
        1_000i64..10_000_000_000,
        0i64..1000,
        1usize..300,
    )
        .prop_map(|(start, step, jitter, n)| {
            let mut rng = XorShift(start as u64 | 1);
            (0..n as i64)
                .map(|i| start + i * step + (rng.next_u64() % (jitter as u64 + 1)) as i64)
                .collect()
        });
    let sorted = prop::collection::vec(any::<i64>(), 1..200).prop_map(|mut ts| {
        ts.sort_unstable();
        ts.dedup();
        ts
    });
    let unsorted = prop::collection::vec(any::<i64>(), 1..100);
    let extremes = prop::sample::select(vec![
        vec![i64::MIN, i64::MIN + 1, i64::MAX],
        vec![i64::MIN, i64::MAX],
        vec![i64::MIN, 0, i64::MAX],
        vec![i64::MAX],
        vec![i64::MIN],
        vec![0],
        vec![i64::MAX - 2, i64::MAX - 1, i64::MAX],
        vec![i64::MIN, -1, 0, 1, i64::MAX],
        vec![5, 5, 5],
    ]);
    prop_oneof![regular, jittered, sorted, unsorted, extremes]
}

// ---------------------------------------------------------------- round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn values_round_trip_through_chooser_and_every_codec(values in value_columns()) {
        round_trip_values(&values);
    }

    #[test]
    fn timestamps_round_trip_through_chooser_and_every_codec(ts in timestamp_columns()) {
        round_trip_timestamps(&ts);
    }

    #[test]
    fn decoders_never_panic_on_garbage(
        codec in 0u8..4,
        count in 1usize..3000,
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut ts = vec![7i64];
        match decode_timestamps(codec, &bytes, count, &mut ts) {
            Ok(()) => prop_assert_eq!(ts.len(), count + 1),
            Err(_) => prop_assert_eq!(&ts, &[7]),
        }
        let mut values = vec![7.0f64];
        match decode_values(codec, &bytes, count, &mut values) {
            Ok(()) => prop_assert_eq!(values.len(), count + 1),
            Err(_) => prop_assert_eq!(&values, &[7.0]),
        }
    }

    #[test]
    fn decoders_never_panic_on_corrupted_encodings(
        values in value_columns(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let (codec, mut bytes) = encoded_values(&values);
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let mut out = Vec::new();
        if decode_values(codec as u8, &bytes, values.len(), &mut out).is_ok() {
            prop_assert_eq!(out.len(), values.len());
        }
    }
}

#[test]
fn special_columns_round_trip() {
    let columns: Vec<Vec<f64>> = vec![
        vec![f64::NAN],
        vec![-0.0],
        vec![0.0, -0.0],
        vec![
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::from_bits(0xfff0_0000_0000_0001),
        ],
        vec![f64::MIN, f64::MAX, f64::MIN_POSITIVE, 5e-324, -5e-324],
        vec![f64::INFINITY, f64::NEG_INFINITY, 1.5],
        vec![9007199254740991.0, -9007199254740991.0],
        vec![1e-15, 2e-15, 123456789.012345],
    ];
    for column in &columns {
        round_trip_values(column);
    }
    for ts in [
        vec![i64::MIN, i64::MIN + 1, i64::MAX],
        vec![i64::MAX],
        vec![1_700_000_000_000_000_000],
    ] {
        round_trip_timestamps(&ts);
    }
}

// ---------------------------------------------------------------- codec choice

#[test]
fn chooser_picks_the_expected_value_codec() {
    let pick = |values: &[f64]| encoded_values(values).0;
    assert_eq!(pick(&[42.5; 100]), ValueCodec::Constant);
    assert_eq!(pick(&[f64::NAN; 3]), ValueCodec::Constant);
    assert_eq!(pick(&[1.0]), ValueCodec::Constant);
    assert_eq!(pick(&[1.5, 2.25, 3.0, 2.75]), ValueCodec::Decimal);
    let walk = random_walk(&mut XorShift(7), 2048, 1.0);
    assert_eq!(pick(&walk), ValueCodec::Decimal);
    // Not decimals: computed floats, special values, -0.0 among decimals.
    assert_eq!(pick(&[0.1 + 0.2, 0.5]), ValueCodec::Xor);
    assert_eq!(
        pick(&[std::f64::consts::PI, std::f64::consts::E]),
        ValueCodec::Xor
    );
    assert_eq!(pick(&[1.0, f64::NAN]), ValueCodec::Xor);
    assert_eq!(pick(&[1.0, -0.0]), ValueCodec::Xor);
    assert_eq!(pick(&[1.0, f64::INFINITY]), ValueCodec::Xor);
    // Decimal applies (13 digits) but its deltas are wide while the values are short
    // binary fractions that XOR well.
    let mut binary_fractions: Vec<f64> = (0..1000).map(|i| f64::from(i % 4) * 0.5).collect();
    binary_fractions.push(0.123_456_789_012_3);
    assert_eq!(pick(&binary_fractions), ValueCodec::Xor);
}

#[test]
fn chooser_picks_the_expected_timestamp_codec() {
    let pick = |ts: &[i64]| encoded_timestamps(ts).0;
    let start = 1_700_000_000_000_000_000i64;
    let regular: Vec<i64> = (0..2048).map(|i| start + i * 10_000_000_000).collect();
    let (codec, bytes) = encoded_timestamps(&regular);
    assert_eq!(codec, TimestampCodec::Constant);
    assert_eq!(bytes.len(), 16);
    assert_eq!(pick(&[start]), TimestampCodec::Constant);
    let mut rng = XorShift(3);
    let jittered: Vec<i64> = (0..2048)
        .map(|i| start + i * 10_000_000_000 + (rng.next_u64() % 50) as i64 * 1_000_000)
        .collect();
    assert_eq!(pick(&jittered), TimestampCodec::Delta);
    // The interval grows by 1 ms at every point: second differences are constant.
    let drifting: Vec<i64> = (0..2048)
        .map(|i| start + i * 1_000_000_000 + i * i * 500_000)
        .collect();
    assert_eq!(pick(&drifting), TimestampCodec::DeltaOfDelta);
}

#[test]
fn gcd_scaling_makes_millisecond_jitter_cheap() {
    let start = 1_700_000_000_000_000_000i64;
    let mut rng = XorShift(11);
    let jittered: Vec<i64> = (0..2048)
        .map(|i| start + i * 10_000_000_000 + (rng.next_u64() % 50) as i64 * 1_000_000)
        .collect();
    let (_, bytes) = encoded_timestamps(&jittered);
    // Offsets in 0..99 ms: one byte plane, where unscaled nanoseconds would need four.
    assert!(bytes.len() <= 2048 + 16, "{} bytes", bytes.len());
}

#[test]
fn constant_fast_paths_answer_without_decoding() {
    let ts: Vec<i64> = (0..100).map(|i| 1_000 + i * 10).collect();
    let (codec, bytes) = encoded_timestamps(&ts);
    let positions = |start, end| constant_timestamp_positions(codec as u8, &bytes, 100, start, end);
    assert_eq!(positions(i64::MIN, i64::MAX), Some(0..100));
    assert_eq!(positions(1_000, 1_010), Some(0..1));
    assert_eq!(positions(1_001, 1_011), Some(1..2));
    assert_eq!(positions(1_990, 5_000), Some(99..100));
    assert_eq!(positions(2_000, 5_000), Some(100..100));
    assert_eq!(positions(500, 900), Some(0..0));
    assert_eq!(positions(1_500, 1_200), Some(50..50));
    let single = constant_timestamp_positions(
        0,
        &[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        1,
        7,
        8,
    );
    assert_eq!(single, Some(0..1));
    // Other codecs, or a descending "constant" column: decode instead.
    assert_eq!(constant_timestamp_positions(2, &bytes, 100, 0, 1), None);
    let (codec, descending) = encoded_timestamps(&[30, 20, 10]);
    assert_eq!(codec, TimestampCodec::Constant);
    assert_eq!(
        constant_timestamp_positions(0, &descending, 3, 0, 100),
        None
    );
    check_fast_paths(0, &bytes, &ts);

    let (codec, bytes) = encoded_values(&[f64::NAN; 4]);
    assert_eq!(
        constant_value(codec as u8, &bytes).map(f64::to_bits),
        Some(f64::NAN.to_bits())
    );
    assert_eq!(constant_value(ValueCodec::Xor as u8, &bytes), None);
}

// ---------------------------------------------------------------- hostile input

#[test]
fn unknown_codec_ids_are_rejected() {
    let mut ts = Vec::new();
    let mut values = Vec::new();
    for id in 3..=255u8 {
        assert!(TimestampCodec::try_from(id).is_err());
        assert!(ValueCodec::try_from(id).is_err());
        assert!(decode_timestamps(id, &[0; 16], 1, &mut ts).is_err());
        assert!(decode_values(id, &[0; 8], 1, &mut values).is_err());
    }
    assert!(
        decode_values(0, &[0; 8], 0, &mut values).is_err(),
        "count 0"
    );
    assert!(
        decode_timestamps(0, &[0; 16], 0, &mut ts).is_err(),
        "count 0"
    );
    assert!(ts.is_empty() && values.is_empty());
}

#[test]
fn trailing_bytes_are_rejected() {
    let columns: [&[f64]; 3] = [&[2.5; 10], &[1.5, 2.5, 3.25], &[0.1 + 0.2, 7.0]];
    for column in columns {
        let (codec, mut bytes) = encoded_values(column);
        bytes.push(0);
        let mut out = Vec::new();
        assert!(
            decode_values(codec as u8, &bytes, column.len(), &mut out).is_err(),
            "{codec:?}"
        );
    }
    for ts in [&[1i64, 2, 3][..], &[1, 5, 6, 100], &[1, 3, 7, 15, 31]] {
        let (codec, mut bytes) = encoded_timestamps(ts);
        bytes.push(0);
        let mut out = Vec::new();
        assert!(
            decode_timestamps(codec as u8, &bytes, ts.len(), &mut out).is_err(),
            "{codec:?}"
        );
    }
}

#[test]
fn constant_timestamps_reject_a_zero_step_for_many_points() {
    let mut bytes = 5i64.to_le_bytes().to_vec();
    bytes.extend_from_slice(&0i64.to_le_bytes());
    let mut out = Vec::new();
    assert!(decode_timestamps(0, &bytes, 1, &mut out).is_ok());
    assert!(decode_timestamps(0, &bytes, 2, &mut out).is_err());
}

#[test]
fn fuzz_entry_survives_pseudo_random_inputs() {
    let mut rng = XorShift(0x5eed_c0de);
    for i in 0..400 {
        let len = (rng.next_u64() % 300) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Every few inputs, a valid encoding with a matching count, so that the decoders
        // get past the length checks.
        if i % 4 == 0 && len > 16 {
            let values = random_walk(&mut rng, len / 8, 1.0);
            let (codec, bytes) = encoded_values(&values);
            let count = (values.len() - 1) as u16;
            data = vec![codec as u8];
            data.extend_from_slice(&count.to_le_bytes());
            data.extend_from_slice(&bytes);
        }
        codecs(&data);
    }
}

#[test]
fn fuzz_seed_corpus_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/codecs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        if let Ok(data) = std::fs::read(entry.path()) {
            codecs(&data);
        }
    }
}

/// Writes the seed corpus of the `codecs` fuzz target: valid encodings of each codec,
/// framed as `fuzz_entry::codecs` reads them. Run with `--ignored` after a format change.
#[test]
#[ignore = "writes fuzz/corpus/codecs"]
fn write_fuzz_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/codecs");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let frame = |codec: u8, count: usize, bytes: &[u8]| {
        let mut data = vec![codec];
        data.extend_from_slice(&((count - 1) as u16).to_le_bytes());
        data.extend_from_slice(bytes);
        data
    };
    let mut rng = XorShift(99);
    let walk = random_walk(&mut rng, 64, 1.0);
    let specials = [
        1.5,
        f64::NAN,
        -0.0,
        f64::INFINITY,
        5e-324,
        f64::MAX,
        0.1 + 0.2,
        1.5,
    ];
    let start = 1_700_000_000_000_000_000i64;
    let jittered: Vec<i64> = (0..40)
        .map(|i| start + i * 10_000_000_000 + (rng.next_u64() % 50) as i64 * 1_000_000)
        .collect();
    let drifting: Vec<i64> = (0..40)
        .map(|i| start + i * 1_000_000_000 + i * i * 500_000)
        .collect();
    let regular: Vec<i64> = (0..40).map(|i| start + i * 10_000_000_000).collect();
    let mut seeds = Vec::new();
    for (name, values) in [
        ("values-decimal-walk", &walk[..]),
        ("values-xor-specials", &specials[..]),
        ("values-constant", &[42.0; 5][..]),
    ] {
        let (codec, bytes) = encoded_values(values);
        seeds.push((name, frame(codec as u8, values.len(), &bytes)));
    }
    for (name, ts) in [
        ("timestamps-constant", &regular),
        ("timestamps-delta-jitter", &jittered),
        ("timestamps-dod-drift", &drifting),
    ] {
        let (codec, bytes) = encoded_timestamps(ts);
        seeds.push((name, frame(codec as u8, ts.len(), &bytes)));
    }
    let extremes: Vec<u8> = [i64::MIN, i64::MIN + 1, i64::MAX]
        .iter()
        .flat_map(|t| t.to_le_bytes())
        .collect();
    seeds.push(("roundtrip-i64-extremes", frame(1, 3, &extremes)));
    for (name, data) in seeds {
        codecs(&data);
        std::fs::write(dir.join(name), data).expect("write seed");
    }
}

// ---------------------------------------------------------------- density

/// Bytes per value after zstd level 3 (what the segment writer does) over `chunks`
/// random-walk chunks of 2048 values.
fn walk_density(sigma: f64, chunks: usize) -> f64 {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    for _ in 0..chunks {
        let values = random_walk(&mut rng, 2048, sigma);
        let (codec, bytes) = encoded_values(&values);
        assert_eq!(codec, ValueCodec::Decimal);
        assert_eq!(decode_v(codec, &bytes, values.len()), values);
        total += crate::format::compress::compress(&bytes, 3)
            .expect("zstd")
            .len();
    }
    total as f64 / (chunks * 2048) as f64
}

#[test]
fn random_walk_decimals_compress_below_1_3_bytes_per_value() {
    let density = walk_density(1.0, 16);
    println!("random walk, 2048-value chunks: {density:.3} bytes/value after zstd-3");
    assert!(density < 1.3, "{density:.3} bytes/value");
}

/// The layout experiment behind `planes` (run with `--ignored --nocapture`): the chosen
/// layout against plain byte planes and against varints, for several step sizes.
#[test]
#[ignore = "measurement, prints a table"]
fn density_of_layout_variants() {
    for sigma in [0.01, 0.1, 1.0, 10.0] {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let (mut chosen, mut byte_planes, mut varints, mut dod) = (0, 0, 0, 0);
        let chunks = 100;
        for _ in 0..chunks {
            let values = random_walk(&mut rng, 2048, sigma);
            let ms: Vec<i64> = values.iter().map(|v| (v * 100.0).round() as i64).collect();
            let deltas: Vec<u64> = ms.windows(2).map(|w| varint::zigzag(w[1] - w[0])).collect();
            let zstd3 = |b: &[u8]| crate::format::compress::compress(b, 3).expect("zstd").len();
            chosen += zstd3(&encoded_values(&values).1);
            let width = (64 - deltas.iter().fold(0, |a, &d| a | d).leading_zeros()).div_ceil(8);
            let mut planes_only = Vec::new();
            planes::encode_with(
                &deltas,
                planes::Layout {
                    byte_planes: width as u8,
                    bit_planes: 0,
                },
                &mut planes_only,
            );
            byte_planes += zstd3(&planes_only);
            let mut leb = Vec::new();
            deltas.iter().for_each(|&d| varint::write_u64(d, &mut leb));
            varints += zstd3(&leb);
            let dods: Vec<u64> = ms
                .windows(3)
                .map(|w| varint::zigzag(w[2] - 2 * w[1] + w[0]))
                .collect();
            let mut dod_bytes = Vec::new();
            planes::encode(&dods, &mut dod_bytes);
            dod += zstd3(&dod_bytes);
        }
        let per = |total: usize| total as f64 / (chunks * 2048) as f64;
        println!(
            "sigma {sigma:5}: chosen {:.3}  byte planes {:.3}  varint {:.3}  delta-of-delta {:.3} B/value",
            per(chosen),
            per(byte_planes),
            per(varints),
            per(dod)
        );
    }
}

// ---------------------------------------------------------------- speed

/// Decode throughput (run in release with `--ignored --nocapture`). Best of several
/// runs, because the machine is shared.
#[test]
#[ignore = "benchmark, prints throughput"]
fn decode_speed() {
    use std::time::Instant;
    let n = 65_536;
    let best_rate = |mut run: Box<dyn FnMut() + '_>| {
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            for _ in 0..20 {
                run();
            }
            best = best.min(t.elapsed().as_secs_f64() / 20.0);
        }
        n as f64 / best / 1e6
    };
    let values = random_walk(&mut XorShift(1), n, 1.0);
    let start = 1_700_000_000_000_000_000i64;
    let regular: Vec<i64> = (0..n as i64).map(|i| start + i * 10_000_000_000).collect();
    let mut rng = XorShift(2);
    let jittered: Vec<i64> = (0..n as i64)
        .map(|i| start + i * 10_000_000_000 + (rng.next_u64() % 50_000_000) as i64)
        .collect();
    let noise: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let mut total = 0.0;
    let counter: Vec<f64> = (0..n)
        .map(|_| {
            total += (rng.next_u64() % 1000) as f64;
            total
        })
        .collect();

    for (what, column) in [
        ("decimal random walk", &values),
        ("integer counter", &counter),
        ("gaussian noise", &noise),
    ] {
        let (codec, bytes) = encoded_values(column);
        let mut out = Vec::with_capacity(n);
        let decode = best_rate(Box::new(|| {
            out.clear();
            decode_values(codec as u8, &bytes, n, &mut out).expect("decodes");
        }));
        let encode = best_rate(Box::new(|| {
            let _ = encoded_values(column);
        }));
        println!("values {what:22} {codec:>12?}: decode {decode:6.0} M/s, encode {encode:5.0} M/s");
    }
    for (what, column) in [("regular", &regular), ("ns jitter", &jittered)] {
        let (codec, bytes) = encoded_timestamps(column);
        let mut out = Vec::with_capacity(n);
        let decode = best_rate(Box::new(|| {
            out.clear();
            decode_timestamps(codec as u8, &bytes, n, &mut out).expect("decodes");
        }));
        let encode = best_rate(Box::new(|| {
            let _ = encoded_timestamps(column);
        }));
        println!(
            "timestamps {what:18} {codec:>12?}: decode {decode:6.0} M/s, encode {encode:5.0} M/s"
        );
    }
}
