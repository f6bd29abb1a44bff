//! The query entry points on [`Db`].

use crate::db::Db;
use crate::error::Result;

use super::exec::execute;
use super::result::{Explain, QueryResult};
use super::spec::Query;

impl Db {
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
        self.inner.check_open()?;
        let version = self.inner.versions.current();
        execute(&self.inner.catalog, &version, query)
    }
}
