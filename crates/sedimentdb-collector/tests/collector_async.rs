//! Asynchronous collection: bounded queue, background writer, circuit breaker, flush,
//! clean shutdown and health metrics. A gated file system blocks or fails the store's
//! appends on demand.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sedimentdb::storage::{DirLock, FileBytes, FileSystem, OsFileSystem, ReadMode, WritableFile};
use sedimentdb::{Db, Durability, Options};
use sedimentdb_collector::{
    Aggregation, AsyncConfig, BreakerState, CollectorConfig, CollectorError, MetricQuery,
    SystemMetric, UnifiedMetricsCollector,
};

const PASS: u8 = 0;
const BLOCK: u8 = 1;
const FAIL: u8 = 2;

#[derive(Debug, Default)]
struct Gate(AtomicU8);

impl Gate {
    fn set(&self, mode: u8) {
        self.0.store(mode, Ordering::SeqCst);
    }

    fn pass(&self) -> io::Result<()> {
        loop {
            match self.0.load(Ordering::SeqCst) {
                PASS => return Ok(()),
                BLOCK => std::thread::sleep(Duration::from_millis(1)),
                _ => return Err(io::Error::other("injected failure")),
            }
        }
    }
}

#[derive(Debug)]
struct GatedFs {
    inner: OsFileSystem,
    gate: Arc<Gate>,
}

struct GatedFile {
    inner: Arc<dyn WritableFile>,
    gate: Arc<Gate>,
}

impl WritableFile for GatedFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.gate.pass()?;
        self.inner.append(buf)
    }
    fn sync(&self) -> io::Result<()> {
        self.gate.pass()?;
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl FileSystem for GatedFs {
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let inner = self.inner.create_new(path)?;
        Ok(Arc::new(GatedFile {
            inner,
            gate: self.gate.clone(),
        }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let inner = self.inner.open_append(path)?;
        Ok(Arc::new(GatedFile {
            inner,
            gate: self.gate.clone(),
        }))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn open_bytes(&self, path: &Path, mode: ReadMode) -> io::Result<FileBytes> {
        self.inner.open_bytes(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn size(&self, path: &Path) -> io::Result<u64> {
        self.inner.size(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        self.inner.lock(path)
    }
}

fn open(cfg: AsyncConfig) -> (tempfile::TempDir, Arc<Gate>, Db, UnifiedMetricsCollector) {
    open_with(cfg, Durability::None)
}

fn open_with(
    cfg: AsyncConfig,
    durability: Durability,
) -> (tempfile::TempDir, Arc<Gate>, Db, UnifiedMetricsCollector) {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Gate::default());
    let fs = Arc::new(GatedFs {
        inner: OsFileSystem,
        gate: gate.clone(),
    });
    let db = Db::open(
        dir.path(),
        Options::default().durability(durability).file_system(fs),
    )
    .unwrap();
    let c = UnifiedMetricsCollector::new(
        db.clone(),
        CollectorConfig {
            asynchronous: Some(cfg),
            ..CollectorConfig::default()
        },
    )
    .unwrap();
    (dir, gate, db, c)
}

fn quiet() -> AsyncConfig {
    AsyncConfig {
        health_interval: None,
        ..AsyncConfig::default()
    }
}

fn cpu(i: usize) -> sedimentdb_collector::MetricEvent {
    SystemMetric::new("cpu_usage", (i % 100) as f64, "percent")
        .dimension("host", format!("h{}", i % 10))
        .build()
}

fn count(db: &Db, metric: &str) -> f64 {
    MetricQuery::metric(metric)
        .aggregate(Aggregation::Count)
        .group_by(Vec::<String>::new())
        .execute(db)
        .unwrap()
        .scalar()
        .unwrap_or(0.0)
}

#[test]
fn accepted_events_are_written_by_flush() {
    let (_dir, _gate, db, c) = open(quiet());
    for i in 0..10_000 {
        c.collect_metric(cpu(i)).unwrap();
    }
    c.flush().unwrap();
    assert_eq!(count(&db, "cpu_usage"), 10_000.0);
    let h = c.queue_health().unwrap();
    assert_eq!(
        (h.delivered, h.dropped, h.failed, h.depth),
        (10_000, 0, 0, 0)
    );
    assert!(h.max_latency_ms >= h.mean_latency_ms);
    // Validation still happens on the caller's thread.
    let mut bad = cpu(0);
    bad.value = f64::NAN;
    assert!(matches!(
        c.collect_metric(bad),
        Err(CollectorError::Rejected(_))
    ));
}

#[test]
fn shutdown_loses_nothing_accepted() {
    let (_dir, _gate, db, c) = open(AsyncConfig {
        max_batch_delay: Duration::from_secs(60),
        ..quiet()
    });
    let accepted = (0..5_000)
        .filter(|&i| c.collect_metric(cpu(i)).is_ok())
        .count();
    assert_eq!(accepted, 5_000);
    drop(c);
    assert_eq!(count(&db, "cpu_usage"), 5_000.0);
}

#[test]
fn a_full_queue_sheds_without_blocking_and_counts_drops() {
    let (_dir, gate, db, c) = open(AsyncConfig {
        queue_capacity: 64,
        batch_size: 16,
        max_batch_delay: Duration::from_millis(1),
        ..quiet()
    });
    gate.set(BLOCK);
    let start = Instant::now();
    let mut accepted = 0;
    let mut shed = 0;
    for i in 0..2_000 {
        match c.collect_metric(cpu(i)) {
            Ok(_) => accepted += 1,
            Err(CollectorError::Shed(_)) => shed += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(2), "enqueue blocked");
    assert!(shed > 1_000, "shed {shed}");
    assert_eq!(c.stats().dropped, shed);
    gate.set(PASS);
    c.flush().unwrap();
    assert_eq!(count(&db, "cpu_usage"), accepted as f64);
    assert_eq!(c.queue_health().unwrap().delivered, accepted);
}

#[test]
fn a_failing_store_opens_the_breaker_which_sheds_load() {
    let (_dir, gate, _db, c) = open_with(
        AsyncConfig {
            batch_size: 10,
            max_batch_delay: Duration::from_millis(1),
            commit_attempts: 2,
            retry_backoff: Duration::from_millis(1),
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_secs(60),
            ..quiet()
        },
        Durability::Sync,
    );
    gate.set(FAIL);
    for i in 0..10 {
        c.collect_metric(cpu(i)).unwrap();
    }
    c.flush().unwrap();
    assert_eq!(c.breaker_state(), Some(BreakerState::Open));
    assert_eq!(c.stats().failed, 10);
    assert!(matches!(
        c.collect_metric(cpu(11)),
        Err(CollectorError::Shed(_))
    ));
    assert_eq!(c.stats().dropped, 1);
}

#[test]
fn health_is_recorded_as_metrics() {
    let (_dir, _gate, db, c) = open(AsyncConfig {
        health_interval: Some(Duration::from_millis(5)),
        max_batch_delay: Duration::from_millis(1),
        ..AsyncConfig::default()
    });
    for i in 0..100 {
        c.collect_metric(cpu(i)).unwrap();
    }
    c.flush().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    c.shutdown().unwrap();
    assert!(matches!(
        c.collect_metric(cpu(0)),
        Err(CollectorError::Closed)
    ));
    for metric in [
        "collector_queue_depth",
        "collector_delivered_total",
        "collector_dropped_total",
        "collector_latency_mean",
    ] {
        assert!(count(&db, metric) >= 1.0, "{metric}");
    }
    let delivered = MetricQuery::metric("collector_delivered_total")
        .aggregate(Aggregation::Max)
        .group_by(Vec::<String>::new())
        .execute(&db)
        .unwrap()
        .scalar();
    assert_eq!(delivered, Some(100.0));
}

#[test]
fn returned_ids_are_the_events_own_or_unique_assigned_ones() {
    let (_dir, _gate, db, c) = open(quiet());
    let given = c.collect_metric(cpu(0).with_id("evt-7")).unwrap();
    assert_eq!(given, "evt-7");
    let a = c.collect_metric(cpu(1)).unwrap();
    let b = c.collect_metric(cpu(2)).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), b.len());
    // The same id again within the window is a duplicate, stored once.
    assert_eq!(c.collect_metric(cpu(3).with_id("evt-7")).unwrap(), "evt-7");
    c.flush().unwrap();
    assert_eq!(count(&db, "cpu_usage"), 3.0);
    assert_eq!(c.stats().duplicates, 1);
}
