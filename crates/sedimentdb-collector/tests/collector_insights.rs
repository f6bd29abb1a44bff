//! Insights: a day of a service's metrics with planted problems yields the right
//! plain-language recommendations, ranked, with figures and queries; a role that may
//! not read per-user data gets the others.

use std::sync::Arc;

use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::{
    CollectorConfig, InsightArea, InsightConfig, LearningMetric, ManualClock, MetricEvent,
    PerformanceMetric, Principal, PrivacyConfig, Role, SystemMetric, UnifiedMetricsCollector,
    UserMetric,
};

const T0: i64 = 1_714_564_800_000_000_000;
const MIN: i64 = 60_000_000_000;

fn stream() -> Vec<MetricEvent> {
    let mut out = Vec::new();
    for m in 0..240 {
        let ts = T0 + m * MIN;
        // user-prefs runs every 4th minute and the CPU is busy then; analyze is slow;
        // deploy fails one run in five.
        let prefs = m % 4 == 0;
        let cpu = if prefs { 85.0 } else { 35.0 + (m % 5) as f64 };
        out.push(
            SystemMetric::new("cpu_usage", cpu, "percent")
                .at(ts)
                .build(),
        );
        if prefs {
            out.push(
                PerformanceMetric::new("user-prefs", "command_execution_time", 300.0, "ms", true)
                    .dimension("command", "user-prefs")
                    .at(ts + 1)
                    .build(),
            );
        }
        out.push(
            PerformanceMetric::new(
                "analyze",
                "command_execution_time",
                1500.0 + (m % 10) as f64 * 100.0,
                "ms",
                true,
            )
            .dimension("command", "analyze")
            .at(ts + 2)
            .build(),
        );
        out.push(
            PerformanceMetric::new("deploy", "command_execution_time", 200.0, "ms", m % 5 != 0)
                .dimension("command", "deploy")
                .at(ts + 3)
                .build(),
        );
        // 20 users use basic features; 3 of them also advanced ones.
        let user = format!("user-{}", m % 20);
        let tier = if m % 20 < 3 { "advanced" } else { "basic" };
        out.push(
            UserMetric::new(user.clone(), "feature_used", 1.0)
                .dimension("tier", tier)
                .at(ts + 4)
                .build(),
        );
        out.push(
            UserMetric::new(
                user,
                "satisfaction_score",
                if m % 3 == 0 { 2.0 } else { 3.5 },
            )
            .at(ts + 5)
            .build(),
        );
        // Model v2's suggestions are mostly rejected, v3's mostly accepted.
        for (model, accepted) in [("v2", m % 3 == 0), ("v3", m % 4 != 0)] {
            let event = if accepted {
                "suggestion_accepted"
            } else {
                "suggestion_rejected"
            };
            out.push(
                LearningMetric::new("learning_event", 1.0, "count")
                    .dimension("model", model)
                    .dimension("event_type", event)
                    .at(ts + 6)
                    .build(),
            );
        }
    }
    out
}

fn collector(dir: &std::path::Path) -> UnifiedMetricsCollector {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            clock: Arc::new(ManualClock::new(T0 + 300 * MIN)),
            privacy: Some(PrivacyConfig::with_secret("insights test secret").unwrap()),
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    let report = c.batch_collect(stream()).unwrap();
    assert_eq!(report.rejected().count(), 0);
    c
}

#[test]
fn planted_problems_become_ranked_evidence_backed_recommendations() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path());
    let recs = c
        .insights(
            &Principal::new("lead", Role::Admin),
            &InsightConfig::default(),
        )
        .unwrap();
    let texts: Vec<&str> = recs.iter().map(|r| r.text.as_str()).collect();
    let has = |text: &str| texts.contains(&text);
    assert!(
        has("CPU usage high during user-prefs commands - consider optimization"),
        "{texts:#?}"
    );
    assert!(
        has("analyze commands are slow (p95 2.4 s) - consider optimization or caching"),
        "{texts:#?}"
    );
    assert!(
        has("deploy commands fail 20% of the time - investigate the errors users hit"),
        "{texts:#?}"
    );
    assert!(
        has("Only 15% of users use advanced features - improve discoverability"),
        "{texts:#?}"
    );
    assert!(
        has("Only 33% of suggestions from model v2 are accepted - review suggestion quality"),
        "{texts:#?}"
    );
    assert!(
        has("Average satisfaction is 3.0/5 - review the feedback of the least satisfied users"),
        "{texts:#?}"
    );
    // Nothing about healthy parts.
    assert!(
        !texts.iter().any(|t| t.contains("analyze commands fail")
            || t.contains("model v3")
            || t.contains("during analyze")),
        "{texts:#?}"
    );
    assert_eq!(recs.len(), 6, "{texts:#?}");
    // Ranked by impact, each with figures and queries.
    assert!(recs.windows(2).all(|w| w[0].impact >= w[1].impact));
    for r in &recs {
        assert!(!r.evidence.is_empty() && !r.queries.is_empty(), "{r:?}");
        assert!((0.0..=1.0).contains(&r.impact));
    }
    let cpu = recs.iter().find(|r| r.text.starts_with("CPU")).unwrap();
    assert_eq!(cpu.area, InsightArea::Performance);
    assert_eq!(cpu.evidence["cpu_during_command_percent"], 85.0);
    assert!(
        cpu.queries[1].contains("avg of cpu_usage"),
        "{:?}",
        cpu.queries
    );
}

#[test]
fn an_analyst_gets_the_insights_their_role_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path());
    let recs = c
        .insights(
            &Principal::new("ana", Role::Analyst),
            &InsightConfig::default(),
        )
        .unwrap();
    assert_eq!(recs.len(), 5);
    assert!(!recs.iter().any(|r| r.area == InsightArea::Adoption));
}
