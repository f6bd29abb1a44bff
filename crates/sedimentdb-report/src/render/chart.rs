//! SVG charts drawn with plotters' SVG backend: the timeline of a metric (mean line,
//! trend line with its 95 % prediction band reaching into the forecast, anomalies as red
//! rings) and the breakdown of a dimension (horizontal bars against the overall mean).

use plotters::prelude::*;
use sedimentdb::Timestamp;

use super::fmt::{number, time_short};
use crate::error::{ReportError, Result};
use crate::model::{MetricReport, Period};

/// Width of a chart in pixels.
pub const CHART_WIDTH: u32 = 820;
/// Height of a timeline chart in pixels.
pub const TIMELINE_HEIGHT: u32 = 280;

const LINE: RGBColor = RGBColor(31, 99, 178);
const TREND: RGBColor = RGBColor(214, 120, 20);
const BAND: RGBAColor = RGBAColor(214, 120, 20, 0.16);
const ANOMALY: RGBColor = RGBColor(200, 30, 40);
const GRID: RGBColor = RGBColor(232, 234, 238);
const INK: RGBColor = RGBColor(60, 64, 72);

fn chart_err<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Chart(e.to_string())
}

/// The timeline chart of one metric as an `<svg>` element.
pub fn timeline_svg(m: &MetricReport, period: &Period) -> Result<String> {
    let secs = |ts: Timestamp| (ts - period.start) as f64 / 1e9;
    let x_end = m
        .trend
        .as_ref()
        .and_then(|t| t.forecast.as_ref())
        .map_or(period.end, |f| f.ts.max(period.end));
    let (x0, x1) = (0.0, secs(x_end).max(1.0));

    let mut ys: Vec<f64> = m.timeline.iter().map(|p| p.value).collect();
    ys.extend(m.anomalies.iter().map(|a| a.value));
    if let Some(t) = &m.trend {
        ys.extend(t.band.iter().flat_map(|b| [b.lower, b.upper]));
    }
    ys.retain(|v| v.is_finite());
    let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let pad = ((hi - lo) * 0.08).max(hi.abs().max(1.0) * 1e-6);
    let (y0, y1) = (lo - pad, hi + pad);

    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (CHART_WIDTH, TIMELINE_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(chart_err)?;
        let x_fmt = |x: &f64| time_short(period.start + (*x * 1e9) as i64);
        let y_fmt = |y: &f64| number(Some(*y));
        chart
            .configure_mesh()
            .x_labels(7)
            .y_labels(6)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(chart_err)?;

        if let Some(t) = &m.trend {
            if t.band.len() >= 2 {
                let mut area: Vec<(f64, f64)> =
                    t.band.iter().map(|b| (secs(b.ts), b.upper)).collect();
                area.extend(t.band.iter().rev().map(|b| (secs(b.ts), b.lower)));
                chart
                    .draw_series(std::iter::once(Polygon::new(area, BAND.filled())))
                    .map_err(chart_err)?
                    .label("trend, 95% band")
                    .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.filled()));
                chart
                    .draw_series(LineSeries::new(
                        t.band.iter().map(|b| (secs(b.ts), b.value)),
                        TREND.stroke_width(2),
                    ))
                    .map_err(chart_err)?;
            }
        }
        chart
            .draw_series(LineSeries::new(
                m.timeline.iter().map(|p| (secs(p.ts), p.value)),
                LINE.stroke_width(2),
            ))
            .map_err(chart_err)?
            .label("mean")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], LINE.stroke_width(2)));
        // The end of the period: what lies right of it is forecast.
        chart
            .draw_series(LineSeries::new(
                [(secs(period.end), y0), (secs(period.end), y1)],
                RGBColor(150, 150, 160).stroke_width(1),
            ))
            .map_err(chart_err)?;
        if !m.anomalies.is_empty() {
            chart
                .draw_series(
                    m.anomalies
                        .iter()
                        .map(|a| Circle::new((secs(a.ts), a.value), 5, ANOMALY.stroke_width(2))),
                )
                .map_err(chart_err)?
                .label("anomaly")
                .legend(|(x, y)| Circle::new((x + 8, y), 4, ANOMALY.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// The breakdown chart of one metric as an `<svg>` element; `None` without a breakdown.
pub fn breakdown_svg(m: &MetricReport) -> Result<Option<String>> {
    let Some(b) = &m.breakdown else {
        return Ok(None);
    };
    let bars: Vec<(&str, f64)> = b
        .values
        .iter()
        .filter(|v| v.value.is_finite())
        .map(|v| (v.label.as_str(), v.value))
        .collect();
    if bars.is_empty() {
        return Ok(None);
    }
    let overall = b
        .values
        .iter()
        .find_map(|v| v.ratio.filter(|r| *r != 0.0).map(|r| v.value / r));
    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let hi = bars
        .iter()
        .map(|b| b.1)
        .fold(0.0, f64::max)
        .max(overall.unwrap_or(0.0));
    let span = (hi - lo).max(1e-12);
    let (x0, x1) = (lo - span * 0.02, hi + span * 0.45);
    let n = bars.len();
    let height = 40 + 26 * n as u32;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(8)
            .build_cartesian_2d(x0..x1, 0.0..n as f64)
            .map_err(chart_err)?;
        let x_fmt = |x: &f64| number(Some(*x));
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(6)
            .x_label_formatter(&x_fmt)
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(chart_err)?;
        let row = |i: usize| (n - 1 - i) as f64;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let y = row(i);
                let color = if i == 0 { TREND } else { LINE };
                Rectangle::new(
                    [(0.0f64.max(x0), y + 0.18), (*v, y + 0.82)],
                    color.mix(0.85).filled(),
                )
            }))
            .map_err(chart_err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
                Text::new(
                    format!("{label}  {}", number(Some(*v))),
                    (v.max(0.0) + span * 0.01, row(i) + 0.72),
                    ("sans-serif", 12).into_font().color(&INK),
                )
            }))
            .map_err(chart_err)?;
        if let Some(mean) = overall {
            chart
                .draw_series(LineSeries::new(
                    [(mean, 0.0), (mean, n as f64)],
                    ANOMALY.stroke_width(1),
                ))
                .map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(Some(svg))
}
