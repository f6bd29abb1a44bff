//! The opt-in background scheduler: flush, compaction and retention on intervals.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use super::{flush, DbInner};

/// Intervals of the background maintenance thread (see [`crate::Options::maintenance`]).
/// `None` leaves that task to explicit API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Maintenance {
    /// Flush the head at least this often. Default: `None`.
    pub flush_every: Option<Duration>,
    /// Run [`crate::Db::compact`] this often. Default: `None`.
    pub compact_every: Option<Duration>,
    /// Run [`crate::Db::apply_retention`] this often. Default: `None`.
    pub retention_every: Option<Duration>,
}

impl Maintenance {
    pub(crate) fn is_enabled(&self) -> bool {
        self.flush_every.is_some() || self.compact_every.is_some() || self.retention_every.is_some()
    }
}

/// What the scheduler has done since open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
        let record = |r: Result<(), crate::Error>,
                      counter: fn(&mut MaintenanceStatus) -> &mut u64| {
            let mut s = status.lock();
            *counter(&mut s) += 1;
            if let Err(e) = r {
                s.last_error = Some(e.to_string());
            }
        };
        if due(&mut next_flush, plan.flush_every) {
            record(flush::flush(&db).map(|_| ()), |s| &mut s.flushes);
        }
        if due(&mut next_compact, plan.compact_every) {
            record(crate::compaction::compact(&db).map(|_| ()), |s| {
                &mut s.compactions
            });
        }
        if due(&mut next_retention, plan.retention_every)
            && (db.opts.retention.is_some() || !db.opts.rollups.is_empty())
        {
            record(
                crate::compaction::apply_retention(&db, db.opts.retention).map(|_| ()),
                |s| &mut s.retention_runs,
            );
        }
    }
}
