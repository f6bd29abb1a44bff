//! Alerts of a period: the transitions the collector stored (metric `alert_state`, 1
//! firing / 0 resolved, with the rule, severity and group labels as dimensions), and
//! rules from a file evaluated over the stored points.
//!
//! A rules file is evaluated at the end of every timeline bucket, over the points of
//! the rule's window before that instant, with the same pending → firing → resolved
//! steps as the collector's live engine. A rule's `for` duration is measured between
//! those instants, so it is honoured to within one bucket.

use std::collections::BTreeMap;

use sedimentdb::{Db, Matcher, Query, Selector, TimeRange, Timestamp, MIN_TIMESTAMP};
use sedimentdb_collector::alert::RuleKind;
use sedimentdb_collector::{AlertRule, RESERVED_DIMENSIONS};

use crate::error::Result;
use crate::figures::Frame;
use crate::model::AlertReport;
use crate::select::ALERT_METRIC;

/// The alerts the collector stored: every (rule, group) that fired during the period or
/// was still firing at its end.
pub fn stored_alerts(db: &Db, period: TimeRange) -> Result<Vec<AlertReport>> {
    let q = Query::metric(ALERT_METRIC).range(TimeRange::new(MIN_TIMESTAMP, period.end));
    let mut out = Vec::new();
    for s in db.query(&q)? {
        let Some(key) = s.labels.series_key() else {
            continue;
        };
        let mut fired = 0;
        let mut since = None;
        let mut firing = false;
        for (ts, v) in s.points() {
            let now_firing = v >= 0.5;
            if now_firing && !firing {
                since = Some(ts);
                if ts >= period.start {
                    fired += 1;
                }
            }
            firing = now_firing;
        }
        if fired == 0 && !firing {
            continue;
        }
        let labels: BTreeMap<String, String> = key
            .dimensions()
            .iter()
            .filter(|(k, _)| {
                !RESERVED_DIMENSIONS.contains(&k.as_str()) && k != "rule" && k != "severity"
            })
            .cloned()
            .collect();
        out.push(AlertReport {
            rule: key.dimension("rule").unwrap_or("?").to_string(),
            severity: key.dimension("severity").unwrap_or("warning").to_string(),
            metric: None,
            labels,
            state: if firing { "firing" } else { "resolved" }.to_string(),
            fired,
            since,
            value: None,
            message: None,
            origin: "stored".to_string(),
        });
    }
    sort_alerts(&mut out);
    Ok(out)
}

/// Firing first, then by severity (critical first), rule and labels.
pub fn sort_alerts(alerts: &mut [AlertReport]) {
    let rank = |s: &str| match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };
    alerts.sort_by(|a, b| {
        (a.state != "firing", rank(&a.severity), &a.rule, &a.labels).cmp(&(
            b.state != "firing",
            rank(&b.severity),
            &b.rule,
            &b.labels,
        ))
    });
}

fn rule_selector(rule: &AlertRule, metric: &str) -> Selector {
    rule.filters
        .iter()
        .fold(Selector::metric(metric), |s, (k, v)| {
            s.with(Matcher::eq(k.clone(), v.clone()))
        })
}

type Groups = BTreeMap<BTreeMap<String, String>, Vec<(Timestamp, f64)>>;

/// The raw points of `selector` in `range`, split by the rule's `group_by` labels.
fn grouped_points(
    db: &Db,
    rule: &AlertRule,
    selector: Selector,
    range: TimeRange,
) -> Result<Groups> {
    let mut out = Groups::new();
    for s in db.query(&Query::select(selector).range(range))? {
        let labels = rule
            .group_by
            .iter()
            .filter_map(|k| s.labels.get(k).map(|v| (k.clone(), v.to_string())))
            .collect();
        out.entry(labels).or_default().extend(s.points());
    }
    for pts in out.values_mut() {
        pts.sort_by_key(|p| p.0);
    }
    Ok(out)
}

#[derive(Default)]
struct GroupState {
    /// When the condition started to hold (pending or firing); `None` while it does not.
    holding_since: Option<Timestamp>,
    firing: bool,
    fired: usize,
    fired_at: Option<Timestamp>,
    value: f64,
    message: String,
}

/// Evaluates `rules` over the stored points at the end of every bucket of `frame`.
pub fn evaluate_rules(db: &Db, rules: &[AlertRule], frame: &Frame) -> Result<Vec<AlertReport>> {
    let mut out = Vec::new();
    for rule in rules {
        let window = i64::try_from(rule.window.as_nanos()).unwrap_or(i64::MAX);
        let for_ns = i64::try_from(rule.for_duration.as_nanos()).unwrap_or(i64::MAX);
        let mut states: BTreeMap<BTreeMap<String, String>, GroupState> = BTreeMap::new();
        let mut at = frame.period.start + frame.step;
        loop {
            let at_clamped = at.min(frame.period.end);
            let range = TimeRange::new(at_clamped.saturating_sub(window), at_clamped);
            let groups = grouped_points(db, rule, rule_selector(rule, &rule.metric), range)?;
            let other: Vec<(Timestamp, f64)> = match &rule.kind {
                RuleKind::Correlation { other, .. } => {
                    let mut pts: Vec<_> =
                        grouped_points(db, rule, rule_selector(rule, other), range)?
                            .into_values()
                            .flatten()
                            .collect();
                    pts.sort_by_key(|p| p.0);
                    pts
                }
                _ => Vec::new(),
            };
            let mut seen = Vec::new();
            for (labels, points) in groups {
                // Too little data to say: the state stays as it is.
                if let Some((holds, value, message)) = rule.condition(&points, &other) {
                    let g = states.entry(labels.clone()).or_default();
                    step(g, holds, value, message, at_clamped, for_ns);
                }
                seen.push(labels);
            }
            // Groups with no data left in the window resolve.
            for (labels, g) in states.iter_mut() {
                if !seen.contains(labels) {
                    g.holding_since = None;
                    g.firing = false;
                }
            }
            states.retain(|_, g| g.fired > 0 || g.holding_since.is_some());
            if at >= frame.period.end {
                break;
            }
            at = at.saturating_add(frame.step);
        }
        for (labels, g) in states {
            if g.fired == 0 {
                continue;
            }
            out.push(AlertReport {
                rule: rule.name.clone(),
                severity: format!("{:?}", rule.severity).to_lowercase(),
                metric: Some(rule.metric.clone()),
                labels,
                state: if g.firing { "firing" } else { "resolved" }.to_string(),
                fired: g.fired,
                since: g.fired_at,
                value: g.value.is_finite().then_some(g.value),
                message: Some(g.message),
                origin: "rules".to_string(),
            });
        }
    }
    sort_alerts(&mut out);
    Ok(out)
}

/// One evaluation of one group, stepped as the live engine steps it: pending once the
/// condition holds, firing once it has held for `for_ns`, resolved when it stops.
fn step(g: &mut GroupState, holds: bool, value: f64, message: String, now: Timestamp, for_ns: i64) {
    g.value = value;
    g.message = message;
    if !holds {
        g.holding_since = None;
        g.firing = false;
        return;
    }
    let since = *g.holding_since.get_or_insert(now);
    if !g.firing && now.saturating_sub(since) >= for_ns {
        g.firing = true;
        g.fired += 1;
        g.fired_at = Some(now);
    }
}
