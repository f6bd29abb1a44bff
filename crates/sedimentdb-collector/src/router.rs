//! Router: sends every stored point to the engine (through the collector's write batch)
//! and to the sinks that asked for its metric, such as the real-time aggregator that
//! alert rules read.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::event::Source;
use sedimentdb::{Selector, SeriesKey, Timestamp};

/// One point as stored: the series key (after enrichment and privacy), time and value.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// The stored series key, reserved dimensions included.
    pub key: Arc<SeriesKey>,
    /// The source of the event.
    pub source: Source,
    /// Nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// The value.
    pub value: f64,
}

/// Something that receives stored points next to the engine.
pub trait PointSink: Send + Sync {
    /// True when points of this metric should be sent here.
    fn wants(&self, metric: &str) -> bool;
    /// Receives the points of one ingest call that this sink wants, after they were
    /// written to the engine.
    fn accept(&self, points: &[StoredPoint]);
}

/// The routing stage: a list of sinks besides the engine.
#[derive(Default, Clone)]
pub struct Router {
    sinks: Vec<Arc<dyn PointSink>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Router {
    /// A router sending to the engine only.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a sink.
    pub fn with_sink(mut self, sink: Arc<dyn PointSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Appends another router's sinks after this one's.
    pub(crate) fn chain(mut self, other: Router) -> Self {
        self.sinks.extend(other.sinks);
        self
    }

    /// True when points go to the engine only.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// True when some sink wants this metric.
    pub fn wants(&self, metric: &str) -> bool {
        self.sinks.iter().any(|s| s.wants(metric))
    }

    /// Delivers points to the sinks that want them.
    pub fn deliver(&self, points: &[StoredPoint]) {
        if points.is_empty() {
            return;
        }
        for sink in &self.sinks {
            let mine: Vec<StoredPoint> = points
                .iter()
                .filter(|p| sink.wants(p.key.name()))
                .cloned()
                .collect();
            if !mine.is_empty() {
                sink.accept(&mine);
            }
        }
    }
}

/// Recent points of one series, oldest first.
type Window = VecDeque<(Timestamp, f64)>;

/// A series and its points inside a window, in time order.
pub type SeriesWindow = (Arc<SeriesKey>, Vec<(Timestamp, f64)>);

/// Summary of one series' points inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowStats {
    /// Points.
    pub count: usize,
    /// Sum of values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Value of the newest point.
    pub last: f64,
    /// Timestamp of the newest point.
    pub last_ts: Timestamp,
}

impl WindowStats {
    /// Mean value (0 without points).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// The real-time aggregator: keeps the recent points of the metrics it is asked to
/// follow, per series, for a bounded horizon, so that alert rules and dashboards read
/// the last minutes without touching the store.
#[derive(Debug)]
pub struct RealtimeAggregator {
    horizon: i64,
    max_points: usize,
    follow_all: bool,
    metrics: RwLock<std::collections::HashSet<String>>,
    windows: Mutex<HashMap<Arc<SeriesKey>, Window>>,
}

impl RealtimeAggregator {
    /// Keeps points up to `horizon` behind the newest point of each series, at most
    /// `max_points` per series.
    pub fn new(horizon: std::time::Duration, max_points: usize) -> Self {
        RealtimeAggregator {
            horizon: super::validate::duration_ns(horizon),
            max_points: max_points.max(1),
            follow_all: false,
            metrics: RwLock::new(Default::default()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Follows every metric (for tests and small deployments).
    pub fn following_all(mut self) -> Self {
        self.follow_all = true;
        self
    }

    /// Starts following a metric.
    pub fn follow(&self, metric: impl Into<String>) {
        self.metrics.write().insert(metric.into());
    }

    /// Points of the series matching `selector`, in time order, from `since` on.
    pub fn points(&self, selector: &Selector, since: Timestamp) -> Vec<SeriesWindow> {
        let windows = self.windows.lock();
        let mut out: Vec<_> = windows
            .iter()
            .filter(|(k, _)| selector.matches(k))
            .map(|(k, w)| {
                let mut pts: Vec<_> = w.iter().copied().filter(|&(t, _)| t >= since).collect();
                pts.sort_by_key(|&(t, _)| t);
                (k.clone(), pts)
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Statistics of each matching series from `since` on.
    pub fn stats(
        &self,
        selector: &Selector,
        since: Timestamp,
    ) -> Vec<(Arc<SeriesKey>, WindowStats)> {
        self.points(selector, since)
            .into_iter()
            .map(|(k, pts)| {
                let mut s = WindowStats {
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                    ..WindowStats::default()
                };
                for (t, v) in pts {
                    s.count += 1;
                    s.sum += v;
                    s.min = s.min.min(v);
                    s.max = s.max.max(v);
                    s.last = v;
                    s.last_ts = t;
                }
                (k, s)
            })
            .collect()
    }
}

impl PointSink for RealtimeAggregator {
    fn wants(&self, metric: &str) -> bool {
        self.follow_all || self.metrics.read().contains(metric)
    }

    fn accept(&self, points: &[StoredPoint]) {
        let mut windows = self.windows.lock();
        for p in points {
            let w = windows.entry(p.key.clone()).or_default();
            w.push_back((p.ts, p.value));
            let newest = w.iter().map(|&(t, _)| t).max().unwrap_or(p.ts);
            while let Some(&(t, _)) = w.front() {
                if w.len() > self.max_points || t < newest.saturating_sub(self.horizon) {
                    w.pop_front();
                } else {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(host: &str, ts: i64, value: f64) -> StoredPoint {
        StoredPoint {
            key: Arc::new(SeriesKey::new("cpu").with("host", host)),
            source: Source::System,
            ts,
            value,
        }
    }

    #[test]
    fn aggregator_keeps_a_bounded_recent_window() {
        let agg = Arc::new(RealtimeAggregator::new(
            std::time::Duration::from_nanos(100),
            5,
        ));
        agg.follow("cpu");
        let router = Router::new().with_sink(agg.clone());
        assert!(router.wants("cpu") && !router.wants("mem"));
        let pts: Vec<_> = (0..20).map(|i| point("h1", i * 10, i as f64)).collect();
        router.deliver(&pts);
        router.deliver(&[point("h2", 0, 7.0)]);
        let stats = agg.stats(&Selector::metric("cpu"), 0);
        assert_eq!(stats.len(), 2);
        let h1 = stats[0].1;
        assert_eq!((h1.count, h1.min, h1.max, h1.last), (5, 15.0, 19.0, 19.0));
        assert_eq!(stats[1].1.mean(), 7.0);
    }
}
