//! Dashboard data: what the terminal dashboard shows, computed by the same code as the
//! reports, so that other tools can read it (`sediment dashboard --once --format json`,
//! schema `sedimentdb-dashboard/1`).
//!
//! A dashboard has a window (the last hour, day or week) and panels: metric charts
//! (timeline, current value, min/avg/max), firing and fired alerts, the newest
//! anomalies, the top series of a metric and the collector's recommendations. A layout
//! file picks the panels:
//!
//! ```toml
//! window = "24h"            # optional: the window to start with (1h, 24h or 7d)
//!
//! [[panel]]
//! kind = "metric"
//! metric = "cpu_usage"
//! title = "CPU"             # optional
//!
//! [[panel]]
//! kind = "topk"
//! metric = "command_execution_time"
//! k = 5                     # optional, default 5
//!
//! [[panel]]
//! kind = "alerts"           # also: "anomalies", "recommendations"
//! ```
//!
//! Without a layout: the four busiest metrics of the window (most points), alerts,
//! anomalies of those metrics, the top 5 series of the busiest, recommendations.

use std::time::Duration;

use sedimentdb::{Aggregate, Query, Selector, TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

use crate::alerts::stored_alerts;
use crate::build::{by_points, Reporter};
use crate::error::{ReportError, Result};
use crate::figures::{anomalies, labels_text, Frame};
use crate::model::{AlertReport, AnomalyReport, RecommendationReport, TimelinePoint};
use crate::select::{metric_query, MetricInfo};
use crate::spec::{step_for, system_now, ReportType};

/// The schema identifier of [`DashboardData`].
pub const DASHBOARD_SCHEMA: &str = "sedimentdb-dashboard/1";

/// Metric panels a dashboard without a layout shows.
pub const DEFAULT_METRIC_PANELS: usize = 4;

/// One panel of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum PanelSpec {
    /// A metric's timeline with its current value.
    Metric {
        /// The metric name.
        metric: String,
        /// The title (default: the metric name).
        #[serde(default)]
        title: Option<String>,
    },
    /// The series of a metric with the highest mean over the window.
    Topk {
        /// The metric name.
        metric: String,
        /// How many series (default 5).
        #[serde(default = "default_k")]
        k: usize,
    },
    /// Firing and fired alerts.
    Alerts,
    /// The newest anomalies of the dashboard's metrics.
    Anomalies,
    /// The collector's recommendations.
    Recommendations,
}

fn default_k() -> usize {
    5
}

/// A layout file: the panels, and optionally the window to start with.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// The starting window (`1h`, `24h`, `7d`, or any duration such as `30m`).
    #[serde(default)]
    pub window: Option<String>,
    /// The panels, in order.
    #[serde(default, rename = "panel")]
    pub panels: Vec<PanelSpec>,
}

impl Layout {
    /// Parses a layout from TOML text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &str) -> Result<Layout> {
        let layout: Layout = toml::from_str(text).map_err(|e| ReportError::Layout {
            path: path.to_string(),
            message: e.message().to_string(),
        })?;
        let bad = |message: String| ReportError::Layout {
            path: path.to_string(),
            message,
        };
        if layout.panels.is_empty() {
            return Err(bad("no [[panel]] given".into()));
        }
        for p in &layout.panels {
            match p {
                PanelSpec::Metric { metric, .. } | PanelSpec::Topk { metric, .. }
                    if metric.is_empty() =>
                {
                    return Err(bad("a panel's metric is empty".into()))
                }
                PanelSpec::Topk { k: 0, .. } => return Err(bad("k must be at least 1".into())),
                _ => {}
            }
        }
        if let Some(w) = &layout.window {
            if sedimentdb_collector::alert::parse_duration(w).is_none_or(|d| d.is_zero()) {
                return Err(bad(format!(
                    "window {w:?} is not a duration such as 1h or 7d"
                )));
            }
        }
        Ok(layout)
    }

    /// Reads and parses a layout file.
    pub fn load(path: &std::path::Path) -> Result<Layout> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::Layout {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Layout::from_toml(&text, &path.display().to_string())
    }

    /// The starting window, if the layout gives one.
    pub fn window(&self) -> Option<Duration> {
        self.window
            .as_deref()
            .and_then(sedimentdb_collector::alert::parse_duration)
    }
}

/// What a dashboard refresh computes. Build with [`DashboardSpec::new`] and the builder
/// methods; checked by [`Reporter::dashboard`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DashboardSpec {
    /// The window up to now.
    pub window: Duration,
    /// The panels; `None` for the defaults.
    pub panels: Option<Vec<PanelSpec>>,
    /// "Now"; default the system clock.
    pub now: Option<Timestamp>,
    /// Only series matching this selector (every panel, and the choice of the default
    /// panels); `None` for every series.
    pub selector: Option<Selector>,
}

impl DashboardSpec {
    /// The default panels over the last `window`, every series, up to the system clock.
    pub fn new(window: Duration) -> Self {
        DashboardSpec {
            window,
            panels: None,
            now: None,
            selector: None,
        }
    }

    /// These panels instead of the defaults.
    pub fn panels(mut self, panels: Vec<PanelSpec>) -> Self {
        self.panels = Some(panels);
        self
    }

    /// What "now" is. Default: the system clock.
    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Only series matching `selector`.
    pub fn selector(mut self, selector: Selector) -> Self {
        self.selector = Some(selector);
        self
    }
}

/// The data of one refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    /// Always [`DASHBOARD_SCHEMA`].
    pub schema: String,
    /// The window in seconds.
    pub window_seconds: f64,
    /// Start of the window.
    #[serde(with = "crate::model::time_text")]
    pub start: Timestamp,
    /// End of the window (exclusive).
    #[serde(with = "crate::model::time_text")]
    pub end: Timestamp,
    /// Width of the timeline buckets, in seconds.
    pub step_seconds: f64,
    /// The panels, in layout order.
    pub panels: Vec<Panel>,
}

/// One panel's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Panel {
    /// A metric's timeline.
    Metric(MetricPanel),
    /// Top series of a metric.
    Topk(TopkPanel),
    /// Alerts.
    Alerts {
        /// Firing first.
        items: Vec<AlertReport>,
    },
    /// Anomalies, newest first.
    Anomalies {
        /// At most 20.
        items: Vec<DashboardAnomaly>,
    },
    /// Recommendations, most impactful first.
    Recommendations {
        /// The recommendations.
        items: Vec<RecommendationReport>,
    },
}

/// A metric panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPanel {
    /// The title.
    pub title: String,
    /// The metric.
    pub metric: String,
    /// Its unit, when its series agree.
    pub unit: Option<String>,
    /// Series with points in the window.
    pub series: usize,
    /// The mean of the newest bucket.
    pub current: Option<f64>,
    /// Smallest value in the window.
    pub min: Option<f64>,
    /// Mean over the window.
    pub avg: Option<f64>,
    /// Largest value in the window.
    pub max: Option<f64>,
    /// The mean over all series per bucket.
    pub points: Vec<TimelinePoint>,
}

/// A top-k panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopkPanel {
    /// The metric.
    pub metric: String,
    /// Its unit.
    pub unit: Option<String>,
    /// The series with the highest mean, highest first.
    pub series: Vec<TopSeries>,
}

/// One series of a top-k panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopSeries {
    /// `name{key="value",...}`.
    pub series: String,
    /// Its mean over the window.
    pub value: f64,
}

/// An anomaly with its metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardAnomaly {
    /// The metric.
    pub metric: String,
    /// The anomaly.
    #[serde(flatten)]
    pub anomaly: AnomalyReport,
}

impl Reporter {
    /// Computes one refresh of a dashboard.
    pub fn dashboard(&self, spec: &DashboardSpec) -> Result<DashboardData> {
        let window = i64::try_from(spec.window.as_nanos())
            .ok()
            .filter(|w| *w >= 60_000_000_000)
            .ok_or_else(|| {
                ReportError::invalid("the window must be between one minute and 292 years")
            })?;
        let now = spec.now.unwrap_or_else(system_now);
        let period = TimeRange::new(now.saturating_sub(window), now.saturating_add(1));
        let frame = Frame::new(period, step_for(window));
        let scope = [spec.selector.clone().unwrap_or_else(Selector::any)];
        let all = self.metrics(&scope)?;
        let panels = match &spec.panels {
            Some(p) => p.clone(),
            None => default_panels(self, &scope, all.clone(), period)?,
        };
        // A metric the selector excludes would only ever show an empty panel.
        let scoped = |metric: &str| {
            metric_query(&scope, metric).ok_or_else(|| {
                ReportError::invalid(format!(
                    "the panel metric {metric:?} is not one the selector matches"
                ))
            })
        };
        let metric_names: Vec<String> = panels
            .iter()
            .filter_map(|p| match p {
                PanelSpec::Metric { metric, .. } => Some(metric.clone()),
                _ => None,
            })
            .collect();
        let info = |name: &str| all.iter().find(|m| m.name == name);
        let mut out = Vec::with_capacity(panels.len());
        for p in &panels {
            out.push(match p {
                PanelSpec::Metric { metric, title } => Panel::Metric(self.metric_panel(
                    scoped(metric)?,
                    metric,
                    title.clone().unwrap_or_else(|| metric.clone()),
                    info(metric),
                    &frame,
                )?),
                PanelSpec::Topk { metric, k } => {
                    let q = scoped(metric)?
                        .range(period)
                        .aggregate(Aggregate::Avg)
                        .top_k(*k, Aggregate::Avg);
                    let series = self
                        .db()
                        .query(&q)?
                        .into_iter()
                        .filter_map(|s| {
                            let value = *s.values.first()?;
                            Some(TopSeries {
                                series: labels_text(&s.labels),
                                value,
                            })
                        })
                        .collect();
                    Panel::Topk(TopkPanel {
                        metric: metric.clone(),
                        unit: info(metric).and_then(|m| m.unit.clone()),
                        series,
                    })
                }
                PanelSpec::Alerts => Panel::Alerts {
                    items: stored_alerts(self.db(), period)?,
                },
                PanelSpec::Anomalies => {
                    let mut items = Vec::new();
                    for name in &metric_names {
                        let (found, _) = anomalies(self.db(), &scoped(name)?, &frame)?;
                        items.extend(found.into_iter().map(|a| DashboardAnomaly {
                            metric: name.clone(),
                            anomaly: a,
                        }));
                    }
                    items.sort_by(|a, b| {
                        b.anomaly
                            .ts
                            .cmp(&a.anomaly.ts)
                            .then_with(|| a.metric.cmp(&b.metric))
                            .then_with(|| a.anomaly.series.cmp(&b.anomaly.series))
                    });
                    items.truncate(20);
                    Panel::Anomalies { items }
                }
                PanelSpec::Recommendations => Panel::Recommendations {
                    items: self.insights(ReportType::All, period)?,
                },
            });
        }
        Ok(DashboardData {
            schema: DASHBOARD_SCHEMA.to_string(),
            window_seconds: window as f64 / 1e9,
            start: period.start,
            end: period.end,
            step_seconds: frame.step as f64 / 1e9,
            panels: out,
        })
    }

    /// The panel of `metric`, over the series `query` selects.
    fn metric_panel(
        &self,
        query: Query,
        metric: &str,
        title: String,
        info: Option<&MetricInfo>,
        frame: &Frame,
    ) -> Result<MetricPanel> {
        let db = self.db();
        let q = query.range(frame.period);
        let whole = |agg: Aggregate| -> Result<Option<f64>> {
            let r = db.query(&q.clone().aggregate(agg).group_all())?;
            Ok(r.series
                .first()
                .and_then(|s| s.values.first().copied())
                .filter(|v| v.is_finite()))
        };
        let series = db.query(&q.clone().aggregate(Aggregate::Count))?.len();
        let points: Vec<TimelinePoint> = db
            .query(
                &q.clone()
                    .downsample(Duration::from_nanos(frame.step as u64), Aggregate::Avg)
                    .group_all(),
            )?
            .series
            .first()
            .map(|s| {
                s.points()
                    .filter(|p| p.1.is_finite())
                    .map(|(ts, value)| TimelinePoint { ts, value })
                    .collect()
            })
            .unwrap_or_default();
        Ok(MetricPanel {
            title,
            metric: metric.to_string(),
            unit: info.and_then(|m| m.unit.clone()),
            series,
            current: points.last().map(|p| p.value),
            min: whole(Aggregate::Min)?,
            avg: whole(Aggregate::Avg)?,
            max: whole(Aggregate::Max)?,
            points,
        })
    }
}

/// The default panels: the busiest metrics, alerts, anomalies, the top series of the
/// busiest metric, recommendations.
fn default_panels(
    reporter: &Reporter,
    scope: &[Selector],
    all: Vec<MetricInfo>,
    period: TimeRange,
) -> Result<Vec<PanelSpec>> {
    let busy = busiest_ordered(reporter, scope, all, period)?;
    let mut panels: Vec<PanelSpec> = busy
        .iter()
        .take(DEFAULT_METRIC_PANELS)
        .map(|m| PanelSpec::Metric {
            metric: m.clone(),
            title: None,
        })
        .collect();
    panels.push(PanelSpec::Alerts);
    panels.push(PanelSpec::Anomalies);
    if let Some(first) = busy.first() {
        panels.push(PanelSpec::Topk {
            metric: first.clone(),
            k: 5,
        });
    }
    panels.push(PanelSpec::Recommendations);
    Ok(panels)
}

/// Metric names, busiest first.
fn busiest_ordered(
    reporter: &Reporter,
    scope: &[Selector],
    all: Vec<MetricInfo>,
    period: TimeRange,
) -> Result<Vec<String>> {
    Ok(by_points(reporter.db(), scope, all, period)?
        .into_iter()
        .map(|m| m.name)
        .collect())
}
