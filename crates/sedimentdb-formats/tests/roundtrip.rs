//! Property: whatever a writer writes, its reader reads back bit-exact (NaN as NaN):
//! special values, the extreme timestamps, escapes and odd characters in dimensions.

use std::sync::Arc;

use proptest::prelude::*;
use sedimentdb::{SeriesId, SeriesKey, SeriesPoints, MAX_TIMESTAMP, MIN_TIMESTAMP};
use sedimentdb_formats::{Format, PointBatch, ReadOptions};

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        any::<u64>().prop_map(f64::from_bits),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(MIN_TIMESTAMP),
        Just(MAX_TIMESTAMP),
        Just(0i64),
        Just(-1i64),
        MIN_TIMESTAMP..=MAX_TIMESTAMP,
        1_400_000_000_000_000_000i64..1_500_000_000_000_000_000,
    ]
}

/// Dimension values with the characters every format must escape.
fn dim_value(newlines: bool) -> impl Strategy<Value = String> {
    let pattern = if newlines {
        "[a-z ,=\"\\\\{}#\n\té€]{1,8}"
    } else {
        "[a-z ,=\"\\\\{}#\té€]{1,8}"
    };
    proptest::string::string_regex(pattern).unwrap()
}

fn series(newlines: bool) -> impl Strategy<Value = SeriesPoints> {
    (
        "[A-Za-z_:][A-Za-z0-9_:.-]{0,10}",
        proptest::collection::btree_map("[a-z_][a-z0-9_.-]{0,6}", dim_value(newlines), 0..4),
        proptest::collection::btree_map(timestamp(), value(), 1..20),
    )
        .prop_map(|(name, dims, points)| SeriesPoints {
            id: SeriesId(0),
            key: Arc::new(SeriesKey::from_parts(name, dims)),
            timestamps: points.keys().copied().collect(),
            values: points.values().copied().collect(),
        })
}

fn round_trip(format: Format, written: &[SeriesPoints]) -> Result<(), TestCaseError> {
    let mut dims: Vec<String> = written
        .iter()
        .flat_map(|s| s.key.dimensions().iter().map(|(k, _)| k.clone()))
        .collect();
    dims.sort();
    dims.dedup();
    let mut text = Vec::new();
    {
        let mut writer = format.writer(&mut text, dims);
        for s in written {
            writer.write_series(s).unwrap();
        }
        writer.finish().unwrap();
    }
    let mut reader = format.reader(&text[..], &ReadOptions::default());
    let mut batch = PointBatch::new();
    let mut read: Vec<(SeriesKey, i64, f64)> = Vec::new();
    while reader.read_batch(&mut batch).unwrap() {
        prop_assert!(
            batch.skipped.is_empty(),
            "{:?} in\n{}",
            batch.skipped,
            String::from_utf8_lossy(&text)
        );
        for p in &batch.points {
            read.push((reader.series().key(p.series).clone(), p.ts, p.value));
        }
    }
    let expected: Vec<(SeriesKey, i64, f64)> = written
        .iter()
        .flat_map(|s| s.iter().map(move |(t, v)| ((*s.key).clone(), t, v)))
        .collect();
    prop_assert_eq!(
        read.len(),
        expected.len(),
        "{}",
        String::from_utf8_lossy(&text)
    );
    for (got, want) in read.iter().zip(&expected) {
        prop_assert_eq!(&got.0, &want.0, "{}", String::from_utf8_lossy(&text));
        prop_assert_eq!(got.1, want.1);
        prop_assert!(
            got.2.to_bits() == want.2.to_bits() || (got.2.is_nan() && want.2.is_nan()),
            "{} read back as {}",
            want.2,
            got.2
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn line_protocol_round_trips(s in proptest::collection::vec(series(false), 1..5)) {
        round_trip(Format::Influx, &s)?;
    }

    #[test]
    fn openmetrics_round_trips(s in proptest::collection::vec(series(true), 1..5)) {
        round_trip(Format::OpenMetrics, &s)?;
    }

    #[test]
    fn csv_round_trips(s in proptest::collection::vec(series(true), 1..5)) {
        round_trip(Format::Csv, &s)?;
    }

    #[test]
    fn jsonl_round_trips(s in proptest::collection::vec(series(true), 1..5)) {
        round_trip(Format::Jsonl, &s)?;
    }
}

#[test]
fn line_protocol_refuses_a_newline_in_a_dimension() {
    let s = SeriesPoints {
        id: SeriesId(0),
        key: Arc::new(SeriesKey::new("m").with("k", "a\nb")),
        timestamps: vec![1],
        values: vec![1.0],
    };
    let mut out = Vec::new();
    let mut w = Format::Influx.writer(&mut out, Vec::new());
    let err = w.write_series(&s).unwrap_err().to_string();
    assert!(
        err.contains("newline") && err.contains("csv or jsonl"),
        "{err}"
    );
}
