//! Queries through the collector: which series (metric, source, category, dimension
//! matchers), which time range, and an optional aggregation into time buckets and
//! groups. A thin layer over the engine's typed query ([`sedimentdb::Db::query`]): a
//! [`MetricQuery`] becomes a [`sedimentdb::Query`] (selector, range, downsample or
//! whole-range aggregate, grouping), and the engine does the work (bitmap selection,
//! pruning, chunk statistics, parallelism, limits).
//!
//! What the collector adds is sampling: sampled series (those with a `sample_rate`
//! dimension) stand for `1 / rate` times as many events, so counts and sums are scaled
//! back, and means and standard deviations weighted. When a query reduces with one of
//! those and matches sampled series, the engine groups by `sample_rate` as well, and the
//! parts are scaled and merged here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::event::Source;
use super::validate::duration_ns;
use sedimentdb::query::{Labels, ResultSeries as EngineSeries};
use sedimentdb::{Aggregate, Db, Matcher, Query, Selector, TimeRange, Timestamp};

/// How the points of one bucket and group are reduced to one value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Number of points (scaled back for sampled series).
    Count,
    /// Sum of values (scaled back for sampled series).
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean value.
    Avg,
    /// Value of the earliest point.
    First,
    /// Value of the latest point.
    Last,
    /// Sample standard deviation (divides by n - 1; NaN for a single point).
    StdDev,
    /// Exact quantile in `[0, 1]`, interpolated between closest ranks (as
    /// [`sedimentdb::Aggregate::Quantile`]).
    Quantile(f64),
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Count => f.write_str("count"),
            Aggregation::Sum => f.write_str("sum"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::First => f.write_str("first"),
            Aggregation::Last => f.write_str("last"),
            Aggregation::StdDev => f.write_str("stddev"),
            Aggregation::Quantile(q) => write!(f, "quantile({q})"),
        }
    }
}

/// A query through the collector. Built with chained setters.
///
/// ```
/// use sedimentdb_collector::{Aggregation, MetricQuery, Source};
/// use std::time::Duration;
/// let q = MetricQuery::metric("command_execution_time")
///     .source(Source::Performance)
///     .where_eq("command", "user-prefs")
///     .aggregate(Aggregation::Quantile(0.95))
///     .bucket(Duration::from_secs(60))
///     .group_by(["command"]);
/// assert_eq!(
///     q.to_string(),
///     r#"quantile(0.95) of command_execution_time{source="performance",command="user-prefs"} by [command] every 60s"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct MetricQuery {
    /// The metric, or every metric.
    pub metric: Option<String>,
    /// Only this source.
    pub source: Option<Source>,
    /// Only this category.
    pub category: Option<String>,
    /// Further dimension conditions (values of identifier dimensions are given raw:
    /// the collector hashes them like the stored values).
    pub matchers: Vec<Matcher>,
    /// Time range. Default: everything.
    pub range: TimeRange,
    /// `None` returns the raw points of each series.
    pub aggregation: Option<Aggregation>,
    /// Width of time buckets; `None` makes one bucket of the whole range.
    pub bucket: Option<i64>,
    /// `None` keeps each series apart; `Some(keys)` merges the series sharing the values
    /// of `keys` (an empty list merges everything).
    pub group_by: Option<Vec<String>>,
}

impl MetricQuery {
    /// Every series of one metric.
    pub fn metric(name: impl Into<String>) -> Self {
        MetricQuery {
            metric: Some(name.into()),
            ..MetricQuery::any()
        }
    }

    /// Every series (narrow with the setters).
    pub fn any() -> Self {
        MetricQuery {
            metric: None,
            source: None,
            category: None,
            matchers: Vec::new(),
            range: TimeRange::all(),
            aggregation: None,
            bucket: None,
            group_by: None,
        }
    }

    /// Only this source.
    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Only this category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Adds `key == value`.
    pub fn where_eq(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.matching(Matcher::eq(key, value))
    }

    /// Adds any matcher.
    pub fn matching(mut self, matcher: Matcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// Sets the time range.
    pub fn range(mut self, range: TimeRange) -> Self {
        self.range = range;
        self
    }

    /// Reduces points with `aggregation`.
    pub fn aggregate(mut self, aggregation: Aggregation) -> Self {
        self.aggregation = Some(aggregation);
        self
    }

    /// Cuts time into buckets of this width (aligned to the epoch).
    pub fn bucket(mut self, width: Duration) -> Self {
        self.bucket = Some(duration_ns(width).max(1));
        self
    }

    /// Merges series by these dimensions.
    pub fn group_by<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.group_by = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// The engine selector for this query.
    pub fn selector(&self) -> Selector {
        let mut sel = match &self.metric {
            Some(m) => Selector::metric(m.clone()),
            None => Selector::any(),
        };
        if let Some(s) = self.source {
            sel = sel.with(Matcher::eq("source", s.as_str()));
        }
        if let Some(c) = &self.category {
            sel = sel.with(Matcher::eq("category", c.clone()));
        }
        for m in &self.matchers {
            sel = sel.with(m.clone());
        }
        sel
    }

    /// True when the query returns single points rather than aggregates.
    pub fn is_raw(&self) -> bool {
        self.aggregation.is_none()
    }

    /// Runs the query against `db` as written (no access check; the collector's
    /// [`query_metrics`](super::UnifiedMetricsCollector::query_metrics) checks first).
    pub fn execute(&self, db: &Db) -> sedimentdb::Result<QueryResult> {
        execute(db, self)
    }
}

impl fmt::Display for MetricQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = self.aggregation {
            write!(f, "{a} of ")?;
        }
        f.write_str(self.metric.as_deref().unwrap_or("*"))?;
        let mut conds: Vec<String> = Vec::new();
        if let Some(s) = self.source {
            conds.push(format!("source={:?}", s.as_str()));
        }
        if let Some(c) = &self.category {
            conds.push(format!("category={c:?}"));
        }
        for m in &self.matchers {
            conds.push(match m {
                Matcher::Eq(k, v) => format!("{k}={v:?}"),
                Matcher::Ne(k, v) => format!("{k}!={v:?}"),
                Matcher::Regex(k, re) => format!("{k}=~{:?}", re.as_str()),
                Matcher::NotRegex(k, re) => format!("{k}!~{:?}", re.as_str()),
                Matcher::In(k, vs) => format!("{k} in {vs:?}"),
                Matcher::Exists(k) => format!("{k} exists"),
                Matcher::Absent(k) => format!("{k} absent"),
                // Matcher is non-exhaustive: a future kind prints in the engine's
                // selector syntax.
                other => other.to_string(),
            });
        }
        if !conds.is_empty() {
            write!(f, "{{{}}}", conds.join(","))?;
        }
        if self.range != TimeRange::all() {
            write!(f, " in [{}, {})", self.range.start, self.range.end)?;
        }
        if let Some(g) = &self.group_by {
            write!(f, " by [{}]", g.join(","))?;
        }
        if let Some(b) = self.bucket {
            if b % 1_000_000_000 == 0 {
                write!(f, " every {}s", b / 1_000_000_000)?;
            } else {
                write!(f, " every {b}ns")?;
            }
        }
        Ok(())
    }
}

/// One series (or group) of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultSeries {
    /// The metric name (for a group: the query's metric, or `*` when it names none).
    pub name: String,
    /// The dimensions of the series, or the group-by dimensions of a group.
    pub labels: BTreeMap<String, String>,
    /// `(timestamp, value)`: raw points, or one per bucket (stamped with the bucket
    /// start; without buckets, as the engine stamps a whole-range aggregate).
    pub points: Vec<(Timestamp, f64)>,
    /// Stored points behind this entry, not scaled for sampling (aggregates skip NaN
    /// values, and do not count them here).
    pub samples: usize,
}

/// What a query returned.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QueryResult {
    /// Series or groups, sorted by labels.
    pub series: Vec<ResultSeries>,
}

impl QueryResult {
    /// The single value of a query that yields one group and one bucket.
    pub fn scalar(&self) -> Option<f64> {
        match self.series.as_slice() {
            [one] if one.points.len() == 1 => Some(one.points[0].1),
            _ => None,
        }
    }

    /// Points read from the store.
    pub fn samples(&self) -> usize {
        self.series.iter().map(|s| s.samples).sum()
    }
}

impl Aggregation {
    fn engine(self) -> Aggregate {
        match self {
            Aggregation::Count => Aggregate::Count,
            Aggregation::Sum => Aggregate::Sum,
            Aggregation::Min => Aggregate::Min,
            Aggregation::Max => Aggregate::Max,
            Aggregation::Avg => Aggregate::Avg,
            Aggregation::First => Aggregate::First,
            Aggregation::Last => Aggregate::Last,
            Aggregation::StdDev => Aggregate::Stddev,
            Aggregation::Quantile(q) => Aggregate::Quantile(q),
        }
    }

    /// True when sampling weights change the result.
    fn weighted(self) -> bool {
        matches!(
            self,
            Aggregation::Count | Aggregation::Sum | Aggregation::Avg | Aggregation::StdDev
        )
    }
}

/// The dimension recording a sampled series' rate.
const SAMPLE_RATE: &str = "sample_rate";

/// `1 / rate` for a series or group with this `sample_rate` label; 1 without one.
fn weight(labels: &Labels) -> f64 {
    labels
        .get(SAMPLE_RATE)
        .and_then(|r| r.parse::<f64>().ok())
        .filter(|r| *r > 0.0 && *r <= 1.0)
        .map_or(1.0, |r| 1.0 / r)
}

/// A result entry: metric name and labels.
type Entry = (String, BTreeMap<String, String>);

/// The entry an engine result series belongs to; with `strip_rate`, groups that differ
/// only in their sample rate (added to the grouping by [`execute`]) are one entry.
fn entry(query: &MetricQuery, labels: &Labels, strip_rate: bool) -> Entry {
    match labels {
        Labels::Series(key) => (
            key.name().to_string(),
            key.dimensions().iter().cloned().collect(),
        ),
        Labels::Group(group) => (
            query.metric.clone().unwrap_or_else(|| "*".into()),
            group
                .iter()
                .filter(|(k, _)| !(strip_rate && k == SAMPLE_RATE))
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                .collect(),
        ),
    }
}

/// One sample rate's share of a bucket: its weight (`1 / rate`), its point count and
/// the further aggregates the reduction needs (sum, or mean and standard deviation).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Part {
    weight: f64,
    count: f64,
    values: [f64; 2],
}

/// Reduces the parts of one bucket to the weighted `agg` (one of the aggregations for
/// which [`Aggregation::weighted`] is true): counts and sums scaled by each part's
/// weight, the mean and standard deviation of the stream the weighted points estimate.
fn combine(agg: Aggregation, parts: &[Part]) -> f64 {
    let total: f64 = parts.iter().map(|p| p.weight * p.count).sum();
    let sum: f64 = parts.iter().map(|p| p.weight * p.values[0]).sum();
    match agg {
        Aggregation::Count => total,
        Aggregation::Sum => sum,
        Aggregation::Avg => sum / total,
        _ => {
            // values = [mean, sample stddev] per part; pooled as weighted moments.
            let mean = parts
                .iter()
                .map(|p| p.weight * p.count * p.values[0])
                .sum::<f64>()
                / total;
            let m2: f64 = parts
                .iter()
                .map(|p| {
                    let within = if p.count >= 2.0 {
                        p.values[1] * p.values[1] * (p.count - 1.0)
                    } else {
                        0.0
                    };
                    p.weight * (within + p.count * (p.values[0] - mean).powi(2))
                })
                .sum();
            if total > 1.0 {
                (m2 / (total - 1.0)).max(0.0).sqrt()
            } else {
                f64::NAN
            }
        }
    }
}

/// Runs `query` over the store through [`Db::query`].
pub(crate) fn execute(db: &Db, query: &MetricQuery) -> sedimentdb::Result<QueryResult> {
    let selector = query.selector();
    let Some(agg) = query.aggregation else {
        let result = db.query(&Query::select(selector).range(query.range))?;
        let mut series: Vec<ResultSeries> = result
            .into_iter()
            .map(|s| {
                let (name, labels) = entry(query, &s.labels, false);
                ResultSeries {
                    name,
                    labels,
                    samples: s.len(),
                    points: s.points().collect(),
                }
            })
            .collect();
        sort(&mut series);
        return Ok(QueryResult { series });
    };
    // Weights matter only for some aggregates, and only if a matched series is sampled.
    let split = agg.weighted()
        && !db
            .list_series(&selector.clone().with(Matcher::exists(SAMPLE_RATE)))?
            .is_empty();
    let by_rate_already =
        matches!(&query.group_by, Some(keys) if keys.iter().any(|k| k == SAMPLE_RATE));
    let strip_rate = split && !by_rate_already;
    let run = |aggregate: Aggregate| -> sedimentdb::Result<Vec<EngineSeries>> {
        let q = Query::select(selector.clone()).range(query.range);
        let q = match query.bucket {
            Some(width) => q.downsample(Duration::from_nanos(width.unsigned_abs()), aggregate),
            None => q.aggregate(aggregate),
        };
        let q = match &query.group_by {
            None => q,
            Some(keys) => {
                let mut keys = keys.clone();
                if strip_rate {
                    keys.push(SAMPLE_RATE.into());
                }
                if keys.is_empty() {
                    q.group_all()
                } else {
                    q.group_by(keys)
                }
            }
        };
        Ok(db.query(&q)?.series)
    };

    // The count of every entry and bucket, per sample rate: the samples, and the
    // weights of a split query.
    let mut counts: BTreeMap<Entry, BTreeMap<Timestamp, Vec<(String, Part)>>> = BTreeMap::new();
    for s in run(Aggregate::Count)? {
        let buckets = counts
            .entry(entry(query, &s.labels, strip_rate))
            .or_default();
        let rate = s.labels.get(SAMPLE_RATE).unwrap_or_default().to_string();
        let weight = if split { weight(&s.labels) } else { 1.0 };
        for (ts, count) in s.points() {
            let part = Part {
                weight,
                count,
                values: [f64::NAN; 2],
            };
            buckets.entry(ts).or_default().push((rate.clone(), part));
        }
    }
    let samples = |buckets: &BTreeMap<Timestamp, Vec<(String, Part)>>| -> usize {
        buckets
            .values()
            .flatten()
            .map(|(_, p)| p.count as usize)
            .sum()
    };

    let mut series: Vec<ResultSeries> = if split {
        let extra: &[Aggregate] = match agg {
            Aggregation::Sum | Aggregation::Avg => &[Aggregate::Sum],
            Aggregation::StdDev => &[Aggregate::Avg, Aggregate::Stddev],
            _ => &[],
        };
        for (at, &aggregate) in extra.iter().enumerate() {
            for s in run(aggregate)? {
                let Some(buckets) = counts.get_mut(&entry(query, &s.labels, strip_rate)) else {
                    continue;
                };
                let rate = s.labels.get(SAMPLE_RATE).unwrap_or_default();
                for (ts, value) in s.points() {
                    let parts = buckets.get_mut(&ts).into_iter().flatten();
                    if let Some((_, part)) = parts.into_iter().find(|(r, _)| r == rate) {
                        part.values[at] = value;
                    }
                }
            }
        }
        counts
            .into_iter()
            .map(|((name, labels), buckets)| ResultSeries {
                samples: samples(&buckets),
                points: buckets
                    .iter()
                    .map(|(&ts, parts)| {
                        let parts: Vec<Part> = parts.iter().map(|(_, p)| *p).collect();
                        (ts, combine(agg, &parts))
                    })
                    .collect(),
                name,
                labels,
            })
            .collect()
    } else if agg == Aggregation::Count {
        counts
            .into_iter()
            .map(|((name, labels), buckets)| ResultSeries {
                samples: samples(&buckets),
                points: buckets
                    .iter()
                    .map(|(&ts, parts)| (ts, parts.iter().map(|(_, p)| p.count).sum()))
                    .collect(),
                name,
                labels,
            })
            .collect()
    } else {
        run(agg.engine())?
            .into_iter()
            .map(|s| {
                let (name, labels) = entry(query, &s.labels, false);
                let key = (name, labels);
                ResultSeries {
                    samples: counts.get(&key).map_or(0, samples),
                    points: s.points().collect(),
                    name: key.0,
                    labels: key.1,
                }
            })
            .collect()
    };
    sort(&mut series);
    Ok(QueryResult { series })
}

fn sort(series: &mut [ResultSeries]) {
    series.sort_by(|a, b| (&a.labels, &a.name).cmp(&(&b.labels, &b.name)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts of `values` sampled with this weight: for sums, and for moments.
    fn part(weight: f64, values: &[f64]) -> (Part, Part) {
        let n = values.len() as f64;
        let sum: f64 = values.iter().sum();
        let mean = sum / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let sums = Part {
            weight,
            count: n,
            values: [sum, f64::NAN],
        };
        let moments = Part {
            values: [mean, var.sqrt()],
            ..sums
        };
        (sums, moments)
    }

    #[test]
    fn weights_scale_counts_and_sums_and_weight_means() {
        // A part sampled at 1/10 and an unsampled one.
        let (a, _) = part(10.0, &[2.0, 4.0]);
        let (b, _) = part(1.0, &[6.0]);
        assert_eq!(combine(Aggregation::Count, &[a, b]), 21.0);
        assert_eq!(combine(Aggregation::Sum, &[a, b]), 66.0);
        assert_eq!(combine(Aggregation::Avg, &[a, b]), 66.0 / 21.0);
    }

    #[test]
    fn pooled_stddev_equals_that_of_the_expanded_stream() {
        // Weight 3 on [1, 5] stands for [1, 1, 1, 5, 5, 5]; weight 1 on [2, 4, 9].
        let (_, a) = part(3.0, &[1.0, 5.0]);
        let (_, b) = part(1.0, &[2.0, 4.0, 9.0]);
        let expanded = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 2.0, 4.0, 9.0];
        let n = expanded.len() as f64;
        let mean = expanded.iter().sum::<f64>() / n;
        let want = (expanded.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let got = combine(Aggregation::StdDev, &[a, b]);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // One point: no deviation.
        let (_, one) = part(1.0, &[3.0]);
        assert!(combine(Aggregation::StdDev, &[one]).is_nan());
    }
}
