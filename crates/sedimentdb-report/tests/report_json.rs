//! The report over the deterministic sample data: its JSON against a committed snapshot
//! (numbers compared to 1e-9 relative, since sums over series may be added in another
//! order by the parallel executor), and the findings the data was built to contain.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p sedimentdb-report --test report_json` rewrites the
//! snapshot after an intended change; review the diff before committing it.

use std::path::PathBuf;
use std::time::Duration;

use sedimentdb::{Db, Options};
use sedimentdb_report::sample_data::{SampleData, SAMPLE_END};
use sedimentdb_report::{render, Report, ReportSpec, ReportType, Reporter};
use serde_json::Value;

fn sample_report(report_type: ReportType) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    SampleData::small().write(&db).unwrap();
    db.flush().unwrap();
    let spec = ReportSpec::new(report_type)
        .last(Duration::from_secs(7 * 86_400))
        .now(SAMPLE_END);
    Reporter::new(db).unwrap().report(&spec).unwrap()
}

fn close(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tol = 1e-9 * x.abs().max(y.abs()).max(1e-300);
            if (x - y).abs() <= tol {
                Ok(())
            } else {
                Err(format!("{path}: {x} != {y}"))
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: {} elements != {}", x.len(), y.len()));
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                close(p, q, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            if kx != ky {
                return Err(format!("{path}: keys {kx:?} != {ky:?}"));
            }
            for (k, v) in x {
                close(v, &y[k], &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} != {b}")),
    }
}

fn check_snapshot(name: &str, json: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, json).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    let (got, want): (Value, Value) = (
        serde_json::from_str(json).unwrap(),
        serde_json::from_str(&want).unwrap(),
    );
    if let Err(diff) = close(&got, &want, "$") {
        panic!("{name} differs from the snapshot at {diff} (UPDATE_SNAPSHOTS=1 rewrites it)");
    }
}

#[test]
fn report_all_matches_the_snapshot_and_the_planted_findings() {
    let report = sample_report(ReportType::All);
    let json = render::json(&report).unwrap();
    check_snapshot("report_all.json", &json);

    // The JSON reads back into the same structs (the schema is the serde model).
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.metrics.len(), report.metrics.len());
    assert_eq!(back.period, report.period);

    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "command_execution_time",
            "cpu_usage",
            "feature_used",
            "learning_confidence",
            "memory_used",
            "satisfaction_score"
        ]
    );
    let metric = |n: &str| report.metrics.iter().find(|m| m.name == n).unwrap();

    // Latency: user-prefs drifts up through the week, so the trend degrades and the
    // change against the previous week is user-prefs'.
    let lat = metric("command_execution_time");
    assert_eq!(lat.unit.as_deref(), Some("ms"));
    assert_eq!(lat.series, 8);
    assert_eq!(lat.headline.points, 8 * 7 * 48);
    assert_eq!(lat.trend.as_ref().unwrap().verdict, "degrading");
    assert!(
        lat.headline.change_ratio.unwrap() > 0.2,
        "{:?}",
        lat.headline
    );
    assert_eq!(lat.breakdown.as_ref().unwrap().dimension, "command");
    assert_eq!(lat.drivers[0].label, "command=user-prefs");
    assert!(lat.drivers[0].share_of_delta > 0.9, "{:?}", lat.drivers);
    // The 2600 ms spike of export on host-000, 30 hours before the end.
    let spike = SAMPLE_END - 30 * 3_600_000_000_000;
    let a = &lat.anomalies[0];
    assert!(
        a.series.contains("command=\"export\"") && a.series.contains("host-000"),
        "{a:?}"
    );
    assert!((a.ts..a.ts + 3_600_000_000_000).contains(&spike), "{a:?}");
    assert!(a.score > 10.0);

    // CPU's spike 52 hours before the end; otherwise a daily cycle, no trend.
    let cpu = metric("cpu_usage");
    let spike = SAMPLE_END - 52 * 3_600_000_000_000;
    assert!(
        cpu.anomalies
            .iter()
            .any(|a| (a.ts..a.ts + 3_600_000_000_000).contains(&spike)),
        "{:?}",
        cpu.anomalies
    );
    assert_eq!(cpu.trend.as_ref().unwrap().verdict, "stable");

    // Satisfaction falls: a decline is what is bad for it.
    let sat = metric("satisfaction_score");
    assert_eq!(sat.bad_direction, "decreasing_is_bad");
    assert_eq!(sat.trend.as_ref().unwrap().verdict, "degrading");

    // Alerts: slow_commands fired twice in the week and fires at its end; cpu_hot fired
    // and resolved in the previous week, so it is not in this one.
    assert_eq!(report.alerts.len(), 1, "{:?}", report.alerts);
    let alert = &report.alerts[0];
    assert_eq!(
        (alert.rule.as_str(), alert.state.as_str(), alert.fired),
        ("slow_commands", "firing", 2)
    );
    assert_eq!(alert.labels["command"], "user-prefs");
    assert_eq!(report.summary.firing_alerts, 1);

    // The collector's slow-command insight and the report's own trend recommendation.
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.origin == "collector" && r.text.contains("user-prefs")),
        "{:?}",
        report.recommendations
    );
    assert!(
        report
            .recommendations
            .iter()
            .any(|r| r.origin == "report"
                && r.text.starts_with("command_execution_time is degrading"))
    );
}

#[test]
fn a_type_reports_only_its_source() {
    let report = sample_report(ReportType::Health);
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["cpu_usage", "memory_used"]);
    assert_eq!(report.report_type, "health");
    check_snapshot("report_health.json", &render::json(&report).unwrap());
    let report = sample_report(ReportType::Adoption);
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["feature_used"]);
}

#[test]
fn text_and_markdown_carry_the_same_findings() {
    let report = sample_report(ReportType::Performance);
    let text = render::text(&report);
    assert!(text.starts_with("Performance report\n"), "{text}");
    assert!(
        text.contains("== command_execution_time (ms) · 8 series"),
        "{text}"
    );
    assert!(text.contains("trend     degrading"), "{text}");
    assert!(text.contains("command=user-prefs"), "{text}");
    assert!(
        text.contains("FIRING critical slow_commands {command=user-prefs}"),
        "{text}"
    );
    let md = render::markdown(&report);
    assert!(md.starts_with("# Performance report\n"), "{md}");
    assert!(md.contains("| command_execution_time (ms) | 8 |"), "{md}");
    assert!(md.contains("## command_execution_time (ms)"), "{md}");
}
