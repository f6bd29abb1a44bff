//! Aggregation operators: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`,
//! `stdvar`, `quantile`, `topk`, `bottomk`, with `by` / `without`, computed per step as
//! Prometheus 3's `promql/engine.go` does (Kahan sums, Welford variance, the same heap
//! for `topk`/`bottomk` so that ties pick the same series).

use std::cmp::Ordering;
use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::range_fns::{kahan_inc, quantile};
use super::{Evaluator, StepSeries, Val};
use crate::error::{PromError, Result};
use crate::labels::{Labels, METRIC_NAME};
use crate::source::SeriesSource;

/// The labels of the group a series belongs to.
fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(by)) => labels.keep(&by.labels),
        Some(LabelModifier::Exclude(without)) => {
            let mut names: Vec<&str> = without.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            labels.without(&names)
        }
    }
}

pub(super) fn aggregate<S: SeriesSource + ?Sized>(
    ev: &mut Evaluator<'_, S>,
    agg: &AggregateExpr,
) -> Result<Val> {
    let op = agg.op.to_string();
    let param = match (&agg.param, op.as_str()) {
        (Some(p), "topk" | "bottomk" | "quantile") => Some(ev.eval_scalar(p, &op)?),
        (Some(_), other) => {
            return Err(PromError::unsupported(format!("aggregation \"{other}\"")));
        }
        (None, _) => None,
    };
    let input = ev.eval_vector(&agg.expr, &op)?;
    let n = ev.n_steps();
    // Groups in order of first appearance.
    let mut group_of: Vec<usize> = Vec::with_capacity(input.len());
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let g = group_labels(&s.labels, &agg.modifier);
        let gi = *index.entry(g.clone()).or_insert_with(|| {
            groups.push((g, Vec::new()));
            groups.len() - 1
        });
        groups[gi].1.push(i);
        group_of.push(gi);
    }
    let out = match op.as_str() {
        "topk" | "bottomk" => {
            let k = param.expect("topk has a parameter");
            select_k(&input, &groups, &k, op == "topk", n)?
        }
        "sum" | "avg" | "min" | "max" | "count" | "group" | "stddev" | "stdvar" | "quantile" => {
            let mut out = Vec::with_capacity(groups.len());
            for (labels, members) in &groups {
                let mut any = false;
                let values: Vec<Option<f64>> = (0..n)
                    .map(|step| {
                        let vals = members.iter().filter_map(|&m| input[m].values[step]);
                        let v = reduce(&op, vals, param.as_ref().map(|p| p[step]));
                        any |= v.is_some();
                        v
                    })
                    .collect();
                if any {
                    out.push(StepSeries {
                        labels: labels.clone(),
                        values,
                    });
                }
            }
            out
        }
        other => return Err(PromError::unsupported(format!("aggregation \"{other}\""))),
    };
    Ok(Val::Vector(out))
}

/// One group's value at one step; `None` when no member has a value.
fn reduce(op: &str, mut vals: impl Iterator<Item = f64>, param: Option<f64>) -> Option<f64> {
    let first = vals.next()?;
    Some(match op {
        "sum" => {
            let (mut s, mut c) = (first, 0.0);
            for v in vals {
                (s, c) = kahan_inc(v, s, c);
            }
            if s.is_infinite() {
                s
            } else {
                s + c
            }
        }
        "avg" => {
            let (mut s, mut c, mut count) = (first, 0.0, 1.0f64);
            let (mut mean, mut incremental) = (0.0f64, false);
            for v in vals {
                count += 1.0;
                if !incremental {
                    let (ns, nc) = kahan_inc(v, s, c);
                    if !ns.is_infinite() {
                        (s, c) = (ns, nc);
                        continue;
                    }
                    incremental = true;
                    mean = s / (count - 1.0);
                    c /= count - 1.0;
                }
                let q = (count - 1.0) / count;
                (mean, c) = kahan_inc(v / count, q * mean, q * c);
            }
            if incremental {
                mean + c
            } else {
                s / count + c / count
            }
        }
        "min" => vals.fold(first, |m, v| if m > v || m.is_nan() { v } else { m }),
        "max" => vals.fold(first, |m, v| if m < v || m.is_nan() { v } else { m }),
        "count" => 1.0 + vals.count() as f64,
        "group" => 1.0,
        "stddev" | "stdvar" => {
            let (mut count, mut mean, mut m2) = (1.0f64, first, 0.0f64);
            for v in vals {
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                m2 += delta * (v - mean);
            }
            let var = m2 / count;
            if op == "stddev" {
                var.sqrt()
            } else {
                var
            }
        }
        "quantile" => {
            let mut all: Vec<f64> = std::iter::once(first).chain(vals).collect();
            quantile(param.unwrap_or(f64::NAN), &mut all)?
        }
        _ => unreachable!("checked by the caller"),
    })
}

/// Go's `container/heap` over member indexes, ordered by `less`, as Prometheus' topk
/// and bottomk use it: the same pushes and the same sift-down, so ties resolve alike.
struct GoHeap<'v, F: Fn(f64, f64) -> bool> {
    items: Vec<(usize, f64)>,
    less: &'v F,
}

impl<F: Fn(f64, f64) -> bool> GoHeap<'_, F> {
    fn lt(&self, i: usize, j: usize) -> bool {
        (self.less)(self.items[i].1, self.items[j].1)
    }
    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }
    fn down(&mut self, i0: usize) -> bool {
        let n = self.items.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.lt(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.lt(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
        i > i0
    }
    fn push(&mut self, item: (usize, f64)) {
        self.items.push(item);
        let last = self.items.len() - 1;
        self.up(last);
    }
    fn fix_top(&mut self) {
        if !self.down(0) {
            self.up(0);
        }
    }
}

fn select_k(
    input: &[StepSeries],
    groups: &[(Labels, Vec<usize>)],
    k: &[f64],
    top: bool,
    n: usize,
) -> Result<Vec<StepSeries>> {
    // topk keeps the smallest on top (NaN smallest); bottomk the largest (NaN largest).
    let less_top = |a: f64, b: f64| a.is_nan() || a < b;
    let less_bottom = |a: f64, b: f64| a.is_nan() || a > b;
    let mut chosen: Vec<Vec<Option<f64>>> = vec![Vec::new(); input.len()];
    // For a single step, the order Prometheus prints: per group, best first.
    let mut order: Vec<usize> = Vec::new();
    for step in 0..n {
        let kf = k[step];
        if kf.is_nan() {
            return Err(PromError::BadData(format!(
                "Parameter value is NaN for {}",
                if top { "topk" } else { "bottomk" }
            )));
        }
        if kf < 1.0 {
            continue;
        }
        let k = if kf >= input.len() as f64 {
            input.len()
        } else {
            kf as usize
        };
        for (_, members) in groups {
            let picked = if top {
                pick(input, members, step, k, &less_top, |h, v| {
                    h < v || (h.is_nan() && !v.is_nan())
                })
            } else {
                pick(input, members, step, k, &less_bottom, |h, v| {
                    h > v || (h.is_nan() && !v.is_nan())
                })
            };
            let mut picked = picked;
            // Best first; ties in input (label) order.
            picked.sort_by(|a, b| {
                let ord = cmp_nan_low(a.1, b.1);
                let ord = if top { ord.reverse() } else { ord };
                ord.then(a.0.cmp(&b.0))
            });
            for (m, v) in picked {
                if chosen[m].is_empty() {
                    chosen[m] = vec![None; n];
                    order.push(m);
                }
                chosen[m][step] = Some(v);
            }
        }
    }
    Ok(order
        .into_iter()
        .map(|m| StepSeries {
            labels: input[m].labels.clone(),
            values: std::mem::take(&mut chosen[m]),
        })
        .collect())
}

fn cmp_nan_low(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).expect("not NaN"),
    }
}

fn pick<F: Fn(f64, f64) -> bool>(
    input: &[StepSeries],
    members: &[usize],
    step: usize,
    k: usize,
    less: &F,
    replaces: impl Fn(f64, f64) -> bool,
) -> Vec<(usize, f64)> {
    let mut heap = GoHeap {
        items: Vec::with_capacity(k),
        less,
    };
    for &m in members {
        let Some(v) = input[m].values[step] else {
            continue;
        };
        if heap.items.len() < k {
            heap.push((m, v));
        } else if replaces(heap.items[0].1, v) {
            heap.items[0] = (m, v);
            if k > 1 {
                heap.fix_top();
            }
        }
    }
    heap.items
}
