//! Builds a [`Report`] from a database: picks the metrics of the scope, computes each
//! one's figures, gathers alerts and recommendations.

use std::sync::Arc;

use sedimentdb::{Db, Query, Selector, SeriesKey, TimeRange};
use sedimentdb_collector::{
    CollectorConfig, InsightConfig, Principal, Role, UnifiedMetricsCollector,
};

use crate::alerts::{evaluate_rules, sort_alerts, stored_alerts};
use crate::error::Result;
use crate::figures::{metric_report, Frame};
use crate::model::{MetricReport, Period, RecommendationReport, Report, Summary, REPORT_SCHEMA};
use crate::select::{group_metrics, intersect, metric_query, MetricInfo};
use crate::spec::{step_for, ReportSpec, ReportType};

/// Computes reports and dashboard data over one database.
///
/// It wraps the database in a [`UnifiedMetricsCollector`] that writes nothing (no alert
/// records, no background evaluation) so that the collector's recommendations can be
/// asked; its queries run as an in-process administrator.
///
/// `Reporter` is `Send + Sync`: reports over one database may be built from several
/// threads.
pub struct Reporter {
    collector: UnifiedMetricsCollector,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter").field("db", self.db()).finish()
    }
}

impl Reporter {
    /// A reporter over `db` (opened read-only or not: the reporter only reads).
    pub fn new(db: Db) -> Result<Self> {
        let config = CollectorConfig {
            alerts_to_store: false,
            alert_interval: None,
            ..CollectorConfig::default()
        };
        Ok(Reporter {
            collector: UnifiedMetricsCollector::new(db, config)?,
        })
    }

    /// A reporter over a running collector (its recommendations and access control).
    pub fn from_collector(collector: UnifiedMetricsCollector) -> Self {
        Reporter { collector }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        self.collector.db()
    }

    /// Gives the database back.
    pub fn into_collector(self) -> UnifiedMetricsCollector {
        self.collector
    }

    /// The selectors of a scope: the type's, narrowed by the user selector.
    pub(crate) fn scope(report_type: ReportType, selector: Option<&Selector>) -> Vec<Selector> {
        let base = report_type.selectors();
        match selector {
            None => base,
            Some(user) => base.iter().filter_map(|b| intersect(b, user)).collect(),
        }
    }

    /// The metrics of a scope.
    pub(crate) fn metrics(&self, scope: &[Selector]) -> Result<Vec<MetricInfo>> {
        let mut keys: Vec<Arc<SeriesKey>> = Vec::new();
        for s in scope {
            keys.extend(self.db().list_series(s)?);
        }
        Ok(group_metrics(&keys))
    }

    /// Builds the report `spec` asks for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sedimentdb::{Db, Options, SeriesKey, WriteBatch};
    /// use sedimentdb_report::{Reporter, ReportSpec, ReportType};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), Options::default()).unwrap();
    /// let hour = 3_600_000_000_000i64;
    /// let mut batch = WriteBatch::new();
    /// for h in 0..48 {
    ///     batch.push_key(&SeriesKey::new("latency_ms").with("host", "a"), h * hour, 20.0 + h as f64);
    /// }
    /// db.write(&batch).unwrap();
    /// let spec = ReportSpec::new(ReportType::All).last(Duration::from_secs(86_400)).now(48 * hour);
    /// let report = Reporter::new(db).unwrap().report(&spec).unwrap();
    /// let latency = &report.metrics[0];
    /// assert_eq!(latency.headline.points, 24);
    /// assert_eq!(latency.trend.as_ref().unwrap().verdict, "degrading");
    /// ```
    pub fn report(&self, spec: &ReportSpec) -> Result<Report> {
        let period = spec.resolve_period()?;
        let frame = Frame::new(period, step_for(period.end - period.start));
        let scope = Self::scope(spec.report_type, spec.selector.as_ref().map(|s| &s.0));
        let mut metrics = self.metrics(&scope)?;
        if metrics.len() > spec.max_metrics {
            metrics = busiest(self.db(), &scope, metrics, period, spec.max_metrics)?;
        }
        let mut reports = Vec::with_capacity(metrics.len());
        for info in &metrics {
            let Some(query) = metric_query(&scope, &info.name) else {
                continue;
            };
            let r = metric_report(self.db(), info, &query, &frame)?;
            if r.headline.points > 0 || r.headline.previous_avg.is_some() {
                reports.push(r);
            }
        }

        let mut alerts = stored_alerts(self.db(), period)?;
        alerts.extend(evaluate_rules(self.db(), &spec.rules, &frame)?);
        sort_alerts(&mut alerts);

        let mut recommendations = self.insights(spec.report_type, period)?;
        recommendations.extend(trend_recommendations(&reports));
        recommendations.sort_by(|a, b| {
            b.impact
                .total_cmp(&a.impact)
                .then_with(|| a.text.cmp(&b.text))
        });

        let summary = Summary {
            metrics: reports.len(),
            series: reports.iter().map(|m| m.series).sum(),
            points: reports.iter().map(|m| m.headline.points).sum(),
            degrading: count_verdict(&reports, "degrading"),
            improving: count_verdict(&reports, "improving"),
            anomalies: reports.iter().map(|m| m.anomalies_total).sum(),
            firing_alerts: alerts.iter().filter(|a| a.state == "firing").count(),
            fired_alerts: alerts.iter().filter(|a| a.fired > 0).count(),
        };
        let (report_type, title) = match (&spec.selector, spec.report_type) {
            (Some(_), ReportType::All) => ("selector".to_string(), "Metrics report".to_string()),
            (_, t) => (t.as_str().to_string(), t.title().to_string()),
        };
        Ok(Report {
            schema: REPORT_SCHEMA.to_string(),
            title,
            report_type,
            selector: spec.selector.as_ref().map(|s| s.1.clone()),
            period: Period {
                start: period.start,
                end: period.end,
                previous_start: frame.previous_start,
                step_seconds: frame.step as f64 / 1e9,
            },
            summary,
            metrics: reports,
            alerts,
            recommendations,
        })
    }

    /// The collector's recommendations for the areas of `report_type`.
    pub(crate) fn insights(
        &self,
        report_type: ReportType,
        period: TimeRange,
    ) -> Result<Vec<RecommendationReport>> {
        let admin = Principal::new("sedimentdb-report", Role::Admin);
        let config = InsightConfig {
            range: period,
            ..InsightConfig::default()
        };
        let areas = report_type.insight_areas();
        Ok(self
            .collector
            .insights(&admin, &config)?
            .into_iter()
            .filter_map(|r| {
                let area = serde_json::to_value(r.area).ok()?.as_str()?.to_string();
                areas
                    .contains(&area.as_str())
                    .then_some(RecommendationReport {
                        area,
                        text: r.text,
                        impact: r.impact,
                        evidence: r.evidence,
                        origin: "collector".to_string(),
                    })
            })
            .collect())
    }
}

fn count_verdict(reports: &[MetricReport], verdict: &str) -> usize {
    reports
        .iter()
        .filter(|m| m.trend.as_ref().is_some_and(|t| t.verdict == verdict))
        .count()
}

/// The `keep` metrics with the most points in the period, by name.
pub(crate) fn busiest(
    db: &Db,
    scope: &[Selector],
    metrics: Vec<MetricInfo>,
    period: TimeRange,
    keep: usize,
) -> Result<Vec<MetricInfo>> {
    let mut kept = by_points(db, scope, metrics, period)?;
    kept.truncate(keep);
    kept.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(kept)
}

/// Metrics ordered by their points in the period, most first (then by name). The counts
/// come from chunk statistics, so this reads no points.
pub(crate) fn by_points(
    db: &Db,
    scope: &[Selector],
    metrics: Vec<MetricInfo>,
    period: TimeRange,
) -> Result<Vec<MetricInfo>> {
    let mut counted = Vec::with_capacity(metrics.len());
    for m in metrics {
        let Some(q) = metric_query(scope, &m.name) else {
            continue;
        };
        let r = db.query(
            &q.range(period)
                .aggregate(sedimentdb::Aggregate::Count)
                .group_all(),
        )?;
        let n = r
            .series
            .first()
            .and_then(|s| s.values.first().copied())
            .unwrap_or(0.0);
        counted.push((n, m));
    }
    counted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    Ok(counted.into_iter().map(|(_, m)| m).collect())
}

/// A recommendation for each degrading metric: how much it moved and which value of
/// its most telling dimension moved it.
fn trend_recommendations(reports: &[MetricReport]) -> Vec<RecommendationReport> {
    let mut out = Vec::new();
    for m in reports {
        let Some(t) = m.trend.as_ref().filter(|t| t.verdict == "degrading") else {
            continue;
        };
        let scale = m.headline.avg.map_or(0.0, f64::abs).max(1e-12);
        let moved = (t.fitted_end - t.fitted_start) / scale;
        let mut text = format!(
            "{} is degrading: {:+.0}% over the period (R² {:.2})",
            m.name,
            moved * 100.0,
            t.r_squared
        );
        if let Some(d) = m.drivers.first().filter(|d| d.share_of_delta > 0.3) {
            text.push_str(&format!(
                " - look at {} first ({:.0}% of the change)",
                d.label,
                d.share_of_delta * 100.0
            ));
        } else if let Some(b) = m.breakdown.as_ref().and_then(|b| b.values.first()) {
            text.push_str(&format!(" - {} stands out", b.label));
        }
        let mut evidence = std::collections::BTreeMap::new();
        evidence.insert("change_over_period_ratio".to_string(), moved);
        evidence.insert("r_squared".to_string(), t.r_squared);
        evidence.insert("slope_per_day".to_string(), t.slope_per_day);
        out.push(RecommendationReport {
            area: if m.source.as_deref() == Some("system") {
                "health".to_string()
            } else {
                "performance".to_string()
            },
            text,
            impact: (moved.abs() * t.r_squared).clamp(0.0, 1.0),
            evidence,
            origin: "report".to_string(),
        });
    }
    out
}

/// A query over every series of one metric in a scope (for callers that chart one).
pub fn scope_query(
    report_type: ReportType,
    selector: Option<&Selector>,
    metric: &str,
) -> Option<Query> {
    metric_query(&Reporter::scope(report_type, selector), metric)
}
