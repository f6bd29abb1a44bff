//! Function calls: the range functions over `[range]` windows, `time()`, `vector()`,
//! `scalar()` and the element-wise math functions. Anything else is an
//! [`PromError::Unsupported`] naming the function.

use promql_parser::parser::{Call, Expr};

use super::range_fns::{self as rf, Window};
use super::{merge_same_labels, Evaluator, StepSeries, Val};
use crate::error::{PromError, Result};
use crate::labels::Labels;
use crate::source::SeriesSource;

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// A range function: its window function and whether it keeps `__name__`.
enum RangeFn {
    Plain(fn(Window<'_>) -> Option<f64>),
    Rate { is_counter: bool, is_rate: bool },
    Instant { is_rate: bool },
    Quantile,
}

fn range_fn(name: &str) -> Option<RangeFn> {
    Some(match name {
        "rate" => RangeFn::Rate {
            is_counter: true,
            is_rate: true,
        },
        "increase" => RangeFn::Rate {
            is_counter: true,
            is_rate: false,
        },
        "delta" => RangeFn::Rate {
            is_counter: false,
            is_rate: false,
        },
        "irate" => RangeFn::Instant { is_rate: true },
        "idelta" => RangeFn::Instant { is_rate: false },
        "avg_over_time" => RangeFn::Plain(rf::avg_over_time),
        "min_over_time" => RangeFn::Plain(rf::min_over_time),
        "max_over_time" => RangeFn::Plain(rf::max_over_time),
        "sum_over_time" => RangeFn::Plain(rf::sum_over_time),
        "count_over_time" => RangeFn::Plain(rf::count_over_time),
        "last_over_time" => RangeFn::Plain(rf::last_over_time),
        "present_over_time" => RangeFn::Plain(rf::present_over_time),
        "stddev_over_time" => RangeFn::Plain(|w| rf::stdvar_over_time(w, true)),
        "stdvar_over_time" => RangeFn::Plain(|w| rf::stdvar_over_time(w, false)),
        "quantile_over_time" => RangeFn::Quantile,
        _ => return None,
    })
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |x: f64| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        },
        _ => return None,
    })
}

pub(super) fn call<S: SeriesSource + ?Sized>(
    ev: &mut Evaluator<'_, S>,
    call: &Call,
) -> Result<Val> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    if let Some(f) = range_fn(name) {
        return range_call(ev, name, f, &args);
    }
    if let Some(f) = math_fn(name) {
        let v = ev.eval_vector(arg(&args, 0, name)?, name)?;
        return Ok(Val::Vector(map_values(v, f)?));
    }
    match name {
        "time" => Ok(Val::Scalar(
            ev.steps.iter().map(|&t| t as f64 / 1e9).collect(),
        )),
        "vector" => {
            let s = ev.eval_scalar(arg(&args, 0, name)?, name)?;
            Ok(Val::Vector(vec![StepSeries {
                labels: Labels::default(),
                values: s.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(&args, 0, name)?, name)?;
            let n = ev.n_steps();
            let out = (0..n)
                .map(|i| {
                    let mut present = v.iter().filter_map(|s| s.values[i]);
                    match (present.next(), present.next()) {
                        (Some(x), None) => x,
                        _ => f64::NAN,
                    }
                })
                .collect();
            Ok(Val::Scalar(out))
        }
        "round" => {
            let v = ev.eval_vector(arg(&args, 0, name)?, name)?;
            let to = match args.get(1) {
                Some(e) => ev.eval_scalar(e, name)?,
                None => vec![1.0; ev.n_steps()],
            };
            Ok(Val::Vector(map_values_at(v, |i, x| {
                let inv = 1.0 / to[i];
                (x * inv + 0.5).floor() / inv
            })?))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = ev.eval_vector(arg(&args, 0, name)?, name)?;
            let a = ev.eval_scalar(arg(&args, 1, name)?, name)?;
            let b = if name == "clamp" {
                Some(ev.eval_scalar(arg(&args, 2, name)?, name)?)
            } else {
                None
            };
            if let Some(b) = &b {
                // clamp(v, min, max) with min > max is an empty vector.
                let v: Vec<StepSeries> = v
                    .into_iter()
                    .map(|mut s| {
                        for (i, x) in s.values.iter_mut().enumerate() {
                            if a[i] > b[i] {
                                *x = None;
                            }
                        }
                        s
                    })
                    .collect();
                return Ok(Val::Vector(map_values_at(v, |i, x| x.max(a[i]).min(b[i]))?));
            }
            let f = |i: usize, x: f64| {
                if name == "clamp_min" {
                    x.max(a[i])
                } else {
                    x.min(a[i])
                }
            };
            Ok(Val::Vector(map_values_at(v, f)?))
        }
        other => Err(PromError::unsupported(format!("function \"{other}\""))),
    }
}

fn arg<'e>(args: &[&'e Expr], i: usize, name: &str) -> Result<&'e Expr> {
    args.get(i)
        .copied()
        .ok_or_else(|| PromError::BadData(format!("missing argument {} of {name}", i + 1)))
}

/// Applies `f` to every value; the metric name is dropped, as Prometheus does for
/// every function that changes values.
fn map_values(v: Vec<StepSeries>, f: impl Fn(f64) -> f64) -> Result<Vec<StepSeries>> {
    map_values_at(v, |_, x| f(x))
}

fn map_values_at(v: Vec<StepSeries>, f: impl Fn(usize, f64) -> f64) -> Result<Vec<StepSeries>> {
    let out = v
        .into_iter()
        .map(|s| StepSeries {
            labels: s.labels.without_name(),
            values: s
                .values
                .into_iter()
                .enumerate()
                .map(|(i, x)| x.map(|x| f(i, x)))
                .collect(),
        })
        .collect();
    merge_same_labels(out)
}

fn range_call<S: SeriesSource + ?Sized>(
    ev: &mut Evaluator<'_, S>,
    name: &str,
    f: RangeFn,
    args: &[&Expr],
) -> Result<Val> {
    let (param, matrix) = match f {
        RangeFn::Quantile => (
            Some(ev.eval_scalar(arg(args, 0, name)?, name)?),
            arg(args, 1, name)?,
        ),
        _ => (None, arg(args, 0, name)?),
    };
    let ms = match unparen(matrix) {
        Expr::MatrixSelector(ms) => ms,
        Expr::Subquery(_) => return Err(PromError::unsupported("subquery")),
        _ => {
            return Err(PromError::BadData(format!(
                "expected a range vector as the argument of {name}"
            )))
        }
    };
    let windows = ev.matrix_selector(ms)?;
    // last_over_time (like Prometheus) keeps the metric name; the others drop it.
    let keep_name = name == "last_over_time";
    let n = ev.n_steps();
    let mut out = Vec::with_capacity(windows.series.len());
    for si in 0..windows.series.len() {
        let mut any = false;
        let values: Vec<Option<f64>> = (0..n)
            .map(|step| {
                let w = windows.window(si, step);
                let v = match &f {
                    RangeFn::Plain(g) => g(w),
                    RangeFn::Rate {
                        is_counter,
                        is_rate,
                    } => rf::extrapolated_rate(w, windows.range_ns, *is_counter, *is_rate),
                    RangeFn::Instant { is_rate } => rf::instant_value(w, *is_rate),
                    RangeFn::Quantile => {
                        let q = param.as_ref().map_or(f64::NAN, |p| p[step]);
                        rf::quantile_over_time(q, w)
                    }
                };
                any |= v.is_some();
                v
            })
            .collect();
        if any {
            let labels = &windows.series[si].labels;
            out.push(StepSeries {
                labels: if keep_name {
                    labels.clone()
                } else {
                    labels.without_name()
                },
                values,
            });
        }
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}
