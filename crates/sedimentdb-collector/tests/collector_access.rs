//! Access control for every role, and the audit log of every query and export.

use std::sync::Arc;

use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::{
    Aggregation, AuditDecision, AuditFilter, AuditLog, BusinessMetric, CollectorConfig,
    CollectorError, LearningMetric, ManualClock, MetricEvent, MetricQuery, PerformanceMetric,
    Principal, PrivacyConfig, Role, SecurityMetric, Source, SystemMetric, UnifiedMetricsCollector,
    UserMetric,
};

const T0: i64 = 1_714_564_800_000_000_000;

struct Fixture {
    dir: tempfile::TempDir,
    c: UnifiedMetricsCollector,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path().join("db"),
        Options::default().durability(Durability::None),
    )
    .unwrap();
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            privacy: Some(PrivacyConfig::with_secret("an audit test secret").unwrap()),
            audit_log: Some(dir.path().join("audit/audit.jsonl")),
            clock: Arc::new(ManualClock::new(T0 + 1_000_000)),
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    let mut events: Vec<MetricEvent> = Vec::new();
    for i in 0..10 {
        let ts = T0 + i;
        events.push(
            SystemMetric::new("cpu_usage", 50.0, "percent")
                .at(ts)
                .build(),
        );
        events.push(
            PerformanceMetric::new("deploy", "command_execution_time", 12.0, "ms", true)
                .at(ts)
                .build(),
        );
        events.push(
            LearningMetric::new("suggestion_accepted", 1.0, "count")
                .at(ts)
                .build(),
        );
        events.push(
            BusinessMetric::new("active_users", 7.0, "count")
                .at(ts)
                .build(),
        );
        for user in ["alice", "bob"] {
            events.push(
                UserMetric::new(user, "command_run", 1.0)
                    .dimension("command", "deploy")
                    .at(ts)
                    .build(),
            );
        }
        events.push(
            SecurityMetric::new("login_failed", 1.0, "high")
                .at(ts)
                .build(),
        );
    }
    assert_eq!(c.batch_collect(events).unwrap().stored, 70);
    Fixture { dir, c }
}

fn admin() -> Principal {
    Principal::new("root", Role::Admin)
}
fn analyst() -> Principal {
    Principal::new("ana", Role::Analyst)
}
fn service() -> Principal {
    Principal::new("autoscaler", Role::Service)
}

fn denied<T: std::fmt::Debug>(r: Result<T, CollectorError>) -> bool {
    matches!(r, Err(CollectorError::AccessDenied { .. }))
}

fn sources(r: &sedimentdb_collector::QueryResult) -> Vec<String> {
    let mut s: Vec<String> = r
        .series
        .iter()
        .map(|s| s.labels["source"].clone())
        .collect();
    s.sort();
    s.dedup();
    s
}

fn per_user_clicks() -> MetricQuery {
    MetricQuery::metric("command_run")
        .aggregate(Aggregation::Count)
        .group_by(["user_id"])
}

fn clicks_by_command() -> MetricQuery {
    MetricQuery::metric("command_run")
        .source(Source::User)
        .aggregate(Aggregation::Count)
        .group_by(["command"])
}

#[test]
fn admin_reads_everything() {
    let f = fixture();
    let all = f.c.query_metrics(&admin(), &MetricQuery::any()).unwrap();
    assert_eq!(sources(&all).len(), 6);
    let security = MetricQuery::any().source(Source::Security);
    assert_eq!(
        f.c.query_metrics(&admin(), &security).unwrap().samples(),
        10
    );
    assert_eq!(
        f.c.query_metrics(&admin(), &per_user_clicks())
            .unwrap()
            .series
            .len(),
        2
    );
    let alice = MetricQuery::metric("command_run").where_eq("user_id", "alice");
    assert_eq!(f.c.query_metrics(&admin(), &alice).unwrap().samples(), 10);
    let mut out = Vec::new();
    assert_eq!(f.c.export_jsonl(&admin(), &security, &mut out).unwrap(), 10);
    let first =
        MetricEvent::from_json(std::str::from_utf8(&out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(
        (first.source, first.name.as_str()),
        (Source::Security, "login_failed")
    );
    assert_eq!(first.dimensions["severity"], "high");
    assert!(f.c.audit_records(&admin(), &AuditFilter::default()).is_ok());
    assert_eq!(f.c.forget_user(&admin(), "bob").unwrap().series, 1);
}

#[test]
fn analyst_reads_aggregates_of_users_and_nothing_of_security() {
    let f = fixture();
    let a = analyst();
    assert!(denied(f.c.query_metrics(
        &a,
        &MetricQuery::any().source(Source::Security)
    )));
    assert!(denied(f.c.query_metrics(
        &a,
        &MetricQuery::metric("command_run").source(Source::User)
    )));
    assert!(denied(f.c.query_metrics(&a, &per_user_clicks())));
    let alice = MetricQuery::metric("command_run")
        .where_eq("user_id", "alice")
        .aggregate(Aggregation::Count)
        .group_by(["command"]);
    assert!(denied(f.c.query_metrics(&a, &alice)));
    let by_command = f.c.query_metrics(&a, &clicks_by_command()).unwrap();
    assert_eq!(by_command.series.len(), 1);
    assert_eq!(by_command.series[0].points[0].1, 20.0);
    // An unnamed source is narrowed: no security, no raw user series.
    let everything = f.c.query_metrics(&a, &MetricQuery::any()).unwrap();
    assert_eq!(
        sources(&everything),
        ["business", "learning", "performance", "system"]
    );
    let mut out = Vec::new();
    assert_eq!(
        f.c.export_jsonl(&a, &MetricQuery::any().source(Source::Business), &mut out)
            .unwrap(),
        10
    );
    assert!(denied(f.c.export_jsonl(
        &a,
        &MetricQuery::any().source(Source::Security),
        &mut out
    )));
    assert!(denied(f.c.audit_records(&a, &AuditFilter::default())));
    assert!(denied(f.c.forget_user(&a, "alice")));
}

#[test]
fn service_reads_system_and_performance_only() {
    let f = fixture();
    let s = service();
    let cpu = MetricQuery::metric("cpu_usage").source(Source::System);
    assert_eq!(f.c.query_metrics(&s, &cpu).unwrap().samples(), 10);
    assert!(denied(f.c.query_metrics(
        &s,
        &MetricQuery::any().source(Source::Learning)
    )));
    assert!(denied(f.c.query_metrics(&s, &clicks_by_command())));
    let everything = f.c.query_metrics(&s, &MetricQuery::any()).unwrap();
    assert_eq!(sources(&everything), ["performance", "system"]);
    assert!(denied(f.c.audit_records(&s, &AuditFilter::default())));
    assert!(denied(f.c.forget_user(&s, "alice")));
}

#[test]
fn every_check_is_in_the_audit_log_with_hashed_identifiers() {
    let f = fixture();
    let _ =
        f.c.query_metrics(&analyst(), &MetricQuery::any().source(Source::Security));
    let _ = f.c.query_metrics(&analyst(), &clicks_by_command());
    let alice = MetricQuery::metric("command_run").where_eq("user_id", "alice");
    let _ = f.c.query_metrics(&admin(), &alice);
    let _ =
        f.c.export_jsonl(&service(), &MetricQuery::any(), std::io::sink());
    let records =
        f.c.audit_records(&admin(), &AuditFilter::default())
            .unwrap();
    let summary: Vec<(&str, &str, AuditDecision)> = records
        .iter()
        .map(|r| (r.who.as_str(), r.action.as_str(), r.decision))
        .collect();
    assert_eq!(
        summary,
        [
            ("ana", "query", AuditDecision::Denied),
            ("ana", "query", AuditDecision::Allowed),
            ("root", "query", AuditDecision::Allowed),
            ("autoscaler", "export", AuditDecision::Allowed),
            ("root", "read_audit", AuditDecision::Allowed),
        ]
    );
    assert!(records[0].reason.as_deref().unwrap().contains("security"));
    assert!(
        records[2].what.contains("user_id=\"h:"),
        "{}",
        records[2].what
    );
    assert!(records[3]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("narrowed to"));
    // The file verifies on its own, holds no raw identifier, and filters work.
    let path = f.dir.path().join("audit/audit.jsonl");
    assert_eq!(AuditLog::verify(&path).unwrap().len(), 5);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("alice"));
    let denials =
        f.c.audit_records(
            &admin(),
            &AuditFilter {
                who: Some("ana".into()),
                decision: Some(AuditDecision::Denied),
                ..AuditFilter::default()
            },
        )
        .unwrap();
    assert_eq!(denials.len(), 1);
}
