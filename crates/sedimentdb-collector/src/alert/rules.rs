//! Alert rules: what to watch and when it is bad. Configured in code or loaded from a
//! TOML or JSON file.
//!
//! ```toml
//! [[rule]]
//! name = "high_error_rate"
//! metric = "error_rate"
//! kind = "threshold"          # threshold | trend | anomaly | correlation
//! aggregate = "avg"           # avg | max | min | sum | count | last
//! op = ">"                    # > | >= | < | <=
//! value = 0.05
//! window = "5m"               # points considered: the last 5 minutes
//! for = "1m"                  # pending this long before firing (default 0s)
//! severity = "critical"       # info | warning | critical (default warning)
//! group_by = ["command"]      # one alert per command (default: one per rule)
//! where = { service = "api" } # dimension filters (default none)
//!
//! [[rule]]
//! name = "latency_creeping_up"
//! metric = "request_latency"
//! kind = "trend"
//! direction = "increasing"    # the bad direction
//! min_slope_per_sec = 0.5
//! min_r2 = 0.6                # default 0.5
//! window = "10m"
//!
//! [[rule]]
//! name = "cpu_spike"
//! metric = "cpu_usage"
//! kind = "anomaly"
//! z = 4.0                     # robust z-score bound (default 3.5)
//! baseline_points = 30        # rolling baseline length (default 30)
//! window = "30m"
//!
//! [[rule]]
//! name = "errors_follow_load"
//! metric = "error_rate"
//! kind = "correlation"
//! other = "request_rate"
//! min_abs = 0.8               # |Pearson r| at or above this fires
//! step = "30s"                # both metrics averaged into buckets of this width
//! window = "15m"
//! ```
//!
//! The same fields in JSON: `{"rule": [{"name": ..., "kind": "threshold", ...}]}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::error::CollectorError;
use super::super::validate::duration_ns;
use sedimentdb::analytics::{anomaly::rolling_robust_zscore, correlation::pearson, linear_trend};
use sedimentdb::analytics::{Direction, Verdict};
use sedimentdb::{Matcher, Selector, Timestamp};

/// How bad an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Look at it soon.
    #[default]
    Warning,
    /// Act now.
    Critical,
}

/// How a threshold rule reduces the window's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowAggregate {
    /// Mean.
    Avg,
    /// Largest.
    Max,
    /// Smallest.
    Min,
    /// Sum.
    Sum,
    /// Number of points.
    Count,
    /// Newest value.
    Last,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// The bad direction of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    /// Growth is bad.
    Increasing,
    /// Decline is bad.
    Decreasing,
}

fn default_r2() -> f64 {
    0.5
}
fn default_z() -> f64 {
    3.5
}
fn default_baseline() -> usize {
    30
}

/// What makes a rule's condition true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RuleKind {
    /// The window's aggregate compared with a value.
    Threshold {
        /// How the window is reduced.
        aggregate: WindowAggregate,
        /// The comparison.
        op: Op,
        /// The bound.
        value: f64,
    },
    /// A least-squares slope over the window in the bad direction.
    Trend {
        /// The bad direction.
        direction: TrendDirection,
        /// Smallest slope (per second, absolute) that counts.
        min_slope_per_sec: f64,
        /// Smallest R² that counts (default 0.5).
        #[serde(default = "default_r2")]
        min_r2: f64,
    },
    /// One of the newest three points is an outlier against a rolling robust baseline.
    Anomaly {
        /// Robust z-score bound (default 3.5).
        #[serde(default = "default_z")]
        z: f64,
        /// Points in the rolling baseline (default 30).
        #[serde(default = "default_baseline")]
        baseline_points: usize,
    },
    /// The metric and another one move together.
    Correlation {
        /// The other metric.
        other: String,
        /// `|r|` at or above this fires.
        min_abs: f64,
        /// Bucket width used to align the two metrics.
        #[serde(with = "duration_text")]
        step: Duration,
    },
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// Unique name.
    pub name: String,
    /// The metric watched.
    pub metric: String,
    /// Dimension filters (`key = value`).
    #[serde(default, rename = "where")]
    pub filters: BTreeMap<String, String>,
    /// One alert per distinct value of these dimensions.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Span of recent points considered.
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", with = "duration_text")]
    pub for_duration: Duration,
    /// Severity.
    #[serde(default)]
    pub severity: Severity,
    /// Free text shown with the alert.
    #[serde(default)]
    pub description: String,
    /// The condition.
    #[serde(flatten)]
    pub kind: RuleKind,
}

#[derive(Deserialize)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<AlertRule>,
}

impl AlertRule {
    /// A threshold rule: `aggregate(metric over window) op value`.
    pub fn threshold(
        name: impl Into<String>,
        metric: impl Into<String>,
        aggregate: WindowAggregate,
        op: Op,
        value: f64,
        window: Duration,
    ) -> Self {
        AlertRule::new(
            name,
            metric,
            window,
            RuleKind::Threshold {
                aggregate,
                op,
                value,
            },
        )
    }

    /// A trend rule.
    pub fn trend(
        name: impl Into<String>,
        metric: impl Into<String>,
        direction: TrendDirection,
        min_slope_per_sec: f64,
        window: Duration,
    ) -> Self {
        AlertRule::new(
            name,
            metric,
            window,
            RuleKind::Trend {
                direction,
                min_slope_per_sec,
                min_r2: default_r2(),
            },
        )
    }

    /// An anomaly rule with the default bound and baseline.
    pub fn anomaly(name: impl Into<String>, metric: impl Into<String>, window: Duration) -> Self {
        AlertRule::new(
            name,
            metric,
            window,
            RuleKind::Anomaly {
                z: default_z(),
                baseline_points: default_baseline(),
            },
        )
    }

    /// A correlation rule between `metric` and `other`.
    pub fn correlation(
        name: impl Into<String>,
        metric: impl Into<String>,
        other: impl Into<String>,
        min_abs: f64,
        step: Duration,
        window: Duration,
    ) -> Self {
        AlertRule::new(
            name,
            metric,
            window,
            RuleKind::Correlation {
                other: other.into(),
                min_abs,
                step,
            },
        )
    }

    fn new(
        name: impl Into<String>,
        metric: impl Into<String>,
        window: Duration,
        kind: RuleKind,
    ) -> Self {
        AlertRule {
            name: name.into(),
            metric: metric.into(),
            filters: BTreeMap::new(),
            group_by: Vec::new(),
            window,
            for_duration: Duration::ZERO,
            severity: Severity::Warning,
            description: String::new(),
            kind,
        }
    }

    /// Adds a filter `key = value`.
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.insert(key.into(), value.into());
        self
    }

    /// Alerts per distinct value of these dimensions.
    pub fn group_by<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.group_by = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long the condition must hold before firing.
    pub fn for_duration(mut self, d: Duration) -> Self {
        self.for_duration = d;
        self
    }

    /// Sets the severity.
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }

    /// Sets the description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Rules from a TOML document (`[[rule]]` tables).
    pub fn from_toml(text: &str) -> Result<Vec<AlertRule>, CollectorError> {
        let file: RuleFile =
            toml::from_str(text).map_err(|e| CollectorError::Config(format!("rule file: {e}")))?;
        check_all(file.rule)
    }

    /// Rules from a JSON document (`{"rule": [...]}`).
    pub fn from_json(text: &str) -> Result<Vec<AlertRule>, CollectorError> {
        let file: RuleFile = serde_json::from_str(text)
            .map_err(|e| CollectorError::Config(format!("rule file: {e}")))?;
        check_all(file.rule)
    }

    /// Rules from a `.toml` or `.json` file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Vec<AlertRule>, CollectorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CollectorError::io("read rule file", path, e))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => AlertRule::from_json(&text),
            _ => AlertRule::from_toml(&text),
        }
    }

    /// Checks the rule's parameters.
    pub fn check(&self) -> Result<(), CollectorError> {
        let bad = |what: &str| {
            Err(CollectorError::Config(format!(
                "rule {:?}: {what}",
                self.name
            )))
        };
        if self.name.is_empty() || self.metric.is_empty() {
            return bad("name and metric are required");
        }
        if self.window.is_zero() {
            return bad("window must be positive");
        }
        match &self.kind {
            RuleKind::Threshold { value, .. } if !value.is_finite() => bad("value must be finite"),
            RuleKind::Trend {
                min_slope_per_sec, ..
            } if !(min_slope_per_sec.is_finite() && *min_slope_per_sec >= 0.0) => {
                bad("min_slope_per_sec must be finite and not negative")
            }
            RuleKind::Anomaly { z, baseline_points }
                if !(z.is_finite() && *z > 0.0) || *baseline_points < 3 =>
            {
                bad("z must be positive and baseline_points at least 3")
            }
            RuleKind::Correlation { min_abs, step, .. }
                if !(0.0..=1.0).contains(min_abs) || step.is_zero() =>
            {
                bad("min_abs must lie in [0, 1] and step be positive")
            }
            _ => Ok(()),
        }
    }

    /// The metrics the rule reads.
    pub fn metrics(&self) -> Vec<&str> {
        match &self.kind {
            RuleKind::Correlation { other, .. } => vec![self.metric.as_str(), other.as_str()],
            _ => vec![self.metric.as_str()],
        }
    }

    /// The selector of the watched metric (or of `metric`).
    pub(crate) fn selector(&self, metric: &str) -> Selector {
        let mut s = Selector::metric(metric.to_string());
        for (k, v) in &self.filters {
            s = s.with(Matcher::eq(k.clone(), v.clone()));
        }
        s
    }

    /// Evaluates the condition over one group's points (time-ordered); `other` holds the
    /// other metric's points for correlation rules. Returns `(holds, observed value,
    /// text)`, or `None` when there is too little data to say.
    pub fn condition(
        &self,
        points: &[(Timestamp, f64)],
        other: &[(Timestamp, f64)],
    ) -> Option<(bool, f64, String)> {
        if points.is_empty() {
            return None;
        }
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        let ts: Vec<Timestamp> = points.iter().map(|p| p.0).collect();
        match &self.kind {
            RuleKind::Threshold {
                aggregate,
                op,
                value,
            } => {
                let n = values.len() as f64;
                let observed = match aggregate {
                    WindowAggregate::Avg => values.iter().sum::<f64>() / n,
                    WindowAggregate::Max => {
                        values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    }
                    WindowAggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
                    WindowAggregate::Sum => values.iter().sum(),
                    WindowAggregate::Count => n,
                    WindowAggregate::Last => values[values.len() - 1],
                };
                let text = format!(
                    "{:?} of {} over {:?} is {observed:.4} ({} {value})",
                    aggregate,
                    self.metric,
                    self.window,
                    op.symbol()
                )
                .to_lowercase();
                Some((op.holds(observed, *value), observed, text))
            }
            RuleKind::Trend {
                direction,
                min_slope_per_sec,
                min_r2,
            } => {
                let fit = linear_trend(&ts, &values)?;
                if fit.n < 5 {
                    return None;
                }
                let dir = match direction {
                    TrendDirection::Increasing => Direction::IncreasingIsBad,
                    TrendDirection::Decreasing => Direction::DecreasingIsBad,
                };
                let bad = fit.verdict(dir, *min_slope_per_sec, *min_r2) == Verdict::Degrading;
                let text = format!(
                    "{} changes by {:.4}/s over {:?} (R² {:.2})",
                    self.metric, fit.slope_per_sec, self.window, fit.r_squared
                );
                Some((bad, fit.slope_per_sec, text))
            }
            RuleKind::Anomaly { z, baseline_points } => {
                if values.len() <= *baseline_points {
                    return None;
                }
                let found = rolling_robust_zscore(&ts, &values, *baseline_points, *z).ok()?;
                let recent = ts[ts.len().saturating_sub(3)];
                let hit = found.iter().rev().find(|a| a.ts >= recent);
                Some(match hit {
                    Some(a) => (
                        true,
                        a.value,
                        format!(
                            "{} = {:.4} where {:.4} was expected (robust z {:.1})",
                            self.metric, a.value, a.expected, a.score
                        ),
                    ),
                    None => (
                        false,
                        values[values.len() - 1],
                        format!("{} within its baseline", self.metric),
                    ),
                })
            }
            RuleKind::Correlation {
                other: other_name,
                min_abs,
                step,
            } => {
                let step = duration_ns(*step).max(1);
                let a = bucket_means(points, step);
                let b = bucket_means(other, step);
                let (mut x, mut y) = (Vec::new(), Vec::new());
                for (bucket, va) in &a {
                    if let Some(vb) = b.get(bucket) {
                        x.push(*va);
                        y.push(*vb);
                    }
                }
                if x.len() < 5 {
                    return None;
                }
                let r = pearson(&x, &y)?;
                let text = format!(
                    "{} and {other_name} correlate with r = {r:.3} over {} buckets",
                    self.metric,
                    x.len()
                );
                Some((r.abs() >= *min_abs, r, text))
            }
        }
    }
}

fn check_all(rules: Vec<AlertRule>) -> Result<Vec<AlertRule>, CollectorError> {
    for r in &rules {
        r.check()?;
    }
    Ok(rules)
}

fn bucket_means(points: &[(Timestamp, f64)], step: i64) -> BTreeMap<i64, f64> {
    let mut acc: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for &(t, v) in points {
        let e = acc.entry(t.div_euclid(step)).or_insert((0.0, 0.0));
        e.0 += v;
        e.1 += 1.0;
    }
    acc.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
}

/// Parses `"90s"`, `"5m"`, `"1h"`, `"2d"`, `"250ms"` (and a bare number of seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// Serde adapter for durations written as text (`"5m"`).
mod duration_text {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let secs = d.as_secs_f64();
        if secs.fract() == 0.0 {
            s.serialize_str(&format!("{}s", d.as_secs()))
        } else {
            s.serialize_str(&format!("{}ms", d.as_millis()))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("bad duration {text:?} (try \"30s\", \"5m\")"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("99999999999999999999999d"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn rule_files_parse_and_are_checked() {
        let rules = AlertRule::from_toml(
            r#"
            [[rule]]
            name = "high_error_rate"
            metric = "error_rate"
            kind = "threshold"
            aggregate = "avg"
            op = ">"
            value = 0.05
            window = "5m"
            for = "1m"
            severity = "critical"
            group_by = ["command"]
            where = { service = "api" }

            [[rule]]
            name = "slow"
            metric = "latency"
            kind = "trend"
            direction = "increasing"
            min_slope_per_sec = 0.5
            window = "10m"
            "#,
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].for_duration, Duration::from_secs(60));
        assert_eq!(rules[0].filters["service"], "api");
        assert_eq!(
            rules[0].kind,
            RuleKind::Threshold {
                aggregate: WindowAggregate::Avg,
                op: Op::Gt,
                value: 0.05
            }
        );
        assert!(matches!(rules[1].kind, RuleKind::Trend { min_r2, .. } if min_r2 == 0.5));
        let json =
            serde_json::json!({ "rule": [serde_json::to_value(&rules[0]).unwrap()] }).to_string();
        assert_eq!(AlertRule::from_json(&json).unwrap()[0], rules[0]);
        assert!(AlertRule::from_toml("[[rule]]\nname='x'\nmetric='m'\nkind='threshold'\naggregate='avg'\nop='>'\nvalue=1\nwindow='0s'").is_err());
        assert!(AlertRule::from_toml("[[rule]]\nname='x'").is_err());
    }

    #[test]
    fn conditions() {
        let pts: Vec<(i64, f64)> = (0..40)
            .map(|i| (i * 1_000_000_000, 10.0 + (i % 3) as f64))
            .collect();
        let t = AlertRule::threshold(
            "t",
            "m",
            WindowAggregate::Max,
            Op::Gt,
            11.5,
            Duration::from_secs(60),
        );
        assert!(t.condition(&pts, &[]).unwrap().0);
        let mut spiky = pts.clone();
        spiky[39].1 = 90.0;
        let a = AlertRule::anomaly("a", "m", Duration::from_secs(60));
        assert!(!a.condition(&pts, &[]).unwrap().0);
        assert!(a.condition(&spiky, &[]).unwrap().0);
        let rising: Vec<(i64, f64)> = (0..40).map(|i| (i * 1_000_000_000, i as f64)).collect();
        let tr = AlertRule::trend(
            "tr",
            "m",
            TrendDirection::Increasing,
            0.5,
            Duration::from_secs(60),
        );
        assert!(tr.condition(&rising, &[]).unwrap().0);
        assert!(!tr.condition(&pts, &[]).unwrap().0);
        let c = AlertRule::correlation(
            "c",
            "m",
            "o",
            0.9,
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        let twice: Vec<(i64, f64)> = rising.iter().map(|&(t, v)| (t, 2.0 * v + 1.0)).collect();
        assert!(c.condition(&rising, &twice).unwrap().0);
        assert!(c.condition(&rising, &[]).is_none());
    }
}
