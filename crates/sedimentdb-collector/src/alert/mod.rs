//! Real-time alerting: rules evaluated incrementally over the real-time aggregator's
//! windows, on ingest (for the metrics a batch touched) and on demand or at an
//! interval (so that `for` durations elapse and silent series resolve).
//!
//! Each (rule, group) has a state: inactive → pending (condition true, waiting out
//! `for`) → firing → resolved (condition false again, or no data left in the window).
//! Sinks hear of a group only when it starts firing and when it resolves: a firing
//! alert is not repeated on every evaluation (de-duplication). Time to detect is the
//! rule's `for` plus the delay until the next ingest or evaluation.

mod rules;
mod sinks;
mod stored;

pub use rules::{
    parse_duration, AlertRule, Op, RuleKind, Severity, TrendDirection, WindowAggregate,
};
pub(crate) use sinks::StoreSink;
pub use sinks::{AlertSink, CallbackSink, JsonlSink};
pub use stored::{evaluate_stored, Evaluation};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use super::clock::Clock;
use super::error::CollectorError;
use super::event::rfc3339;
use super::router::{PointSink, RealtimeAggregator, StoredPoint};
use super::validate::duration_ns;
use sedimentdb::Timestamp;

/// A notification's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition held (for the rule's `for` duration).
    Firing,
    /// The condition no longer holds.
    Resolved,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// Firing or resolved.
    pub state: AlertState,
    /// The group's labels (the rule's `group_by` dimensions).
    pub labels: BTreeMap<String, String>,
    /// The observed figure (aggregate, slope, value, correlation).
    pub value: f64,
    /// What was observed, in words.
    pub message: String,
    /// When the condition started to hold.
    #[serde(with = "rfc3339")]
    pub since: Timestamp,
    /// When this notification was made.
    #[serde(with = "rfc3339")]
    pub at: Timestamp,
}

/// The state of one (rule, group) as [`AlertEngine::active`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    /// The rule's name.
    pub rule: String,
    /// The group's labels.
    pub labels: BTreeMap<String, String>,
    /// True once firing; false while pending.
    pub firing: bool,
    /// When the condition started to hold.
    pub since: Timestamp,
    /// The last observed figure.
    pub value: f64,
}

#[derive(Debug, Clone)]
struct GroupState {
    since: Timestamp,
    firing: bool,
    value: f64,
}

type Groups = HashMap<BTreeMap<String, String>, GroupState>;

/// Evaluates rules and notifies sinks.
pub struct AlertEngine {
    rules: RwLock<Vec<AlertRule>>,
    /// Metrics some rule reads (checked for every stored point).
    watched: RwLock<std::collections::HashSet<String>>,
    states: Mutex<HashMap<String, Groups>>,
    sinks: RwLock<Vec<Arc<dyn AlertSink>>>,
    realtime: Arc<RealtimeAggregator>,
    clock: Arc<dyn Clock>,
    /// Serialises evaluations so that transitions are notified in order.
    evaluating: Mutex<()>,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("rules", &self.rules.read().len())
            .finish()
    }
}

impl AlertEngine {
    pub(crate) fn new(realtime: Arc<RealtimeAggregator>, clock: Arc<dyn Clock>) -> Self {
        AlertEngine {
            rules: RwLock::new(Vec::new()),
            watched: RwLock::new(Default::default()),
            states: Mutex::new(HashMap::new()),
            sinks: RwLock::new(Vec::new()),
            realtime,
            clock,
            evaluating: Mutex::new(()),
        }
    }

    /// Adds a rule (replacing one of the same name); its metrics are followed from now on.
    pub fn add_rule(&self, rule: AlertRule) -> Result<(), CollectorError> {
        rule.check()?;
        for m in rule.metrics() {
            self.realtime.follow(m);
            self.watched.write().insert(m.to_string());
        }
        let mut rules = self.rules.write();
        rules.retain(|r| r.name != rule.name);
        self.states.lock().remove(&rule.name);
        rules.push(rule);
        Ok(())
    }

    /// Adds rules from a TOML or JSON file.
    pub fn load_rules(&self, path: impl AsRef<std::path::Path>) -> Result<usize, CollectorError> {
        let rules = AlertRule::load(path)?;
        let n = rules.len();
        for r in rules {
            self.add_rule(r)?;
        }
        Ok(n)
    }

    /// Adds a sink.
    pub fn add_sink(&self, sink: Arc<dyn AlertSink>) {
        self.sinks.write().push(sink);
    }

    /// The rules.
    pub fn rules(&self) -> Vec<AlertRule> {
        self.rules.read().clone()
    }

    /// Pending and firing groups.
    pub fn active(&self) -> Vec<ActiveAlert> {
        let states = self.states.lock();
        let mut out: Vec<ActiveAlert> = states
            .iter()
            .flat_map(|(rule, groups)| {
                groups.iter().map(move |(labels, g)| ActiveAlert {
                    rule: rule.clone(),
                    labels: labels.clone(),
                    firing: g.firing,
                    since: g.since,
                    value: g.value,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.rule, &a.labels).cmp(&(&b.rule, &b.labels)));
        out
    }

    /// Evaluates every rule now; returns the notifications made.
    pub fn evaluate(&self) -> Vec<Alert> {
        self.evaluate_where(|_| true)
    }

    fn evaluate_where(&self, pick: impl Fn(&AlertRule) -> bool) -> Vec<Alert> {
        let notes = self.transitions(pick);
        // Sinks run outside the engine's locks: the store sink writes through the
        // collector, whose router may call back into the engine.
        let sinks = self.sinks.read().clone();
        for n in &notes {
            for s in &sinks {
                s.notify(n);
            }
        }
        notes
    }

    fn transitions(&self, pick: impl Fn(&AlertRule) -> bool) -> Vec<Alert> {
        let _one_at_a_time = self.evaluating.lock();
        let now = self.clock.now();
        let rules: Vec<AlertRule> = self
            .rules
            .read()
            .iter()
            .filter(|r| pick(r))
            .cloned()
            .collect();
        let mut notes = Vec::new();
        for rule in &rules {
            let since = now.saturating_sub(duration_ns(rule.window));
            let groups = group_points(
                rule,
                &self.realtime.points(&rule.selector(&rule.metric), since),
            );
            let other: Vec<(Timestamp, f64)> = match &rule.kind {
                RuleKind::Correlation { other, .. } => {
                    let mut pts: Vec<_> = self
                        .realtime
                        .points(&rule.selector(other), since)
                        .into_iter()
                        .flat_map(|(_, p)| p)
                        .collect();
                    pts.sort_by_key(|p| p.0);
                    pts
                }
                _ => Vec::new(),
            };
            let mut states = self.states.lock();
            let state = states.entry(rule.name.clone()).or_default();
            let mut seen = Vec::new();
            for (labels, points) in groups {
                let verdict = rule.condition(&points, &other);
                seen.push(labels.clone());
                self.step(rule, state, labels, verdict, now, &mut notes);
            }
            // Groups with no data left in the window resolve.
            let silent: Vec<_> = state
                .keys()
                .filter(|k| !seen.contains(k))
                .cloned()
                .collect();
            for labels in silent {
                self.step(
                    rule,
                    state,
                    labels,
                    Some((false, f64::NAN, "no data in the window".into())),
                    now,
                    &mut notes,
                );
            }
        }
        notes
    }

    fn step(
        &self,
        rule: &AlertRule,
        state: &mut Groups,
        labels: BTreeMap<String, String>,
        verdict: Option<(bool, f64, String)>,
        now: Timestamp,
        notes: &mut Vec<Alert>,
    ) {
        // Too little data to say: keep the state as it is.
        let Some((holds, value, message)) = verdict else {
            return;
        };
        let note = |state: AlertState, since: Timestamp| Alert {
            rule: rule.name.clone(),
            severity: rule.severity,
            state,
            labels: labels.clone(),
            value,
            message: if rule.description.is_empty() {
                message.clone()
            } else {
                format!("{}: {message}", rule.description)
            },
            since,
            at: now,
        };
        match (state.get_mut(&labels), holds) {
            (None, false) => {}
            (None, true) => {
                let firing = rule.for_duration.is_zero();
                if firing {
                    notes.push(note(AlertState::Firing, now));
                }
                state.insert(
                    labels.clone(),
                    GroupState {
                        since: now,
                        firing,
                        value,
                    },
                );
            }
            (Some(g), true) => {
                g.value = value;
                if !g.firing && now.saturating_sub(g.since) >= duration_ns(rule.for_duration) {
                    g.firing = true;
                    notes.push(note(AlertState::Firing, g.since));
                }
            }
            (Some(g), false) => {
                if g.firing {
                    notes.push(note(AlertState::Resolved, g.since));
                }
                state.remove(&labels);
            }
        }
    }
}

/// Splits a rule's points into groups by its `group_by` labels, time-ordered.
fn group_points(
    rule: &AlertRule,
    series: &[super::router::SeriesWindow],
) -> BTreeMap<BTreeMap<String, String>, Vec<(Timestamp, f64)>> {
    let mut out: BTreeMap<BTreeMap<String, String>, Vec<(Timestamp, f64)>> = BTreeMap::new();
    for (key, points) in series {
        let labels: BTreeMap<String, String> = rule
            .group_by
            .iter()
            .filter_map(|k| key.dimension(k).map(|v| (k.clone(), v.to_string())))
            .collect();
        out.entry(labels)
            .or_default()
            .extend(points.iter().copied());
    }
    for pts in out.values_mut() {
        pts.sort_by_key(|p| p.0);
    }
    out
}

impl PointSink for AlertEngine {
    fn wants(&self, metric: &str) -> bool {
        self.watched.read().contains(metric)
    }

    fn accept(&self, points: &[StoredPoint]) {
        let touched: Vec<&str> = {
            let mut names: Vec<&str> = points.iter().map(|p| p.key.name()).collect();
            names.sort_unstable();
            names.dedup();
            names
        };
        self.evaluate_where(|r| r.metrics().iter().any(|m| touched.contains(m)));
    }
}

/// Evaluates an engine at an interval until dropped.
pub(crate) struct Ticker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(
        engine: Arc<AlertEngine>,
        every: std::time::Duration,
    ) -> Result<Self, CollectorError> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sedimentdb-alerts".into())
            .spawn(move || loop {
                match stopped.recv_timeout(every) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        engine.evaluate();
                    }
                    _ => return,
                }
            })
            .map_err(|e| CollectorError::io("spawn alert thread", "", e))?;
        Ok(Ticker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
