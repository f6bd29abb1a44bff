//! Alerting end to end: a 40-minute stream with four injected incidents; the right
//! alerts fire (once each, with de-duplication) and clear, and reach every sink.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::alert::{Op, TrendDirection, WindowAggregate};
use sedimentdb_collector::{
    Aggregation, Alert, AlertRule, AlertState, CallbackSink, CollectorConfig, JsonlSink,
    ManualClock, MetricEvent, MetricQuery, PerformanceMetric, Principal, Role, Severity,
    SystemMetric, UnifiedMetricsCollector,
};

const T0: i64 = 1_714_564_800_000_000_000;
const SEC: i64 = 1_000_000_000;
const STEP: i64 = 10;

const RULES: &str = r#"
[[rule]]
name = "high_error_rate"
metric = "error_rate"
kind = "threshold"
aggregate = "avg"
op = ">"
value = 0.05
window = "1m"
for = "30s"
severity = "critical"
group_by = ["command"]
description = "Error rate above 5%"

[[rule]]
name = "latency_creeping_up"
metric = "request_latency"
kind = "trend"
direction = "increasing"
min_slope_per_sec = 0.5
min_r2 = 0.8
window = "3m"
"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 10_000) as f64 / 10_000.0
    }
}

/// The events of second `s` of the stream.
fn events_at(s: i64, rng: &mut Rng) -> Vec<MetricEvent> {
    let ts = T0 + s * SEC;
    let mut out = Vec::new();
    for command in ["user-prefs", "analyze"] {
        // Incident 1: analyze fails 20% of the time from 10:00 to 15:00.
        let rate = if command == "analyze" && (600..900).contains(&s) {
            0.2
        } else {
            0.01 + 0.005 * rng.next()
        };
        out.push(
            PerformanceMetric::new(command, "error_rate", rate, "ratio", true)
                .dimension("command", command)
                .at(ts)
                .build(),
        );
    }
    // Incident 2: latency grows by 1 ms/s from 18:00 to 25:00, then stays high.
    let ramp = (s.clamp(1080, 1500) - 1080) as f64;
    out.push(
        SystemMetric::new("request_latency", 100.0 + ramp + rng.next(), "ms")
            .category("latency")
            .at(ts)
            .build(),
    );
    // Incident 3: one CPU spike at 20:00.
    let cpu = if s == 1200 {
        97.0
    } else {
        40.0 + (s / STEP % 3) as f64
    };
    out.push(
        SystemMetric::new("cpu_usage", cpu, "percent")
            .at(ts)
            .build(),
    );
    // Incident 4: queue depth follows request rate from 10:00 to 20:00.
    let request_rate = 100.0 + 50.0 * rng.next();
    let queue = if (600..1200).contains(&s) {
        2.0 * request_rate + 5.0
    } else {
        300.0 * rng.next()
    };
    out.push(
        SystemMetric::new("request_rate", request_rate, "requests/s")
            .at(ts)
            .build(),
    );
    out.push(
        SystemMetric::new("queue_depth", queue, "count")
            .at(ts)
            .build(),
    );
    out
}

#[test]
fn injected_incidents_fire_and_clear_the_right_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let heard: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let heard2 = heard.clone();
    let jsonl = dir.path().join("alerts.jsonl");
    let db = Db::open(
        dir.path().join("db"),
        Options::default().durability(Durability::None),
    )
    .unwrap();
    let c = UnifiedMetricsCollector::new(
        db,
        CollectorConfig {
            clock: clock.clone(),
            alert_interval: None,
            alert_sinks: vec![
                Arc::new(CallbackSink(move |a: &Alert| {
                    heard2.lock().unwrap().push(a.clone())
                })),
                Arc::new(JsonlSink::open(&jsonl).unwrap()),
            ],
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    // Two rules from a file, two in code.
    let rule_file = dir.path().join("rules.toml");
    std::fs::write(&rule_file, RULES).unwrap();
    assert_eq!(c.alerts().load_rules(&rule_file).unwrap(), 2);
    c.alerts()
        .add_rule(
            AlertRule::anomaly("cpu_spike", "cpu_usage", Duration::from_secs(600))
                .severity(Severity::Warning),
        )
        .unwrap();
    c.alerts()
        .add_rule(AlertRule::correlation(
            "queue_follows_load",
            "queue_depth",
            "request_rate",
            0.9,
            Duration::from_secs(30),
            Duration::from_secs(300),
        ))
        .unwrap();

    let mut rng = Rng(7);
    for s in (0..2400).step_by(STEP as usize) {
        clock.set(T0 + s * SEC);
        c.batch_collect(events_at(s, &mut rng)).unwrap();
        // Mid-incident, the engine lists the firing alert.
        if s == 800 {
            let active = c.alerts().active();
            assert!(active.iter().any(|a| a.rule == "high_error_rate"
                && a.firing
                && a.labels["command"] == "analyze"));
            assert!(!active
                .iter()
                .any(|a| a.labels.get("command").map(String::as_str) == Some("user-prefs")));
        }
    }
    clock.set(T0 + 2400 * SEC);
    c.alerts().evaluate();

    let heard = heard.lock().unwrap().clone();
    let of = |rule: &str| -> Vec<(AlertState, i64)> {
        heard
            .iter()
            .filter(|a| a.rule == rule)
            .map(|a| (a.state, (a.at - T0) / SEC))
            .collect()
    };
    let summary: Vec<String> = heard
        .iter()
        .map(|a| {
            format!(
                "{} {:?} {:?} at {}s: {}",
                a.rule,
                a.labels,
                a.state,
                (a.at - T0) / SEC,
                a.message
            )
        })
        .collect();
    let show = summary.join("\n");
    eprintln!("{show}");

    // Threshold: only `analyze`, fired within a minute of 10:00, cleared after 15:00.
    let errors = of("high_error_rate");
    assert_eq!(errors.len(), 2, "{show}");
    assert_eq!(errors[0].0, AlertState::Firing);
    assert!((600..=660).contains(&errors[0].1), "{show}");
    assert_eq!(errors[1].0, AlertState::Resolved);
    assert!((900..=1000).contains(&errors[1].1), "{show}");
    assert!(heard
        .iter()
        .filter(|a| a.rule == "high_error_rate")
        .all(|a| a.labels["command"] == "analyze"));
    assert_eq!(heard[0].severity, Severity::Critical);
    assert!(
        heard[0].message.starts_with("Error rate above 5%"),
        "{}",
        heard[0].message
    );

    // Trend: fired during the ramp (18:00-25:00), cleared once the level is flat.
    let trend = of("latency_creeping_up");
    assert_eq!(trend.len(), 2, "{show}");
    assert!(
        (1080..=1200).contains(&trend[0].1) && trend[0].0 == AlertState::Firing,
        "{show}"
    );
    assert!(
        (1500..=1800).contains(&trend[1].1) && trend[1].0 == AlertState::Resolved,
        "{show}"
    );

    // Anomaly: the spike at 20:00 and nothing else.
    let spike = of("cpu_spike");
    assert_eq!(
        spike,
        [(AlertState::Firing, 1200), (AlertState::Resolved, 1230)],
        "{show}"
    );

    // Correlation: while queue depth followed request rate.
    let corr = of("queue_follows_load");
    assert_eq!(corr.len(), 2, "{show}");
    assert!(
        (600..=900).contains(&corr[0].1) && corr[0].0 == AlertState::Firing,
        "{show}"
    );
    assert!(
        (1200..=1500).contains(&corr[1].1) && corr[1].0 == AlertState::Resolved,
        "{show}"
    );

    assert!(c.alerts().active().is_empty(), "{:?}", c.alerts().active());

    // Every sink heard the same transitions.
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(lines.lines().count(), heard.len());
    assert!(lines
        .lines()
        .next()
        .unwrap()
        .contains(r#""state":"firing""#));
    let stored = MetricQuery::metric("alert_state")
        .aggregate(Aggregation::Count)
        .group_by(Vec::<String>::new());
    let admin = Principal::new("t", Role::Admin);
    assert_eq!(
        c.query_metrics(&admin, &stored).unwrap().scalar(),
        Some(heard.len() as f64)
    );
    let _ = (Op::Gt, TrendDirection::Increasing, WindowAggregate::Avg);
}
