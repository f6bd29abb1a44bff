//! Drawing the dashboard: a pure function of the data and the UI state onto a ratatui
//! frame, so that it is tested with ratatui's `TestBackend` and captured as text.
//!
//! Panels sit in a grid of two columns in layout order; metric panels (a header with
//! the current value and unit, a sparkline, a line chart) get more height than the
//! lists (alerts, anomalies, top series, recommendations). The selected panel has a
//! yellow border.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Sparkline, Wrap,
};
use ratatui::Frame;
use sedimentdb_report::dashboard::{MetricPanel, Panel, TopkPanel};
use sedimentdb_report::render::{number, time, time_short};
use sedimentdb_report::DashboardData;

/// What the user chose and what the last refresh said.
#[derive(Debug, Clone, Default)]
pub struct UiState {
    /// The selected panel.
    pub selected: usize,
    /// The window's label, e.g. `1h`.
    pub window: String,
    /// How often the data is refreshed, e.g. `30s`.
    pub refresh: String,
    /// Refreshes so far.
    pub refreshes: u64,
    /// The last refresh's error, if it failed (the previous data stays on screen).
    pub error: Option<String>,
}

/// Draws the whole dashboard.
pub fn draw(f: &mut Frame, data: &DashboardData, state: &UiState) {
    let area = f.area();
    let [body, footer] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let rows: Vec<&[Panel]> = data.panels.chunks(2).collect();
    let weights: Vec<u32> = rows
        .iter()
        .map(|r| {
            if r.iter().any(|p| matches!(p, Panel::Metric(_))) {
                3
            } else {
                2
            }
        })
        .collect();
    let total: u32 = weights.iter().sum::<u32>().max(1);
    let row_areas = Layout::default()
        .direction(Direction::Vertical)
        .constraints(weights.iter().map(|w| Constraint::Ratio(*w, total)))
        .split(body);
    for (r, panels) in rows.iter().enumerate() {
        let cols = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)])
            .split(row_areas[r]);
        for (c, panel) in panels.iter().enumerate() {
            let index = r * 2 + c;
            draw_panel(f, cols[c], panel, data, index == state.selected);
        }
    }
    f.render_widget(Paragraph::new(footer_line(data, state)), footer);
}

fn footer_line(data: &DashboardData, state: &UiState) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" window {} ", state.window),
        Style::new().add_modifier(Modifier::REVERSED),
    )];
    // A failed refresh comes first, so that a narrow terminal does not cut it off.
    if let Some(e) = &state.error {
        spans.push(Span::styled(
            format!(" refresh failed: {e} ·"),
            Style::new().fg(Color::Red),
        ));
    }
    spans.push(Span::raw(format!(
        " to {} UTC · refresh #{} every {} · 1/2/3: 1h/24h/7d · Tab: panel · r: refresh · q: quit",
        time(data.end.saturating_sub(1)),
        state.refreshes,
        state.refresh
    )));
    Line::from(spans)
}

fn block(title: String, selected: bool) -> Block<'static> {
    let style = if selected {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(
            title,
            Style::new().add_modifier(Modifier::BOLD),
        ))
}

fn draw_panel(f: &mut Frame, area: Rect, panel: &Panel, data: &DashboardData, selected: bool) {
    match panel {
        Panel::Metric(m) => metric_panel(f, area, m, data, selected),
        Panel::Topk(t) => topk_panel(f, area, t, selected),
        Panel::Alerts { items } => {
            let lines: Vec<Line> = if items.is_empty() {
                vec![Line::from("no alert fired in the window")]
            } else {
                items
                    .iter()
                    .map(|a| {
                        let style = if a.state == "firing" {
                            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                        } else {
                            Style::new().fg(Color::Gray)
                        };
                        let labels: Vec<String> =
                            a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        Line::from(vec![
                            Span::styled(format!("{:<8}", a.state.to_uppercase()), style),
                            Span::raw(format!(
                                " {} {} {{{}}}{}",
                                a.severity,
                                a.rule,
                                labels.join(","),
                                a.since
                                    .map_or(String::new(), |s| format!(" since {}", time_short(s)))
                            )),
                        ])
                    })
                    .collect()
            };
            let firing = items.iter().filter(|a| a.state == "firing").count();
            list(
                f,
                area,
                format!(" Alerts · {firing} firing "),
                lines,
                selected,
            );
        }
        Panel::Anomalies { items } => {
            let lines: Vec<Line> = if items.is_empty() {
                vec![Line::from("no anomaly in the window")]
            } else {
                items
                    .iter()
                    .map(|a| {
                        Line::from(vec![
                            Span::styled(time_short(a.anomaly.ts), Style::new().fg(Color::Cyan)),
                            Span::styled(
                                format!(" z {:+.1} ", a.anomaly.score),
                                Style::new().fg(Color::Red),
                            ),
                            Span::raw(format!(
                                "{} {} (expected {}) {}",
                                a.metric,
                                number(Some(a.anomaly.value)),
                                number(Some(a.anomaly.expected)),
                                a.anomaly.series
                            )),
                        ])
                    })
                    .collect()
            };
            list(
                f,
                area,
                format!(" Newest anomalies · {} ", items.len()),
                lines,
                selected,
            );
        }
        Panel::Recommendations { items } => {
            let lines: Vec<Line> = if items.is_empty() {
                vec![Line::from("no recommendation")]
            } else {
                items
                    .iter()
                    .map(|r| {
                        Line::from(vec![
                            Span::styled(
                                format!("[{:.2}] ", r.impact),
                                Style::new().fg(Color::Yellow),
                            ),
                            Span::raw(r.text.clone()),
                        ])
                    })
                    .collect()
            };
            list(f, area, " Recommendations ".to_string(), lines, selected);
        }
        _ => list(
            f,
            area,
            " ? ".to_string(),
            vec![Line::from("unknown panel")],
            selected,
        ),
    }
}

fn list(f: &mut Frame, area: Rect, title: String, lines: Vec<Line<'static>>, selected: bool) {
    let p = Paragraph::new(lines)
        .block(block(title, selected))
        .wrap(Wrap { trim: true });
    f.render_widget(p, area);
}

fn topk_panel(f: &mut Frame, area: Rect, t: &TopkPanel, selected: bool) {
    let unit = t.unit.clone().unwrap_or_default();
    let top = t
        .series
        .first()
        .map_or(0.0, |s| s.value)
        .max(f64::MIN_POSITIVE);
    let width = area.width.saturating_sub(4) as usize;
    let lines: Vec<Line> = if t.series.is_empty() {
        vec![Line::from("no series in the window")]
    } else {
        t.series
            .iter()
            .map(|s| {
                let bar = ((s.value / top).clamp(0.0, 1.0) * 12.0).round() as usize;
                let mut text = format!("{} {}", number(Some(s.value)), unit);
                // The title names the metric: the labels are what tells series apart.
                let labels = s
                    .series
                    .strip_prefix(t.metric.as_str())
                    .unwrap_or(&s.series);
                text = format!("{text:<14} {labels}");
                text.truncate(width.saturating_sub(13));
                Line::from(vec![
                    Span::styled(
                        format!("{:<12} ", "█".repeat(bar)),
                        Style::new().fg(Color::Blue),
                    ),
                    Span::raw(text),
                ])
            })
            .collect()
    };
    list(
        f,
        area,
        format!(" Top {} · {} (mean) ", t.series.len(), t.metric),
        lines,
        selected,
    );
}

fn metric_panel(f: &mut Frame, area: Rect, m: &MetricPanel, data: &DashboardData, selected: bool) {
    let unit = m.unit.clone().unwrap_or_default();
    let title = format!(" {} · {} {} ", m.title, number(m.current), unit);
    let outer = block(title, selected);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    if inner.height < 2 {
        return;
    }
    let [head, spark, chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if inner.height >= 6 { 2 } else { 0 }),
        Constraint::Min(0),
    ])
    .areas(inner);
    let head_text = format!(
        "min {}  avg {}  max {}  · {} series",
        number(m.min),
        number(m.avg),
        number(m.max),
        m.series
    );
    f.render_widget(
        Paragraph::new(head_text).style(Style::new().fg(Color::Gray)),
        head,
    );
    if m.points.is_empty() {
        f.render_widget(Paragraph::new("no points in the window"), chart);
        return;
    }
    let lo = m
        .points
        .iter()
        .map(|p| p.value)
        .fold(f64::INFINITY, f64::min);
    let hi = m
        .points
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    if spark.height > 0 {
        // The sparkline shows the newest buckets that fit, scaled between min and max.
        let n = spark.width as usize;
        let tail = &m.points[m.points.len().saturating_sub(n)..];
        let bars: Vec<u64> = tail
            .iter()
            .map(|p| {
                if hi > lo {
                    1 + ((p.value - lo) / (hi - lo) * 99.0) as u64
                } else {
                    50
                }
            })
            .collect();
        f.render_widget(
            Sparkline::default()
                .data(&bars)
                .max(100)
                .style(Style::new().fg(Color::Green)),
            spark,
        );
    }
    if chart.height < 3 {
        return;
    }
    let x = |ts: i64| (ts - data.start) as f64 / 1e9;
    let pts: Vec<(f64, f64)> = m.points.iter().map(|p| (x(p.ts), p.value)).collect();
    let pad = ((hi - lo) * 0.05).max(hi.abs().max(1.0) * 1e-9);
    let (y0, y1) = (lo - pad, hi + pad);
    let x1 = x(data.end).max(1.0);
    let datasets = vec![Dataset::default()
        .marker(symbols::Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(&pts)];
    let widget = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([0.0, x1])
                .labels(vec![
                    Span::raw(time_short(data.start)),
                    Span::raw(time_short(data.end.saturating_sub(1))),
                ])
                .style(Style::new().fg(Color::DarkGray)),
        )
        .y_axis(
            Axis::default()
                .bounds([y0, y1])
                .labels(vec![
                    Span::raw(number(Some(lo))),
                    Span::raw(number(Some(hi))),
                ])
                .style(Style::new().fg(Color::DarkGray)),
        );
    f.render_widget(widget, chart);
}

/// The dashboard drawn into a `width × height` buffer, as lines of text (for
/// `--once --format text` and tests).
pub fn render_text(
    data: &DashboardData,
    state: &UiState,
    width: u16,
    height: u16,
) -> std::io::Result<String> {
    use ratatui::backend::TestBackend;
    let mut terminal = ratatui::Terminal::new(TestBackend::new(width, height))?;
    terminal.draw(|f| draw(f, data, state))?;
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}
