//! The opt-in background scheduler: flush, compaction and retention on intervals.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use super::{flush, DbInner};
use crate::options::Maintenance;

/// What the scheduler has done since open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MaintenanceStatus {
    /// Flushes run.
    pub flushes: u64,
    /// Compactions run.
    pub compactions: u64,
    /// Retention runs.
    pub retention_runs: u64,
    /// The last error a task returned (tasks retry at their next interval).
    pub last_error: Option<String>,
}

/// The running thread and how to stop it.
pub(crate) struct Scheduler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Scheduler {
    pub(crate) fn start(
        db: Weak<DbInner>,
        plan: Maintenance,
        status: Arc<Mutex<MaintenanceStatus>>,
    ) -> Scheduler {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let handle = {
            let (stop, status) = (stop.clone(), status.clone());
            std::thread::Builder::new()
                .name("sedimentdb-maintenance".into())
                .spawn(move || run(db, plan, &stop, &status))
                .ok()
        };
        Scheduler {
            stop,
            handle: Mutex::new(handle),
        }
    }

    /// Stops the thread and waits for a task in progress to finish.
    pub(crate) fn stop(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(handle) = self.handle.lock().take() {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

fn run(
    db: Weak<DbInner>,
    plan: Maintenance,
    stop: &(Mutex<bool>, Condvar),
    status: &Mutex<MaintenanceStatus>,
) {
    let start = Instant::now();
    let mut next_flush = plan.flush_every.map(|d| start + d);
    let mut next_compact = plan.compact_every.map(|d| start + d);
    let mut next_retention = plan.retention_every.map(|d| start + d);
    loop {
        let wake = [next_flush, next_compact, next_retention]
            .into_iter()
            .flatten()
            .min();
        {
            // The flag is checked before every wait: a stop requested before this thread
            // first reached the lock must not be slept through (a lost wake-up kept a
            // dropped `Db` waiting a whole `flush_every`).
            let mut stopped = stop.0.lock();
            loop {
                if *stopped {
                    return;
                }
                match wake {
                    Some(at) => {
                        if stop.1.wait_until(&mut stopped, at).timed_out() {
                            break;
                        }
                    }
                    None => stop.1.wait(&mut stopped),
                }
            }
            if *stopped {
                return;
            }
        }
        let Some(db) = db.upgrade() else { return };
        let now = Instant::now();
        let due = |next: &mut Option<Instant>, every: Option<Duration>| -> bool {
            match (*next, every) {
                (Some(at), Some(every)) if at <= now => {
                    *next = Some(now + every);
                    true
                }
                _ => false,
            }
        };
        // `Ok(Some(problem))`: the task ran but reports something an operator must see.
        let record = |r: Result<Option<String>, crate::Error>,
                      counter: fn(&mut MaintenanceStatus) -> &mut u64| {
            let mut s = status.lock();
            *counter(&mut s) += 1;
            match r {
                Err(e) => s.last_error = Some(e.to_string()),
                Ok(Some(problem)) => s.last_error = Some(problem),
                Ok(None) => {}
            }
        };
        if due(&mut next_flush, plan.flush_every) {
            record(flush::flush(&db).map(|_| None), |s| &mut s.flushes);
        }
        if due(&mut next_compact, plan.compact_every) {
            // A partition skipped for a damaged segment is recorded as the last error;
            // the other partitions were compacted and the thread carries on.
            let compacted = crate::compaction::compact(&db.compaction());
            super::telemetry::compacted("compact", &compacted);
            let result = compacted.map(|r| {
                r.skipped
                    .first()
                    .map(|s| format!("compaction: {s} ({} partitions skipped)", r.skipped.len()))
            });
            record(result, |s| &mut s.compactions);
        }
        if due(&mut next_retention, plan.retention_every) {
            // The per-selector rules too, not only `Options::retention`: a database
            // with rules and no global retention used to keep everything forever.
            record(db.apply_retention().map(|_| None), |s| {
                &mut s.retention_runs
            });
        }
    }
}
