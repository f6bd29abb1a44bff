//! The dashboard drawn with ratatui's `TestBackend` from known data: what each panel
//! shows, where, and in which colour.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use sedimentdb_report::DashboardData;
use serde_json::json;

use super::ui::{draw, render_text, UiState};

/// 2026-12-01T11:00:00Z.
const T0: i64 = 1_796_122_800_000_000_000;
const MIN: i64 = 60_000_000_000;
const W: u16 = 120;
const H: u16 = 40;

/// Six panels over one hour: a CPU ramp 10..69 (one bucket a minute), a metric
/// without points, a firing and a resolved alert, an anomaly, two top series and a
/// recommendation.
fn data() -> DashboardData {
    let points: Vec<_> = (0..60)
        .map(|i| json!({"ts": T0 + i * MIN, "value": 10.0 + i as f64}))
        .collect();
    serde_json::from_value(json!({
        "schema": "sedimentdb-dashboard/1",
        "window_seconds": 3600.0,
        "start": T0,
        "end": T0 + 60 * MIN + 1,
        "step_seconds": 60.0,
        "panels": [
            {"kind": "metric", "title": "CPU", "metric": "cpu_usage", "unit": "percent",
             "series": 2, "current": 42.5, "min": 10.0, "avg": 30.0, "max": 90.0,
             "points": points},
            {"kind": "metric", "title": "latency", "metric": "latency_ms", "unit": "ms",
             "series": 0, "current": null, "min": null, "avg": null, "max": null,
             "points": []},
            {"kind": "alerts", "items": [
                {"rule": "slow_commands", "severity": "critical", "metric": null,
                 "labels": {"command": "user-prefs"}, "state": "firing", "fired": 2,
                 "since": T0 + 10 * MIN, "value": null, "message": null, "origin": "stored"},
                {"rule": "cpu_hot", "severity": "warning", "metric": null,
                 "labels": {}, "state": "resolved", "fired": 1,
                 "since": null, "value": null, "message": null, "origin": "stored"}
            ]},
            {"kind": "anomalies", "items": [
                {"metric": "cpu_usage", "ts": T0 + 30 * MIN, "series": "cpu_usage{host=\"a\"}",
                 "value": 95.0, "expected": 40.0, "score": 6.25}
            ]},
            {"kind": "topk", "metric": "cpu_usage", "unit": "percent", "series": [
                {"series": "cpu_usage{host=\"a\"}", "value": 80.0},
                {"series": "cpu_usage{host=\"b\"}", "value": 40.0}
            ]},
            {"kind": "recommendations", "items": [
                {"area": "performance", "text": "user-prefs is slow: cache the profile",
                 "impact": 0.8, "evidence": {}, "origin": "collector"}
            ]}
        ]
    }))
    .unwrap()
}

fn state(selected: usize) -> UiState {
    UiState {
        selected,
        window: "1h".into(),
        refresh: "30s".into(),
        refreshes: 3,
        error: None,
    }
}

fn buffer(data: &DashboardData, state: &UiState) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|f| draw(f, data, state)).unwrap();
    terminal.backend().buffer().clone()
}

fn row(buf: &Buffer, y: u16) -> String {
    (0..W).map(|x| buf[(x, y)].symbol()).collect()
}

/// Where `text` starts (column in cells, row), the first time it appears.
fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    for y in 0..H {
        let cells: Vec<&str> = (0..W).map(|x| buf[(x, y)].symbol()).collect();
        let line: String = cells.concat();
        if let Some(byte) = line.find(text) {
            // Cells hold one character each here (no wide characters in the data).
            let x = line[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{text:?} is not on the screen:\n{}", screen(buf));
}

fn screen(buf: &Buffer) -> String {
    (0..H).map(|y| row(buf, y) + "\n").collect()
}

#[test]
fn metric_panel_shows_title_value_figures_sparkline_and_chart() {
    let buf = buffer(&data(), &state(0));
    let (tx, ty) = find(&buf, " CPU · 42.5 percent ");
    assert_eq!(
        (tx, ty),
        (1, 0),
        "the first panel's title on its top border"
    );
    let (_, hy) = find(&buf, "min 10  avg 30  max 90  · 2 series");
    assert_eq!(hy, 1);
    // The sparkline (two rows under the figures): the ramp rises left to right, so its
    // top row is empty on the left and full at the newest bucket.
    let spark_top: Vec<&str> = (1..59).map(|x| buf[(x, 2)].symbol()).collect();
    let spark_bottom: Vec<&str> = (1..59).map(|x| buf[(x, 3)].symbol()).collect();
    assert_eq!(spark_top[0], " ", "{spark_top:?}");
    assert_eq!(*spark_top.last().unwrap(), "█", "{spark_top:?}");
    assert_eq!(*spark_bottom.last().unwrap(), "█", "{spark_bottom:?}");
    let height = |s: &str| " ▁▂▃▄▅▆▇█".chars().position(|c| s.starts_with(c)).unwrap();
    for cells in [&spark_top, &spark_bottom] {
        assert!(
            cells.windows(2).all(|w| height(w[0]) <= height(w[1])),
            "{cells:?}"
        );
    }
    assert_eq!(buf[(58, 3)].fg, Color::Green);
    // The line chart: y labels are the timeline's min and max, x labels the window,
    // and braille dots are drawn in the chart's colour.
    let left: String = (4..14).map(|y| row(&buf, y)).collect::<Vec<_>>().join("\n");
    assert!(left.contains("69"), "{left}");
    assert!(left.contains("10"), "{left}");
    find(&buf, "12-01 11:00");
    find(&buf, "12-01 12:00");
    let braille = (0..W / 2)
        .flat_map(|x| (4..14).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let c = buf[(x, y)].symbol().chars().next().unwrap();
            ('\u{2801}'..='\u{28ff}').contains(&c)
        })
        .collect::<Vec<_>>();
    assert!(braille.len() > 20, "{}", screen(&buf));
    assert!(braille.iter().all(|&(x, y)| buf[(x, y)].fg == Color::Cyan));
    // A rising line: its leftmost dots are lower on the screen than its rightmost.
    let first = braille.iter().min_by_key(|p| p.0).unwrap();
    let last = braille.iter().max_by_key(|p| p.0).unwrap();
    assert!(first.1 > last.1, "{first:?} {last:?}");

    // The second metric has no points.
    let (lx, ly) = find(&buf, " latency · - ms ");
    assert_eq!(ly, 0);
    assert!(lx >= W / 2, "second column");
    let (_, ny) = find(&buf, "no points in the window");
    assert_eq!(
        ny, 4,
        "where the chart would be, below the empty sparkline rows"
    );
    let right_sparkline: String = (W / 2 + 1..W - 1).map(|x| buf[(x, 2)].symbol()).collect();
    assert_eq!(right_sparkline.trim(), "", "no sparkline without points");
}

#[test]
fn lists_show_alerts_anomalies_top_series_and_recommendations() {
    let buf = buffer(&data(), &state(0));
    let (_, ay) = find(&buf, " Alerts · 1 firing ");
    // Lines wrap at the panel's width.
    let (fx, fy) = find(
        &buf,
        "FIRING   critical slow_commands {command=user-prefs} since",
    );
    assert_eq!(fy, ay + 1, "firing first");
    assert!(row(&buf, fy + 1).starts_with("│12-01 11:10 "));
    assert_eq!(buf[(fx, fy)].fg, Color::Red);
    assert!(buf[(fx, fy)].modifier.contains(Modifier::BOLD));
    let (rx, ry) = find(&buf, "RESOLVED warning cpu_hot {}");
    assert_eq!(ry, fy + 2);
    assert_eq!(buf[(rx, ry)].fg, Color::Gray);

    let (nx, ny) = find(&buf, " Newest anomalies · 1 ");
    assert_eq!(ny, ay, "beside the alerts");
    assert!(nx > W / 2);
    let (x, y) = find(&buf, "12-01 11:30 z +6.2 cpu_usage 95 (expected 40)");
    assert_eq!(y, ny + 1);
    assert_eq!(buf[(x, y)].fg, Color::Cyan);
    assert_eq!(buf[(x + 12, y)].fg, Color::Red, "the score");
    assert!(row(&buf, y + 1).contains("│cpu_usage{host=\"a\"}"));

    let (_, ty) = find(&buf, " Top 2 · cpu_usage (mean) ");
    // Bars scaled to the top series: 12 cells for 80, 6 for 40.
    let top = row(&buf, ty + 1);
    assert!(
        top.contains(&format!("│{} 80 percent", "█".repeat(12))),
        "{top}"
    );
    let second = row(&buf, ty + 2);
    assert!(
        second.contains(&format!("│{}{} 40 percent", "█".repeat(6), " ".repeat(6))),
        "{second}"
    );
    assert!(
        second.contains("40 percent     {host=\"b\"}"),
        "labels without the metric the title names: {second}"
    );
    let (_, ry) = find(&buf, " Recommendations ");
    assert_eq!(ry, ty);
    let (x, y) = find(&buf, "[0.80] user-prefs is slow: cache the profile");
    assert_eq!(y, ry + 1);
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
}

#[test]
fn the_selected_panel_has_a_yellow_border_and_the_footer_the_state() {
    let data = data();
    for selected in [0usize, 3, 5] {
        let buf = buffer(&data, &state(selected));
        let titles = [
            " CPU · ",
            " latency · ",
            " Alerts · ",
            " Newest anomalies · ",
            " Top 2 · ",
            " Recommendations ",
        ];
        for (i, t) in titles.iter().enumerate() {
            let (x, y) = find(&buf, t);
            let corner = &buf[(x - 1, y)];
            assert_eq!(corner.symbol(), "┌", "{t}");
            let want = if i == selected {
                Color::Yellow
            } else {
                Color::DarkGray
            };
            assert_eq!(corner.fg, want, "panel {i} with {selected} selected");
        }
    }

    let buf = buffer(&data, &state(0));
    let footer = row(&buf, H - 1);
    assert_eq!(
        footer.trim_end(),
        " window 1h  to 2026-12-01 12:00:00 UTC · refresh #3 every 30s · 1/2/3: 1h/24h/7d · Tab: panel · r: refresh · q: quit"
    );
    assert!(buf[(1, H - 1)].modifier.contains(Modifier::REVERSED));

    let mut failed = state(0);
    failed.error = Some("database locked".into());
    let buf = buffer(&data, &failed);
    let (x, y) = find(&buf, "refresh failed: database locked");
    assert_eq!(
        (x, y),
        (12, H - 1),
        "right after the window, before the help"
    );
    assert_eq!(buf[(x, y)].fg, Color::Red);
    // The data of the last good refresh stays on screen.
    find(&buf, " CPU · 42.5 percent ");
}

#[test]
fn text_capture_is_the_buffer_and_small_screens_do_not_panic() {
    let data = data();
    let text = render_text(&data, &state(0), W, H).unwrap();
    assert_eq!(text.lines().count(), H as usize);
    let buf = buffer(&data, &state(0));
    for (y, line) in text.lines().enumerate() {
        assert_eq!(line, row(&buf, y as u16).trim_end());
    }
    for (w, h) in [(40, 10), (20, 4), (1, 1)] {
        let small = render_text(&data, &state(0), w, h).unwrap();
        assert_eq!(small.lines().count(), h as usize);
    }
}
