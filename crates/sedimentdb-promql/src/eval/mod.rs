//! The evaluator: an expression tree evaluated over a grid of steps at once (one step
//! for an instant query), as Prometheus' range evaluation does. Raw samples are fetched
//! once per selector and series over the whole span the steps need, then cut into
//! windows per step.

mod aggregate;
mod binary;
mod functions;
pub mod range_fns;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr, MatrixSelector, Offset, VectorSelector};

use crate::error::{PromError, Result};
use crate::labels::Labels;
use crate::options::EvalOptions;
use crate::selector::SeriesSelector;
use crate::source::{RawSeries, SeriesSource};

/// Prometheus' staleness marker: a NaN with this exact bit pattern, written when a
/// series disappears. Selectors treat it as the end of the series, never as a value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True for Prometheus' staleness marker.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One series over the step grid: a value or nothing at each step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// The value of an expression over the step grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// One number per step.
    Scalar(Vec<f64>),
    /// An instant vector per step.
    Vector(Vec<StepSeries>),
    /// A string literal.
    String(String),
}

/// The windows of a range-vector selector: per series its samples (staleness markers
/// removed), per step the `[lo, hi)` indexes of the samples in `(e - range, e]`.
pub(crate) struct Windows {
    pub series: Vec<RawSeries>,
    pub eval_times: Vec<i64>,
    pub range_ns: i64,
}

impl Windows {
    /// The window of `series` at step `step`.
    pub fn window(&self, series: usize, step: usize) -> range_fns::Window<'_> {
        let s = &self.series[series];
        let end = self.eval_times[step];
        let start = end - self.range_ns;
        let lo = s.timestamps.partition_point(|&t| t <= start);
        let hi = s.timestamps.partition_point(|&t| t <= end);
        range_fns::Window {
            ts: &s.timestamps[lo..hi],
            vals: &s.values[lo..hi],
            range_start: start,
            range_end: end,
        }
    }
}

pub(crate) struct Evaluator<'a, S: SeriesSource + ?Sized> {
    source: &'a S,
    opts: &'a EvalOptions,
    /// Evaluation times, nanoseconds.
    pub steps: Vec<i64>,
    /// Query start and end, for `@ start()` and `@ end()`.
    start: i64,
    end: i64,
    samples_loaded: u64,
}

fn duration_ns(d: std::time::Duration) -> Result<i64> {
    i64::try_from(d.as_nanos())
        .map_err(|_| PromError::BadData(format!("duration {d:?} is too long")))
}

fn system_time_ns(t: SystemTime) -> Result<i64> {
    let ns = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    i64::try_from(ns).map_err(|_| PromError::BadData("@ time out of range".into()))
}

impl<'a, S: SeriesSource + ?Sized> Evaluator<'a, S> {
    pub fn new(
        source: &'a S,
        opts: &'a EvalOptions,
        steps: Vec<i64>,
        start: i64,
        end: i64,
    ) -> Self {
        Evaluator {
            source,
            opts,
            steps,
            start,
            end,
            samples_loaded: 0,
        }
    }

    pub fn n_steps(&self) -> usize {
        self.steps.len()
    }

    /// The time each step reads at: `@` fixes it, `offset` moves it back.
    fn eval_times(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Result<Vec<i64>> {
        let off = match offset {
            None => 0,
            Some(Offset::Pos(d)) => duration_ns(*d)?,
            Some(Offset::Neg(d)) => -duration_ns(*d)?,
        };
        let fixed = match at {
            None => None,
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
            Some(AtModifier::At(t)) => Some(system_time_ns(*t)?),
        };
        Ok(self
            .steps
            .iter()
            .map(|&t| fixed.unwrap_or(t).saturating_sub(off))
            .collect())
    }

    /// Samples of the series `vs` selects in `(after, up_to]`, staleness markers kept.
    fn fetch(&mut self, vs: &VectorSelector, after: i64, up_to: i64) -> Result<Vec<RawSeries>> {
        let selector = SeriesSelector::new(vs.name.as_deref(), &vs.matchers)?;
        let budget = self.opts.max_samples.saturating_sub(self.samples_loaded);
        let series = self
            .source
            .samples(&selector, after, up_to, self.opts.max_series, budget)?;
        let n: u64 = series.iter().map(|s| s.timestamps.len() as u64).sum();
        self.samples_loaded += n;
        if self.samples_loaded > self.opts.max_samples {
            return Err(PromError::TooManySamples);
        }
        Ok(series)
    }

    /// An instant-vector selector: at each step the newest sample in
    /// `(e - lookback, e]`, unless that sample is a staleness marker.
    fn vector_selector(&mut self, vs: &VectorSelector) -> Result<Vec<StepSeries>> {
        let times = self.eval_times(&vs.at, &vs.offset)?;
        let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
            return Ok(Vec::new());
        };
        let lookback = self.opts.lookback_delta_ns;
        let raw = self.fetch(vs, lo.saturating_sub(lookback), hi)?;
        let mut out = Vec::with_capacity(raw.len());
        for s in raw {
            let mut any = false;
            let values: Vec<Option<f64>> = times
                .iter()
                .map(|&e| {
                    let i = s.timestamps.partition_point(|&t| t <= e);
                    if i == 0 || s.timestamps[i - 1] <= e.saturating_sub(lookback) {
                        return None;
                    }
                    let v = s.values[i - 1];
                    if is_stale(v) {
                        return None;
                    }
                    any = true;
                    Some(v)
                })
                .collect();
            if any {
                out.push(StepSeries {
                    labels: s.labels,
                    values,
                });
            }
        }
        Ok(out)
    }

    /// A range-vector selector's samples and windows.
    pub fn matrix_selector(&mut self, ms: &MatrixSelector) -> Result<Windows> {
        let range_ns = duration_ns(ms.range)?;
        let times = self.eval_times(&ms.vs.at, &ms.vs.offset)?;
        let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
            return Ok(Windows {
                series: Vec::new(),
                eval_times: times,
                range_ns,
            });
        };
        let mut series = self.fetch(&ms.vs, lo.saturating_sub(range_ns), hi)?;
        for s in &mut series {
            if s.values.iter().any(|&v| is_stale(v)) {
                let (ts, vals): (Vec<i64>, Vec<f64>) = s
                    .timestamps
                    .iter()
                    .zip(&s.values)
                    .filter(|(_, v)| !is_stale(**v))
                    .map(|(t, v)| (*t, *v))
                    .unzip();
                s.timestamps = ts;
                s.values = vals;
            }
        }
        Ok(Windows {
            series,
            eval_times: times,
            range_ns,
        })
    }

    /// Evaluates an expression that must be a scalar (a function or aggregation
    /// parameter).
    pub fn eval_scalar(&mut self, expr: &Expr, what: &str) -> Result<Vec<f64>> {
        match self.eval(expr)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(PromError::BadData(format!("expected a scalar for {what}"))),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&mut self, expr: &Expr, what: &str) -> Result<Vec<StepSeries>> {
        match self.eval(expr)? {
            Val::Vector(v) => Ok(v),
            _ => Err(PromError::BadData(format!(
                "expected an instant vector for {what}"
            ))),
        }
    }

    pub fn eval(&mut self, expr: &Expr) -> Result<Val> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.n_steps()])),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(v) => {
                    let out = v
                        .into_iter()
                        .map(|s| StepSeries {
                            labels: s.labels.without_name(),
                            values: s.values.into_iter().map(|x| x.map(|x| -x)).collect(),
                        })
                        .collect();
                    Ok(Val::Vector(merge_same_labels(out)?))
                }
                Val::String(_) => Err(PromError::BadData("unary minus of a string".into())),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.vector_selector(vs)?)),
            Expr::MatrixSelector(_) => Err(PromError::BadData(
                "a range vector is only valid as a function argument or at the top of an instant query".into(),
            )),
            Expr::Subquery(_) => Err(PromError::unsupported("subquery")),
            Expr::Call(call) => functions::call(self, call),
            Expr::Aggregate(agg) => aggregate::aggregate(self, agg),
            Expr::Binary(bin) => binary::binary(self, bin),
            Expr::Extension(_) => Err(PromError::unsupported("extension expression")),
        }
    }
}

/// Merges series whose labels became equal (after a function dropped `__name__`);
/// an overlap at some step is Prometheus' "same labelset" error.
pub(crate) fn merge_same_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                for (t, v) in target.values.iter_mut().zip(s.values) {
                    if v.is_some() {
                        if t.is_some() {
                            return Err(PromError::Execution(
                                "vector cannot contain metrics with the same labelset".into(),
                            ));
                        }
                        *t = v;
                    }
                }
            }
        }
    }
    Ok(out)
}
