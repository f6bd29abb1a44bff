//! The query entry points on [`Db`]: each runs against one snapshot of the database
//! (the catalog and the current version), so later writes and flushes do not disturb it.

use super::Db;
use crate::analytics::correlation::CorrelationMethod;
use crate::analytics::detector::DetectorConfig;
use crate::analytics::dimensional::Attribution;
use crate::error::Result;
use crate::query::{
    analytics, AnomalyMethod, CorrelateOptions, CorrelationPair, DimensionBreakdown, Explain,
    Labels, Query, QueryResult, SeriesAnomalies, SeriesChangePoints, SeriesScores, SeriesTrend,
    Snapshot, TrendOptions,
};
use crate::types::TimeRange;

impl Db {
    /// Runs `f` on a snapshot of the database.
    fn on_snapshot<T>(&self, f: impl FnOnce(&Snapshot<'_>) -> Result<T>) -> Result<T> {
        self.inner.check_open()?;
        let version = self.inner.versions.current();
        f(&Snapshot {
            catalog: &self.inner.catalog,
            version: &version,
        })
    }

    /// Runs a typed query (see [`Query`] for the pipeline) against a snapshot of the
    /// database: later writes and flushes do not disturb it.
    ///
    /// Invalid queries (an empty range, a zero bucket, a quantile outside `[0, 1]`, ...)
    /// fail with [`crate::Error::InvalidArgument`]; a query past one of its
    /// [`crate::query::QueryLimits`] fails with [`crate::Error::LimitExceeded`].
    pub fn query(&self, query: &Query) -> Result<QueryResult> {
        Ok(self.query_explained(query)?.0)
    }

    /// Runs `query` and reports how it ran: segments pruned and scanned, series matched,
    /// chunks answered from statistics or decoded, points decoded, bytes read. The query
    /// really runs (like SQL's `EXPLAIN ANALYZE`); its result is dropped.
    ///
    /// ```
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// let key = SeriesKey::new("temp").with("room", "lab");
    /// for i in 0..100i64 {
    ///     batch.push_key(&key, i * 1_000_000_000, 20.0 + (i % 7) as f64);
    /// }
    /// db.write(&batch).unwrap();
    /// db.flush().unwrap();
    /// let explain = db.explain(&Query::metric("temp").aggregate(Aggregate::Max)).unwrap();
    /// assert_eq!(explain.chunks_from_stats, 1);
    /// assert_eq!(explain.points_decoded, 0);
    /// ```
    pub fn explain(&self, query: &Query) -> Result<Explain> {
        Ok(self.query_explained(query)?.1)
    }

    /// [`Db::query`] and [`Db::explain`] in one run.
    pub fn query_explained(&self, query: &Query) -> Result<(QueryResult, Explain)> {
        self.on_snapshot(|snap| snap.query_explained(query))
    }

    /// Fits a linear trend to each result series of `query` (per series, or per group
    /// if it groups; usually downsampled), with a forecast and a verdict. Series with
    /// fewer than two points are left out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::analytics::trend::Verdict;
    /// use sedimentdb::query::TrendOptions;
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// let key = SeriesKey::new("latency_ms").with("service", "api");
    /// for i in 0..600i64 {
    ///     batch.push_key(&key, i * 1_000_000_000, 50.0 + i as f64 * 0.1 + (i % 3) as f64);
    /// }
    /// db.write(&batch).unwrap();
    /// let q = Query::metric("latency_ms").downsample(Duration::from_secs(60), Aggregate::Avg);
    /// let trends = db.trend(&q, &TrendOptions::default()).unwrap();
    /// assert_eq!(trends[0].verdict, Verdict::Degrading);
    /// assert!((trends[0].trend.slope_per_sec - 0.1).abs() < 0.01);
    /// ```
    pub fn trend(&self, query: &Query, opts: &TrendOptions) -> Result<Vec<SeriesTrend>> {
        self.on_snapshot(|snap| analytics::trend(snap, query, opts))
    }

    /// The anomalous points of each result series of `query`. Only series with at least
    /// one anomaly are returned, in result order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::query::AnomalyMethod;
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// let key = SeriesKey::new("errors").with("service", "api");
    /// for i in 0..300i64 {
    ///     let v = if i == 250 { 90.0 } else { 10.0 + (i % 4) as f64 };
    ///     batch.push_key(&key, i * 1_000_000_000, v);
    /// }
    /// db.write(&batch).unwrap();
    /// let method = AnomalyMethod::RollingZScore { window: 30, threshold: 3.5 };
    /// let found = db.anomalies(&Query::metric("errors"), method).unwrap();
    /// assert_eq!(found[0].anomalies.len(), 1);
    /// assert_eq!(found[0].anomalies[0].ts, 250_000_000_000);
    /// ```
    pub fn anomalies(&self, query: &Query, method: AnomalyMethod) -> Result<Vec<SeriesAnomalies>> {
        self.on_snapshot(|snap| analytics::anomalies(snap, query, method))
    }

    /// The streaming anomaly detector's score for every point of every result series of
    /// `query` ([`crate::analytics::detector`]): one fresh
    /// [`Detector`](crate::analytics::detector::Detector) per series, fed its points in
    /// time order, so a score is exactly what a streaming monitor that saw the same
    /// points would have said. Scores are in `[0, 1)` and comparable across series: one
    /// threshold (0.43 is the detector's own alert level,
    /// [`DetectorConfig::alert_surprise`] 3) means the same on a request counter and on a
    /// flat sensor. Queries that downsample score the buckets. An invalid `config` is
    /// [`crate::Error::InvalidArgument`].
    ///
    /// ```
    /// use sedimentdb::analytics::detector::DetectorConfig;
    /// use sedimentdb::{Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let minute = 60_000_000_000_i64;
    /// let mut batch = WriteBatch::new();
    /// for i in 0..2000_i64 {
    ///     let noise = ((i * 7919) % 13) as f64 / 13.0;
    ///     let value = if i == 1500 { 40.0 } else { 10.0 + noise };
    ///     batch.push_key(&SeriesKey::new("latency").with("host", "a"), i * minute, value);
    /// }
    /// db.write(&batch).unwrap();
    /// let scored = db.anomaly_scores(&Query::metric("latency"), &DetectorConfig::default()).unwrap();
    /// assert_eq!(scored[0].scores.len(), 2000);
    /// let top = scored[0].scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
    /// assert_eq!(scored[0].timestamps[top.0], 1500 * minute);
    /// ```
    pub fn anomaly_scores(
        &self,
        query: &Query,
        config: &DetectorConfig,
    ) -> Result<Vec<SeriesScores>> {
        self.on_snapshot(|snap| analytics::anomaly_scores(snap, query, config))
    }

    /// Shifts of the mean level (CUSUM) in each result series of `query`; see
    /// [`cusum_change_points`](crate::analytics::anomaly::cusum_change_points) for `threshold_sigmas` (often 4 to 5) and `drift` (often
    /// 0.5). Only series with at least one change are returned.
    pub fn change_points(
        &self,
        query: &Query,
        threshold_sigmas: f64,
        drift: f64,
    ) -> Result<Vec<SeriesChangePoints>> {
        self.on_snapshot(|snap| analytics::change_points(snap, query, threshold_sigmas, drift))
    }

    /// Correlates the result series of two queries bucket by bucket. Both must
    /// downsample with the same bucket width (that is what aligns them); series are
    /// paired by [`CorrelateOptions::on`]. The two queries run concurrently.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::query::CorrelateOptions;
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// for host in ["a", "b"] {
    ///     for i in 0..600i64 {
    ///         let load = ((i * 7919) % 101) as f64;
    ///         batch.push_key(&SeriesKey::new("cpu").with("host", host), i * 1_000_000_000, load);
    ///         batch.push_key(&SeriesKey::new("temp").with("host", host), i * 1_000_000_000, 30.0 + load / 2.0);
    ///     }
    /// }
    /// db.write(&batch).unwrap();
    /// let minute = Duration::from_secs(60);
    /// let cpu = Query::metric("cpu").downsample(minute, Aggregate::Avg);
    /// let temp = Query::metric("temp").downsample(minute, Aggregate::Avg);
    /// let opts = CorrelateOptions { on: vec!["host".into()], ..Default::default() };
    /// let pairs = db.correlate(&cpu, &temp, &opts).unwrap();
    /// assert_eq!(pairs.len(), 2);
    /// assert!((pairs[0].r.unwrap() - 1.0).abs() < 1e-9);
    /// ```
    pub fn correlate(
        &self,
        x: &Query,
        y: &Query,
        opts: &CorrelateOptions,
    ) -> Result<Vec<CorrelationPair>> {
        self.on_snapshot(|snap| analytics::correlate(snap, x, y, opts))
    }

    /// The `top_n` result series of `candidates` that correlate most strongly (largest
    /// `|r|`) with the single result series of `target`, bucket by bucket; both queries
    /// must downsample with the same bucket width. A candidate with the target's own
    /// labels is left out.
    pub fn discover_correlated(
        &self,
        target: &Query,
        candidates: &Query,
        top_n: usize,
        method: CorrelationMethod,
    ) -> Result<Vec<(Labels, f64)>> {
        self.on_snapshot(|snap| {
            analytics::discover_correlated(snap, target, candidates, top_n, method)
        })
    }

    /// Breaks the mean of `query`'s points down by the values of each dimension and
    /// ranks the values by how much their mean differs from the whole (see
    /// [`breakdown`](crate::analytics::dimensional::breakdown)). `dimensions` empty: every dimension of the matched series.
    /// Dimensions come most telling first (largest `|score|` of any of their values).
    ///
    /// The query's selection, range, transform and value filters apply; its aggregation
    /// and grouping are replaced by one scan of each series' sum and count (answered
    /// from chunk statistics where possible), which is then grouped by each dimension
    /// with bitmap operations on the catalog.
    ///
    /// ```
    /// use sedimentdb::{Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// for (i, region) in ["eu", "eu", "us", "ap"].iter().enumerate() {
    ///     let key = SeriesKey::new("latency").with("host", format!("h{i}")).with("region", *region);
    ///     for t in 0..50i64 {
    ///         batch.push_key(&key, t * 1_000_000_000, if *region == "us" { 90.0 } else { 20.0 });
    ///     }
    /// }
    /// db.write(&batch).unwrap();
    /// let ranked = db.breakdown(&Query::metric("latency"), &["region"]).unwrap();
    /// assert_eq!(ranked[0].contributions[0].label, "region=us");
    /// ```
    pub fn breakdown(&self, query: &Query, dimensions: &[&str]) -> Result<Vec<DimensionBreakdown>> {
        self.on_snapshot(|snap| analytics::breakdown(snap, query, dimensions))
    }

    /// Explains a change of `query`'s aggregate during `window` by the values of
    /// `dimension`: for each value, its mean inside the window against its mean outside
    /// it, and that delta's share of the overall delta (see [`attribution`](crate::analytics::dimensional::attribution)). `query`
    /// must downsample (e.g. a per-minute sum of errors); its own grouping is replaced:
    /// one scan is grouped twice with bitmap operations, once over all series and once
    /// by the dimension's values.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, TimeRange, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// let sec = 1_000_000_000i64;
    /// for job in ["api", "batch"] {
    ///     let key = SeriesKey::new("errors").with("job", job);
    ///     for t in 0..600i64 {
    ///         let spike = job == "batch" && (300..360).contains(&t);
    ///         batch.push_key(&key, t * sec, if spike { 50.0 } else { 5.0 });
    ///     }
    /// }
    /// db.write(&batch).unwrap();
    /// let q = Query::metric("errors").downsample(Duration::from_secs(60), Aggregate::Sum);
    /// let ranked = db.attribute(&q, TimeRange::new(300 * sec, 360 * sec), "job").unwrap();
    /// assert_eq!(ranked[0].label, "job=batch");
    /// assert!((ranked[0].share_of_delta - 1.0).abs() < 1e-9);
    /// ```
    pub fn attribute(
        &self,
        query: &Query,
        window: TimeRange,
        dimension: &str,
    ) -> Result<Vec<Attribution>> {
        self.on_snapshot(|snap| analytics::attribute(snap, query, window, dimension))
    }
}
