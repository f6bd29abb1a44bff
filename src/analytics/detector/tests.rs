use super::*;
use crate::analytics::testutil::Rng;

const MINUTE: i64 = 60_000_000_000;

fn stamps(n: usize) -> Vec<i64> {
    (0..n as i64)
        .map(|i| 1_700_000_000_000_000_000 + i * MINUTE)
        .collect()
}

fn score(values: &[f64]) -> Vec<f64> {
    let mut det = Detector::new(DetectorConfig::default()).unwrap();
    det.score_all(&stamps(values.len()), values)
}

/// Daily cycle, noise, a spike, a level shift, a stuck stretch and NaNs: every code path.
fn mixed_series(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let day = (i as f64 / 1440.0 * std::f64::consts::TAU).sin() * 20.0;
            let shift = if i > n / 2 { 15.0 } else { 0.0 };
            match i {
                _ if i % 997 == 5 => f64::NAN,
                _ if i == n / 3 => 500.0,
                _ if (2 * n / 3..2 * n / 3 + 60).contains(&i) => 77.0,
                _ => 100.0 + day + shift + rng.normal() * 2.0,
            }
        })
        .collect()
}

fn assert_valid(scores: &[f64]) {
    for (i, s) in scores.iter().enumerate() {
        assert!(s.is_finite() && (0.0..1.0).contains(s), "score {s} at {i}");
    }
}

#[test]
fn every_prefix_scores_as_the_whole_series_did() {
    let values = mixed_series(6000, 7);
    let whole = score(&values);
    for cut in [1, 151, 152, 1999, 2000, 2001, 3001, 4000, 5999] {
        let prefix = score(&values[..cut]);
        assert_eq!(prefix[..], whole[..cut], "prefix of {cut} points");
    }
}

#[test]
fn scores_are_deterministic() {
    let values = mixed_series(5000, 11);
    assert_eq!(score(&values), score(&values));
}

/// A restore at any point (before two distinct values were seen, mid-mute, after
/// re-baselining), through a binary and a text format, continues exactly as the
/// uninterrupted run. The bug this caught: "no resolution seen yet" was stored as an
/// infinite step, which JSON writes as `null` and cannot read back.
#[test]
fn state_survives_a_serde_round_trip_mid_series() {
    let mixed = mixed_series(6000, 3);
    let constant = vec![5.0; 3000];
    for (values, cuts) in [
        (&mixed, &[0, 1, 10, 2000, 2001, 3010, 4010, 5999][..]),
        (&constant, &[0, 1, 2, 1500][..]),
    ] {
        let ts = stamps(values.len());
        let whole = score(values);
        for &cut in cuts {
            let mut det = Detector::new(DetectorConfig::default()).unwrap();
            let mut got = det.score_all(&ts[..cut], &values[..cut]);
            let bytes = bincode::serialize(&det).unwrap();
            let restored: Detector = bincode::deserialize(&bytes).unwrap();
            assert_eq!(restored, det, "bincode after {cut} points");
            let json = serde_json::to_string(&restored).unwrap();
            let mut restored: Detector = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("json after {cut} points: {e}"));
            assert_eq!(restored, det, "json after {cut} points");
            got.extend(restored.score_all(&ts[cut..], &values[cut..]));
            assert_eq!(got, whole, "restored after {cut} points");
        }
    }
}

#[test]
fn degenerate_series_give_finite_scores() {
    let n = 3000;
    let constant = vec![42.0; n];
    let zeros = vec![0.0; n];
    let stepped: Vec<f64> = (0..n).map(|i| ((i / 250) % 3) as f64 * 1e3).collect();
    let nan_laden: Vec<f64> = (0..n)
        .map(|i| match i % 4 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            _ => (i % 7) as f64,
        })
        .collect();
    let huge: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { f64::MAX } else { -f64::MAX })
        .collect();
    let huge_rare: Vec<f64> = (0..n)
        .map(|i| if i == 2000 { 1e300 } else { 1.0 })
        .collect();
    let tiny: Vec<f64> = (0..n).map(|i| (i % 3) as f64 * 1e-300).collect();
    for (name, series) in [
        ("constant", &constant),
        ("zeros", &zeros),
        ("stepped", &stepped),
        ("nan-laden", &nan_laden),
        ("huge", &huge),
        ("huge-rare", &huge_rare),
        ("tiny", &tiny),
    ] {
        let scores = score(series);
        assert_eq!(scores.len(), n, "{name}");
        assert_valid(&scores);
    }
    // A constant series is never anomalous (its one long run is its normal); a value
    // 1e300 after 2000 ones is.
    assert!(score(&constant).iter().all(|&s| s < 0.3));
    assert!(score(&huge_rare)[2000] > 0.9);
}

#[test]
fn non_finite_values_score_zero_and_change_nothing() {
    let values = mixed_series(3000, 5);
    let ts = stamps(values.len());
    let mut with = Detector::new(DetectorConfig::default()).unwrap();
    let mut without = with.clone();
    for (i, (&t, &v)) in ts.iter().zip(&values).enumerate() {
        if i % 10 == 0 {
            assert_eq!(with.update(t, f64::NAN), 0.0);
        }
        assert_eq!(with.update(t, v), without.update(t, v));
    }
    assert_eq!(with, without);
}

#[test]
fn a_spike_scores_high_and_noise_rarely_does() {
    let mut rng = Rng::new(99);
    let mut values: Vec<f64> = (0..8000).map(|_| 50.0 + rng.normal()).collect();
    values[6000] = 70.0;
    let scores = score(&values);
    // The spike alerts: its score is at least the score of the alert surprise.
    let alert = score_of_surprise(DetectorConfig::default().alert_surprise);
    assert!(scores[6000] >= alert, "spike scored {}", scores[6000]);
    let loud = scores[1000..].iter().filter(|&&s| s >= 0.5).count();
    // One alert for the spike; pure noise gives hardly any others.
    assert!(loud <= 8, "{loud} points of 7000 scored >= 0.5");
    let normal_max = scores[1000..5990].iter().copied().fold(0.0, f64::max);
    assert!(normal_max < scores[6000]);
}

#[test]
fn a_level_shift_is_one_early_detection() {
    let mut rng = Rng::new(17);
    let values: Vec<f64> = (0..8000)
        .map(|i| if i >= 5000 { 60.0 } else { 50.0 } + rng.normal())
        .collect();
    let scores = score(&values);
    // The detector's own alert level (the configured alert surprise), not a score
    // picked for this series.
    let alert = score_of_surprise(DetectorConfig::default().alert_surprise);
    let first = scores[5000..].iter().position(|&s| s >= alert);
    assert!(first.is_some_and(|at| at <= 3), "first alert at {first:?}");
    // Afterwards the new level is the baseline: no alert once the mute has passed.
    let later = scores[5200..].iter().filter(|&&s| s >= alert).count();
    assert!(later <= 3, "{later} alerts after re-baselining");
}

#[test]
fn a_stuck_sensor_is_found() {
    let mut rng = Rng::new(23);
    let mut values: Vec<f64> = (0..6000).map(|_| 20.0 + rng.normal()).collect();
    for v in &mut values[5000..5100] {
        *v = 20.3;
    }
    let scores = score(&values);
    assert!(scores[5000..5100].iter().any(|&s| s > 0.6));
}

#[test]
fn state_is_small_and_fixed() {
    let mut det = Detector::new(DetectorConfig::default()).unwrap();
    let before = det.state_bytes();
    det.score_all(&stamps(5000), &mixed_series(5000, 1));
    assert_eq!(det.state_bytes(), before);
    assert!(before <= 4096, "{before} bytes");
    let encoded = bincode::serialize(&det).unwrap();
    assert!(encoded.len() <= 4096, "{} bytes serialised", encoded.len());
}

#[test]
fn invalid_configs_are_refused() {
    for bad in [
        DetectorConfig {
            alert_surprise: f64::NAN,
            ..DetectorConfig::default()
        },
        DetectorConfig {
            alert_surprise: 0.0,
            ..DetectorConfig::default()
        },
        DetectorConfig {
            calibration_points: 3,
            ..DetectorConfig::default()
        },
    ] {
        assert!(matches!(
            Detector::new(bad),
            Err(crate::Error::InvalidArgument(_))
        ));
    }
}
