//! The report as data: what is computed, independent of how it is shown. These structs
//! are the JSON schema (`sedimentdb-report/1`, see the crate docs); renderers only read
//! them.
//!
//! Conventions: timestamps are RFC 3339 strings in UTC; durations are seconds; a figure
//! that cannot be computed (no points, no previous period) is `null`, never NaN.

use std::collections::BTreeMap;

use sedimentdb::Timestamp;
use serde::{Deserialize, Serialize};

/// The schema identifier written in every report's `schema` field. It changes only
/// when a field is removed or changes meaning; new fields may be added within a version.
pub const REPORT_SCHEMA: &str = "sedimentdb-report/1";

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// A title, e.g. "Performance report".
    pub title: String,
    /// The report type asked for (`performance`, `health`, `user-experience`,
    /// `learning`, `adoption`, `all`, or `selector`).
    pub report_type: String,
    /// The selector reported on, when one was given.
    pub selector: Option<String>,
    /// The period and its predecessor.
    pub period: Period,
    /// Counts over the whole report.
    pub summary: Summary,
    /// One entry per metric, by name.
    pub metrics: Vec<MetricReport>,
    /// Alerts firing at the end of the period or fired during it.
    pub alerts: Vec<AlertReport>,
    /// Recommendations, most impactful first.
    pub recommendations: Vec<RecommendationReport>,
}

/// The period a report covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// Start (inclusive).
    #[serde(with = "time_text")]
    pub start: Timestamp,
    /// End (exclusive).
    #[serde(with = "time_text")]
    pub end: Timestamp,
    /// Start of the previous period of the same length, which ends at `start`.
    #[serde(with = "time_text")]
    pub previous_start: Timestamp,
    /// Width of the timeline buckets, in seconds.
    pub step_seconds: f64,
}

/// Counts over the whole report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Metrics reported.
    pub metrics: usize,
    /// Series behind them.
    pub series: u64,
    /// Points in the period.
    pub points: u64,
    /// Metrics whose trend is degrading.
    pub degrading: usize,
    /// Metrics whose trend is improving.
    pub improving: usize,
    /// Anomalies found.
    pub anomalies: usize,
    /// Alerts firing at the end of the period.
    pub firing_alerts: usize,
    /// Alerts that fired during the period (including those still firing).
    pub fired_alerts: usize,
}

/// Everything about one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// The metric name.
    pub name: String,
    /// Its unit (the collector's `unit` dimension), when all its series agree.
    pub unit: Option<String>,
    /// The collector's `source` dimension, when all its series agree.
    pub source: Option<String>,
    /// The collector's `category` dimension, when all its series agree.
    pub category: Option<String>,
    /// Series of the metric with points in the period.
    pub series: u64,
    /// Which way of moving is bad: `increasing_is_bad` or `decreasing_is_bad`.
    pub bad_direction: String,
    /// The headline figures.
    pub headline: Headline,
    /// The mean over all series per bucket of `period.step_seconds`.
    pub timeline: Vec<TimelinePoint>,
    /// The least-squares trend of the timeline with a verdict; `null` with fewer than 3
    /// buckets.
    pub trend: Option<TrendReport>,
    /// Unusual buckets of single series, most unusual first (at most 10).
    pub anomalies: Vec<AnomalyReport>,
    /// How many anomalies were found in all (`anomalies` holds the first 10).
    pub anomalies_total: usize,
    /// The dimension whose values differ most from the whole, with its values.
    pub breakdown: Option<BreakdownReport>,
    /// The values of the breakdown's dimension behind the change against the previous
    /// period, largest share first; empty without a previous period.
    pub drivers: Vec<DriverReport>,
}

/// Headline figures of one metric over the period, over all its points.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Headline {
    /// Points in the period.
    pub points: u64,
    /// The mean of the last timeline bucket.
    pub current: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Mean.
    pub avg: Option<f64>,
    /// Median of the finite values (exact).
    pub p50: Option<f64>,
    /// 99th percentile of the finite values (exact).
    pub p99: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Mean over the previous period.
    pub previous_avg: Option<f64>,
    /// `avg - previous_avg`.
    pub change: Option<f64>,
    /// `change / |previous_avg|`; `null` when the previous mean is 0 or missing.
    pub change_ratio: Option<f64>,
}

/// One timeline bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Bucket start.
    #[serde(with = "time_text")]
    pub ts: Timestamp,
    /// Mean over the bucket's points of all series.
    pub value: f64,
}

/// The trend of a metric's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendReport {
    /// `degrading`, `improving` or `stable`.
    pub verdict: String,
    /// Change per second of the fitted line.
    pub slope_per_sec: f64,
    /// Change per day of the fitted line.
    pub slope_per_day: f64,
    /// Coefficient of determination in [0, 1].
    pub r_squared: f64,
    /// The fitted line's value at the start of the period.
    pub fitted_start: f64,
    /// The fitted line's value at the end of the period.
    pub fitted_end: f64,
    /// The forecast one tenth of the period past its end, with a 95 % prediction
    /// interval; `null` when the fit cannot give one.
    pub forecast: Option<ForecastReport>,
    /// The fitted line with its 95 % prediction interval at 9 evenly spaced times from
    /// the start of the period to the forecast time: the band a chart draws.
    pub band: Vec<BandPoint>,
}

/// One point of a trend's band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandPoint {
    /// The time.
    #[serde(with = "time_text")]
    pub ts: Timestamp,
    /// The fitted value.
    pub value: f64,
    /// Lower end of the prediction interval.
    pub lower: f64,
    /// Upper end of the prediction interval.
    pub upper: f64,
}

/// A forecast value with its prediction interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastReport {
    /// The time forecast.
    #[serde(with = "time_text")]
    pub ts: Timestamp,
    /// The fitted value.
    pub value: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// The interval's probability.
    pub confidence: f64,
}

/// One unusual bucket of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Bucket start.
    #[serde(with = "time_text")]
    pub ts: Timestamp,
    /// The series, as `name{key="value",...}`.
    pub series: String,
    /// The bucket's mean.
    pub value: f64,
    /// What the series' own recent history expected.
    pub expected: f64,
    /// How unusual: a robust z-score, signed (positive above the expectation).
    pub score: f64,
}

/// How one dimension's values compare with the whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownReport {
    /// The dimension.
    pub dimension: String,
    /// Its values, most different from the whole first (at most 10).
    pub values: Vec<BreakdownValue>,
}

/// One value of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownValue {
    /// `dimension=value` (or `dimension=<absent>`).
    pub label: String,
    /// The mean of its points.
    pub value: f64,
    /// Its points.
    pub count: u64,
    /// Its share of the sum over all points.
    pub share_of_total: f64,
    /// `value / overall mean`; `null` when the overall mean is 0.
    pub ratio: Option<f64>,
    /// The ranking score in [-2, 2] (a size-shrunk symmetric relative difference).
    pub score: f64,
}

/// One value of a dimension and its part in the change against the previous period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverReport {
    /// `dimension=value`.
    pub label: String,
    /// Its mean over the previous period.
    pub previous: f64,
    /// Its mean over the period.
    pub current: f64,
    /// `current - previous`.
    pub delta: f64,
    /// Its share of the change of the per-bucket sum over all series (the shares add up
    /// to 1; negative for a value that moved against the whole).
    pub share_of_delta: f64,
}

/// An alert firing at the end of the period or fired during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The rule's name.
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The metric the rule watches, when known (rules file).
    pub metric: Option<String>,
    /// The group's labels.
    pub labels: BTreeMap<String, String>,
    /// `firing` at the end of the period, or `resolved`.
    pub state: String,
    /// How often it started firing during the period.
    pub fired: usize,
    /// When it last started firing (at or before the end of the period).
    #[serde(with = "time_text::option")]
    pub since: Option<Timestamp>,
    /// The observed figure when last evaluated (rules file only).
    pub value: Option<f64>,
    /// What was observed, in words (rules file only).
    pub message: Option<String>,
    /// `stored` (the collector's `alert_state` records) or `rules` (a rules file
    /// evaluated over the stored points).
    pub origin: String,
}

/// A recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationReport {
    /// `performance`, `user_experience`, `adoption`, `learning` or `health`.
    pub area: String,
    /// The recommendation in one line.
    pub text: String,
    /// Score in [0, 1] that orders recommendations.
    pub impact: f64,
    /// The figures behind it.
    pub evidence: BTreeMap<String, f64>,
    /// `collector` (the collector's insights) or `report` (from this report's trends).
    pub origin: String,
}

/// Serde adapter: timestamps as RFC 3339 text (an integer of nanoseconds is read too).
pub(crate) mod time_text {
    use sedimentdb::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        sedimentdb_collector::rfc3339::serialize(ts, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        sedimentdb_collector::rfc3339::deserialize(d)
    }

    /// The same for an optional timestamp (`null` when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match ts {
                Some(ts) => super::serialize(ts, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] Timestamp);
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}
