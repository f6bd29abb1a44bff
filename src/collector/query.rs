//! Queries through the collector: which series (metric, source, category, dimension
//! matchers), which time range, and an optional aggregation into time buckets and
//! groups. Executed over [`crate::Db::select`] with a small streaming aggregation.
//!
//! Sampled series (those with a `sample_rate` dimension) have their counts and sums
//! multiplied by `1 / rate`, so that figures estimate the unsampled stream.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::event::Source;
use super::validate::duration_ns;
use crate::{Db, Matcher, Selector, TimeRange, Timestamp};

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
    /// Population standard deviation.
    StdDev,
    /// Quantile in `[0, 1]` (nearest rank on sorted values).
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
/// use sedimentdb::collector::{Aggregation, MetricQuery, Source};
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
    pub fn execute(&self, db: &Db) -> crate::Result<QueryResult> {
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
                Matcher::In(k, vs) => format!("{k} in {vs:?}"),
                Matcher::Exists(k) => format!("{k} exists"),
                Matcher::Absent(k) => format!("{k} absent"),
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
    /// The metric name (for groups spanning metrics, the first one's).
    pub name: String,
    /// The dimensions of the series, or the group-by dimensions of a group.
    pub labels: BTreeMap<String, String>,
    /// `(timestamp, value)`: raw points, or one per bucket (stamped with the bucket
    /// start, or the range start without buckets).
    pub points: Vec<(Timestamp, f64)>,
    /// Points read from the store for this entry.
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

#[derive(Debug, Clone)]
struct Acc {
    count: f64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
    first: (Timestamp, f64),
    last: (Timestamp, f64),
    values: Vec<f64>,
}

impl Acc {
    fn new() -> Self {
        Acc {
            count: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: (Timestamp::MAX, f64::NAN),
            last: (Timestamp::MIN, f64::NAN),
            values: Vec::new(),
        }
    }

    fn add(&mut self, ts: Timestamp, v: f64, weight: f64, keep_values: bool) {
        self.count += weight;
        self.sum += v * weight;
        self.sum_sq += v * v * weight;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if ts < self.first.0 {
            self.first = (ts, v);
        }
        if ts >= self.last.0 {
            self.last = (ts, v);
        }
        if keep_values {
            self.values.push(v);
        }
    }

    fn finish(&mut self, agg: Aggregation) -> f64 {
        match agg {
            Aggregation::Count => self.count,
            Aggregation::Sum => self.sum,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Avg => self.sum / self.count,
            Aggregation::First => self.first.1,
            Aggregation::Last => self.last.1,
            Aggregation::StdDev => {
                let mean = self.sum / self.count;
                (self.sum_sq / self.count - mean * mean).max(0.0).sqrt()
            }
            Aggregation::Quantile(q) => {
                self.values.sort_by(f64::total_cmp);
                let n = self.values.len();
                if n == 0 {
                    return f64::NAN;
                }
                let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize;
                self.values[rank.min(n - 1)]
            }
        }
    }
}

/// Runs `query` over the store.
pub(crate) fn execute(db: &Db, query: &MetricQuery) -> crate::Result<QueryResult> {
    let selector = query.selector();
    let iter = db.select(&selector, query.range)?;
    let Some(agg) = query.aggregation else {
        let mut series = Vec::new();
        for s in iter {
            let s = s?;
            series.push(ResultSeries {
                name: s.key.name().to_string(),
                labels: s.key.dimensions().iter().cloned().collect(),
                samples: s.len(),
                points: s.iter().collect(),
            });
        }
        series.sort_by(|a, b| (&a.labels, &a.name).cmp(&(&b.labels, &b.name)));
        return Ok(QueryResult { series });
    };
    let keep_values = matches!(agg, Aggregation::Quantile(_));
    // (metric name when series stay apart, labels) -> (name, samples, bucket -> accumulator)
    type Group = (String, usize, BTreeMap<Timestamp, Acc>);
    let mut groups: BTreeMap<(String, BTreeMap<String, String>), Group> = BTreeMap::new();
    for s in iter {
        let s = s?;
        let group_key = match &query.group_by {
            None => (
                s.key.name().to_string(),
                s.key.dimensions().iter().cloned().collect(),
            ),
            Some(keys) => (
                String::new(),
                keys.iter()
                    .filter_map(|k| s.key.dimension(k).map(|v| (k.clone(), v.to_string())))
                    .collect(),
            ),
        };
        let weight = s
            .key
            .dimension("sample_rate")
            .and_then(|r| r.parse::<f64>().ok())
            .filter(|r| *r > 0.0 && *r <= 1.0)
            .map_or(1.0, |r| 1.0 / r);
        let group = groups
            .entry(group_key)
            .or_insert_with(|| (s.key.name().to_string(), 0, BTreeMap::new()));
        group.1 += s.len();
        for (ts, v) in s.iter() {
            let bucket = match query.bucket {
                Some(w) => ts.div_euclid(w) * w,
                None => query.range.start.max(crate::MIN_TIMESTAMP),
            };
            group
                .2
                .entry(bucket)
                .or_insert_with(Acc::new)
                .add(ts, v, weight, keep_values);
        }
    }
    let mut series: Vec<ResultSeries> = groups
        .into_iter()
        .map(|((_, labels), (name, samples, buckets))| ResultSeries {
            name,
            labels,
            samples,
            points: buckets
                .into_iter()
                .map(|(b, mut acc)| (b, acc.finish(agg)))
                .collect(),
        })
        .collect();
    series.sort_by(|a, b| (&a.labels, &a.name).cmp(&(&b.labels, &b.name)));
    Ok(QueryResult { series })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_reduces_every_way() {
        let mut acc = Acc::new();
        for (i, v) in [4.0, 1.0, 3.0, 2.0].into_iter().enumerate() {
            acc.add(i as i64, v, 1.0, true);
        }
        let cases = [
            (Aggregation::Count, 4.0),
            (Aggregation::Sum, 10.0),
            (Aggregation::Min, 1.0),
            (Aggregation::Max, 4.0),
            (Aggregation::Avg, 2.5),
            (Aggregation::First, 4.0),
            (Aggregation::Last, 2.0),
            (Aggregation::Quantile(1.0), 4.0),
            (Aggregation::Quantile(0.0), 1.0),
        ];
        for (agg, want) in cases {
            assert_eq!(acc.clone().finish(agg), want, "{agg}");
        }
        assert!((acc.finish(Aggregation::StdDev) - 1.118).abs() < 1e-3);
    }

    #[test]
    fn weights_scale_counts_and_sums_only() {
        let mut acc = Acc::new();
        acc.add(0, 2.0, 10.0, false);
        acc.add(1, 4.0, 10.0, false);
        assert_eq!(acc.clone().finish(Aggregation::Count), 20.0);
        assert_eq!(acc.clone().finish(Aggregation::Sum), 60.0);
        assert_eq!(acc.finish(Aggregation::Avg), 3.0);
    }
}
