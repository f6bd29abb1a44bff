//! The facade side: a [`metrics::Recorder`] whose handles are plain atomics in the
//! facade's own sharded registry. Recording never touches the database, takes no lock
//! and never blocks; the sampler reads the handles on its own thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{Registry, Storage};
use parking_lot::RwLock;

use crate::histogram::Samples;
use crate::options::RecorderOptions;

/// The registry's storage: counters and gauges are atomics, histograms [`Samples`].
/// `created` counts the distinct metrics (the registry calls these only to create).
#[derive(Debug)]
pub(crate) struct SeriesStorage {
    histogram_cap: usize,
    pub(crate) created: AtomicUsize,
}

impl Storage<Key> for SeriesStorage {
    type Counter = Arc<AtomicU64>;
    type Gauge = Arc<AtomicU64>;
    type Histogram = Arc<Samples>;

    fn counter(&self, _: &Key) -> Self::Counter {
        self.created.fetch_add(1, Ordering::Relaxed);
        Arc::new(AtomicU64::new(0))
    }

    fn gauge(&self, _: &Key) -> Self::Gauge {
        self.created.fetch_add(1, Ordering::Relaxed);
        Arc::new(AtomicU64::new(0f64.to_bits()))
    }

    fn histogram(&self, _: &Key) -> Self::Histogram {
        self.created.fetch_add(1, Ordering::Relaxed);
        Arc::new(Samples::new(self.histogram_cap))
    }
}

/// A metric's description as the facade gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// The metric name.
    pub name: String,
    /// Its unit, as the facade names it (`seconds`, `bytes`, ...).
    pub unit: Option<String>,
    /// The description text.
    pub text: String,
}

/// What the recorder and the sampler share.
pub(crate) struct Shared {
    pub(crate) registry: Registry<Key, SeriesStorage>,
    pub(crate) descriptions: RwLock<HashMap<String, (Option<Unit>, SharedString)>>,
    pub(crate) options: RecorderOptions,
    pub(crate) series_refused: AtomicU64,
}

impl Shared {
    pub(crate) fn new(options: RecorderOptions) -> Self {
        Shared {
            registry: Registry::new(SeriesStorage {
                histogram_cap: options.max_histogram_samples,
                created: AtomicUsize::new(0),
            }),
            descriptions: RwLock::new(HashMap::new()),
            options,
            series_refused: AtomicU64::new(0),
        }
    }

    pub(crate) fn series(&self) -> usize {
        self.registry.storage().created.load(Ordering::Relaxed)
    }

    /// Whether a new metric would pass [`RecorderOptions::max_series`]; counts it if so.
    fn refuse_new(&self) -> bool {
        let full = self.series() >= self.options.max_series;
        if full {
            self.series_refused.fetch_add(1, Ordering::Relaxed);
        }
        full
    }

    /// The unit of metric `name`, if the facade described one.
    pub(crate) fn unit(&self, name: &str) -> Option<&'static str> {
        self.descriptions
            .read()
            .get(name)
            .and_then(|(unit, _)| unit.as_ref().map(Unit::as_str))
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.descriptions
            .write()
            .insert(key.as_str().to_string(), (unit, description));
    }
}

/// The recorder to hand to the `metrics` facade (directly with
/// [`install`](crate::install), or wrapped in `metrics-util` layers first, see
/// [`build`](crate::build)).
#[derive(Clone)]
pub struct SedimentRecorder {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for SedimentRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SedimentRecorder")
            .field("series", &self.shared.series())
            .finish()
    }
}

impl Recorder for SedimentRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.shared.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let registry = &self.shared.registry;
        match registry.get_counter(key) {
            Some(c) => Counter::from_arc(c),
            None if self.shared.refuse_new() => Counter::noop(),
            None => registry.get_or_create_counter(key, |c| Counter::from_arc(c.clone())),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let registry = &self.shared.registry;
        match registry.get_gauge(key) {
            Some(g) => Gauge::from_arc(g),
            None if self.shared.refuse_new() => Gauge::noop(),
            None => registry.get_or_create_gauge(key, |g| Gauge::from_arc(g.clone())),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let registry = &self.shared.registry;
        match registry.get_histogram(key) {
            Some(h) => Histogram::from_arc(h),
            None if self.shared.refuse_new() => Histogram::noop(),
            None => registry.get_or_create_histogram(key, |h| Histogram::from_arc(h.clone())),
        }
    }
}
