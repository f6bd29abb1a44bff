//! Analytics as queries: fetch and bucket-align with the query engine, then call the
//! pure functions of [`crate::analytics`].

use std::collections::HashMap;
use std::time::Duration;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::analytics::anomaly::{
    cusum_change_points, rolling_robust_zscore, seasonal_baseline, Anomaly, ChangePoint,
};
use crate::analytics::correlation::{
    align, best_lag, rank_correlated, CorrelationMethod, LagResult,
};
use crate::analytics::detector::{Detector, DetectorConfig};
use crate::analytics::dimensional::{self, attribution, Attribution, Contribution, GroupAgg};
use crate::analytics::trend::{linear_trend, Direction, Forecast, Trend, Verdict};
use crate::error::{Error, Result};
use crate::types::{SeriesId, TimeRange, Timestamp};

use super::exec::scan;
use super::result::{Labels, QueryResult, ResultSeries};
use super::spec::{Aggregate, Fill, Grouping, Query};
use super::Snapshot;

/// Options of [`crate::Db::trend`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendOptions {
    /// How far past each series' last point to forecast. Default: 1 hour.
    pub horizon: Duration,
    /// Probability of the forecast's prediction interval, in `(0, 1)`. Default: 0.95.
    pub confidence: f64,
    /// Which way of moving is bad. Default: [`Direction::IncreasingIsBad`].
    pub direction: Direction,
    /// Smallest `|slope|` per second that counts as a trend. Default: 0.
    pub min_slope_per_sec: f64,
    /// Smallest R² that counts as a trend. Default: 0.5.
    pub min_r2: f64,
}

impl Default for TrendOptions {
    fn default() -> Self {
        TrendOptions {
            horizon: Duration::from_secs(3600),
            confidence: 0.95,
            direction: Direction::IncreasingIsBad,
            min_slope_per_sec: 0.0,
            min_r2: 0.5,
        }
    }
}

/// The trend of one result series, from [`crate::Db::trend`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeriesTrend {
    /// The series or group.
    pub labels: Labels,
    /// The least-squares line.
    pub trend: Trend,
    /// The value forecast `horizon` after the last point; `None` with fewer than 3 points.
    pub forecast: Option<Forecast>,
    /// Degrading, improving or stable.
    pub verdict: Verdict,
}

/// How [`crate::Db::anomalies`] decides what is unusual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AnomalyMethod {
    /// Robust z-score of each point against the median and MAD of the `window` points
    /// before it (see [`rolling_robust_zscore`]); flagged when `|score| > threshold`
    /// (3.5 is common).
    RollingZScore {
        /// Points in the trailing baseline (at least 3).
        window: usize,
        /// Score above which a point is anomalous.
        threshold: f64,
    },
    /// Deviation from the same phase of earlier periods, e.g. the same hour of earlier
    /// days (see [`seasonal_baseline`]); the query must downsample, and `period` must be
    /// a multiple of its bucket width.
    Seasonal {
        /// The season, e.g. one day.
        period: Duration,
        /// Score above which a point is anomalous.
        threshold: f64,
    },
    /// The streaming [`Detector`] (see [`crate::analytics::detector`]), one per result
    /// series, fed the series in time order: a point is flagged when it raises one of
    /// the detector's own alerts (surprise at least
    /// [`DetectorConfig::alert_surprise`] outside a mute), so one event is one anomaly.
    /// The anomaly's `score` is the detector's calibrated score in `[0, 1)` and
    /// `expected` its one-step expectation. The same detector and scores as
    /// [`crate::Db::anomaly_scores`].
    Streaming(DetectorConfig),
}

/// Anomalies of one result series, from [`crate::Db::anomalies`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeriesAnomalies {
    /// The series or group.
    pub labels: Labels,
    /// The anomalous points, in time order.
    pub anomalies: Vec<Anomaly>,
}

/// The streaming detector's score for every point of one result series, from
/// [`crate::Db::anomaly_scores`]. `scores[i]` belongs to `timestamps[i]`/`values[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeriesScores {
    /// The series or group.
    pub labels: Labels,
    /// The series' id when the result series is one stored series (not a group).
    pub series_id: Option<SeriesId>,
    /// Timestamps of the points, nanoseconds since the Unix epoch, ascending.
    pub timestamps: Vec<Timestamp>,
    /// The points' values.
    pub values: Vec<f64>,
    /// Each point's score in `[0, 1)` (see [`crate::analytics::detector`]); 0 for a
    /// value that is not finite.
    pub scores: Vec<f64>,
}

/// Change points of one result series, from [`crate::Db::change_points`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeriesChangePoints {
    /// The series or group.
    pub labels: Labels,
    /// Shifts of the mean level, in time order.
    pub changes: Vec<ChangePoint>,
}

/// Options of [`crate::Db::correlate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelateOptions {
    /// Pearson (linear) or Spearman (rank). Default: Pearson.
    pub method: CorrelationMethod,
    /// Pair the result series of the two queries whose labels agree on these dimensions
    /// (e.g. `["hostname"]`). Empty: every series of one side with every series of the
    /// other. Default: empty.
    pub on: Vec<String>,
    /// Also search shifts of up to this many buckets for the strongest correlation
    /// (see [`best_lag`]). Default: 0 (no search).
    pub max_lag: usize,
}

impl Default for CorrelateOptions {
    fn default() -> Self {
        CorrelateOptions {
            method: CorrelationMethod::Pearson,
            on: Vec::new(),
            max_lag: 0,
        }
    }
}

/// The correlation of two result series, from [`crate::Db::correlate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CorrelationPair {
    /// The series (or group) of the first query.
    pub x: Labels,
    /// The series (or group) of the second query.
    pub y: Labels,
    /// The coefficient over the buckets both have a value in; `None` with fewer than 3
    /// such buckets or no variance on one side.
    pub r: Option<f64>,
    /// Buckets both have a finite value in.
    pub pairs: usize,
    /// The strongest correlation within `±max_lag` buckets, when a lag search was asked.
    pub lag: Option<LagResult>,
}

/// How one dimension's values compare, from [`crate::Db::breakdown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DimensionBreakdown {
    /// The dimension.
    pub dimension: String,
    /// One entry per value (labelled `dimension=value`, or `dimension=<absent>` for
    /// series without it), most different from the whole first.
    pub contributions: Vec<Contribution>,
}

fn labels_text(dimension: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{dimension}={v}"),
        None => format!("{dimension}=<absent>"),
    }
}

/// [`crate::Db::trend`] over one snapshot.
pub(crate) fn trend(
    snap: &Snapshot<'_>,
    query: &Query,
    opts: &TrendOptions,
) -> Result<Vec<SeriesTrend>> {
    let horizon = i64::try_from(opts.horizon.as_nanos())
        .map_err(|_| Error::invalid("trend horizon does not fit in i64 nanoseconds"))?;
    if !(opts.confidence > 0.0 && opts.confidence < 1.0) {
        return Err(Error::invalid(format!(
            "confidence {} is outside (0, 1)",
            opts.confidence
        )));
    }
    let result = snap.query(query)?;
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let Some(trend) = linear_trend(&s.timestamps, &s.values) else {
            continue;
        };
        let last = s.timestamps.last().copied().unwrap_or(0);
        let forecast = trend
            .forecast(last.saturating_add(horizon), opts.confidence)
            .ok();
        let verdict = trend.verdict(opts.direction, opts.min_slope_per_sec, opts.min_r2);
        out.push(SeriesTrend {
            labels: s.labels,
            trend,
            forecast,
            verdict,
        });
    }
    Ok(out)
}

/// [`crate::Db::anomalies`] over one snapshot.
pub(crate) fn anomalies(
    snap: &Snapshot<'_>,
    query: &Query,
    method: AnomalyMethod,
) -> Result<Vec<SeriesAnomalies>> {
    let bucket = query.bucket_ns();
    let result = snap.query(query)?;
    let mut out = Vec::new();
    for s in result {
        let anomalies = match method {
            AnomalyMethod::RollingZScore { window, threshold } => {
                rolling_robust_zscore(&s.timestamps, &s.values, window, threshold)?
            }
            AnomalyMethod::Seasonal { period, threshold } => {
                let Some(bucket) = bucket else {
                    return Err(Error::invalid(
                        "a seasonal baseline needs a query that downsamples",
                    ));
                };
                let period = i64::try_from(period.as_nanos()).map_err(|_| {
                    Error::invalid("seasonal period does not fit in i64 nanoseconds")
                })?;
                seasonal_baseline(&s.timestamps, &s.values, period, bucket, threshold)?
            }
            AnomalyMethod::Streaming(config) => streaming_alerts(&s.timestamps, &s.values, config)?,
        };
        if !anomalies.is_empty() {
            out.push(SeriesAnomalies {
                labels: s.labels,
                anomalies,
            });
        }
    }
    Ok(out)
}

/// The points of one series that raise the streaming detector's alerts.
fn streaming_alerts(
    ts: &[Timestamp],
    values: &[f64],
    config: DetectorConfig,
) -> Result<Vec<Anomaly>> {
    let mut detector = Detector::new(config)?;
    let mut out = Vec::new();
    for (&t, &x) in ts.iter().zip(values) {
        let scored = detector.update_scored(t, x);
        if scored.alerted {
            out.push(Anomaly {
                ts: t,
                value: x,
                expected: scored.expected,
                score: scored.score,
            });
        }
    }
    Ok(out)
}

/// [`crate::Db::anomaly_scores`] over one snapshot: one fresh detector per result
/// series, fed the series in time order, so the scores are exactly what a streaming
/// monitor that saw the same points would have returned.
pub(crate) fn anomaly_scores(
    snap: &Snapshot<'_>,
    query: &Query,
    config: &DetectorConfig,
) -> Result<Vec<SeriesScores>> {
    config.validate()?;
    let result = snap.query(query)?;
    // Series are independent: score them on the rayon pool, keeping the result order.
    use rayon::prelude::*;
    result
        .series
        .into_par_iter()
        .map(|s| {
            let mut detector = Detector::new(*config)?;
            let scores = detector.score_all(&s.timestamps, &s.values);
            Ok(SeriesScores {
                labels: s.labels,
                series_id: s.series_id,
                timestamps: s.timestamps,
                values: s.values,
                scores,
            })
        })
        .collect()
}

/// [`crate::Db::change_points`] over one snapshot.
pub(crate) fn change_points(
    snap: &Snapshot<'_>,
    query: &Query,
    threshold_sigmas: f64,
    drift: f64,
) -> Result<Vec<SeriesChangePoints>> {
    let result = snap.query(query)?;
    let mut out = Vec::new();
    for s in result {
        let changes = cusum_change_points(&s.timestamps, &s.values, threshold_sigmas, drift)?;
        if !changes.is_empty() {
            out.push(SeriesChangePoints {
                labels: s.labels,
                changes,
            });
        }
    }
    Ok(out)
}

/// [`crate::Db::correlate`] over one snapshot.
pub(crate) fn correlate(
    snap: &Snapshot<'_>,
    x: &Query,
    y: &Query,
    opts: &CorrelateOptions,
) -> Result<Vec<CorrelationPair>> {
    let width = same_buckets(x, y)?;
    let (xr, yr) = rayon::join(|| snap.query(x), || snap.query(y));
    let (xr, yr) = (xr?, yr?);
    let limit = x.limits.max_result_points;
    let mut pairs = Vec::new();
    let mut pair = |a: &ResultSeries, b: &ResultSeries| -> Result<()> {
        let (xs, ys) = align(&a.timestamps, &a.values, &b.timestamps, &b.values);
        let finite = xs
            .iter()
            .zip(&ys)
            .filter(|(p, q)| p.is_finite() && q.is_finite())
            .count();
        let lag = if opts.max_lag > 0 {
            let (xg, yg) = dense_pair(a, b, width, limit)?;
            best_lag(&xg, &yg, opts.max_lag, opts.method)
        } else {
            None
        };
        pairs.push(CorrelationPair {
            x: a.labels.clone(),
            y: b.labels.clone(),
            r: opts.method.correlate(&xs, &ys),
            pairs: finite,
            lag,
        });
        Ok(())
    };
    if opts.on.is_empty() {
        for a in &xr {
            for b in &yr {
                pair(a, b)?;
            }
        }
    } else {
        let key = |s: &ResultSeries| -> Option<Vec<String>> {
            opts.on
                .iter()
                .map(|d| s.labels.get(d).map(str::to_string))
                .collect()
        };
        let mut by_key: HashMap<Vec<String>, Vec<&ResultSeries>> = HashMap::new();
        for b in &yr {
            if let Some(k) = key(b) {
                by_key.entry(k).or_default().push(b);
            }
        }
        for a in &xr {
            let Some(k) = key(a) else { continue };
            for b in by_key.get(&k).into_iter().flatten() {
                pair(a, b)?;
            }
        }
    }
    Ok(pairs)
}

/// [`crate::Db::discover_correlated`] over one snapshot.
pub(crate) fn discover_correlated(
    snap: &Snapshot<'_>,
    target: &Query,
    candidates: &Query,
    top_n: usize,
    method: CorrelationMethod,
) -> Result<Vec<(Labels, f64)>> {
    same_buckets(target, candidates)?;
    let (tr, cr) = rayon::join(|| snap.query(target), || snap.query(candidates));
    let (tr, cr): (QueryResult, QueryResult) = (tr?, cr?);
    let target_series = match tr.series.as_slice() {
        [one] => one,
        [] => return Ok(Vec::new()),
        more => {
            return Err(Error::invalid(format!(
                "the target query has {} result series; it must have one (group it, or select one series)",
                more.len()
            )))
        }
    };
    // Align every candidate on the target's buckets: NaN where it has no value.
    let slots: HashMap<Timestamp, usize> = target_series
        .timestamps
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i))
        .collect();
    let aligned = cr
        .series
        .into_iter()
        .filter(|c| c.labels != target_series.labels)
        .map(|c| {
            let mut values = vec![f64::NAN; target_series.len()];
            for (t, v) in c.points() {
                if let Some(&i) = slots.get(&t) {
                    values[i] = v;
                }
            }
            (c.labels, values)
        });
    Ok(rank_correlated(
        &target_series.values,
        aligned,
        top_n,
        method,
    ))
}

/// [`crate::Db::breakdown`] over one snapshot.
pub(crate) fn breakdown(
    snap: &Snapshot<'_>,
    query: &Query,
    dimensions: &[&str],
) -> Result<Vec<DimensionBreakdown>> {
    let mut q = reduced(query);
    q.aggregate = Some(Aggregate::Sum);
    q.bucket = None;
    let (catalog, version) = (snap.catalog, snap.version);
    let scanned = scan(catalog, version, &q, true)?;
    let sums = scanned.series_sums();
    let with_data: RoaringBitmap = sums.iter().map(|s| s.0).collect();
    let dims: Vec<String> = if dimensions.is_empty() {
        let mut all: Vec<String> = with_data
            .iter()
            .filter_map(|id| catalog.key(SeriesId(id)))
            .flat_map(|k| {
                k.dimensions()
                    .iter()
                    .map(|(d, _)| d.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    } else {
        dimensions.iter().map(|d| d.to_string()).collect()
    };
    let agg_of = |members: &RoaringBitmap| {
        let mut g = GroupAgg::default();
        for id in members {
            if let Ok(i) = sums.binary_search_by_key(&id, |s| s.0) {
                g.sum += sums[i].1;
                g.count += sums[i].2;
            }
        }
        g
    };
    let mut out = Vec::with_capacity(dims.len());
    for dim in dims {
        let mut groups = Vec::new();
        let mut covered = RoaringBitmap::new();
        for (value, members) in catalog.dimension_values_within(&dim, &with_data) {
            covered |= &members;
            groups.push((labels_text(&dim, Some(&value)), agg_of(&members)));
        }
        let rest = &with_data - &covered;
        if !rest.is_empty() {
            groups.push((labels_text(&dim, None), agg_of(&rest)));
        }
        out.push(DimensionBreakdown {
            contributions: dimensional::breakdown(groups),
            dimension: dim,
        });
    }
    let strongest = |b: &DimensionBreakdown| {
        b.contributions
            .iter()
            .map(|c| c.score.abs())
            .fold(0.0, f64::max)
    };
    out.sort_by(|a, b| strongest(b).total_cmp(&strongest(a)));
    Ok(out)
}

/// [`crate::Db::attribute`] over one snapshot.
pub(crate) fn attribute(
    snap: &Snapshot<'_>,
    query: &Query,
    window: TimeRange,
    dimension: &str,
) -> Result<Vec<Attribution>> {
    if query.bucket.is_none() {
        return Err(Error::invalid(
            "attribution needs a query that downsample()s into buckets",
        ));
    }
    let q = reduced(query);
    let (catalog, version) = (snap.catalog, snap.version);
    let scanned = scan(catalog, version, &q, true)?;
    let overall = scanned.grouped(catalog, &Grouping::All)?;
    let (overall_ts, overall_vals) = overall
        .into_iter()
        .next()
        .map(|s| (s.timestamps, s.values))
        .unwrap_or_default();
    let groups = scanned
        .grouped(catalog, &Grouping::By(vec![dimension.to_string()]))?
        .into_iter()
        .map(|s| {
            let label = labels_text(dimension, s.labels.get(dimension));
            (label, s.timestamps, s.values)
        })
        .collect();
    attribution(
        (window.start, window.end),
        (&overall_ts, &overall_vals),
        groups,
    )
}

/// `query` without grouping, fill and the stages after it: what the dimensional
/// analyses scan before grouping the series their own way.
fn reduced(query: &Query) -> Query {
    let mut q = query.clone();
    q.grouping = Grouping::None;
    q.across = None;
    q.fill = Fill::None;
    q.having.clear();
    q.rank = None;
    q.limit = None;
    q
}

/// The common bucket width of two queries that are to be aligned.
fn same_buckets(x: &Query, y: &Query) -> Result<i64> {
    match (x.bucket_ns(), y.bucket_ns()) {
        (Some(a), Some(b)) if a == b && x.bucket_offset_ns() != y.bucket_offset_ns() => Err(
            Error::invalid("queries to correlate must downsample from the same bucket origin"),
        ),
        (Some(a), Some(b)) if a == b => Ok(a),
        (Some(_), Some(_)) => Err(Error::invalid(
            "queries to correlate must downsample with the same bucket width",
        )),
        _ => Err(Error::invalid(
            "queries to correlate must downsample (buckets are what aligns them)",
        )),
    }
}

/// Two series on one dense bucket grid (NaN where a series has no value), so that a
/// shift by `k` slots is a shift by `k` buckets.
fn dense_pair(
    a: &ResultSeries,
    b: &ResultSeries,
    width: i64,
    limit: u64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let index = |t: Timestamp| t.div_euclid(width);
    let ends = a.timestamps.iter().chain(&b.timestamps).map(|&t| index(t));
    let (lo, hi) = ends.fold((i64::MAX, i64::MIN), |(lo, hi), i| (lo.min(i), hi.max(i)));
    if lo > hi {
        return Ok((Vec::new(), Vec::new()));
    }
    let n = i128::from(hi) - i128::from(lo) + 1;
    if n > i128::from(limit) {
        return Err(Error::LimitExceeded {
            what: "buckets on a correlation grid",
            limit,
        });
    }
    let n = n as usize;
    let grid = |s: &ResultSeries| {
        let mut g = vec![f64::NAN; n];
        for (t, v) in s.points() {
            if let Some(cell) = usize::try_from(index(t) - lo)
                .ok()
                .and_then(|i| g.get_mut(i))
            {
                *cell = v;
            }
        }
        g
    };
    Ok((grid(a), grid(b)))
}
