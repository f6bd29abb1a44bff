//! PromQL over sedimentdb: instant and range queries with Prometheus' semantics,
//! evaluated through the engine's typed [`sedimentdb::Query`] API. No HTTP here, so
//! that any service can embed it; `sediment serve` puts the Prometheus HTTP API on top.
//!
//! ```
//! use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
//! use sedimentdb_promql::{instant_query, range_query, EvalOptions, QueryValue};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default()).unwrap();
//! let s = 1_000_000_000i64;
//! let mut batch = WriteBatch::new();
//! for host in ["a", "b"] {
//!     let key = SeriesKey::new("requests_total").with("host", host);
//!     for i in 0..=60 {
//!         batch.push_key(&key, i * 10 * s, (i * 5) as f64); // +0.5 per second
//!     }
//! }
//! db.write(&batch).unwrap();
//!
//! let opts = EvalOptions::default();
//! let v = instant_query(&db, "sum(rate(requests_total[5m]))", 600 * s, &opts).unwrap();
//! let QueryValue::Vector(samples) = v else { panic!() };
//! assert!((samples[0].value - 1.0).abs() < 1e-9);
//!
//! let m = range_query(&db, r#"requests_total{host="a"}"#, 0, 600 * s, 60 * s, &opts).unwrap();
//! let QueryValue::Matrix(series) = m else { panic!() };
//! assert_eq!(series[0].points.len(), 11);
//! assert_eq!(series[0].points[1], (60 * s, 30.0));
//! ```
//!
//! # How Prometheus' windows map onto the engine's
//!
//! Prometheus evaluates an expression at a sequence of times; the engine stores raw
//! points. The evaluator fetches, once per selector and series, the raw points of the
//! whole span that the steps need (one [`sedimentdb::Query`] per selector, no
//! downsampling) and then cuts them into windows per step exactly as Prometheus 3 does:
//!
//! - **Steps**: a range query from `start` to `end` with step `s` evaluates at
//!   `start, start + s, ...` up to and including `end`; `start` is not aligned to the
//!   step (Grafana aligns it before asking). An instant query is one step at `time`.
//!   At most [`EvalOptions::max_steps`] steps (11,000, as Prometheus).
//! - **Lookback**: an instant-vector selector at time `t` takes the newest sample in
//!   `(t - lookback, t]`, the window open on the left as in Prometheus 3; the lookback
//!   is 5 minutes ([`EvalOptions::lookback_delta_ns`]). The sample keeps its value but
//!   is reported at `t`. This is not the engine's `Fill::Previous` (which repeats a
//!   bucket value indefinitely) nor its buckets (`[k w, (k + 1) w)`, closed on the
//!   left), which is why selectors do not push down to downsampling.
//! - **Range windows**: `x[r]` at `t` holds the samples in `(t - r, t]`; `offset o`
//!   moves both ends back by `o` and `@ T` fixes `t`. A sample exactly `r` before the
//!   step is outside, one exactly at the step inside.
//! - **Staleness**: there are no scrapes, so a series is stale only where the lookback
//!   finds no sample (a gap longer than 5 minutes ends it), or where the stored value is
//!   Prometheus' staleness marker (the NaN with bits `0x7ff0000000000002`, as written by
//!   Prometheus remote write): it ends the series at an instant selector and is dropped
//!   from range windows. Any other NaN is a value.
//! - **Rates**: `rate`, `increase` and `delta` use Prometheus' extrapolation (to the
//!   window's ends when the first and last samples are within 1.1 average intervals of
//!   them, otherwise half an interval; never below a counter's zero), `irate` and
//!   `idelta` the last two samples; a decrease is a counter reset. The engine's own
//!   [`sedimentdb::query::Transform::Rate`] is a point-to-point rate, a different function.
//! - **Time resolution**: Prometheus has milliseconds; the engine nanoseconds. The
//!   evaluator works in nanoseconds and the HTTP layer prints seconds with millisecond
//!   precision, so on millisecond data the answers are Prometheus'.
//!
//! # What is supported
//!
//! Selectors with `=`, `!=`, `=~`, `!~` (on `__name__` too, and `or` alternatives),
//! `offset`, `@`; `rate`, `irate`, `increase`, `delta`, `idelta`,
//! `{avg,min,max,sum,count,last,present,stddev,stdvar,quantile}_over_time`, `time`,
//! `vector`, `scalar`, `abs`, `ceil`, `floor`, `exp`, `sqrt`, `ln`, `log2`, `log10`,
//! `sgn`, `round`, `clamp`, `clamp_min`, `clamp_max`; aggregations `sum`, `avg`, `min`,
//! `max`, `count`, `group`, `stddev`, `stdvar`, `quantile`, `topk`, `bottomk` with `by`
//! or `without`; arithmetic and comparison operators (with `bool`) between scalars,
//! vectors and scalars, and vectors with one-to-one matching (`on`, `ignoring`); `and`,
//! `or`, `unless`. Anything else (subqueries, `group_left`, `histogram_quantile`,
//! `label_replace`, `count_values`, native histograms, ...) is
//! [`PromError::Unsupported`] naming the construct, Prometheus' `bad_data`.
//!
//! # Limits
//!
//! [`EvalOptions`] bounds the raw samples a query loads (`max_samples`), the series a
//! selector matches and the steps of a range query; each maps to Prometheus' error
//! type and HTTP status ([`PromError::error_type`], [`PromError::http_status`]).
//! Unlike Prometheus, which counts the samples held at one time, `max_samples` counts
//! every raw sample fetched.

#![warn(missing_docs)]

mod error;
mod eval;
mod labels;
mod options;
mod selector;
mod source;
mod value;

use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;

pub use error::{PromError, Result};
pub use eval::range_fns;
pub use eval::{is_stale, STALE_NAN_BITS};
pub use labels::{Labels, METRIC_NAME};
pub use options::EvalOptions;
pub use selector::SeriesSelector;
pub use source::{RawSeries, SeriesSource};
pub use value::{QueryValue, Sample, Series};

use eval::{Evaluator, Val};

/// Parses a PromQL expression (the parser's message on failure, as
/// [`PromError::Parse`]).
pub fn parse(query: &str) -> Result<Expr> {
    promql_parser::parser::parse(query).map_err(PromError::Parse)
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// Evaluates `query` at `time` (nanoseconds since the epoch), as Prometheus'
/// `/api/v1/query`.
pub fn instant_query<S: SeriesSource + ?Sized>(
    source: &S,
    query: &str,
    time: i64,
    opts: &EvalOptions,
) -> Result<QueryValue> {
    let expr = parse(query)?;
    let mut ev = Evaluator::new(source, opts, vec![time], time, time);
    if let Expr::MatrixSelector(ms) = unparen(&expr) {
        let windows = ev.matrix_selector(ms)?;
        let series = (0..windows.series.len())
            .filter_map(|i| {
                let w = windows.window(i, 0);
                (!w.ts.is_empty()).then(|| Series {
                    labels: windows.series[i].labels.clone(),
                    points: w.ts.iter().copied().zip(w.vals.iter().copied()).collect(),
                })
            })
            .collect();
        return Ok(QueryValue::Matrix(series));
    }
    Ok(match ev.eval(&expr)? {
        Val::Scalar(v) => QueryValue::Scalar {
            timestamp: time,
            value: v[0],
        },
        Val::String(s) => QueryValue::String {
            timestamp: time,
            value: s,
        },
        Val::Vector(v) => QueryValue::Vector(
            v.into_iter()
                .filter_map(|s| {
                    s.values[0].map(|value| Sample {
                        labels: s.labels,
                        timestamp: time,
                        value,
                    })
                })
                .collect(),
        ),
    })
}

/// Evaluates `query` at `start, start + step, ...` up to `end` (nanoseconds), as
/// Prometheus' `/api/v1/query_range`: always a matrix, series sorted by labels.
pub fn range_query<S: SeriesSource + ?Sized>(
    source: &S,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
    opts: &EvalOptions,
) -> Result<QueryValue> {
    if step <= 0 {
        return Err(PromError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if end < start {
        return Err(PromError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    let n = ((end as i128 - start as i128) / step as i128) as u128 + 1;
    if n > opts.max_steps as u128 {
        return Err(PromError::TooManySteps {
            limit: opts.max_steps,
        });
    }
    let expr = parse(query)?;
    match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => {}
        other => {
            let name = match other {
                ValueType::Matrix => "range vector",
                _ => "string",
            };
            return Err(PromError::BadData(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
    }
    let steps: Vec<i64> = (0..n as i64).map(|i| start + i * step).collect();
    let mut ev = Evaluator::new(source, opts, steps.clone(), start, end);
    let mut series = match ev.eval(&expr)? {
        Val::Scalar(v) => vec![Series {
            labels: Labels::default(),
            points: steps.iter().copied().zip(v).collect(),
        }],
        Val::Vector(v) => v
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                points: steps
                    .iter()
                    .zip(s.values)
                    .filter_map(|(&t, v)| v.map(|v| (t, v)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect(),
        Val::String(_) => unreachable!("checked by value_type"),
    };
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(QueryValue::Matrix(series))
}

/// A PromQL duration such as `5m` or `1h30m` (what `step` and `[range]` accept).
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    promql_parser::util::duration::parse_duration(text).ok()
}
