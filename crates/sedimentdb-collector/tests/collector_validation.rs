//! Events as the original design writes them are accepted (scalar dimension values),
//! every rejection names the limit and the `ValidatorConfig` option that sets it, and
//! metadata has a documented size limit.

use std::time::Duration;

use sedimentdb_collector::{MetricEvent, Rejection, Validator, ValidatorConfig};

/// 2024-05-01T12:00:00Z.
const T: i64 = 1_714_564_800_000_000_000;

fn design_example() -> &'static str {
    r#"{"timestamp":"2024-05-01T12:00:00Z","source":"performance","category":"operation",
        "name":"command_execution_time","value":184.0,"unit":"ms",
        "dimensions":{"command":"sync","success":true,"cpu_percent":15.2,"retries":3},
        "metadata":{"trace":"abc"}}"#
}

#[test]
fn scalar_dimension_values_are_stored_as_their_canonical_string() {
    let e = MetricEvent::from_json(design_example()).unwrap();
    let dims: Vec<(&str, &str)> = e
        .dimensions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        dims,
        [
            ("command", "sync"),
            ("cpu_percent", "15.2"),
            ("retries", "3"),
            ("success", "true")
        ]
    );
    Validator::new(ValidatorConfig::default())
        .validate(&e, T)
        .unwrap();
    // The same series as the string spelling.
    let quoted = design_example()
        .replace("true", "\"true\"")
        .replace("15.2", "\"15.2\"")
        .replace(":3}", ":\"3\"}");
    assert_eq!(
        MetricEvent::from_json(&quoted).unwrap().dimensions,
        e.dimensions
    );
    // Not scalars: refused at parse, naming the dimension.
    for bad in ["null", "[1]", "{\"a\":1}"] {
        let json = design_example().replace("true", bad);
        let err = MetricEvent::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("\"success\""), "{bad}: {err}");
    }
}

#[test]
fn every_rejection_names_the_option_that_sets_its_limit() {
    let validator = Validator::new(ValidatorConfig::default());
    let base = || MetricEvent::from_json(design_example()).unwrap();
    let now = T + 30 * 24 * 3600 * 1_000_000_000; // the example is 30 days old
    let old = validator.check_point(&base(), now).unwrap_err();
    assert!(matches!(old, Rejection::TimestampTooOld { .. }));
    let text = old.to_string();
    assert!(text.contains("ValidatorConfig::max_age"), "{text}");
    assert!(
        text.contains("2024-05-01T12:00:00"),
        "the timestamp, readable: {text}"
    );

    let mut cases: Vec<(MetricEvent, &str)> = Vec::new();
    let mut e = base();
    e.timestamp = T + 3600 * 1_000_000_000;
    cases.push((e, "max_future_skew"));
    let mut e = base();
    for i in 0..20 {
        e.dimensions.insert(format!("d{i}"), "x".into());
    }
    cases.push((e, "max_dimensions"));
    let mut e = base();
    e.dimensions.insert("k".into(), "v".repeat(300));
    cases.push((e, "max_dimension_value_len"));
    let mut e = base();
    e.dimensions.insert("k".repeat(100), "v".into());
    cases.push((e, "max_dimension_key_len"));
    let mut e = base();
    e.id = "i".repeat(200);
    cases.push((e, "max_id_len"));
    let mut e = base();
    e.name = "n".repeat(300);
    cases.push((e, "max_name_len"));
    let mut e = base();
    e.unit = "u".repeat(40);
    cases.push((e, "max_label_len"));
    let mut e = base();
    e.metadata
        .insert("blob".into(), serde_json::Value::String("x".repeat(20_000)));
    cases.push((e, "max_metadata_bytes"));
    for (event, option) in cases {
        let err = validator.validate(&event, T).unwrap_err().to_string();
        assert!(
            err.contains(&format!("ValidatorConfig::{option}")),
            "{option}: {err}"
        );
    }
}

#[test]
fn metadata_has_a_size_limit() {
    let validator = Validator::new(ValidatorConfig::default());
    let mut e = MetricEvent::from_json(design_example()).unwrap();
    e.metadata.insert(
        "blob".into(),
        serde_json::Value::String("x".repeat(10 << 20)),
    );
    match validator.check_point(&e, T) {
        Err(Rejection::MetadataTooLarge { bytes, limit }) => {
            assert!(bytes > 10 << 20, "{bytes}");
            assert_eq!(limit, 16 << 10);
        }
        other => panic!("10 MB of metadata: {other:?}"),
    }
    // Just under the limit passes; the limit is an option.
    let mut e = MetricEvent::from_json(design_example()).unwrap();
    e.metadata.clear();
    let overhead = serde_json::to_vec(&serde_json::json!({"blob": ""}))
        .unwrap()
        .len();
    e.metadata.insert(
        "blob".into(),
        serde_json::Value::String("x".repeat((16 << 10) - overhead)),
    );
    validator.check_point(&e, T).unwrap();
    e.metadata.insert("more".into(), serde_json::json!(1));
    assert!(validator.check_point(&e, T).is_err());
    let roomy = Validator::new(ValidatorConfig {
        max_metadata_bytes: 1 << 20,
        max_age: Some(Duration::from_secs(3600)),
        ..ValidatorConfig::default()
    });
    roomy.check_point(&e, T).unwrap();
}
