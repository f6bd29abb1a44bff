//! Instrumentation: a timing guard and the `track_performance!` macro (the original's
//! `@metrics.track_performance` decorator).
//!
//! The guard records, when dropped, one `performance` event: the elapsed time in
//! milliseconds under the given metric name, with a `success` dimension that is
//! `false` if the guard was marked failed or the thread is unwinding from a panic.
//! Recording goes through `collect_metric`, so in asynchronous mode it costs an enqueue.

use std::collections::BTreeMap;
use std::time::Instant;

use super::event::{MetricEvent, Source};
use super::unified::UnifiedMetricsCollector;
use sedimentdb::Timestamp;

/// Records the duration and outcome of a scope on drop. Made by
/// [`UnifiedMetricsCollector::time`].
///
/// ```
/// use sedimentdb::{Db, Options};
/// use sedimentdb_collector::{CollectorConfig, UnifiedMetricsCollector};
/// let dir = tempfile::tempdir().unwrap();
/// let collector = UnifiedMetricsCollector::new(Db::open(dir.path(), Options::default()).unwrap(), CollectorConfig::default()).unwrap();
/// {
///     let mut t = collector.time("command_execution_time", [("command", "user-prefs")]);
///     // ... the work ...
///     if false { t.fail(); }
/// } // recorded here: command_execution_time{command="user-prefs",success="true"} = elapsed ms
/// assert_eq!(collector.stats().stored, 1);
/// ```
#[must_use = "the guard records when dropped; bind it with `let _t = ...`"]
pub struct TimingGuard<'a> {
    collector: &'a UnifiedMetricsCollector,
    name: String,
    dimensions: BTreeMap<String, String>,
    started: Instant,
    started_at: Timestamp,
    success: bool,
}

impl std::fmt::Debug for TimingGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimingGuard")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .field("success", &self.success)
            .finish()
    }
}

impl TimingGuard<'_> {
    /// Marks the timed work as failed.
    pub fn fail(&mut self) {
        self.success = false;
    }

    /// Sets whether the timed work succeeded (default: true).
    pub fn set_success(&mut self, success: bool) {
        self.success = success;
    }

    /// Records now instead of at the end of the scope.
    pub fn finish(self) {}
}

impl Drop for TimingGuard<'_> {
    fn drop(&mut self) {
        let ms = self.started.elapsed().as_secs_f64() * 1e3;
        let ok = self.success && !std::thread::panicking();
        let mut event = MetricEvent::new(
            Source::Performance,
            "latency",
            std::mem::take(&mut self.name),
            ms,
            "ms",
        )
        .at(self.started_at);
        event.dimensions = std::mem::take(&mut self.dimensions);
        event
            .dimensions
            .insert("success".into(), if ok { "true" } else { "false" }.into());
        // A failure to record is counted by the collector (rejected or dropped); the
        // instrumented code must not fail because of its metrics.
        let _ = self.collector.collect_metric(event);
    }
}

impl UnifiedMetricsCollector {
    /// Starts timing: the returned guard records `name` (milliseconds, source
    /// `performance`, category `latency`) with these dimensions plus `success` when it
    /// is dropped.
    pub fn time<K, V>(
        &self,
        name: impl Into<String>,
        dimensions: impl IntoIterator<Item = (K, V)>,
    ) -> TimingGuard<'_>
    where
        K: Into<String>,
        V: Into<String>,
    {
        TimingGuard {
            collector: self,
            name: name.into(),
            dimensions: dimensions
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            started: Instant::now(),
            started_at: self.shared.clock.now(),
            success: true,
        }
    }
}

/// Wraps a value so that `track_performance!` can tell a failed `Result` from anything
/// else without specialisation (autoref dispatch: the `Result` impl is found first).
#[doc(hidden)]
pub struct Probe<'a, T>(pub &'a T);

/// `Err` is a failure.
#[doc(hidden)]
pub trait ResultOutcome {
    fn succeeded(&self) -> bool;
}

impl<T, E> ResultOutcome for Probe<'_, Result<T, E>> {
    fn succeeded(&self) -> bool {
        self.0.is_ok()
    }
}

/// Any other value is a success.
#[doc(hidden)]
pub trait AnyOutcome {
    fn succeeded(&self) -> bool;
}

impl<T> AnyOutcome for &Probe<'_, T> {
    fn succeeded(&self) -> bool {
        true
    }
}

/// Times a function or a block with a [`TimingGuard`]: the duration is recorded under
/// the given metric with a `function` dimension (for functions) and `success` (false
/// when a `Result` is `Err` or the code panicked).
///
/// The collector expression is evaluated on each call, so a function can use a global
/// (e.g. a `static COLLECTOR: OnceLock<UnifiedMetricsCollector>`).
///
/// ```
/// use std::sync::OnceLock;
/// use sedimentdb::{Db, Options};
/// use sedimentdb_collector::{CollectorConfig, UnifiedMetricsCollector};
/// use sedimentdb_collector::track_performance;
///
/// static METRICS: OnceLock<UnifiedMetricsCollector> = OnceLock::new();
/// fn metrics() -> &'static UnifiedMetricsCollector { METRICS.get().unwrap() }
///
/// track_performance!(metrics(), "command_execution_time";
///     fn parse_prefs(input: &str) -> Result<u32, std::num::ParseIntError> {
///         input.trim().parse()
///     }
/// );
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// METRICS.set(UnifiedMetricsCollector::new(db, CollectorConfig::default()).unwrap()).unwrap();
/// assert_eq!(parse_prefs(" 42 "), Ok(42));
/// assert!(parse_prefs("x").is_err()); // recorded with success="false"
/// let n = track_performance!(metrics(), "block_time", { 2 + 2 });
/// assert_eq!(n, 4);
/// assert_eq!(metrics().stats().stored, 3);
/// ```
#[macro_export]
macro_rules! track_performance {
    ($collector:expr, $metric:expr;
     $(#[$attr:meta])* $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])* $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[allow(unused_imports)]
            use $crate::instrument::{AnyOutcome as _, ResultOutcome as _};
            let mut guard = ($collector).time($metric, [("function", stringify!($name))]);
            #[allow(clippy::redundant_closure_call)]
            let result = (move || $body)();
            guard.set_success((&$crate::instrument::Probe(&result)).succeeded());
            result
        }
    };
    ($collector:expr, $metric:expr, $body:block) => {{
        #[allow(unused_imports)]
        use $crate::instrument::{AnyOutcome as _, ResultOutcome as _};
        let mut guard = ($collector).time($metric, ::std::iter::empty::<(&str, &str)>());
        #[allow(clippy::redundant_closure_call)]
        let result = (|| $body)();
        guard.set_success((&$crate::instrument::Probe(&result)).succeeded());
        result
    }};
}
