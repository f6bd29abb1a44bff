//! The typed query engine: a [`Query`] builder, its execution against a snapshot
//! ([`crate::Db::query`]), [`Explain`] reports of how a query ran, and analytics run as
//! queries ([`crate::Db::trend`], [`crate::Db::anomalies`], [`crate::Db::correlate`],
//! [`crate::Db::breakdown`], ...).
//!
//! ```
//! use std::time::Duration;
//! use sedimentdb::query::{Fill, ValueFilter};
//! use sedimentdb::{Aggregate, Db, Matcher, Options, Query, SeriesKey, WriteBatch};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let mut batch = WriteBatch::new();
//! for (host, region) in [("web-1", "eu"), ("web-2", "eu"), ("db-1", "us")] {
//!     let key = SeriesKey::new("cpu_usage").with("host", host).with("region", region);
//!     for i in 0..360i64 {
//!         batch.push_key(&key, i * 10_000_000_000, (i % 100) as f64); // every 10 s
//!     }
//! }
//! db.write(&batch).unwrap();
//! db.flush().unwrap();
//!
//! // p99 per 5 minutes and region, over the last hour of the data.
//! let q = Query::metric("cpu_usage")
//!     .last(Duration::from_secs(3600))
//!     .now(3_600_000_000_000)
//!     .downsample(Duration::from_secs(300), Aggregate::P99)
//!     .group_by(["region"])
//!     .fill(Fill::Null);
//! let result = db.query(&q).unwrap();
//! assert_eq!(result.len(), 2);
//! for series in &result {
//!     println!("{}: {:?}", series.labels, series.values);
//! }
//!
//! // The two busiest hosts by their peak, only the minutes above 90.
//! let q = Query::metric("cpu_usage")
//!     .filter(Matcher::ne("host", "db-1"))
//!     .downsample(Duration::from_secs(60), Aggregate::Max)
//!     .having(ValueFilter::gt(90.0))
//!     .top_k(2, Aggregate::Max);
//! assert_eq!(db.query(&q).unwrap().len(), 2);
//!
//! // How it ran.
//! let explain = db.explain(&Query::metric("cpu_usage").aggregate(Aggregate::Max)).unwrap();
//! assert_eq!(explain.points_decoded, 0); // chunk statistics answered it
//! ```
//!
//! # Semantics
//!
//! - **Last write wins**: where head and segments hold the same timestamp of a series,
//!   the newest write is the point; aggregates see each point once.
//! - **NaN** is "no value" to every aggregate: it is skipped (`Count` counts the
//!   non-NaN points; a bucket holding only NaN is empty). Raw queries return stored NaN
//!   as it is, and no value filter passes NaN. Infinities are values. In results, NaN
//!   means missing (a `Fill::Null` bucket, a standard deviation of one point).
//! - **Quantiles are exact**: the values of a bucket are sorted and interpolated
//!   between closest ranks (type 7, as R's and NumPy's defaults); no sketch, no
//!   approximation. The only error is the f64 rounding of the interpolation
//!   `x[j] + f (x[j+1] - x[j])` (three rounded operations: a few ulps of the
//!   neighbours' magnitude), and none at all when `(n - 1) q` is a whole number. The same definition as [`crate::analytics::stats::quantile`], except
//!   that infinities count as values (as they do for min and max). Memory: the values of
//!   one bucket (of one group, when pooled).
//! - **Standard deviation** is the sample one (divides by n - 1), computed with Welford's
//!   update and Chan's merge, so it stays accurate on large offsets.
//! - **Buckets** are `[k w, (k + 1) w)` for integer `k`, aligned to the Unix epoch,
//!   labelled with their start. Bucket arithmetic is done in `i128` and the range is
//!   clamped to the storable timestamps, so no input overflows; widths are limited to
//!   [`MAX_BUCKET_NS`].
//! - **Rate** treats a decrease as a counter reset (the increase is the new value); the
//!   first point of the range has no rate (the point before the range is not read).
//! - **Limits** ([`QueryLimits`]): series matched, points read (decoded or from the
//!   head; statistics are free) and result points (filled buckets included) fail with
//!   [`crate::Error::LimitExceeded`] as soon as they are passed.
//!
//! # How a query executes
//!
//! 1. **Series**: each selector is answered by roaring-bitmap operations on the catalog's
//!    postings; the selectors' bitmaps are unioned.
//! 2. **Segments**: those whose time span (and so their partition) lies outside the
//!    range are pruned before any series is looked at.
//! 3. **Per series**, on the calling thread and then, once the work has taken 100 us,
//!    over the rayon pool: the chunks overlapping the range are found in each segment's
//!    chunk index (galloping from the previous series' position), head points are read,
//!    and the sources are cut into steps (see `plan`): a chunk that no other source
//!    overlaps and that lies inside the range and inside one bucket is answered from its
//!    statistics when the aggregate allows (count, sum, min, max, avg always; first/last
//!    without NaN) and no deletion touches it; a chunk none of whose values can pass a
//!    value filter is skipped; everything else is decoded, and chunks overlapped by
//!    another source are decoded together and merged so that the newest write wins.
//!    Points stream through rate/derivative, value filters and the bucket aggregates;
//!    a series never holds more than its own points, and ungrouped queries finish each
//!    bucket as soon as the stream passes it.
//!    **Rollups** ([`crate::Options::rollup`]): an aggregating query with no transform
//!    and no value filter, whose aggregate is count, sum, min, max, avg, first, last or
//!    stddev and whose buckets are a multiple of a rollup's resolution (or one bucket
//!    over the whole range), reads a cold partition's rollup instead of its raw chunks
//!    when the rollup is complete (nothing written to the partition since) and lies
//!    inside the range; partitions cut by the range's ends read raw points. Answers
//!    equal the raw ones (count, min, max, first, last exactly; sum, avg and stddev up
//!    to the order of floating-point summation, as with chunk statistics). Where the
//!    raw points were dropped by a policy's raw retention, the rollup is the only copy:
//!    it answers coarse queries (later writes to its partition merged in, buckets cut
//!    by the range's ends left out; a later write of a timestamp whose raw point is gone
//!    cannot replace it and counts besides it), while raw selects and fine queries see
//!    only the raw points that are left. A deletion touching a series' rollup buckets makes that
//!    series read the partition's raw points until compaction rebuilds the rollup; if
//!    the raw points are gone, the touched buckets are left out (and compaction removes
//!    them from disk). [`Explain`] counts the rollup partitions, blocks and buckets read.
//! 4. **Groups** are formed with bitmap group-bys on the catalog
//!    (`dimension_values_within`), and merged in series id order, so the result is the
//!    same on one thread or many.
//! 5. Fill, having, top-k and limit run on the (small) results.
//!
//! A whole-range `Last` (or `First`) reads only from the newest (oldest) chunk of each
//! series and widens back to the full range only if that finds no value.

pub(crate) mod select;

mod agg;
pub(crate) mod analytics;
mod exec;
mod plan;
mod result;
mod spec;

use crate::error::Result;
use crate::index::Catalog;
use crate::version::Version;

pub use analytics::{
    AnomalyMethod, CorrelateOptions, CorrelationPair, DimensionBreakdown, SeriesAnomalies,
    SeriesChangePoints, SeriesScores, SeriesTrend, TrendOptions,
};
pub use result::{Explain, Labels, QueryResult, ResultSeries};
pub use spec::{
    Aggregate, Comparison, Fill, Grouping, Parallelism, Query, QueryLimits, RankOrder, TimeSpec,
    Transform, ValueFilter, MAX_BUCKET_NS,
};

/// What a query reads: the catalog and one version of the live state. The analyses run
/// all their queries against the same snapshot.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) version: &'a Version,
}

impl Snapshot<'_> {
    /// Runs `query` (see [`crate::Db::query`]) and reports how it ran.
    pub(crate) fn query_explained(&self, query: &Query) -> Result<(QueryResult, Explain)> {
        exec::execute(self.catalog, self.version, query)
    }

    /// Runs `query`.
    pub(crate) fn query(&self, query: &Query) -> Result<QueryResult> {
        Ok(self.query_explained(query)?.0)
    }
}
