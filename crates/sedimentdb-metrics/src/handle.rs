//! The sampling thread and the handle that controls it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use sedimentdb::{timestamp, Db};

use crate::recorder::{Description, Shared};
use crate::sampler::Sampler;

/// What the recorder has done, for the service's own health checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Samples taken.
    pub samples: u64,
    /// Points written to the database.
    pub points_written: u64,
    /// Distinct metrics (name and labels) recorded.
    pub series: usize,
    /// New metrics ignored because [`max_series`](crate::RecorderOptions::max_series)
    /// was reached.
    pub series_refused: u64,
    /// Series keys the database refused (its key limits); their points are not written.
    pub series_invalid: u64,
    /// Histogram values left out of the quantiles (they still count in `_count` and
    /// `_sum`); see [`max_histogram_samples`](crate::RecorderOptions::max_histogram_samples).
    pub histogram_values_dropped: u64,
    /// Samples whose write failed.
    pub write_errors: u64,
    /// The last write error.
    pub last_error: Option<String>,
}

struct Control {
    stop: Mutex<bool>,
    wake: Condvar,
    /// Held while sampling, so the thread and [`RecorderHandle::sample_now`] take turns.
    sampler: Mutex<Sampler>,
}

/// Controls a running recorder: the sampling thread stops, after one last sample, when
/// the handle is shut down or dropped. Recording through the facade after that is
/// harmless (the values are no longer written).
pub struct RecorderHandle {
    shared: Arc<Shared>,
    db: Db,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl RecorderHandle {
    pub(crate) fn start(shared: Arc<Shared>, db: Db) -> std::io::Result<RecorderHandle> {
        let control = Arc::new(Control {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            sampler: Mutex::new(Sampler::default()),
        });
        let thread = {
            let (shared, db, control) = (shared.clone(), db.clone(), control.clone());
            std::thread::Builder::new()
                .name("sedimentdb-metrics".into())
                .spawn(move || run(&shared, &db, &control))?
        };
        Ok(RecorderHandle {
            shared,
            db,
            control,
            thread: Some(thread),
        })
    }

    /// Takes a sample now (besides the interval's), e.g. before a planned shutdown or in
    /// a test. Returns the points written.
    pub fn sample_now(&self) -> Result<usize, sedimentdb::Error> {
        self.control
            .sampler
            .lock()
            .sample(&self.shared, &self.db, timestamp::now())
    }

    /// What the recorder has done so far.
    pub fn stats(&self) -> RecorderStats {
        let sampler = self.control.sampler.lock();
        let c = &sampler.counts;
        RecorderStats {
            samples: c.samples,
            points_written: c.points_written,
            series: self.shared.series(),
            series_refused: self.shared.series_refused.load(Ordering::Relaxed),
            series_invalid: c.series_invalid,
            histogram_values_dropped: c.histogram_values_dropped,
            write_errors: c.write_errors,
            last_error: c.last_error.clone(),
        }
    }

    /// The descriptions and units the facade was given (`describe_counter!` and its
    /// kin), sorted by name. Units are also on the series, as the `unit` dimension.
    pub fn descriptions(&self) -> Vec<Description> {
        let mut out: Vec<Description> = self
            .shared
            .descriptions
            .read()
            .iter()
            .map(|(name, (unit, text))| Description {
                name: name.clone(),
                unit: unit.as_ref().map(|u| u.as_str().to_string()),
                text: text.to_string(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Stops the sampling thread after one last sample, and returns that sample's error
    /// if it failed.
    pub fn shutdown(mut self) -> Result<(), sedimentdb::Error> {
        self.stop_thread();
        self.sample_now().map(drop)
    }

    fn stop_thread(&mut self) {
        *self.control.stop.lock() = true;
        self.control.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic in the sampler is a bug; it must not take the service down with it.
            let _ = thread.join();
        }
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_thread();
            // Errors are in stats(); a drop has nobody to return them to.
            let _ = self.sample_now();
        }
    }
}

/// The thread: one sample per interval until stopped. A failed write is counted and
/// retried at the next interval (counter and histogram totals are running, so nothing
/// recorded is lost by a missed sample).
fn run(shared: &Shared, db: &Db, control: &Control) {
    let interval = shared.options.interval;
    loop {
        {
            let mut stop = control.stop.lock();
            if !*stop {
                control.wake.wait_for(&mut stop, interval);
            }
            if *stop {
                return;
            }
        }
        let _ = control.sampler.lock().sample(shared, db, timestamp::now());
    }
}
