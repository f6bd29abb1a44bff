//! Insights: plain-language recommendations derived from the stored metrics, each with
//! the figures and the queries behind it, ranked by impact.
//!
//! Every query an insight needs runs through
//! [`query_metrics`](super::UnifiedMetricsCollector::query_metrics) as the caller, so it
//! is checked and audited: an insight whose data the caller may not read is left out
//! (the adoption insight counts distinct users, so it needs raw `user` access).
//!
//! | area | metric(s) read | recommendation when |
//! |---|---|---|
//! | performance | `command_execution_time{command}`, `cpu_usage` | mean CPU in the minutes a command ran exceeds the overall mean by `cpu_margin` and `cpu_high` |
//! | performance | `command_execution_time{command}` | a command's p95 exceeds `slow_ms` |
//! | user experience | `command_execution_time{command,success}` | a command fails more than `max_failure_rate` of the time |
//! | user experience | `satisfaction_score` | the mean score is below `min_satisfaction` |
//! | adoption | `feature_used{tier,user_id}` | the share of users using `advanced` features is below `min_advanced_share` |
//! | learning | `learning_event{event_type,model}` | a model's suggestion acceptance is below `min_acceptance` |
//!
//! Impact is a score in [0, 1]: how far the figure is past its bound, weighted by how
//! much of the activity it concerns. It orders recommendations; it is not a
//! probability.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::access::Principal;
use super::error::CollectorError;
use super::query::{Aggregation, MetricQuery, QueryResult};
use super::unified::UnifiedMetricsCollector;
use sedimentdb::TimeRange;

/// What a recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsightArea {
    /// Speed and resource use.
    Performance,
    /// Failures and satisfaction.
    UserExperience,
    /// Use of features.
    Adoption,
    /// Quality of the learning system.
    Learning,
}

/// One recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// What it is about.
    pub area: InsightArea,
    /// The recommendation in one line, e.g. "CPU usage high during user-prefs commands -
    /// consider optimization".
    pub text: String,
    /// Score in [0, 1] used for ranking.
    pub impact: f64,
    /// The figures behind it, by name.
    pub evidence: BTreeMap<String, f64>,
    /// The queries that produced the figures.
    pub queries: Vec<String>,
}

/// Bounds of the insight rules. Every field documents its default.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightConfig {
    /// Period examined. Default: everything.
    pub range: TimeRange,
    /// CPU (percent) above which usage during a command is "high". Default: 60.
    pub cpu_high: f64,
    /// How much (percentage points) CPU during a command must exceed the overall mean.
    /// Default: 10.
    pub cpu_margin: f64,
    /// p95 (ms) above which a command is slow. Default: 1000.
    pub slow_ms: f64,
    /// Failure share above which a command is error-prone. Default: 0.05.
    pub max_failure_rate: f64,
    /// Mean satisfaction (1-5) below which users are unhappy. Default: 3.5.
    pub min_satisfaction: f64,
    /// Share of users on advanced features below which discoverability is poor.
    /// Default: 0.3.
    pub min_advanced_share: f64,
    /// Suggestion acceptance below which suggestion quality needs review. Default: 0.5.
    pub min_acceptance: f64,
    /// Bucket used to relate CPU to commands. Default: 1 minute.
    pub bucket: Duration,
}

impl Default for InsightConfig {
    fn default() -> Self {
        InsightConfig {
            range: TimeRange::all(),
            cpu_high: 60.0,
            cpu_margin: 10.0,
            slow_ms: 1000.0,
            max_failure_rate: 0.05,
            min_satisfaction: 3.5,
            min_advanced_share: 0.3,
            min_acceptance: 0.5,
            bucket: Duration::from_secs(60),
        }
    }
}

struct Run<'a> {
    collector: &'a UnifiedMetricsCollector,
    who: &'a Principal,
    config: &'a InsightConfig,
}

impl Run<'_> {
    /// Runs a query; `None` when access is denied (the insight is skipped).
    fn query(&self, q: MetricQuery) -> Result<Option<(QueryResult, String)>, CollectorError> {
        let q = q.range(self.config.range);
        let text = q.to_string();
        match self.collector.query_metrics(self.who, &q) {
            Ok(r) => Ok(Some((r, text))),
            Err(CollectorError::AccessDenied { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn cpu_during_commands(&self, out: &mut Vec<Recommendation>) -> Result<(), CollectorError> {
        let step = self.config.bucket;
        let Some((runs, q1)) = self.query(
            MetricQuery::metric("command_execution_time")
                .aggregate(Aggregation::Count)
                .bucket(step)
                .group_by(["command"]),
        )?
        else {
            return Ok(());
        };
        let Some((cpu, q2)) = self.query(
            MetricQuery::metric("cpu_usage")
                .aggregate(Aggregation::Avg)
                .bucket(step)
                .group_by(Vec::<String>::new()),
        )?
        else {
            return Ok(());
        };
        let Some(cpu) = cpu.series.first() else {
            return Ok(());
        };
        let cpu_by_bucket: BTreeMap<i64, f64> = cpu.points.iter().copied().collect();
        let overall = cpu.points.iter().map(|p| p.1).sum::<f64>() / cpu.points.len().max(1) as f64;
        let total_buckets = cpu_by_bucket.len().max(1) as f64;
        for s in &runs.series {
            let Some(command) = s.labels.get("command") else {
                continue;
            };
            let during: Vec<f64> = s
                .points
                .iter()
                .filter_map(|(b, _)| cpu_by_bucket.get(b).copied())
                .collect();
            if during.is_empty() {
                continue;
            }
            let mean = during.iter().sum::<f64>() / during.len() as f64;
            if mean >= self.config.cpu_high && mean >= overall + self.config.cpu_margin {
                let share = during.len() as f64 / total_buckets;
                out.push(Recommendation {
                    area: InsightArea::Performance,
                    text: format!(
                        "CPU usage high during {command} commands - consider optimization"
                    ),
                    impact: ((mean - overall) / 100.0 * (0.5 + share)).clamp(0.0, 1.0),
                    evidence: figures([
                        ("cpu_during_command_percent", mean),
                        ("cpu_overall_percent", overall),
                        ("minutes_with_command", during.len() as f64),
                    ]),
                    queries: vec![q1.clone(), q2.clone()],
                });
            }
        }
        Ok(())
    }

    fn slow_and_failing_commands(
        &self,
        out: &mut Vec<Recommendation>,
    ) -> Result<(), CollectorError> {
        let Some((p95, q1)) = self.query(
            MetricQuery::metric("command_execution_time")
                .aggregate(Aggregation::Quantile(0.95))
                .group_by(["command"]),
        )?
        else {
            return Ok(());
        };
        let Some((counts, q2)) = self.query(
            MetricQuery::metric("command_execution_time")
                .aggregate(Aggregation::Count)
                .group_by(["command", "success"]),
        )?
        else {
            return Ok(());
        };
        let mut runs: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for s in &counts.series {
            let (Some(cmd), Some(n)) = (s.labels.get("command"), s.points.first()) else {
                continue;
            };
            let e = runs.entry(cmd.clone()).or_default();
            e.0 += n.1;
            if s.labels.get("success").map(String::as_str) == Some("false") {
                e.1 += n.1;
            }
        }
        let all_runs: f64 = runs.values().map(|r| r.0).sum::<f64>().max(1.0);
        for s in &p95.series {
            let (Some(cmd), Some(&(_, p))) = (s.labels.get("command"), s.points.first()) else {
                continue;
            };
            let (n, _) = runs.get(cmd).copied().unwrap_or_default();
            if p > self.config.slow_ms {
                out.push(Recommendation {
                    area: InsightArea::Performance,
                    text: format!(
                        "{cmd} commands are slow (p95 {}) - consider optimization or caching",
                        human_ms(p)
                    ),
                    impact: ((p / self.config.slow_ms - 1.0).min(1.0) * (0.3 + 0.7 * n / all_runs))
                        .clamp(0.0, 1.0),
                    evidence: figures([
                        ("p95_ms", p),
                        ("runs", n),
                        ("bound_ms", self.config.slow_ms),
                    ]),
                    queries: vec![q1.clone(), q2.clone()],
                });
            }
        }
        for (cmd, (n, failed)) in &runs {
            let rate = failed / n.max(1.0);
            if rate > self.config.max_failure_rate {
                out.push(Recommendation {
                    area: InsightArea::UserExperience,
                    text: format!(
                        "{cmd} commands fail {:.0}% of the time - investigate the errors users hit",
                        rate * 100.0
                    ),
                    impact: (rate * 2.0 * (0.3 + 0.7 * n / all_runs)).clamp(0.0, 1.0),
                    evidence: figures([
                        ("failure_rate", rate),
                        ("runs", *n),
                        ("failures", *failed),
                    ]),
                    queries: vec![q2.clone()],
                });
            }
        }
        Ok(())
    }

    fn satisfaction(&self, out: &mut Vec<Recommendation>) -> Result<(), CollectorError> {
        let Some((r, q)) = self.query(
            MetricQuery::metric("satisfaction_score")
                .aggregate(Aggregation::Avg)
                .group_by(Vec::<String>::new()),
        )?
        else {
            return Ok(());
        };
        if let (Some(avg), Some(s)) = (r.scalar(), r.series.first()) {
            if avg < self.config.min_satisfaction {
                out.push(Recommendation {
                    area: InsightArea::UserExperience,
                    text: format!(
                        "Average satisfaction is {avg:.1}/5 - review the feedback of the least satisfied users"
                    ),
                    impact: ((self.config.min_satisfaction - avg) / self.config.min_satisfaction).clamp(0.0, 1.0),
                    evidence: figures([("mean_score", avg), ("ratings", s.samples as f64)]),
                    queries: vec![q],
                });
            }
        }
        Ok(())
    }

    fn adoption(&self, out: &mut Vec<Recommendation>) -> Result<(), CollectorError> {
        let Some((r, q)) = self.query(
            MetricQuery::metric("feature_used")
                .aggregate(Aggregation::Count)
                .group_by(["user_id", "tier"]),
        )?
        else {
            return Ok(());
        };
        let mut users: BTreeMap<&str, bool> = BTreeMap::new();
        for s in &r.series {
            let Some(user) = s.labels.get("user_id") else {
                continue;
            };
            let advanced = s.labels.get("tier").map(String::as_str) == Some("advanced");
            *users.entry(user.as_str()).or_default() |= advanced;
        }
        if users.is_empty() {
            return Ok(());
        }
        let n = users.len() as f64;
        let share = users.values().filter(|&&a| a).count() as f64 / n;
        if share < self.config.min_advanced_share {
            out.push(Recommendation {
                area: InsightArea::Adoption,
                text: format!(
                    "Only {:.0}% of users use advanced features - improve discoverability",
                    share * 100.0
                ),
                impact: ((self.config.min_advanced_share - share) / self.config.min_advanced_share
                    * 0.8)
                    .clamp(0.0, 1.0),
                evidence: figures([("advanced_user_share", share), ("users", n)]),
                queries: vec![q],
            });
        }
        Ok(())
    }

    fn acceptance(&self, out: &mut Vec<Recommendation>) -> Result<(), CollectorError> {
        let Some((r, q)) = self.query(
            MetricQuery::metric("learning_event")
                .aggregate(Aggregation::Count)
                .group_by(["model", "event_type"]),
        )?
        else {
            return Ok(());
        };
        let mut per_model: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for s in &r.series {
            let model = s
                .labels
                .get("model")
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            let n = s.points.first().map_or(0.0, |p| p.1);
            let e = per_model.entry(model).or_default();
            match s.labels.get("event_type").map(String::as_str) {
                Some("suggestion_accepted") => e.0 += n,
                Some("suggestion_rejected") => e.1 += n,
                _ => {}
            }
        }
        for (model, (yes, no)) in per_model {
            let total = yes + no;
            if total == 0.0 {
                continue;
            }
            let rate = yes / total;
            if rate < self.config.min_acceptance {
                out.push(Recommendation {
                    area: InsightArea::Learning,
                    text: format!(
                        "Only {:.0}% of suggestions from model {model} are accepted - review suggestion quality",
                        rate * 100.0
                    ),
                    impact: ((self.config.min_acceptance - rate) / self.config.min_acceptance * 0.7).clamp(0.0, 1.0),
                    evidence: figures([("acceptance_rate", rate), ("accepted", yes), ("rejected", no)]),
                    queries: vec![q.clone()],
                });
            }
        }
        Ok(())
    }
}

fn figures<const N: usize>(pairs: [(&str, f64); N]) -> BTreeMap<String, f64> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn human_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

impl UnifiedMetricsCollector {
    /// Recommendations for `who`, most impactful first (see the insights module for
    /// the rules). Their queries are checked and audited as `who`'s.
    pub fn insights(
        &self,
        who: &Principal,
        config: &InsightConfig,
    ) -> Result<Vec<Recommendation>, CollectorError> {
        let run = Run {
            collector: self,
            who,
            config,
        };
        let mut out = Vec::new();
        run.cpu_during_commands(&mut out)?;
        run.slow_and_failing_commands(&mut out)?;
        run.satisfaction(&mut out)?;
        run.adoption(&mut out)?;
        run.acceptance(&mut out)?;
        out.sort_by(|a, b| {
            b.impact
                .total_cmp(&a.impact)
                .then_with(|| a.text.cmp(&b.text))
        });
        Ok(out)
    }
}
