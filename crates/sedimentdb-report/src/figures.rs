//! The figures of one metric over a period: headline statistics, the timeline with its
//! trend and forecast band, anomalies of single series, the most telling dimension and
//! the values behind the change against the previous period.
//!
//! Every figure is a typed query (or a pure analytics function over a query's result);
//! scans the engine can answer from chunk statistics (min, max, mean, count) are asked
//! as such, and only the two quantiles decode every point.

use std::time::Duration;

use sedimentdb::analytics::anomaly::rolling_robust_zscore;
use sedimentdb::analytics::trend::{linear_trend, Direction, Trend, Verdict};
use sedimentdb::query::Labels;
use sedimentdb::{Aggregate, Db, Query, TimeRange, Timestamp};

use crate::direction::{bad_direction, direction_name};
use crate::error::Result;
use crate::model::{
    AnomalyReport, BandPoint, BreakdownReport, BreakdownValue, DriverReport, ForecastReport,
    Headline, MetricReport, TimelinePoint, TrendReport,
};
use crate::select::MetricInfo;

/// Robust z-score above which a bucket is reported as anomalous.
pub const ANOMALY_THRESHOLD: f64 = 3.5;
/// Buckets in the rolling baseline of the anomaly detector.
pub const ANOMALY_BASELINE: usize = 24;
/// Anomalies listed per metric.
pub const MAX_ANOMALIES: usize = 10;
/// Values listed in a breakdown.
pub const MAX_BREAKDOWN_VALUES: usize = 10;
/// Smallest change over the period, as a fraction of the mean, that a trend must
/// explain to be called degrading or improving.
pub const MIN_TREND_CHANGE: f64 = 0.05;
/// Smallest R² of a trend that counts.
pub const MIN_TREND_R2: f64 = 0.5;

/// The time frame of one computation.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// The period.
    pub period: TimeRange,
    /// Start of the previous period (which ends at `period.start`).
    pub previous_start: Timestamp,
    /// Timeline bucket width in nanoseconds.
    pub step: i64,
}

impl Frame {
    /// The period and its predecessor of the same length.
    pub fn new(period: TimeRange, step: i64) -> Self {
        let len = period.end - period.start;
        Frame {
            period,
            previous_start: period.start.saturating_sub(len),
            step,
        }
    }

    fn step_duration(&self) -> Duration {
        Duration::from_nanos(self.step as u64)
    }

    fn previous(&self) -> TimeRange {
        TimeRange::new(self.previous_start, self.period.start)
    }

    fn with_previous(&self) -> TimeRange {
        TimeRange::new(self.previous_start, self.period.end)
    }
}

/// The single value of a whole-range aggregate over all series.
fn scalar(db: &Db, q: &Query, range: TimeRange, agg: Aggregate) -> Result<Option<f64>> {
    let r = db.query(&q.clone().range(range).aggregate(agg).group_all())?;
    Ok(r.series
        .first()
        .and_then(|s| s.values.first().copied())
        .filter(|v| v.is_finite()))
}

/// The median and 99th percentile of the finite values over all series, from one read
/// of the points and two selections (two `Aggregate::Quantile` queries would read and
/// fully sort them twice, the larger part of a report's time). Type-7 interpolation, as
/// the engine's `analytics::stats::quantile`.
fn median_and_p99(
    db: &Db,
    q: &Query,
    range: TimeRange,
    expected: usize,
) -> Result<(Option<f64>, Option<f64>)> {
    let mut values = Vec::with_capacity(expected);
    for s in db.query(&q.clone().range(range))? {
        values.extend(s.values.iter().copied().filter(|v| v.is_finite()));
    }
    let p50 = type7_quantile(&mut values, 0.5);
    let p99 = type7_quantile(&mut values, 0.99);
    Ok((p50, p99))
}

/// Type-7 quantile of finite values by selection (linear time; reorders `values`):
/// with `h = (n - 1) q` and `lo = floor h`, `x[lo] + (h - lo) (x[lo + 1] - x[lo])` of the
/// sorted values.
pub(crate) fn type7_quantile(values: &mut [f64], q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let frac = h - lo as f64;
    let (_, &mut a, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    match above.iter().copied().min_by(f64::total_cmp) {
        Some(b) if frac > 0.0 => Some(a + frac * (b - a)),
        _ => Some(a),
    }
}

/// Computes the report of one metric; `query` selects its series.
pub fn metric_report(
    db: &Db,
    info: &MetricInfo,
    query: &Query,
    frame: &Frame,
) -> Result<MetricReport> {
    let period = frame.period;
    let direction = bad_direction(&info.name, info.unit.as_deref());

    let count = scalar(db, query, period, Aggregate::Count)?.unwrap_or(0.0) as u64;
    let series_in_period = db
        .query(&query.clone().range(period).aggregate(Aggregate::Count))?
        .len() as u64;
    let mut headline = Headline {
        points: count,
        ..Headline::default()
    };
    if count > 0 {
        headline.min = scalar(db, query, period, Aggregate::Min)?;
        headline.max = scalar(db, query, period, Aggregate::Max)?;
        headline.avg = scalar(db, query, period, Aggregate::Avg)?;
        (headline.p50, headline.p99) = median_and_p99(db, query, period, count as usize)?;
    }
    headline.previous_avg = scalar(db, query, frame.previous(), Aggregate::Avg)?;
    if let (Some(now), Some(before)) = (headline.avg, headline.previous_avg) {
        headline.change = Some(now - before);
        headline.change_ratio = (before != 0.0).then(|| (now - before) / before.abs());
    }

    let timeline_q = query
        .clone()
        .range(period)
        .downsample(frame.step_duration(), Aggregate::Avg)
        .group_all();
    let timeline: Vec<TimelinePoint> = db
        .query(&timeline_q)?
        .series
        .first()
        .map(|s| {
            s.points()
                .filter(|(_, v)| v.is_finite())
                .map(|(ts, value)| TimelinePoint { ts, value })
                .collect()
        })
        .unwrap_or_default();
    headline.current = timeline.last().map(|p| p.value);

    let trend = trend_report(&timeline, frame, direction, headline.avg);
    let (anomalies, anomalies_total) = anomalies(db, query, frame)?;
    let breakdown = if info.series > 1 && count > 0 {
        breakdown(db, query, period)?
    } else {
        None
    };
    let drivers = match (&breakdown, headline.previous_avg) {
        (Some(b), Some(_)) if count > 0 => drivers(db, query, frame, &b.dimension)?,
        _ => Vec::new(),
    };

    Ok(MetricReport {
        name: info.name.clone(),
        unit: info.unit.clone(),
        source: info.source.clone(),
        category: info.category.clone(),
        series: series_in_period,
        bad_direction: direction_name(direction).to_string(),
        headline,
        timeline,
        trend,
        anomalies,
        anomalies_total,
        breakdown,
        drivers,
    })
}

/// The trend of the timeline, judged against a change of [`MIN_TREND_CHANGE`] of the
/// mean over the period.
pub fn trend_report(
    timeline: &[TimelinePoint],
    frame: &Frame,
    direction: Direction,
    avg: Option<f64>,
) -> Option<TrendReport> {
    if timeline.len() < 3 {
        return None;
    }
    let ts: Vec<Timestamp> = timeline.iter().map(|p| p.ts).collect();
    let vs: Vec<f64> = timeline.iter().map(|p| p.value).collect();
    let fit: Trend = linear_trend(&ts, &vs)?;
    let period_secs = (frame.period.end - frame.period.start) as f64 / 1e9;
    let scale = avg
        .map_or(0.0, f64::abs)
        .max(fit.residual_stddev)
        .max(1e-12);
    let min_slope = MIN_TREND_CHANGE * scale / period_secs;
    let verdict = fit.verdict(direction, min_slope, MIN_TREND_R2);
    let horizon_end = frame
        .period
        .end
        .saturating_add((frame.period.end - frame.period.start) / 10);
    let forecast = fit
        .forecast(horizon_end, 0.95)
        .ok()
        .map(|f| ForecastReport {
            ts: f.ts,
            value: f.value,
            lower: f.lower,
            upper: f.upper,
            confidence: f.confidence,
        });
    let band = if forecast.is_some() {
        (0..=8)
            .filter_map(|i| {
                let at = frame.period.start + (horizon_end - frame.period.start) / 8 * i;
                fit.forecast(at, 0.95).ok().map(|f| BandPoint {
                    ts: at,
                    value: f.value,
                    lower: f.lower,
                    upper: f.upper,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Some(TrendReport {
        verdict: match verdict {
            Verdict::Degrading => "degrading",
            Verdict::Improving => "improving",
            Verdict::Stable => "stable",
        }
        .to_string(),
        slope_per_sec: fit.slope_per_sec,
        slope_per_day: fit.slope_per_sec * 86_400.0,
        r_squared: fit.r_squared,
        fitted_start: fit.value_at(frame.period.start),
        fitted_end: fit.value_at(frame.period.end),
        forecast,
        band,
    })
}

/// Anomalous buckets of single series in the period (the previous period warms the
/// baseline up): the [`MAX_ANOMALIES`] most unusual, and how many there were.
pub(crate) fn anomalies(
    db: &Db,
    query: &Query,
    frame: &Frame,
) -> Result<(Vec<AnomalyReport>, usize)> {
    let q = query
        .clone()
        .range(frame.with_previous())
        .downsample(frame.step_duration(), Aggregate::Avg);
    let mut found = Vec::new();
    for s in db.query(&q)? {
        if s.len() <= ANOMALY_BASELINE {
            continue;
        }
        let hits = rolling_robust_zscore(
            &s.timestamps,
            &s.values,
            ANOMALY_BASELINE,
            ANOMALY_THRESHOLD,
        )?;
        for a in hits {
            if a.ts >= frame.period.start && a.score.is_finite() {
                found.push(AnomalyReport {
                    ts: a.ts,
                    series: labels_text(&s.labels),
                    value: a.value,
                    expected: a.expected,
                    score: a.score,
                });
            }
        }
    }
    let total = found.len();
    found.sort_by(|a, b| {
        b.score
            .abs()
            .total_cmp(&a.score.abs())
            .then(a.ts.cmp(&b.ts))
            .then_with(|| a.series.cmp(&b.series))
    });
    found.truncate(MAX_ANOMALIES);
    Ok((found, total))
}

/// A series' labels as `name{key="value",...}`, without the collector's reserved
/// dimensions (source, category and unit are the metric's, shown with it).
pub fn labels_text(labels: &Labels) -> String {
    match labels.series_key() {
        Some(key) => {
            let reserved = sedimentdb_collector::RESERVED_DIMENSIONS;
            let dims: Vec<(&str, &str)> = key
                .dimensions()
                .iter()
                .filter(|(k, _)| !reserved.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            sedimentdb::SeriesKey::from_parts(key.name(), dims).to_string()
        }
        None => labels.to_string(),
    }
}

/// The dimension whose values differ most from the whole.
fn breakdown(db: &Db, query: &Query, period: TimeRange) -> Result<Option<BreakdownReport>> {
    let ranked = db.breakdown(&query.clone().range(period), &[])?;
    let reserved = sedimentdb_collector::RESERVED_DIMENSIONS;
    let Some(best) = ranked
        .into_iter()
        .find(|b| !reserved.contains(&b.dimension.as_str()) && b.contributions.len() > 1)
    else {
        return Ok(None);
    };
    Ok(Some(BreakdownReport {
        dimension: best.dimension,
        values: best
            .contributions
            .into_iter()
            .take(MAX_BREAKDOWN_VALUES)
            .map(|c| BreakdownValue {
                label: c.label,
                value: c.value,
                count: c.count,
                share_of_total: c.share_of_total,
                ratio: c.ratio,
                score: c.score,
            })
            .collect(),
    }))
}

/// The values of `dimension` behind the change from the previous period to this one:
/// their means before and after (attribution of the per-bucket mean) and their share of
/// the change (attribution of the per-bucket sum, whose shares add up to 1).
fn drivers(db: &Db, query: &Query, frame: &Frame, dimension: &str) -> Result<Vec<DriverReport>> {
    let q = query.clone().range(frame.with_previous());
    let step = frame.step_duration();
    let means = db.attribute(
        &q.clone().downsample(step, Aggregate::Avg),
        frame.period,
        dimension,
    )?;
    let sums = db.attribute(&q.downsample(step, Aggregate::Sum), frame.period, dimension)?;
    let mut out: Vec<DriverReport> = means
        .into_iter()
        .filter_map(|m| {
            let share = sums.iter().find(|s| s.label == m.label)?.share_of_delta;
            (m.delta.is_finite() && share.is_finite()).then_some(DriverReport {
                label: m.label,
                previous: m.baseline,
                current: m.in_window,
                delta: m.delta,
                share_of_delta: share,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.share_of_delta
            .abs()
            .total_cmp(&a.share_of_delta.abs())
            .then_with(|| a.label.cmp(&b.label))
    });
    out.truncate(5);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::type7_quantile;
    use sedimentdb::analytics::stats::quantile;

    #[test]
    fn selection_quantile_equals_the_engines_sorted_quantile() {
        // Deterministic inputs of many sizes, with runs of equal values and negatives.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in (1..60).chain([101, 1000, 4097]) {
            let values: Vec<f64> = (0..n)
                .map(|_| ((next() % 200) as f64 - 100.0) / 8.0)
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0] {
                let mut scratch = values.clone();
                let want = quantile(&sorted, q).unwrap();
                assert_eq!(type7_quantile(&mut scratch, q), want, "n {n} q {q}");
            }
        }
        assert_eq!(type7_quantile(&mut [], 0.5), None);
        assert_eq!(type7_quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
    }
}
