//! Dimensional analysis: which dimension values differ from the whole
//! ([`breakdown`]), and which moved with a spike of the aggregate ([`attribution`]).
//!
//! Groups are labelled by the caller, typically `dimension=value`
//! (`"command=user-prefs"`); the query engine computes the per-group aggregates.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Timestamp};

/// The sum and count of one group's finite values: enough for its mean, and mergeable
/// across segments.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupAgg {
    /// Sum of the values.
    pub sum: f64,
    /// Number of values.
    pub count: u64,
}

impl GroupAgg {
    /// The aggregate of the finite values of `values`.
    pub fn of(values: &[f64]) -> Self {
        values
            .iter()
            .filter(|v| v.is_finite())
            .fold(GroupAgg::default(), |acc, &v| GroupAgg {
                sum: acc.sum + v,
                count: acc.count + 1,
            })
    }

    /// The mean; `None` when the count is 0 or the sum is not finite.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0 && self.sum.is_finite()).then(|| self.sum / self.count as f64)
    }
}

/// How one group compares with the whole, from [`breakdown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The group's label, e.g. `"command=user-prefs"`.
    pub label: String,
    /// The group's mean.
    pub value: f64,
    /// The mean over all groups together (total sum / total count).
    pub overall: f64,
    /// `value / overall`; `None` when `overall` is 0.
    pub ratio: Option<f64>,
    /// Number of values in the group.
    pub count: u64,
    /// The group's sum as a fraction of the total sum (0 when the total is 0). For an
    /// error count, the share of all errors.
    pub share_of_total: f64,
    /// Symmetric relative difference `(value - overall) / ((|value| + |overall|) / 2)`,
    /// in `[-2, 2]`; 0 when both are 0. For positive values it is `2·tanh(ln(ratio) / 2)`,
    /// so it orders groups exactly as `|ln ratio|` does, while staying finite for a group
    /// at 0. Values of opposite sign saturate at ±2.
    pub effect: f64,
    /// The ranking score: `effect · count / (count + `[`PRIOR_COUNT`]`)`, shrinking small
    /// groups towards 0 (a group of 10 values gets half its effect, of 90 values 90 %).
    pub score: f64,
}

/// Pseudo-count that shrinks the scores of small groups in [`breakdown`].
///
/// Weighting by `count / (count + 10)` rather than by `√count`: a `√count` weight makes a
/// z-statistic, which ranks a 2 % difference in a group of a million above a 5x
/// difference in a group of a hundred — significant is not the same as different.
pub const PRIOR_COUNT: f64 = 10.0;

/// Compares each group's mean with the overall mean and ranks the groups by how much
/// they differ, largest `|score|` first (see [`Contribution`] for the measures; equal
/// scores keep the input order).
///
/// Groups with a count of 0 or a non-finite sum are left out, and do not count towards
/// the overall mean. An empty input gives an empty result. `O(g log g)`.
///
/// ```
/// use sedimentdb::analytics::dimensional::{breakdown, GroupAgg};
/// let groups = vec![
///     ("command=get".to_string(), GroupAgg { sum: 50.0, count: 1000 }),
///     ("command=user-prefs".to_string(), GroupAgg { sum: 30.0, count: 120 }),
///     ("command=put".to_string(), GroupAgg { sum: 52.0, count: 1000 }),
/// ];
/// let ranked = breakdown(groups);
/// assert_eq!(ranked[0].label, "command=user-prefs");
/// assert!(ranked[0].ratio.unwrap() > 4.0);
/// println!("{}", ranked[0].describe("error_rate"));
/// // error_rate is 4.0x higher for command=user-prefs (0.25 vs 0.06226 overall, 120 points)
/// ```
pub fn breakdown(groups: Vec<(String, GroupAgg)>) -> Vec<Contribution> {
    let groups: Vec<(String, GroupAgg)> = groups
        .into_iter()
        .filter(|(_, g)| g.mean().is_some())
        .collect();
    let total_sum: f64 = groups.iter().map(|(_, g)| g.sum).sum();
    let total_count: u64 = groups.iter().map(|(_, g)| g.count).sum();
    if total_count == 0 {
        return Vec::new();
    }
    let overall = if total_sum.is_finite() {
        total_sum / total_count as f64
    } else {
        // The sums overflowed; the count-weighted mean of the means cannot.
        groups
            .iter()
            .filter_map(|(_, g)| Some(g.mean()? * (g.count as f64 / total_count as f64)))
            .sum()
    };
    let mut out: Vec<Contribution> = groups
        .into_iter()
        .filter_map(|(label, g)| {
            let value = g.mean()?;
            let ratio = (overall != 0.0).then(|| value / overall);
            let effect = relative_difference(value, overall);
            let count = g.count as f64;
            let share_of_total = if total_sum != 0.0 && total_sum.is_finite() {
                g.sum / total_sum
            } else {
                0.0
            };
            Some(Contribution {
                label,
                value,
                overall,
                ratio,
                count: g.count,
                share_of_total,
                effect,
                score: effect * (count / (count + PRIOR_COUNT)),
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    out
}

/// `(a - b) / ((|a| + |b|) / 2)`, 0 when both are 0.
fn relative_difference(a: f64, b: f64) -> f64 {
    // Halve before adding so that two values near f64::MAX do not overflow.
    let scale = a.abs() / 2.0 + b.abs() / 2.0;
    if scale > 0.0 {
        (a / scale - b / scale).clamp(-2.0, 2.0)
    } else {
        0.0
    }
}

/// A number for a sentence: up to 4 significant digits, no trailing zeros.
fn format_number(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs().log10().floor();
    if !(-4.0..6.0).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3.0 - magnitude).max(0.0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

impl Contribution {
    /// A plain-language sentence about this group, e.g.
    /// `"error_rate is 5.0x higher for command=user-prefs (0.25 vs 0.05 overall, 120 points)"`.
    ///
    /// ```
    /// use sedimentdb::analytics::dimensional::{breakdown, GroupAgg};
    /// let ranked = breakdown(vec![
    ///     ("command=user-prefs".into(), GroupAgg { sum: 0.25 * 120.0, count: 120 }),
    ///     ("command=get".into(), GroupAgg { sum: 0.0, count: 480 }),
    /// ]);
    /// let find = |label: &str| ranked.iter().find(|c| c.label == label).unwrap();
    /// assert_eq!(
    ///     find("command=user-prefs").describe("error_rate"),
    ///     "error_rate is 5.0x higher for command=user-prefs (0.25 vs 0.05 overall, 120 points)"
    /// );
    /// assert_eq!(
    ///     find("command=get").describe("error_rate"),
    ///     "error_rate is 0 for command=get (vs 0.05 overall, 480 points)"
    /// );
    /// ```
    pub fn describe(&self, metric: &str) -> String {
        let points = if self.count == 1 { "point" } else { "points" };
        let value = format_number(self.value);
        let overall = format_number(self.overall);
        let tail = format!("({value} vs {overall} overall, {} {points})", self.count);
        match self.ratio {
            Some(r) if r > 0.0 && r.is_finite() => {
                let times = if r >= 1.0 { r } else { 1.0 / r };
                let times_text = format!("{times:.1}");
                if times_text == "1.0" {
                    format!(
                        "{metric} is about the same for {} as overall {tail}",
                        self.label
                    )
                } else if r > 1.0 {
                    format!("{metric} is {times_text}x higher for {} {tail}", self.label)
                } else {
                    format!("{metric} is {times_text}x lower for {} {tail}", self.label)
                }
            }
            _ if self.value == 0.0 => format!(
                "{metric} is 0 for {} (vs {overall} overall, {} {points})",
                self.label, self.count
            ),
            _ => format!(
                "{metric} is {value} for {} vs {overall} overall ({} {points})",
                self.label, self.count
            ),
        }
    }
}

/// How much one group moved during a window, from [`attribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The group's label.
    pub label: String,
    /// Mean of the group's finite values outside the window (0 if it has none).
    pub baseline: f64,
    /// Mean of the group's finite values inside the window (0 if it has none).
    pub in_window: f64,
    /// `in_window - baseline`.
    pub delta: f64,
    /// `delta` as a fraction of the aggregate's own delta: for a sum over the groups, the
    /// shares add up to 1, and a group moving against the aggregate has a negative share.
    /// 0 for every group when the aggregate did not move (or has no points on one side).
    pub share_of_delta: f64,
}

/// Means of the finite values outside and inside the half-open `window` `[start, end)`:
/// `(baseline, in_window)`, each `None` without points. Slices are zipped.
///
/// ```
/// use sedimentdb::analytics::dimensional::window_means;
/// let (before, during) = window_means(&[1, 2, 3, 4], &[1.0, 9.0, 11.0, 3.0], (2, 4));
/// assert_eq!((before, during), (Some(2.0), Some(10.0)));
/// ```
pub fn window_means(
    ts: &[Timestamp],
    values: &[f64],
    window: (Timestamp, Timestamp),
) -> (Option<f64>, Option<f64>) {
    let (mut outside, mut inside) = (GroupAgg::default(), GroupAgg::default());
    for (&t, &v) in ts.iter().zip(values) {
        if !v.is_finite() {
            continue;
        }
        let side = if t >= window.0 && t < window.1 {
            &mut inside
        } else {
            &mut outside
        };
        side.sum += v;
        side.count += 1;
    }
    (outside.mean(), inside.mean())
}

/// Explains a change of an aggregate during `window` (half-open, `[start, end)`) by the
/// groups it is made of: for each group, the mean inside the window against the mean
/// outside it (the baseline), and that delta's share of the aggregate's delta. Ranked by
/// `share_of_delta` descending — the groups that moved with the aggregate first — then by
/// `|delta|`; ties keep the input order.
///
/// A group with no finite point on one side counts as 0 there, as a count or a sum
/// does: a group that appears only during the window contributes its whole level. Groups
/// with no finite point at all are left out. The shares add up to 1 when the aggregate
/// is the sum of the groups over the same buckets. `O(total points + g log g)`.
///
/// Errors when `start >= end` or a timestamp slice and its value slice differ in length.
///
/// ```
/// use sedimentdb::analytics::dimensional::attribution;
/// let ts: Vec<i64> = (0..10).collect();
/// let api = vec![5.0; 10];
/// let batch: Vec<f64> = (0..10).map(|t| if (6..8).contains(&t) { 25.0 } else { 5.0 }).collect();
/// let total: Vec<f64> = api.iter().zip(&batch).map(|(a, b)| a + b).collect();
/// let ranked = attribution(
///     (6, 8),
///     (&ts, &total),
///     vec![("job=api".into(), ts.clone(), api), ("job=batch".into(), ts.clone(), batch)],
/// )
/// .unwrap();
/// assert_eq!(ranked[0].label, "job=batch");
/// assert_eq!(ranked[0].share_of_delta, 1.0);
/// assert_eq!(ranked[1].delta, 0.0);
/// ```
pub fn attribution(
    window: (Timestamp, Timestamp),
    overall: (&[Timestamp], &[f64]),
    groups: Vec<(String, Vec<Timestamp>, Vec<f64>)>,
) -> Result<Vec<Attribution>> {
    if window.0 >= window.1 {
        return Err(Error::invalid(format!(
            "attribution window [{}, {}) is empty",
            window.0, window.1
        )));
    }
    if overall.0.len() != overall.1.len() {
        return Err(Error::invalid(format!(
            "aggregate has {} timestamps but {} values",
            overall.0.len(),
            overall.1.len()
        )));
    }
    if let Some((label, ts, vs)) = groups.iter().find(|(_, ts, vs)| ts.len() != vs.len()) {
        return Err(Error::invalid(format!(
            "group {label:?} has {} timestamps but {} values",
            ts.len(),
            vs.len()
        )));
    }
    let overall_delta = match window_means(overall.0, overall.1, window) {
        (Some(before), Some(during)) => during - before,
        _ => 0.0,
    };
    let mut out: Vec<Attribution> = groups
        .into_iter()
        .filter_map(|(label, ts, vs)| {
            let (before, during) = window_means(&ts, &vs, window);
            if before.is_none() && during.is_none() {
                return None;
            }
            let baseline = before.unwrap_or(0.0);
            let in_window = during.unwrap_or(0.0);
            let delta = in_window - baseline;
            let share = if overall_delta != 0.0 && overall_delta.is_finite() {
                delta / overall_delta
            } else {
                0.0
            };
            Some(Attribution {
                label,
                baseline,
                in_window,
                delta,
                share_of_delta: if share.is_finite() { share } else { 0.0 },
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.share_of_delta
            .total_cmp(&a.share_of_delta)
            .then(b.delta.abs().total_cmp(&a.delta.abs()))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::testutil::{close, Rng};
    use proptest::prelude::*;

    fn naive_breakdown(groups: &[(String, GroupAgg)]) -> Vec<Contribution> {
        let valid: Vec<&(String, GroupAgg)> = groups
            .iter()
            .filter(|(_, g)| g.count > 0 && g.sum.is_finite())
            .collect();
        let total: f64 = valid.iter().map(|(_, g)| g.sum).sum();
        let count: u64 = valid.iter().map(|(_, g)| g.count).sum();
        if count == 0 {
            return Vec::new();
        }
        let overall = total / count as f64;
        let mut out: Vec<Contribution> = valid
            .iter()
            .map(|(label, g)| {
                let value = g.sum / g.count as f64;
                let denom = (value.abs() + overall.abs()) / 2.0;
                let effect = if denom == 0.0 {
                    0.0
                } else {
                    (value - overall) / denom
                };
                Contribution {
                    label: label.clone(),
                    value,
                    overall,
                    ratio: if overall == 0.0 {
                        None
                    } else {
                        Some(value / overall)
                    },
                    count: g.count,
                    share_of_total: if total == 0.0 { 0.0 } else { g.sum / total },
                    effect,
                    score: effect * g.count as f64 / (g.count as f64 + 10.0),
                }
            })
            .collect();
        // Insertion sort: stable, by |score| descending.
        for i in 1..out.len() {
            let mut j = i;
            while j > 0 && out[j - 1].score.abs() < out[j].score.abs() {
                out.swap(j - 1, j);
                j -= 1;
            }
        }
        out
    }

    fn group_strategy() -> impl Strategy<Value = Vec<(String, GroupAgg)>> {
        prop::collection::vec(
            (
                prop_oneof![8 => -50.0..100.0f64, 1 => Just(0.0), 1 => Just(f64::NAN)],
                0u64..200,
            ),
            0..12,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (sum, count))| (format!("g={i}"), GroupAgg { sum, count }))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn breakdown_matches_naive(groups in group_strategy()) {
            let got = breakdown(groups.clone());
            let want = naive_breakdown(&groups);
            prop_assert_eq!(got.len(), want.len());
            // Ranked by |score|; exact ties keep the input order (labels are g=<index>).
            let index = |c: &Contribution| c.label[2..].parse::<usize>().unwrap();
            for pair in got.windows(2) {
                prop_assert!(pair[0].score.abs() >= pair[1].score.abs());
                if pair[0].score.abs() == pair[1].score.abs() {
                    prop_assert!(index(&pair[0]) < index(&pair[1]));
                }
            }
            // Scores that tie up to rounding may be ordered either way: match by label.
            for g in &got {
                let w = want.iter().find(|w| w.label == g.label).unwrap();
                prop_assert!(close(g.value, w.value, 1e-12));
                prop_assert!(close(g.effect, w.effect, 1e-9), "{g:?} vs {w:?}");
                prop_assert!(close(g.score, w.score, 1e-9));
                prop_assert!(close(g.share_of_total, w.share_of_total, 1e-12));
                prop_assert_eq!(g.ratio.is_some(), w.ratio.is_some());
                prop_assert!((-2.0..=2.0).contains(&g.effect));
                let _ = g.describe("m");
            }
        }

        #[test]
        fn attribution_matches_naive_and_shares_add_up(
            cells in prop::collection::vec(prop::collection::vec(0.0..100.0f64, 4), 1..30),
            start in 0i64..30,
            len in 1i64..10,
        ) {
            // cells[t][g]: value of group g at time t; the aggregate is their sum.
            let ts: Vec<i64> = (0..cells.len() as i64).collect();
            let total: Vec<f64> = cells.iter().map(|row| row.iter().sum()).collect();
            let groups: Vec<(String, Vec<i64>, Vec<f64>)> = (0..4)
                .map(|g| (format!("g={g}"), ts.clone(), cells.iter().map(|row| row[g]).collect()))
                .collect();
            let window = (start, start + len);
            let got = attribution(window, (&ts, &total), groups.clone()).unwrap();
            prop_assert_eq!(got.len(), 4);
            let inside = |t: i64| t >= window.0 && t < window.1;
            let mean = |vals: Vec<f64>| if vals.is_empty() { None } else { Some(vals.iter().sum::<f64>() / vals.len() as f64) };
            let side = |vs: &[f64], want_inside: bool| mean(ts.iter().zip(vs).filter(|(t, _)| inside(**t) == want_inside).map(|(_, v)| *v).collect());
            let overall_delta = match (side(&total, false), side(&total, true)) {
                (Some(b), Some(d)) => d - b,
                _ => 0.0,
            };
            for a in &got {
                let (_, _, vs) = groups.iter().find(|g| g.0 == a.label).unwrap();
                let baseline = side(vs, false).unwrap_or(0.0);
                let in_window = side(vs, true).unwrap_or(0.0);
                prop_assert!(close(a.baseline, baseline, 1e-9));
                prop_assert!(close(a.in_window, in_window, 1e-9));
                prop_assert!(close(a.delta, in_window - baseline, 1e-9));
            }
            for w in got.windows(2) {
                prop_assert!(w[0].share_of_delta >= w[1].share_of_delta);
            }
            if overall_delta.abs() > 1e-6 && side(&total, false).is_some() {
                let sum: f64 = got.iter().map(|a| a.share_of_delta).sum();
                prop_assert!((sum - 1.0).abs() < 1e-6, "shares add up to {sum}");
            }
        }
    }

    #[test]
    fn breakdown_ranks_the_injected_5x_group_first() {
        let mut rng = Rng::new(9);
        let mut groups: Vec<(String, GroupAgg)> = (0..8)
            .map(|i| {
                let count = 900 + (rng.uniform() * 200.0) as u64;
                let rate = 0.05 * (1.0 + 0.1 * rng.normal());
                (
                    format!("command=c{i}"),
                    GroupAgg {
                        sum: rate * count as f64,
                        count,
                    },
                )
            })
            .collect();
        groups.insert(
            3,
            (
                "command=user-prefs".into(),
                GroupAgg {
                    sum: 0.25 * 120.0,
                    count: 120,
                },
            ),
        );
        // A tiny group with an even larger ratio must not win.
        groups.push(("command=rare".into(), GroupAgg { sum: 1.0, count: 2 }));
        let ranked = breakdown(groups);
        assert_eq!(ranked[0].label, "command=user-prefs");
        assert!(ranked[0].ratio.unwrap() > 4.0);
        assert!(ranked[0]
            .describe("error_rate")
            .starts_with("error_rate is "));
        assert!(ranked[0]
            .describe("error_rate")
            .contains("x higher for command=user-prefs (0.25 vs 0.05"));
        assert_eq!(ranked.len(), 10);
    }

    #[test]
    fn breakdown_edge_cases() {
        assert_eq!(
            GroupAgg::of(&[1.0, f64::NAN, 3.0, f64::INFINITY]),
            GroupAgg { sum: 4.0, count: 2 }
        );
        assert_eq!(GroupAgg::of(&[]).mean(), None);
        assert!(breakdown(vec![]).is_empty());
        assert!(breakdown(vec![("a".into(), GroupAgg { sum: 1.0, count: 0 })]).is_empty());
        let one = breakdown(vec![("a".into(), GroupAgg { sum: 6.0, count: 3 })]);
        assert_eq!(one[0].ratio, Some(1.0));
        assert_eq!(one[0].effect, 0.0);
        assert_eq!(one[0].share_of_total, 1.0);
        assert_eq!(
            one[0].describe("m"),
            "m is about the same for a as overall (2 vs 2 overall, 3 points)"
        );
        // NaN sums are skipped, zero overall has no ratio.
        let z = breakdown(vec![
            (
                "a".into(),
                GroupAgg {
                    sum: f64::NAN,
                    count: 3,
                },
            ),
            ("b".into(), GroupAgg { sum: 0.0, count: 3 }),
            ("c".into(), GroupAgg { sum: 0.0, count: 1 }),
        ]);
        assert_eq!(z.len(), 2);
        assert_eq!(z[0].ratio, None);
        assert_eq!(z[0].effect, 0.0);
        assert_eq!(z[1].describe("m"), "m is 0 for c (vs 0 overall, 1 point)");
        // Negative values and opposite signs.
        let neg = breakdown(vec![
            (
                "a".into(),
                GroupAgg {
                    sum: -4.0,
                    count: 2,
                },
            ),
            (
                "b".into(),
                GroupAgg {
                    sum: 10.0,
                    count: 2,
                },
            ),
        ]);
        assert_eq!(neg[0].label, "a");
        assert_eq!(
            neg[0].describe("t"),
            "t is -2 for a vs 1.5 overall (2 points)"
        );
        let low = breakdown(vec![
            (
                "a".into(),
                GroupAgg {
                    sum: 1.0,
                    count: 100,
                },
            ),
            (
                "b".into(),
                GroupAgg {
                    sum: 19.0,
                    count: 100,
                },
            ),
        ]);
        assert_eq!(
            low[0].describe("x"),
            "x is 10.0x lower for a (0.01 vs 0.1 overall, 100 points)"
        );
        // Huge sums do not overflow into NaN scores.
        let big = breakdown(vec![
            (
                "a".into(),
                GroupAgg {
                    sum: f64::MAX,
                    count: 1,
                },
            ),
            (
                "b".into(),
                GroupAgg {
                    sum: f64::MAX,
                    count: 1,
                },
            ),
        ]);
        assert_eq!(big.len(), 2);
        assert!(big.iter().all(|c| c.score == 0.0 && c.overall == f64::MAX));
    }

    #[test]
    fn attribution_blames_the_spiking_group() {
        let mut rng = Rng::new(1);
        let ts: Vec<i64> = (0..100).map(|i| i * 60_000_000_000).collect();
        let window = (ts[60], ts[70]);
        let groups: Vec<(String, Vec<i64>, Vec<f64>)> = ["a", "b", "spiky", "c"]
            .iter()
            .map(|&name| {
                let vs: Vec<f64> = ts
                    .iter()
                    .map(|&t| {
                        let spike = name == "spiky" && t >= window.0 && t < window.1;
                        10.0 + rng.normal() + if spike { 40.0 } else { 0.0 }
                    })
                    .collect();
                (format!("host={name}"), ts.clone(), vs)
            })
            .collect();
        let total: Vec<f64> = (0..100)
            .map(|i| groups.iter().map(|g| g.2[i]).sum())
            .collect();
        let ranked = attribution(window, (&ts, &total), groups).unwrap();
        assert_eq!(ranked[0].label, "host=spiky");
        assert!(ranked[0].share_of_delta > 0.9, "{ranked:?}");
        assert!((ranked[0].delta - 40.0).abs() < 2.0);
        assert!(ranked[1..].iter().all(|a| a.share_of_delta.abs() < 0.1));
    }

    #[test]
    fn attribution_edge_cases() {
        let ts = [1, 2, 3];
        let vs = [1.0, 2.0, 3.0];
        assert!(attribution((2, 2), (&ts, &vs), vec![]).is_err());
        assert!(attribution((3, 1), (&ts, &vs), vec![]).is_err());
        assert!(attribution((1, 2), (&ts, &vs[..2]), vec![]).is_err());
        assert!(attribution((1, 2), (&ts, &vs), vec![("g".into(), vec![1], vec![])]).is_err());
        assert!(attribution((1, 2), (&ts, &vs), vec![]).unwrap().is_empty());
        // A group that only exists inside the window, one with only NaN, and an aggregate
        // without points outside the window (shares are 0).
        let got = attribution(
            (1, 2),
            (&[1], &[5.0]),
            vec![
                ("new".into(), vec![1], vec![5.0]),
                ("gone".into(), vec![1, 2], vec![f64::NAN, f64::NAN]),
                ("old".into(), vec![3], vec![2.0]),
            ],
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].label, "new");
        assert_eq!(
            (got[0].baseline, got[0].in_window, got[0].delta),
            (0.0, 5.0, 5.0)
        );
        assert_eq!(got[0].share_of_delta, 0.0);
        assert_eq!(got[1].delta, -2.0);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(120.0), "120");
        assert_eq!(format_number(1234.5678), "1235");
        assert_eq!(format_number(-2.5), "-2.5");
        assert_eq!(format_number(1.0 / 3.0), "0.3333");
        assert_eq!(format_number(12_345_678.0), "1.235e7");
        assert_eq!(format_number(0.00001234), "1.234e-5");
        assert_eq!(format_number(f64::NAN), "NaN");
    }

    #[test]
    fn serde_round_trip() {
        let c = breakdown(vec![("a".into(), GroupAgg { sum: 1.0, count: 1 })]);
        let bytes = bincode::serialize(&c).unwrap();
        assert_eq!(
            bincode::deserialize::<Vec<Contribution>>(&bytes).unwrap(),
            c
        );
        let a = Attribution {
            label: "x".into(),
            baseline: 1.0,
            in_window: 2.0,
            delta: 1.0,
            share_of_delta: 0.5,
        };
        let bytes = bincode::serialize(&a).unwrap();
        assert_eq!(bincode::deserialize::<Attribution>(&bytes).unwrap(), a);
    }
}
