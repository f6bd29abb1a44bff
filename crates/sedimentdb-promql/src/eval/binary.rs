//! Binary operators: arithmetic and comparisons between scalars, between a vector and a
//! scalar, and between vectors with one-to-one matching (`on` / `ignoring`); the set
//! operators `and`, `or`, `unless`. `group_left` / `group_right` are unsupported.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::{merge_same_labels, Evaluator, StepSeries, Val};
use crate::error::{PromError, Result};
use crate::labels::{Labels, METRIC_NAME};
use crate::source::SeriesSource;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Result<Op> {
        Ok(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => return Err(PromError::unsupported(format!("operator \"{other}\""))),
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Prometheus' `vectorElemBinop` for floats: the value, and whether to keep it.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            Op::Mod => (l % r, true),
            Op::Pow => (l.powf(r), true),
            Op::Atan2 => (l.atan2(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            Op::And | Op::Or | Op::Unless => unreachable!("set operators are not element-wise"),
        }
    }
}

pub(super) fn binary<S: SeriesSource + ?Sized>(
    ev: &mut Evaluator<'_, S>,
    bin: &BinaryExpr,
) -> Result<Val> {
    let op = Op::parse(&bin.op.to_string())?;
    let return_bool = bin.return_bool();
    let lhs = ev.eval(&bin.lhs)?;
    let rhs = ev.eval(&bin.rhs)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            let out = l
                .iter()
                .zip(&r)
                .map(|(&a, &b)| {
                    let (v, keep) = op.apply(a, b);
                    if op.is_comparison() {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect();
            Ok(Val::Scalar(out))
        }
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(op, v, &s, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(op, v, &s, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) => {
            if op.is_set() {
                Ok(Val::Vector(set_op(
                    op,
                    l,
                    r,
                    bin.modifier.as_ref(),
                    ev.n_steps(),
                )))
            } else {
                vector_vector(op, l, r, bin.modifier.as_ref(), return_bool, ev.n_steps())
            }
        }
        _ => Err(PromError::BadData(
            "binary operators apply to scalars and instant vectors only".into(),
        )),
    }
}

fn drops_name(op: Op, return_bool: bool) -> bool {
    !op.is_comparison() || return_bool
}

fn vector_scalar(
    op: Op,
    v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Val> {
    if op.is_set() {
        return Err(PromError::BadData(format!(
            "set operator {op:?} not allowed between a vector and a scalar"
        )));
    }
    let out = v
        .into_iter()
        .map(|series| {
            let values = series
                .values
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let x = (*x)?;
                    let (l, r) = if swap { (s[i], x) } else { (x, s[i]) };
                    let (mut value, keep) = op.apply(l, r);
                    // The vector's value is kept, even on the right of a comparison.
                    if op.is_comparison() && swap {
                        value = r;
                    }
                    if return_bool {
                        return Some(if keep { 1.0 } else { 0.0 });
                    }
                    keep.then_some(value)
                })
                .collect();
            StepSeries {
                labels: if drops_name(op, return_bool) {
                    series.labels.without_name()
                } else {
                    series.labels
                },
                values,
            }
        })
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// The matching signature: `on` keeps the listed labels, `ignoring` (and no modifier)
/// drops them and `__name__`.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => labels.keep(&on.labels),
        Some(LabelModifier::Exclude(ign)) => {
            let mut names: Vec<&str> = ign.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            labels.without(&names)
        }
        None => labels.without_name(),
    }
}

fn vector_vector(
    op: Op,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
    n: usize,
) -> Result<Val> {
    if let Some(m) = modifier {
        if matches!(
            m.card,
            VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
        ) {
            return Err(PromError::unsupported("group_left/group_right"));
        }
    }
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let lsig: Vec<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let result_labels: Vec<Labels> = lhs
        .iter()
        .map(|s| {
            let l = if drops_name(op, return_bool) {
                s.labels.without_name()
            } else {
                s.labels.clone()
            };
            match matching {
                Some(LabelModifier::Include(on)) => l.keep(&on.labels),
                Some(LabelModifier::Exclude(ign)) => l.without(&ign.labels),
                None => l,
            }
        })
        .collect();
    let mut out: Vec<StepSeries> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::new();
    for step in 0..n {
        let mut right: HashMap<&Labels, usize> = HashMap::new();
        for (j, s) in rhs.iter().enumerate() {
            if s.values[step].is_none() {
                continue;
            }
            if let Some(&other) = right.get(&rsig[j]) {
                return Err(PromError::Execution(format!(
                    "found duplicate series for the match group {} on the right hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    rsig[j], rhs[other].labels, s.labels
                )));
            }
            right.insert(&rsig[j], j);
        }
        let mut matched: HashSet<&Labels> = HashSet::new();
        for (i, s) in lhs.iter().enumerate() {
            let Some(l) = s.values[step] else { continue };
            let Some(&j) = right.get(&lsig[i]) else {
                continue;
            };
            if !matched.insert(&lsig[i]) {
                return Err(PromError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            let r = rhs[j].values[step].expect("present");
            let (value, keep) = op.apply(l, r);
            let value = if return_bool {
                Some(if keep { 1.0 } else { 0.0 })
            } else {
                keep.then_some(value)
            };
            let Some(value) = value else { continue };
            let idx = *out_index
                .entry(result_labels[i].clone())
                .or_insert_with(|| {
                    out.push(StepSeries {
                        labels: result_labels[i].clone(),
                        values: vec![None; n],
                    });
                    out.len() - 1
                });
            if out[idx].values[step].is_some() {
                return Err(PromError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            out[idx].values[step] = Some(value);
        }
    }
    Ok(Val::Vector(out))
}

fn set_op(
    op: Op,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    modifier: Option<&BinModifier>,
    n: usize,
) -> Vec<StepSeries> {
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let lsig: Vec<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let sigs_at = |series: &[StepSeries], sigs: &[Labels], step: usize| -> HashSet<Labels> {
        series
            .iter()
            .zip(sigs)
            .filter(|(s, _)| s.values[step].is_some())
            .map(|(_, g)| g.clone())
            .collect()
    };
    let mut left = lhs;
    let mut right = rhs;
    for step in 0..n {
        match op {
            Op::And | Op::Unless => {
                let present = sigs_at(&right, &rsig, step);
                for (s, g) in left.iter_mut().zip(&lsig) {
                    let hit = present.contains(g);
                    if (op == Op::And) != hit {
                        s.values[step] = None;
                    }
                }
            }
            Op::Or => {
                let present = sigs_at(&left, &lsig, step);
                for (s, g) in right.iter_mut().zip(&rsig) {
                    if present.contains(g) {
                        s.values[step] = None;
                    }
                }
            }
            _ => unreachable!("only set operators"),
        }
    }
    if op == Op::Or {
        left.extend(right);
    }
    left.retain(|s| s.values.iter().any(Option::is_some));
    left
}
