//! The system sampler: records CPU, memory and disk usage of the machine and the
//! process's own figures at an interval, on a thread that stops when the sampler is
//! dropped.
//!
//! Figures come from Linux's `/proc` (`/proc/stat`, `/proc/meminfo`,
//! `/proc/self/stat`, `/proc/self/status`, `/proc/self/fd`) and `statvfs` of the
//! database directory; a figure that cannot be read (another OS, a sandbox) is left
//! out. All are `system` events:
//!
//! | metric | category | unit |
//! |---|---|---|
//! | `system_cpu_usage` (since the previous sample) | resource | percent |
//! | `system_memory_used`, `system_memory_usage` | resource | MB, percent |
//! | `system_disk_usage`, `system_disk_free` (database file system) | resource | percent, GB |
//! | `process_cpu_usage` (since the previous sample) | process | percent (of one core) |
//! | `process_memory_rss`, `process_threads`, `process_open_fds` | process | MB, count, count |
//! | `sedimentdb_disk_bytes` (WAL, segments, catalog) | process | bytes |

use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::CollectorError;
use super::event::{MetricEvent, Source};
use super::pipeline::Shared;
use super::unified::UnifiedMetricsCollector;

/// Counters kept between samples to turn totals into rates.
#[derive(Debug, Default)]
struct Previous {
    cpu: Option<(u64, u64)>,
    process: Option<(u64, Instant)>,
}

/// Takes one sample: the events it would record.
fn sample(shared: &Shared, prev: &mut Previous) -> Vec<MetricEvent> {
    let now = shared.clock.now();
    let mut out = Vec::new();
    let mut push = |category: &str, name: &str, value: f64, unit: &str| {
        if value.is_finite() {
            out.push(MetricEvent::new(Source::System, category, name, value, unit).at(now));
        }
    };
    if let Some((busy, total)) = read_cpu() {
        if let Some((b0, t0)) = prev.cpu {
            if total > t0 {
                push(
                    "resource",
                    "system_cpu_usage",
                    100.0 * busy.saturating_sub(b0) as f64 / (total - t0) as f64,
                    "percent",
                );
            }
        }
        prev.cpu = Some((busy, total));
    }
    if let Some((total_kb, available_kb)) = read_meminfo() {
        let used = total_kb.saturating_sub(available_kb) as f64;
        push("resource", "system_memory_used", used / 1024.0, "MB");
        if total_kb > 0 {
            push(
                "resource",
                "system_memory_usage",
                100.0 * used / total_kb as f64,
                "percent",
            );
        }
    }
    if let Ok(st) = rustix::fs::statvfs(shared.db.path()) {
        let block = st.f_frsize.max(1) as f64;
        let total = st.f_blocks as f64 * block;
        let free = st.f_bavail as f64 * block;
        if total > 0.0 {
            push(
                "resource",
                "system_disk_usage",
                100.0 * (total - st.f_bfree as f64 * block) / total,
                "percent",
            );
            push("resource", "system_disk_free", free / 1e9, "GB");
        }
    }
    if let Some(ticks) = read_process_ticks() {
        let at = Instant::now();
        if let Some((t0, i0)) = prev.process {
            let secs = at.duration_since(i0).as_secs_f64();
            if secs > 0.0 {
                // USER_HZ is 100 on every Linux build that matters.
                let cpu_secs = ticks.saturating_sub(t0) as f64 / 100.0;
                push(
                    "process",
                    "process_cpu_usage",
                    100.0 * cpu_secs / secs,
                    "percent",
                );
            }
        }
        prev.process = Some((ticks, at));
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = field_kb(&status, "VmRSS:") {
            push("process", "process_memory_rss", kb as f64 / 1024.0, "MB");
        }
        if let Some(n) = field_kb(&status, "Threads:") {
            push("process", "process_threads", n as f64, "count");
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        push("process", "process_open_fds", fds.count() as f64, "count");
    }
    let s = shared.db.stats();
    push(
        "process",
        "sedimentdb_disk_bytes",
        (s.segment_bytes + s.wal_bytes + s.catalog_bytes) as f64,
        "bytes",
    );
    out
}

/// `(busy, total)` jiffies of all CPUs from the first line of `/proc/stat`.
fn read_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().sum();
    // idle + iowait are not busy.
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// `(MemTotal, MemAvailable)` in kB.
fn read_meminfo() -> Option<(u64, u64)> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    Some((
        field_kb(&info, "MemTotal:")?,
        field_kb(&info, "MemAvailable:")?,
    ))
}

/// utime + stime of this process, in clock ticks.
fn read_process_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of stat(5); utime and stime are fields 14 and 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn field_kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Records system and process figures at an interval until dropped.
///
/// ```no_run
/// # use sedimentdb::{Db, Options};
/// # use sedimentdb_collector::{CollectorConfig, SystemSampler, UnifiedMetricsCollector};
/// # let db = Db::open("data", Options::default()).unwrap();
/// let collector = UnifiedMetricsCollector::new(db, CollectorConfig::default()).unwrap();
/// let sampler = SystemSampler::start(&collector, std::time::Duration::from_secs(15)).unwrap();
/// // ... the service runs ...
/// drop(sampler); // stops and joins the thread
/// ```
#[derive(Debug)]
pub struct SystemSampler {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SystemSampler {
    /// Starts sampling every `interval` (the first figures are recorded at once; rates
    /// from the second sample on).
    pub fn start(
        collector: &UnifiedMetricsCollector,
        interval: Duration,
    ) -> Result<Self, CollectorError> {
        let shared: Arc<Shared> = collector.shared.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sedimentdb-sampler".into())
            .spawn(move || {
                let mut prev = Previous::default();
                loop {
                    let events = sample(&shared, &mut prev);
                    // A failed write is counted by the collector; sampling goes on.
                    let _ = shared.ingest(events);
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| CollectorError::io("spawn sampler thread", "", e))?;
        Ok(SystemSampler {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops sampling and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl UnifiedMetricsCollector {
    /// Takes one system sample now and records it; returns the events recorded.
    pub fn sample_system(&self) -> Result<Vec<MetricEvent>, CollectorError> {
        let events = sample(&self.shared, &mut Previous::default());
        self.shared.ingest(events.clone())?;
        Ok(events)
    }
}
