//! Rules evaluated once over the points stored in a database (the `sediment alert`
//! command, cron jobs, CI), instead of incrementally over the real-time aggregator's
//! windows: the same conditions ([`AlertRule`]'s threshold, trend, anomaly and
//! correlation kinds), read with [`Db::select`] from one snapshot, with no state kept
//! between evaluations.
//!
//! A rule's `for` duration is honoured by evaluating its condition at `now - for` as
//! well as at `now` (each over its own window): the alert fires only if it held at both
//! instants. Groups with too little data to decide are reported as not firing.

use std::collections::BTreeMap;

use sedimentdb::{Db, TimeRange, Timestamp};

use super::rules::{AlertRule, RuleKind};
use super::{Alert, AlertState};
use crate::error::CollectorError;
use crate::validate::duration_ns;

/// One (rule, group) as evaluated by [`evaluate_stored`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Evaluation {
    /// The rule's name.
    pub rule: String,
    /// The group's labels (the rule's `group_by` dimensions).
    pub labels: BTreeMap<String, String>,
    /// The condition held (at `now`, and at `now - for` when the rule has a `for`).
    pub firing: bool,
    /// The observed figure at `now` (aggregate, slope, value, correlation); NaN when
    /// there was too little data to decide.
    pub value: f64,
    /// What was observed, in words.
    pub message: String,
}

impl Evaluation {
    /// The notification a firing evaluation makes (`since` is `now - for`).
    pub fn to_alert(&self, rule: &AlertRule, now: Timestamp) -> Alert {
        Alert {
            rule: self.rule.clone(),
            severity: rule.severity,
            state: AlertState::Firing,
            labels: self.labels.clone(),
            value: self.value,
            message: if rule.description.is_empty() {
                self.message.clone()
            } else {
                format!("{}: {}", rule.description, self.message)
            },
            since: now.saturating_sub(duration_ns(rule.for_duration)),
            at: now,
        }
    }
}

/// Group -> time-ordered points of one metric in `[now - window, now]`.
type Groups = BTreeMap<BTreeMap<String, String>, Vec<(Timestamp, f64)>>;

fn read(db: &Db, rule: &AlertRule, metric: &str, now: Timestamp) -> Result<Groups, CollectorError> {
    let start = now.saturating_sub(duration_ns(rule.window));
    let range = TimeRange::new(start, now.saturating_add(1));
    let mut out = Groups::new();
    for series in db.select(&rule.selector(metric), range)? {
        let series = series?;
        let labels: BTreeMap<String, String> = rule
            .group_by
            .iter()
            .filter_map(|k| series.key.dimension(k).map(|v| (k.clone(), v.to_string())))
            .collect();
        out.entry(labels).or_default().extend(series.iter());
    }
    for pts in out.values_mut() {
        pts.sort_by_key(|p| p.0);
    }
    Ok(out)
}

/// `(holds, observed value, text)`, or `None` when there is too little data to say.
type Verdict = Option<(bool, f64, String)>;

/// Each group's verdict at `now`: `(holds, value, message)`, `None` if undecided.
fn verdicts(
    db: &Db,
    rule: &AlertRule,
    now: Timestamp,
) -> Result<BTreeMap<BTreeMap<String, String>, Verdict>, CollectorError> {
    let groups = read(db, rule, &rule.metric, now)?;
    let other: Vec<(Timestamp, f64)> = match &rule.kind {
        RuleKind::Correlation { other, .. } => {
            let mut pts: Vec<_> = read(db, rule, other, now)?
                .into_values()
                .flatten()
                .collect();
            pts.sort_by_key(|p| p.0);
            pts
        }
        _ => Vec::new(),
    };
    Ok(groups
        .into_iter()
        .map(|(labels, points)| {
            let v = rule.condition(&points, &other);
            (labels, v)
        })
        .collect())
}

/// Evaluates `rules` over the points stored in `db` as of `now`, one evaluation per
/// rule and group that has points in the rule's window, in rule order then label
/// order. Rules are checked first ([`AlertRule::check`]).
///
/// ```
/// use std::time::Duration;
/// use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
/// use sedimentdb_collector::alert::{evaluate_stored, AlertRule, Op, WindowAggregate};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// let mut batch = WriteBatch::new();
/// for (i, rate) in [0.01, 0.02, 0.09, 0.12].iter().enumerate() {
///     batch.push_key(&SeriesKey::new("error_rate").with("service", "api"), i as i64 * 60_000_000_000, *rate);
/// }
/// db.write(&batch)?;
/// let rule = AlertRule::threshold("errors", "error_rate", WindowAggregate::Avg, Op::Gt, 0.05,
///     Duration::from_secs(120)).group_by(["service"]);
/// let found = evaluate_stored(&db, &[rule], 180_000_000_000)?;
/// assert!(found[0].firing);                       // avg of 0.02, 0.09, 0.12
/// assert_eq!(found[0].labels["service"], "api");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate_stored(
    db: &Db,
    rules: &[AlertRule],
    now: Timestamp,
) -> Result<Vec<Evaluation>, CollectorError> {
    let mut out = Vec::new();
    for rule in rules {
        rule.check()?;
        let at_now = verdicts(db, rule, now)?;
        let earlier = if rule.for_duration.is_zero() {
            None
        } else {
            Some(verdicts(
                db,
                rule,
                now.saturating_sub(duration_ns(rule.for_duration)),
            )?)
        };
        for (labels, verdict) in at_now {
            let held_before = earlier
                .as_ref()
                .is_none_or(|e| matches!(e.get(&labels), Some(Some((true, _, _)))));
            let (firing, value, message) = match verdict {
                Some((holds, value, message)) => (holds && held_before, value, message),
                None => (false, f64::NAN, "too little data in the window".to_string()),
            };
            out.push(Evaluation {
                rule: rule.name.clone(),
                labels,
                firing,
                value,
                message,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Op, WindowAggregate};
    use sedimentdb::{Options, SeriesKey, WriteBatch};
    use std::time::Duration;

    const M: i64 = 60_000_000_000;

    #[test]
    fn for_needs_the_condition_at_both_instants_and_groups_split() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut batch = WriteBatch::new();
        // api is high only in the last 5 minutes; web high for the last 15.
        for i in 0..20i64 {
            let api = if i >= 15 { 0.2 } else { 0.0 };
            let web = if i >= 5 { 0.2 } else { 0.0 };
            batch.push_key(&SeriesKey::new("err").with("svc", "api"), i * M, api);
            batch.push_key(&SeriesKey::new("err").with("svc", "web"), i * M, web);
        }
        db.write(&batch).unwrap();
        let rule = AlertRule::threshold(
            "e",
            "err",
            WindowAggregate::Min,
            Op::Gt,
            0.1,
            Duration::from_secs(240),
        )
        .group_by(["svc"]);
        let now = 19 * M;
        let plain = evaluate_stored(&db, std::slice::from_ref(&rule), now).unwrap();
        assert_eq!(plain.len(), 2);
        assert!(plain.iter().all(|e| e.firing), "{plain:?}");
        let held = rule.clone().for_duration(Duration::from_secs(600));
        let with_for = evaluate_stored(&db, &[held], now).unwrap();
        assert_eq!(with_for[0].labels["svc"], "api");
        assert!(!with_for[0].firing, "api was low 10 minutes ago");
        assert!(with_for[1].firing, "web was high 10 minutes ago too");
        // Nothing in the window: no evaluation at all.
        assert!(evaluate_stored(&db, &[rule], 100 * M).unwrap().is_empty());
    }
}
