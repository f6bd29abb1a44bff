//! The typed query engine: a [`Query`] builder, its execution against a snapshot
//! ([`crate::Db::query`]), and [`Explain`] reports of how a query ran.
//!
//! # How a query executes
//!
//! 1. **Series**: each selector is answered by roaring-bitmap operations on the catalog's
//!    postings; the selectors' bitmaps are unioned.
//! 2. **Segments**: those whose time span (and so their partition) lies outside the
//!    range are pruned before any series is looked at.
//! 3. **Per series**, in parallel over the cores when there are enough series: the
//!    chunks overlapping the range are found by binary search in each segment's chunk
//!    index, head points are read, and the sources are cut into steps (see `plan`):
//!    a chunk that no other source overlaps and that lies inside the range and inside
//!    one bucket is answered from its statistics when the aggregate allows (count, sum,
//!    min, max, avg always; first/last without NaN); a chunk none of whose values can
//!    pass a value filter is skipped; everything else is decoded, and chunks overlapped
//!    by another source are decoded together and merged so that the newest write wins.
//!    Points stream through rate/derivative, value filters and the bucket aggregates; a
//!    series never holds more than its own points in memory.
//! 4. **Groups** are formed with bitmap group-bys on the catalog, and merged in series
//!    id order, so the result is the same on one thread or many.
//! 5. Fill, having, top-k and limit run on the (small) results.
//!
//! A whole-range `Last` (or `First`) reads only from the newest (oldest) chunk of each
//! series and widens back to the full range only if that finds no value.

pub(crate) mod merge;
pub(crate) mod select;

mod agg;
mod analytics;
mod api;
mod exec;
mod plan;
mod result;
mod spec;

pub use analytics::{
    AnomalyMethod, CorrelateOptions, CorrelationPair, DimensionBreakdown, SeriesAnomalies,
    SeriesChangePoints, SeriesTrend, TrendOptions,
};
pub use result::{Explain, Labels, QueryResult, ResultSeries};
pub use spec::{
    Aggregate, Comparison, Fill, Grouping, Parallelism, Query, QueryLimits, RankOrder, TimeSpec,
    Transform, ValueFilter, MAX_BUCKET_NS,
};
