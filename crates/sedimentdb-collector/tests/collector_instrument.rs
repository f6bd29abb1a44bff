//! Instrumentation: the timing guard, `track_performance!`, and the system sampler.

use std::sync::OnceLock;
use std::time::Duration;

use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::track_performance;
use sedimentdb_collector::{
    Aggregation, CollectorConfig, MetricQuery, Principal, Role, SystemSampler,
    UnifiedMetricsCollector,
};

fn admin() -> Principal {
    Principal::new("test", Role::Admin)
}

fn collector(dir: &std::path::Path) -> UnifiedMetricsCollector {
    let db = Db::open(dir, Options::default().durability(Durability::None)).unwrap();
    UnifiedMetricsCollector::new(db, CollectorConfig::default()).unwrap()
}

/// `(success label, count)` of a timing metric.
fn outcomes(c: &UnifiedMetricsCollector, metric: &str) -> Vec<(String, f64)> {
    let q = MetricQuery::metric(metric)
        .aggregate(Aggregation::Count)
        .group_by(["success"]);
    c.query_metrics(&admin(), &q)
        .unwrap()
        .series
        .into_iter()
        .map(|s| (s.labels["success"].clone(), s.points[0].1))
        .collect()
}

#[test]
fn the_guard_records_duration_and_success_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path());
    {
        let _t = c.time("command_execution_time", [("command", "user-prefs")]);
        std::thread::sleep(Duration::from_millis(5));
    }
    {
        let mut t = c.time("command_execution_time", [("command", "user-prefs")]);
        t.fail();
    }
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _t = c.time("command_execution_time", [("command", "user-prefs")]);
        panic!("the command failed");
    }));
    assert!(panicked.is_err());
    assert_eq!(
        outcomes(&c, "command_execution_time"),
        [("false".to_string(), 2.0), ("true".to_string(), 1.0)]
    );
    let max = MetricQuery::metric("command_execution_time")
        .where_eq("success", "true")
        .aggregate(Aggregation::Max);
    let ms = c.query_metrics(&admin(), &max).unwrap().scalar().unwrap();
    assert!((5.0..5_000.0).contains(&ms), "{ms}");
}

static METRICS: OnceLock<UnifiedMetricsCollector> = OnceLock::new();
static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fn metrics() -> &'static UnifiedMetricsCollector {
    METRICS.get_or_init(|| collector(DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()))
}

track_performance!(metrics(), "handler_time";
    /// A handler that fails on odd input.
    fn handle(n: u32) -> Result<u32, String> {
        if n.is_multiple_of(2) { Ok(n / 2) } else { Err(format!("{n} is odd")) }
    }
);

track_performance!(metrics(), "handler_time";
    fn plain(n: u32) -> u32 {
        n + 1
    }
);

#[test]
fn the_macro_times_functions_and_blocks() {
    assert_eq!(handle(4), Ok(2));
    assert!(handle(3).is_err());
    assert_eq!(plain(1), 2);
    let v: Result<(), &str> = track_performance!(metrics(), "block_time", { Err("no") });
    assert!(v.is_err());
    assert_eq!(
        outcomes(metrics(), "handler_time"),
        [("false".to_string(), 1.0), ("true".to_string(), 2.0)]
    );
    let per_fn = MetricQuery::metric("handler_time")
        .aggregate(Aggregation::Count)
        .group_by(["function"]);
    let r = metrics().query_metrics(&admin(), &per_fn).unwrap();
    let names: Vec<&str> = r
        .series
        .iter()
        .map(|s| s.labels["function"].as_str())
        .collect();
    assert_eq!(names, ["handle", "plain"]);
    assert_eq!(
        outcomes(metrics(), "block_time"),
        [("false".to_string(), 1.0)]
    );
}

#[test]
fn the_sampler_records_system_figures_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let c = collector(dir.path());
    let sampler = SystemSampler::start(&c, Duration::from_millis(10)).unwrap();
    std::thread::sleep(Duration::from_millis(80));
    drop(sampler);
    let count = |metric: &str| {
        let q = MetricQuery::metric(metric).aggregate(Aggregation::Count);
        c.query_metrics(&admin(), &q)
            .unwrap()
            .scalar()
            .unwrap_or(0.0)
    };
    let samples = count("sedimentdb_disk_bytes");
    assert!(samples >= 2.0, "{samples}");
    for metric in [
        "system_cpu_usage",
        "system_memory_usage",
        "system_disk_usage",
        "process_cpu_usage",
        "process_memory_rss",
        "process_threads",
        "process_open_fds",
    ] {
        assert!(count(metric) >= 1.0, "{metric}");
    }
    let last = |metric: &str| {
        let q = MetricQuery::metric(metric).aggregate(Aggregation::Last);
        c.query_metrics(&admin(), &q).unwrap().scalar().unwrap()
    };
    assert!(last("process_memory_rss") > 0.0);
    assert!((0.0..=100.0).contains(&last("system_memory_usage")));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        count("sedimentdb_disk_bytes"),
        samples,
        "sampling went on after drop"
    );
    assert!(!c.sample_system().unwrap().is_empty());
}
