//! Privacy: no raw identifier or secret reaches the data directory; per-user queries,
//! deletion of one user's data, retention per data class.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sedimentdb::{Db, Durability, Options, Selector};
use sedimentdb_collector::{
    is_hashed, Aggregation, AsyncConfig, CollectorConfig, ManualClock, MetricQuery, PrivacyConfig,
    Source, SystemMetric, UnifiedMetricsCollector, UserMetric,
};

fn admin() -> sedimentdb_collector::Principal {
    sedimentdb_collector::Principal::new("test", sedimentdb_collector::Role::Admin)
}

const T0: i64 = 1_714_564_800_000_000_000;
const DAY: i64 = 86_400_000_000_000;
const SECRET: &str = "correct horse battery staple 42";

fn collector(dir: &Path, clock: Arc<ManualClock>, asynchronous: bool) -> UnifiedMetricsCollector {
    let db = Db::open(dir, Options::default().durability(Durability::Sync)).unwrap();
    let config = CollectorConfig {
        privacy: Some(PrivacyConfig::with_secret(SECRET).unwrap()),
        clock,
        asynchronous: asynchronous.then(AsyncConfig::default),
        validator: sedimentdb_collector::ValidatorConfig {
            max_age: None,
            ..Default::default()
        },
        ..CollectorConfig::default()
    };
    UnifiedMetricsCollector::new(db, config).unwrap()
}

/// Every byte of every file under `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_raw_identifier_reaches_disk() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    for asynchronous in [false, true] {
        let c = collector(dir.path(), clock.clone(), asynchronous);
        for i in 0..50 {
            let e = UserMetric::new("alice.smith@example.com", "command_run", 1.0)
                .session("sess-SECRET-42")
                .dimension("note", "mailed bob@corp.example with Bearer abcdef12345")
                .dimension("host", "host-canary-7")
                .metadata("email", serde_json::json!("carol@x.io"))
                .id(format!("evt-alice-{asynchronous}-{i}"))
                .at(T0 + i + if asynchronous { 1000 } else { 0 })
                .build();
            c.collect_metric(e).unwrap();
        }
        c.flush().unwrap();
        c.shutdown().unwrap();
        c.db().close().unwrap();
        drop(c);
        // Reopen for the second round (and to replay what the first wrote).
    }
    let bytes = all_bytes(dir.path());
    // The grep sees plain series keys (the control value is found) ...
    assert!(contains(&bytes, "host-canary-7"));
    // ... and none of the identifiers, addresses, tokens, ids, metadata or the secret.
    for raw in [
        "alice.smith",
        "example.com",
        "sess-SECRET-42",
        "bob@corp",
        "abcdef12345",
        "carol@x.io",
        "evt-alice",
        SECRET,
    ] {
        assert!(!contains(&bytes, raw), "{raw:?} reached the data directory");
    }
    // What is stored is the hash, and queries by the raw id still find it.
    let c = collector(dir.path(), clock, false);
    let keys = c
        .db()
        .list_series(&Selector::metric("command_run"))
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(is_hashed(keys[0].dimension("user_id").unwrap()));
    assert!(is_hashed(keys[0].dimension("session_id").unwrap()));
    let q = MetricQuery::metric("command_run")
        .where_eq("user_id", "alice.smith@example.com")
        .aggregate(Aggregation::Count);
    assert_eq!(c.query_metrics(&admin(), &q).unwrap().scalar(), Some(100.0));
}

#[test]
fn forget_user_deletes_every_series_of_that_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path(), Arc::new(ManualClock::new(T0)), false);
    let mut events = Vec::new();
    for user in ["alice", "bob"] {
        for metric in ["clicks", "searches", "errors"] {
            for i in 0..10 {
                events.push(UserMetric::new(user, metric, 1.0).at(T0 + i).build());
            }
        }
    }
    c.batch_collect(events).unwrap();
    c.db().flush().unwrap();
    let report = c.forget_user(&admin(), "alice").unwrap();
    assert_eq!((report.series, report.emptied), (3, 3));
    let by_user = |u: &str| {
        c.query_metrics(
            &admin(),
            &MetricQuery::any()
                .where_eq("user_id", u)
                .aggregate(Aggregation::Count),
        )
        .unwrap()
        .series
        .len()
    };
    assert_eq!(by_user("alice"), 0);
    assert_eq!(by_user("bob"), 3);
    // Rewriting the partition drops the deleted points from disk. (A plain `compact()`
    // leaves a partition that is already one segment alone, tombstones and all.)
    c.db()
        .compact_partition(T0, sedimentdb::Tier::Cold)
        .unwrap();
    assert_eq!(c.db().stats().segment_points, 30);
    // Alice's later activity is recorded again (a new consent, say).
    c.collect_metric(UserMetric::new("alice", "clicks", 1.0).at(T0 + 100).build())
        .unwrap();
    assert_eq!(by_user("alice"), 1);
}

#[test]
fn retention_is_enforced_per_data_class() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let c = collector(dir.path(), clock.clone(), false);
    let mut events = Vec::new();
    for day in 0..200 {
        let ts = T0 + day * DAY;
        events.push(UserMetric::new("u1", "clicks", 1.0).at(ts).build());
        events.push(
            SystemMetric::new("cpu_usage", 1.0, "percent")
                .at(ts)
                .build(),
        );
    }
    clock.set(T0 + 200 * DAY);
    c.batch_collect(events).unwrap();
    let reports = c.apply_retention().unwrap();
    assert_eq!(
        reports.iter().map(|r| r.0).collect::<Vec<_>>(),
        [Source::User, Source::Security]
    );
    let count = |source| {
        c.query_metrics(
            &admin(),
            &MetricQuery::any()
                .source(source)
                .aggregate(Aggregation::Count)
                .group_by(Vec::<String>::new()),
        )
        .unwrap()
        .scalar()
        .unwrap_or(0.0)
    };
    assert_eq!(count(Source::User), 90.0);
    assert_eq!(count(Source::System), 200.0);
    let _ = Duration::ZERO;
}

#[test]
fn retention_classes_can_be_handed_to_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let privacy = PrivacyConfig::with_secret(SECRET).unwrap();
    // The events are from 2024 on a manual clock: retention counts back from the newest
    // point, not from the machine's wall clock (the engine's default).
    let options = privacy
        .engine_retention(Options::default())
        .durability(Durability::None)
        .retention_clock(sedimentdb::RetentionClock::NewestPoint);
    let db = Db::open(dir.path(), options).unwrap();
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            privacy: Some(privacy),
            clock: Arc::new(ManualClock::new(T0 + 200 * DAY)),
            validator: sedimentdb_collector::ValidatorConfig {
                max_age: None,
                ..Default::default()
            },
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    let mut events = Vec::new();
    for day in 0..200 {
        let ts = T0 + day * DAY;
        events.push(UserMetric::new("u1", "clicks", 1.0).at(ts).build());
        events.push(
            SystemMetric::new("cpu_usage", 1.0, "percent")
                .at(ts)
                .build(),
        );
    }
    c.batch_collect(events).unwrap();
    c.db().flush().unwrap();
    c.db().apply_retention().unwrap();
    let count = |source| {
        c.query_metrics(
            &admin(),
            &MetricQuery::any()
                .source(source)
                .aggregate(Aggregation::Count)
                .group_by(Vec::<String>::new()),
        )
        .unwrap()
        .scalar()
        .unwrap_or(0.0)
    };
    // Measured back from the newest point (day 199): 90 days, boundary day included.
    assert!(
        (90.0..=91.0).contains(&count(Source::User)),
        "{}",
        count(Source::User)
    );
    assert_eq!(count(Source::System), 200.0);
}
