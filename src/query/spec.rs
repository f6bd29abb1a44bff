//! The typed query: a builder that needs no string parsing, and its validation into the
//! resolved parameters the executor runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{
    duration_ns, Matcher, Selector, TimeRange, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP,
};

/// Widest bucket a query may ask for: 2^62 ns (about 146 years). With timestamps kept
/// inside [`MIN_TIMESTAMP`, `MAX_TIMESTAMP`], the start of every bucket that can hold a
/// point then fits an `i64`.
pub const MAX_BUCKET_NS: i64 = 1 << 62;

/// How the points of one bucket (or of one group's bucket) are reduced to one value.
///
/// NaN values are skipped by every aggregate: `Count` counts the non-NaN points, and a
/// bucket holding only NaN points is empty. Infinities are ordinary values and follow
/// IEEE 754, the same whether a bucket is answered from the head, from segment chunks
/// (or their statistics) or from rollups: `Sum` and `Avg` of a bucket holding `+inf` are
/// `+inf`, and NaN if it holds `-inf` too; `Stddev` of a bucket holding an infinity is
/// NaN (its deviation from the mean is undefined); a `Quantile` interpolated between a
/// finite and an infinite neighbour is that infinity, and between `-inf` and `+inf` NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Aggregate {
    /// Number of (non-NaN) points.
    Count,
    /// Sum of the values.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Arithmetic mean.
    Avg,
    /// Value of the earliest point.
    First,
    /// Value of the latest point.
    Last,
    /// Sample standard deviation (divides by n - 1); no value for a single point.
    Stddev,
    /// Exact quantile `q` in `[0, 1]`, interpolated between closest ranks (Hyndman & Fan
    /// type 7, the default of R and NumPy): with the `n` values sorted, `h = (n - 1) q`,
    /// the result is `x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])`. No
    /// approximation: the error is the f64 rounding of that one interpolation (a few
    /// ulps), and none when `(n - 1) q` is a whole number. Costs a decode of every chunk involved and memory for the values
    /// of one bucket.
    Quantile(f64),
}

impl Aggregate {
    /// The median, `Quantile(0.5)`.
    pub const P50: Aggregate = Aggregate::Quantile(0.5);
    /// `Quantile(0.9)`.
    pub const P90: Aggregate = Aggregate::Quantile(0.9);
    /// `Quantile(0.99)`.
    pub const P99: Aggregate = Aggregate::Quantile(0.99);

    fn validate(self) -> Result<()> {
        match self {
            Aggregate::Quantile(q) if !(0.0..=1.0).contains(&q) => {
                Err(Error::invalid(format!("quantile {q} is outside [0, 1]")))
            }
            _ => Ok(()),
        }
    }

    /// A short lowercase name (`"max"`, `"p99"`, `"q0.25"`), for labels and logs.
    pub fn name(self) -> String {
        match self {
            Aggregate::Count => "count".into(),
            Aggregate::Sum => "sum".into(),
            Aggregate::Min => "min".into(),
            Aggregate::Max => "max".into(),
            Aggregate::Avg => "avg".into(),
            Aggregate::First => "first".into(),
            Aggregate::Last => "last".into(),
            Aggregate::Stddev => "stddev".into(),
            Aggregate::Quantile(q) => {
                let pct = q * 100.0;
                if (pct - pct.round()).abs() < 1e-9 {
                    format!("p{}", pct.round())
                } else {
                    format!("q{q}")
                }
            }
        }
    }
}

impl std::str::FromStr for Aggregate {
    type Err = Error;

    /// The inverse of [`Aggregate::name`], plus a few spellings people use: `count`,
    /// `sum`, `min`, `max`, `avg` (`mean`), `first`, `last`, `stddev` (`std`), `median`,
    /// `pNN` (`p99`, `p99.9`: a percentile) and `qX` (`q0.25`: a quantile).
    ///
    /// ```
    /// use sedimentdb::Aggregate;
    /// assert_eq!("p99".parse::<Aggregate>()?, Aggregate::P99);
    /// assert_eq!("q0.25".parse::<Aggregate>()?, Aggregate::Quantile(0.25));
    /// assert_eq!("max".parse::<Aggregate>()?.name(), "max");
    /// assert!("p101".parse::<Aggregate>().is_err());
    /// # Ok::<(), sedimentdb::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        let agg = match t.as_str() {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "avg" | "mean" => Aggregate::Avg,
            "first" => Aggregate::First,
            "last" => Aggregate::Last,
            "stddev" | "std" => Aggregate::Stddev,
            "median" => Aggregate::P50,
            _ => {
                let q = if let Some(pct) = t.strip_prefix('p') {
                    pct.parse::<f64>().ok().map(|p| p / 100.0)
                } else if let Some(q) = t.strip_prefix('q') {
                    q.parse::<f64>().ok()
                } else {
                    None
                };
                match q {
                    Some(q) if (0.0..=1.0).contains(&q) => Aggregate::Quantile(q),
                    _ => {
                        return Err(Error::invalid(format!(
                            "unknown aggregate {text:?} (count, sum, min, max, avg, first, \
                             last, stddev, median, p0..p100, q0..q1)"
                        )))
                    }
                }
            }
        };
        Ok(agg)
    }
}

/// What an empty bucket between `start` and `end` becomes. Only for queries that
/// downsample with a bucket width; "missing" is NaN in results.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Fill {
    /// Empty buckets are left out. The default.
    #[default]
    None,
    /// Every bucket of the range is present; empty ones hold NaN.
    Null,
    /// Empty buckets repeat the value of the latest non-empty bucket before them (NaN
    /// before the first one).
    Previous,
    /// Empty buckets are interpolated linearly between the non-empty buckets around them
    /// (NaN before the first and after the last one).
    Linear,
    /// Empty buckets hold this value.
    Value(f64),
}

/// A comparison for [`ValueFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `value > threshold`
    Gt,
    /// `value >= threshold`
    Ge,
    /// `value < threshold`
    Lt,
    /// `value <= threshold`
    Le,
    /// `value == threshold`
    Eq,
    /// `value != threshold`
    Ne,
}

/// A condition on a value, e.g. `> 90`. NaN never passes a filter (not even `Ne`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueFilter {
    /// The comparison.
    pub op: Comparison,
    /// The right-hand side.
    pub threshold: f64,
}

impl ValueFilter {
    /// `value > threshold`
    pub fn gt(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Gt,
            threshold,
        }
    }
    /// `value >= threshold`
    pub fn ge(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Ge,
            threshold,
        }
    }
    /// `value < threshold`
    pub fn lt(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Lt,
            threshold,
        }
    }
    /// `value <= threshold`
    pub fn le(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Le,
            threshold,
        }
    }
    /// `value == threshold`
    pub fn eq(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Eq,
            threshold,
        }
    }
    /// `value != threshold` (NaN values still fail).
    pub fn ne(threshold: f64) -> Self {
        ValueFilter {
            op: Comparison::Ne,
            threshold,
        }
    }

    /// True when `value` passes.
    #[inline]
    pub fn test(&self, value: f64) -> bool {
        let t = self.threshold;
        match self.op {
            Comparison::Gt => value > t,
            Comparison::Ge => value >= t,
            Comparison::Lt => value < t,
            Comparison::Le => value <= t,
            Comparison::Eq => value == t,
            Comparison::Ne => value != t && !value.is_nan(),
        }
    }

    /// What the filter makes of a set of non-NaN values whose extremes are `min` and
    /// `max`: `Some(true)` if all pass, `Some(false)` if none does, `None` if it depends.
    pub(crate) fn decide_range(&self, min: f64, max: f64) -> Option<bool> {
        if self.test(min) && self.test(max) {
            // For every comparison but Ne, passing at both extremes means passing at every
            // value between; Ne needs the threshold outside [min, max].
            if self.op != Comparison::Ne || !(min..=max).contains(&self.threshold) {
                return Some(true);
            }
            return None;
        }
        let none = match self.op {
            Comparison::Gt => max <= self.threshold,
            Comparison::Ge => max < self.threshold,
            Comparison::Lt => min >= self.threshold,
            Comparison::Le => min > self.threshold,
            Comparison::Eq => max < self.threshold || min > self.threshold,
            Comparison::Ne => min == self.threshold && max == self.threshold,
        };
        none.then_some(false)
    }
}

impl std::str::FromStr for ValueFilter {
    type Err = Error;

    /// `"> 90"`, `">=0.5"`, `"< 1e-3"`, `"== 0"`, `"!= 0"` (spaces optional; `=` is `==`).
    ///
    /// ```
    /// use sedimentdb::query::ValueFilter;
    /// assert_eq!("> 90".parse::<ValueFilter>()?, ValueFilter::gt(90.0));
    /// assert_eq!("<=0.5".parse::<ValueFilter>()?, ValueFilter::le(0.5));
    /// assert!("> lots".parse::<ValueFilter>().is_err());
    /// # Ok::<(), sedimentdb::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim();
        // Two-character operators first, so that ">=" is not read as ">" then "=5".
        let ops: [(&str, Comparison); 7] = [
            (">=", Comparison::Ge),
            ("<=", Comparison::Le),
            ("==", Comparison::Eq),
            ("!=", Comparison::Ne),
            (">", Comparison::Gt),
            ("<", Comparison::Lt),
            ("=", Comparison::Eq),
        ];
        let Some((op, rest)) = ops
            .iter()
            .find_map(|(sym, op)| t.strip_prefix(sym).map(|rest| (*op, rest)))
        else {
            return Err(Error::invalid(format!(
                "value filter {text:?} must start with >, >=, <, <=, == or != (e.g. \"> 90\")"
            )));
        };
        let threshold: f64 = rest.trim().parse().map_err(|_| {
            Error::invalid(format!(
                "value filter {text:?}: {:?} is not a number",
                rest.trim()
            ))
        })?;
        if threshold.is_nan() {
            return Err(Error::invalid(format!(
                "value filter {text:?}: the threshold is NaN"
            )));
        }
        Ok(ValueFilter { op, threshold })
    }
}

/// A per-series transform applied to the merged points before filtering and aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Transform {
    /// Per-second rate of increase of a counter between consecutive points, at the later
    /// point's timestamp. A decrease is a counter reset: the increase is then the new
    /// value itself (the counter restarted from zero), as in Prometheus.
    Rate,
    /// Per-second change between consecutive points (may be negative), at the later
    /// point's timestamp.
    Derivative,
}

/// How result series are formed from the matched series.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Grouping {
    /// One result series per matched series. The default.
    #[default]
    None,
    /// One result series per distinct combination of these dimensions' values (a series
    /// without one of them joins the group whose label for it is absent).
    By(Vec<String>),
    /// All matched series together, one result series.
    All,
}

/// Which end of a ranking [`Query::top_k`] / [`Query::bottom_k`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RankOrder {
    /// Largest first.
    Top,
    /// Smallest first.
    Bottom,
}

/// Per-query resource limits; exceeding one fails the query with
/// [`Error::LimitExceeded`] before more work or memory is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryLimits {
    /// Most series a query may match. Default: 1 000 000.
    pub max_series: u64,
    /// Most points a query may read: decoded from segment chunks plus read from the head
    /// (chunks answered from statistics cost nothing). Default: 1 000 000 000.
    pub max_points_read: u64,
    /// Most points (timestamp + value pairs) in the result, filled buckets included; it
    /// bounds the result's memory at 16 bytes a point. Default: 10 000 000.
    pub max_result_points: u64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_series: 1_000_000,
            max_points_read: 1_000_000_000,
            max_result_points: 10_000_000,
        }
    }
}

/// The time range of a query: absolute, or relative to "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeSpec {
    /// An absolute half-open range `[start, end)`.
    Range(TimeRange),
    /// The last `nanos` nanoseconds up to and including now: `[now - nanos, now]`.
    Last(i64),
    /// From `start` up to and including now: `[start, now]`.
    Since(Timestamp),
}

/// Whether a query may spread its per-series work over the cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Parallelism {
    /// Starts on the calling thread and spreads the remaining series over the pool
    /// once they are projected to take long enough to pay for it. The default.
    #[default]
    Auto,
    /// Always on the calling thread.
    Off,
    /// Every series on the pool from the start (for queries known to be heavy, and
    /// for tests that compare the paths).
    Always,
}

/// A typed query over the series of a database; run it with [`crate::Db::query`].
///
/// The pipeline runs in this order, each stage optional:
///
/// 1. **select** the series matching any of the selectors (roaring bitmap operations);
/// 2. read their points in the **time range**, merged across head and segments (a later
///    write of the same timestamp wins);
/// 3. **transform** each series: [`rate`](Query::rate) or [`derivative`](Query::derivative);
/// 4. keep the points passing every [`where_value`](Query::where_value) filter;
/// 5. **aggregate** into buckets of a fixed width aligned to multiples of the width
///    from the Unix epoch ([`downsample`](Query::downsample)) or from a chosen
///    [`bucket_origin`](Query::bucket_origin), or over the whole range
///    ([`aggregate`](Query::aggregate)); per series, per group of series
///    ([`group_by`](Query::group_by), [`group_all`](Query::group_all)), optionally first
///    per series and then [`across_series`](Query::across_series);
/// 6. **fill** empty buckets ([`fill`](Query::fill));
/// 7. keep the points passing every [`having`](Query::having) filter;
/// 8. **rank** result series by an aggregate of their values ([`top_k`](Query::top_k),
///    [`bottom_k`](Query::bottom_k)) and **limit** their number ([`limit`](Query::limit)).
///
/// Bucket timestamps are bucket starts; the first bucket may start before the range (it
/// only holds points inside the range). A whole-range aggregate is labelled with the
/// range start, except `First` and `Last`, which carry the timestamp of the point they
/// pick; a range starting before [`MIN_TIMESTAMP`] (such as [`TimeRange::all`], the
/// default) starts at `MIN_TIMESTAMP`, the earliest storable timestamp, so the label is
/// always a storable timestamp. Series with no point left after stage 4 do not appear in
/// the result. Ungrouped result series carry their [`SeriesId`](crate::SeriesId) as well
/// as their key ([`ResultSeries::series_id`](crate::query::ResultSeries::series_id)).
///
/// ```
/// use std::time::Duration;
/// use sedimentdb::{Aggregate, Db, Matcher, Options, Query, SeriesKey, WriteBatch};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default()).unwrap();
/// let mut batch = WriteBatch::new();
/// for host in ["a", "b"] {
///     let key = SeriesKey::new("cpu").with("host", host).with("dc", "eu");
///     for i in 0..120i64 {
///         batch.push_key(&key, i * 1_000_000_000, i as f64);
///     }
/// }
/// db.write(&batch).unwrap();
/// db.flush().unwrap();
///
/// // Per-minute maximum of each host's cpu over the first two minutes.
/// let q = Query::metric("cpu")
///     .filter(Matcher::eq("dc", "eu"))
///     .between(0, 120_000_000_000)
///     .downsample(Duration::from_secs(60), Aggregate::Max)
///     .group_by(["host"]);
/// let result = db.query(&q).unwrap();
/// assert_eq!(result.series.len(), 2);
/// assert_eq!(result.series[0].timestamps, vec![0, 60_000_000_000]);
/// assert_eq!(result.series[0].values, vec![59.0, 119.0]);
/// ```
///
/// A query serializes with serde (selectors in their text form), so that a service can
/// take queries as JSON or store them; a round trip gives the same query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    pub(crate) selectors: Vec<Selector>,
    pub(crate) time: TimeSpec,
    pub(crate) now: Option<Timestamp>,
    pub(crate) transform: Option<Transform>,
    pub(crate) where_values: Vec<ValueFilter>,
    pub(crate) bucket: Option<i64>,
    /// Where the bucket grid is anchored (see [`Query::bucket_origin`]).
    pub(crate) bucket_origin: Option<Timestamp>,
    pub(crate) aggregate: Option<Aggregate>,
    pub(crate) grouping: Grouping,
    pub(crate) across: Option<Aggregate>,
    pub(crate) fill: Fill,
    pub(crate) having: Vec<ValueFilter>,
    pub(crate) rank: Option<(RankOrder, usize, Aggregate)>,
    pub(crate) limit: Option<usize>,
    pub(crate) limits: QueryLimits,
    pub(crate) parallelism: Parallelism,
    /// A bucket width given as a `Duration` too long for an `i64` of nanoseconds
    /// (builder state only: a deserialized query carries none).
    #[serde(skip)]
    bad_duration: Option<&'static str>,
}

impl Query {
    /// Every series matching `selector`.
    pub fn select(selector: Selector) -> Self {
        Query {
            selectors: vec![selector],
            time: TimeSpec::Range(TimeRange::all()),
            now: None,
            transform: None,
            where_values: Vec::new(),
            bucket: None,
            bucket_origin: None,
            aggregate: None,
            grouping: Grouping::None,
            across: None,
            fill: Fill::None,
            having: Vec::new(),
            rank: None,
            limit: None,
            limits: QueryLimits::default(),
            parallelism: Parallelism::Auto,
            bad_duration: None,
        }
    }

    /// Every series of one metric.
    pub fn metric(name: impl Into<String>) -> Self {
        Query::select(Selector::metric(name))
    }

    /// Every series of any of these metrics.
    pub fn metrics<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut q = Query::select(Selector::any());
        q.selectors = names.into_iter().map(Selector::metric).collect();
        q
    }

    /// Also selects the series matching `selector` (a union with the selectors so far).
    pub fn or(mut self, selector: Selector) -> Self {
        self.selectors.push(selector);
        self
    }

    /// Adds a dimension matcher to every selector given so far (call it after
    /// [`Query::or`] to narrow all of them).
    pub fn filter(mut self, matcher: Matcher) -> Self {
        self.selectors = self
            .selectors
            .into_iter()
            .map(|s| s.with(matcher.clone()))
            .collect();
        self
    }

    /// The absolute range `range` (half-open). Default: all time.
    pub fn range(mut self, range: TimeRange) -> Self {
        self.time = TimeSpec::Range(range);
        self
    }

    /// The absolute range `[start, end)` in nanoseconds since the epoch.
    pub fn between(self, start: Timestamp, end: Timestamp) -> Self {
        self.range(TimeRange::new(start, end))
    }

    /// The last `span` up to and including now: `[now - span, now]`.
    pub fn last(mut self, span: Duration) -> Self {
        match duration_ns(span) {
            Some(ns) => self.time = TimeSpec::Last(ns),
            None => self.bad_duration = Some("the span of last()"),
        }
        self
    }

    /// From `start` up to and including now.
    pub fn since(mut self, start: Timestamp) -> Self {
        self.time = TimeSpec::Since(start);
        self
    }

    /// The "now" that relative ranges are measured from. Default: the system clock when
    /// the query runs.
    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Per-second rate of a counter (see [`Transform::Rate`]).
    pub fn rate(mut self) -> Self {
        self.transform = Some(Transform::Rate);
        self
    }

    /// Per-second derivative (see [`Transform::Derivative`]).
    pub fn derivative(mut self) -> Self {
        self.transform = Some(Transform::Derivative);
        self
    }

    /// Keeps only the points passing `filter` (before aggregation). Repeatable: all
    /// filters must pass.
    pub fn where_value(mut self, filter: ValueFilter) -> Self {
        self.where_values.push(filter);
        self
    }

    /// Aggregates each series (or group) into buckets of width `every`.
    pub fn downsample(mut self, every: Duration, aggregate: Aggregate) -> Self {
        match duration_ns(every) {
            Some(ns) => self.bucket = Some(ns),
            None => self.bad_duration = Some("the bucket width"),
        }
        self.aggregate = Some(aggregate);
        self
    }

    /// Anchors the buckets of [`downsample`](Query::downsample) at `origin` (ns since
    /// the Unix epoch) instead of at the epoch: buckets are `[origin + k w, origin +
    /// (k + 1) w)` for every integer `k`, labelled with their start. Only the offset of
    /// `origin` within one bucket width matters, so any bucket start will do, in the past
    /// or the future: days starting at 06:00 UTC, or weeks starting on a Monday (the epoch
    /// was a Thursday). Rollups answer such a query only where the offset is a multiple
    /// of their resolution; elsewhere the raw points do. Needs `downsample()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::{Aggregate, Db, Options, Query, SeriesKey, WriteBatch};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let hour = 3_600_000_000_000i64;
    /// let mut batch = WriteBatch::new();
    /// for h in 0..48 {
    ///     batch.push_key(&SeriesKey::new("orders"), h * hour, 1.0);
    /// }
    /// db.write(&batch).unwrap();
    /// // Business days from 06:00 to 06:00.
    /// let q = Query::metric("orders")
    ///     .downsample(Duration::from_secs(24 * 3600), Aggregate::Sum)
    ///     .bucket_origin(6 * hour);
    /// let r = db.query(&q).unwrap();
    /// assert_eq!(r.series[0].timestamps, vec![-18 * hour, 6 * hour, 30 * hour]);
    /// assert_eq!(r.series[0].values, vec![6.0, 24.0, 18.0]);
    /// ```
    pub fn bucket_origin(mut self, origin: Timestamp) -> Self {
        self.bucket_origin = Some(origin);
        self
    }

    /// Aggregates each series (or group) over the whole range into one value.
    pub fn aggregate(mut self, aggregate: Aggregate) -> Self {
        self.bucket = None;
        self.aggregate = Some(aggregate);
        self
    }

    /// One result series per distinct combination of the values of `dimensions`.
    pub fn group_by<I, S>(mut self, dimensions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grouping = Grouping::By(dimensions.into_iter().map(Into::into).collect());
        self
    }

    /// All matched series form one result series.
    pub fn group_all(mut self) -> Self {
        self.grouping = Grouping::All;
        self
    }

    /// In a grouped query, aggregate each series on its own first (with the downsample
    /// aggregate), then combine the series' bucket values with `aggregate`, e.g. the sum
    /// over hosts of each host's average rate. Without it, a group's bucket aggregates
    /// all points of all its series together.
    pub fn across_series(mut self, aggregate: Aggregate) -> Self {
        self.across = Some(aggregate);
        self
    }

    /// What empty buckets become. Default: [`Fill::None`].
    pub fn fill(mut self, fill: Fill) -> Self {
        self.fill = fill;
        self
    }

    /// Keeps only result points passing `filter` (after aggregation and fill).
    pub fn having(mut self, filter: ValueFilter) -> Self {
        self.having.push(filter);
        self
    }

    /// Keeps the `k` result series with the largest `by` of their result values.
    pub fn top_k(mut self, k: usize, by: Aggregate) -> Self {
        self.rank = Some((RankOrder::Top, k, by));
        self
    }

    /// Keeps the `k` result series with the smallest `by` of their result values.
    pub fn bottom_k(mut self, k: usize, by: Aggregate) -> Self {
        self.rank = Some((RankOrder::Bottom, k, by));
        self
    }

    /// At most `n` result series (after ranking; otherwise the first `n` in result order).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Resource limits. Default: [`QueryLimits::default`].
    pub fn limits(mut self, limits: QueryLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether the query may use several cores. Default: [`Parallelism::Auto`]. Results
    /// are identical either way.
    pub fn parallelism(mut self, parallelism: Parallelism) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// The selectors, unioned.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// The aggregate, if the query aggregates.
    pub fn aggregate_fn(&self) -> Option<Aggregate> {
        self.aggregate
    }

    /// The bucket width in nanoseconds, if the query downsamples.
    pub fn bucket_ns(&self) -> Option<i64> {
        self.bucket
    }

    /// Where the first bucket at or after the Unix epoch starts, in `0..width` ns (0
    /// unless [`Query::bucket_origin`] moved the grid); 0 if the query does not
    /// downsample.
    pub fn bucket_offset_ns(&self) -> i64 {
        match (self.bucket, self.bucket_origin) {
            (Some(w), Some(origin)) if w > 0 => origin.rem_euclid(w),
            _ => 0,
        }
    }

    /// The grouping.
    pub fn grouping(&self) -> &Grouping {
        &self.grouping
    }

    /// Checks the query and resolves its time range against `now` (or the system clock).
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        if let Some(what) = self.bad_duration {
            return Err(Error::invalid(format!(
                "{what} does not fit in i64 nanoseconds"
            )));
        }
        if self.selectors.is_empty() {
            return Err(Error::invalid("the query selects no series"));
        }
        let now = match self.now {
            Some(now) => now,
            None => system_now()?,
        };
        let requested = match self.time {
            TimeSpec::Range(r) => r,
            TimeSpec::Last(ns) => {
                if ns <= 0 {
                    return Err(Error::invalid("last() needs a positive span"));
                }
                TimeRange::new(now.saturating_sub(ns), now.saturating_add(1))
            }
            TimeSpec::Since(start) => TimeRange::new(start, now.saturating_add(1)),
        };
        if requested.is_empty() {
            return Err(Error::invalid(format!(
                "empty time range [{}, {})",
                requested.start, requested.end
            )));
        }
        // No point lies outside the storable range, so clamping loses nothing and keeps
        // every bucket computation inside i64.
        let range = TimeRange::new(
            requested.start.max(MIN_TIMESTAMP),
            requested.end.min(MAX_TIMESTAMP.saturating_add(1)),
        );
        if let Some(ns) = self.bucket {
            if ns <= 0 {
                return Err(Error::invalid("the bucket width must be positive"));
            }
            if ns > MAX_BUCKET_NS {
                return Err(Error::invalid(format!(
                    "bucket width {ns} ns is wider than the {MAX_BUCKET_NS} ns limit"
                )));
            }
        }
        if let Some(agg) = self.aggregate {
            agg.validate()?;
        }
        if let Some(agg) = self.across {
            agg.validate()?;
            if self.grouping == Grouping::None {
                return Err(Error::invalid(
                    "across_series() needs group_by() or group_all()",
                ));
            }
        }
        if self.aggregate.is_none() {
            if self.grouping != Grouping::None {
                return Err(Error::invalid(
                    "grouping needs an aggregate: call downsample() or aggregate()",
                ));
            }
            if self.fill != Fill::None {
                return Err(Error::invalid("fill() needs downsample()"));
            }
        }
        if self.bucket_origin.is_some() && self.bucket.is_none() {
            return Err(Error::invalid(
                "bucket_origin() needs downsample() with a bucket width",
            ));
        }
        if self.fill != Fill::None && self.bucket.is_none() {
            return Err(Error::invalid(
                "fill() needs downsample() with a bucket width",
            ));
        }
        if let Grouping::By(dims) = &self.grouping {
            if dims.is_empty() {
                return Err(Error::invalid(
                    "group_by() needs at least one dimension (or use group_all())",
                ));
            }
        }
        for f in self.where_values.iter().chain(&self.having) {
            if f.threshold.is_nan() {
                return Err(Error::invalid("a value filter threshold is NaN"));
            }
        }
        if let Fill::Value(v) = self.fill {
            if v.is_nan() {
                return Err(Error::invalid(
                    "Fill::Value(NaN): use Fill::Null for missing values",
                ));
            }
        }
        if let Some((_, k, by)) = self.rank {
            if k == 0 {
                return Err(Error::invalid("top_k/bottom_k needs k >= 1"));
            }
            by.validate()?;
        }
        Ok(Resolved {
            requested,
            range,
            now,
        })
    }
}

/// A query's time facts after validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    /// The range as asked (the tests of `resolve` check it; the engine reads `range`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub requested: TimeRange,
    /// The range clamped to storable timestamps; empty when the requested range holds no
    /// storable timestamp.
    pub range: TimeRange,
    #[allow(dead_code)] // reported by explain
    pub now: Timestamp,
}

fn system_now() -> Result<Timestamp> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::invalid("the system clock is before 1970; pass now() explicitly"))?;
    duration_ns(since).ok_or_else(|| Error::invalid("the system clock is past 2262"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(q: Query) -> bool {
        matches!(q.resolve(), Err(Error::InvalidArgument(_)))
    }

    #[test]
    fn nonsense_queries_are_invalid_arguments() {
        let q = || Query::metric("m");
        assert!(invalid(q().between(10, 10)));
        assert!(invalid(q().between(10, 5)));
        assert!(invalid(q().downsample(Duration::ZERO, Aggregate::Max)));
        assert!(invalid(
            q().downsample(Duration::from_secs(1), Aggregate::Quantile(1.5))
        ));
        assert!(invalid(q().downsample(
            Duration::from_secs(1),
            Aggregate::Quantile(f64::NAN)
        )));
        assert!(invalid(
            q().downsample(Duration::from_secs(u64::MAX), Aggregate::Max)
        ));
        assert!(invalid(q().group_by(["host"])));
        assert!(invalid(
            q().aggregate(Aggregate::Max).group_by(Vec::<String>::new())
        ));
        assert!(invalid(q().fill(Fill::Null)));
        assert!(invalid(q().aggregate(Aggregate::Max).fill(Fill::Null)));
        assert!(invalid(q().where_value(ValueFilter::gt(f64::NAN))));
        assert!(invalid(q().top_k(0, Aggregate::Max)));
        assert!(invalid(
            q().aggregate(Aggregate::Max).across_series(Aggregate::Sum)
        ));
        assert!(invalid(q().last(Duration::ZERO).now(0)));
        assert!(!invalid(
            q().downsample(Duration::from_secs(1), Aggregate::P99)
        ));
    }

    #[test]
    fn relative_ranges_end_at_now_inclusive() {
        let r = Query::metric("m")
            .last(Duration::from_nanos(100))
            .now(1000)
            .resolve()
            .unwrap();
        assert_eq!(r.requested, TimeRange::new(900, 1001));
        let r = Query::metric("m").since(5).now(7).resolve().unwrap();
        assert_eq!(r.requested, TimeRange::new(5, 8));
        // Saturated at i64::MIN: valid, but no storable timestamp lies in it.
        let r = Query::metric("m")
            .last(Duration::from_secs(10))
            .now(i64::MIN)
            .resolve()
            .unwrap();
        assert_eq!(r.requested, TimeRange::new(i64::MIN, i64::MIN + 1));
        assert!(r.range.is_empty());
        let r = Query::metric("m").resolve().unwrap();
        assert_eq!(r.range.start, MIN_TIMESTAMP);
        assert_eq!(r.range.end, MAX_TIMESTAMP + 1);
    }

    #[test]
    fn filter_decisions_agree_with_testing_each_value() {
        let values = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let filters = [
            ValueFilter::gt(0.0),
            ValueFilter::ge(0.0),
            ValueFilter::lt(0.0),
            ValueFilter::le(0.0),
            ValueFilter::eq(0.0),
            ValueFilter::ne(0.0),
            ValueFilter::gt(5.0),
            ValueFilter::ne(5.0),
        ];
        for f in filters {
            for lo in 0..values.len() {
                for hi in lo..values.len() {
                    let set = &values[lo..=hi];
                    let (min, max) = (set[0], set[set.len() - 1]);
                    let all = set.iter().all(|&v| f.test(v));
                    let none = !set.iter().any(|&v| f.test(v));
                    match f.decide_range(min, max) {
                        Some(true) => assert!(all, "{f:?} on {set:?}"),
                        Some(false) => assert!(none, "{f:?} on {set:?}"),
                        None => {}
                    }
                }
            }
        }
        assert!(!ValueFilter::ne(1.0).test(f64::NAN));
    }

    #[test]
    fn queries_round_trip_through_serde() {
        let q = Query::metric("cpu")
            .filter(Matcher::regex("host", "web-.*").unwrap())
            .or(Selector::metric("mem"))
            .between(10, 1_000)
            .downsample(Duration::from_secs(60), Aggregate::P99)
            .group_by(["region"])
            .fill(Fill::Value(0.5))
            .having(ValueFilter::gt(90.0))
            .top_k(3, Aggregate::Max)
            .limit(2);
        let json = serde_json::to_string(&q).unwrap();
        let back: Query = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.selectors()[0].to_string(), r#"cpu{host=~"web-.*"}"#);
        assert_eq!(back.bucket_ns(), Some(60_000_000_000));
        assert_eq!(back.grouping(), &Grouping::By(vec!["region".into()]));
        assert_eq!(back.resolve().unwrap().range, TimeRange::new(10, 1_000));
        assert!(json.contains(r#""cpu{host=~\"web-.*\"}""#), "{json}");
    }

    #[test]
    fn aggregate_names() {
        assert_eq!(Aggregate::P99.name(), "p99");
        assert_eq!(Aggregate::Quantile(0.125).name(), "q0.125");
        assert_eq!(Aggregate::Max.name(), "max");
    }
}
