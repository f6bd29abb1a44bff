//! Import of the original system's six files from `tests/fixtures/ai_onboard/`: good
//! lines stored, malformed ones reported with their line numbers and skipped.

use std::sync::Arc;

use sedimentdb::{Db, Durability, Options, Selector};
use sedimentdb_collector::migrate::{import_ai_onboard, FILES};
use sedimentdb_collector::{
    is_hashed, Aggregation, CollectorConfig, ManualClock, MetricQuery, Principal, PrivacyConfig,
    Role, UnifiedMetricsCollector,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ai_onboard");

fn collector(dir: &std::path::Path) -> UnifiedMetricsCollector {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            privacy: Some(PrivacyConfig::with_secret("migration test secret").unwrap()),
            // "Now" is a year after the fixtures: the import ignores the age limit.
            clock: Arc::new(ManualClock::new(1_746_100_800_000_000_000)),
            ..CollectorConfig::default()
        },
    )
    .unwrap()
}

fn total_points(c: &UnifiedMetricsCollector) -> f64 {
    let q = MetricQuery::any()
        .aggregate(Aggregation::Count)
        .group_by(Vec::<String>::new());
    c.query_metrics(&Principal::new("t", Role::Admin), &q)
        .unwrap()
        .scalar()
        .unwrap()
}

#[test]
fn good_lines_are_imported_and_bad_ones_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path());
    let report = import_ai_onboard(&c, FIXTURES).unwrap();
    let issues = |file: &str| -> Vec<usize> {
        report
            .file(file)
            .unwrap()
            .issues
            .iter()
            .map(|i| i.line)
            .collect()
    };
    let counts = |file: &str| {
        let f = report.file(file).unwrap();
        (f.records, f.events, f.stored)
    };
    assert!(report.files.iter().all(|f| f.found));
    assert_eq!(report.files.len(), FILES.len());

    assert_eq!(counts("analytics_metrics.jsonl"), (7, 5, 5));
    assert_eq!(issues("analytics_metrics.jsonl"), [5, 6]);

    assert_eq!(counts("metrics.jsonl"), (6, 4, 3));
    assert_eq!(report.file("metrics.jsonl").unwrap().duplicates, 1);
    assert_eq!(issues("metrics.jsonl"), [3, 6]);

    assert_eq!(counts("capability_usage.json"), (4, 9, 9));
    assert_eq!(issues("capability_usage.json"), [6]);

    assert_eq!(counts("user_interactions.jsonl"), (6, 8, 8));
    assert_eq!(issues("user_interactions.jsonl"), [5]);

    assert_eq!(counts("debug_learning.json"), (4, 5, 5));
    assert_eq!(issues("debug_learning.json"), [10]);

    assert_eq!(counts("learning_events.jsonl"), (5, 7, 7));
    assert_eq!(issues("learning_events.jsonl"), [4]);

    assert_eq!(report.stored(), 37);
    assert_eq!(total_points(&c), 37.0);
    for (file, issue) in report.issues() {
        assert!(!issue.reason.is_empty(), "{file}:{}", issue.line);
    }

    // Identifiers went through the privacy layer like live events.
    let users = c
        .db()
        .list_series(&Selector::metric("user_interaction"))
        .unwrap();
    assert!(!users.is_empty());
    assert!(users.iter().all(|k| is_hashed(
        k.dimension("user_id")
            .or(k.dimension("session_id"))
            .unwrap()
    )));

    // A second run stores the same points again: nothing doubles.
    import_ai_onboard(&c, FIXTURES).unwrap();
    assert_eq!(total_points(&c), 37.0);
}

#[test]
fn missing_files_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(&dir.path().join("db"));
    let onboard = dir.path().join(".ai_onboard");
    std::fs::create_dir_all(&onboard).unwrap();
    std::fs::copy(
        format!("{FIXTURES}/metrics.jsonl"),
        onboard.join("metrics.jsonl"),
    )
    .unwrap();
    let report = import_ai_onboard(&c, &onboard).unwrap();
    assert_eq!(report.files.iter().filter(|f| f.found).count(), 1);
    assert_eq!(report.stored(), 3);
}
