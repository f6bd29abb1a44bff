//! The Markdown report (GitHub-flavoured tables).

use std::fmt::Write;

use super::fmt::{number, time};
use super::text::{alert_line, change_text, metric_title, summary_line, trend_text};
use crate::model::{MetricReport, Report};

/// Escapes the characters that would break a table cell or start markup.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut o = String::new();
    let p = &report.period;
    let _ = writeln!(o, "# {}\n", report.title);
    let _ = writeln!(
        o,
        "Period **{} .. {} UTC** (buckets of {} s), compared with the period from {}.\n",
        time(p.start),
        time(p.end),
        p.step_seconds,
        time(p.previous_start)
    );
    if let Some(sel) = &report.selector {
        let _ = writeln!(o, "Selector: `{sel}`\n");
    }
    let _ = writeln!(o, "{}\n", summary_line(report));
    if !report.metrics.is_empty() {
        let _ = writeln!(
            o,
            "| metric | series | current | min | avg | p50 | p99 | max | change | trend |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for m in &report.metrics {
            let h = &m.headline;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&metric_title(m)),
                m.series,
                number(h.current),
                number(h.min),
                number(h.avg),
                number(h.p50),
                number(h.p99),
                number(h.max),
                super::fmt::percent(h.change_ratio),
                m.trend.as_ref().map_or("-", |t| t.verdict.as_str())
            );
        }
        o.push('\n');
    }
    for m in &report.metrics {
        metric(&mut o, m);
    }
    if !report.alerts.is_empty() {
        let _ = writeln!(o, "## Alerts\n");
        for a in &report.alerts {
            let _ = writeln!(o, "- {}", cell(&alert_line(a)));
        }
        o.push('\n');
    }
    if !report.recommendations.is_empty() {
        let _ = writeln!(o, "## Recommendations\n");
        for r in &report.recommendations {
            let _ = writeln!(
                o,
                "- **{}** ({}, impact {:.2}): {}",
                r.area,
                r.origin,
                r.impact,
                cell(&r.text)
            );
        }
        o.push('\n');
    }
    o
}

fn metric(o: &mut String, m: &MetricReport) {
    let _ = writeln!(o, "## {}\n", cell(&metric_title(m)));
    let _ = writeln!(o, "- Change: {}", change_text(m));
    let _ = writeln!(o, "- Trend: {}", trend_text(m));
    let _ = writeln!(o, "- Anomalies: {}", m.anomalies_total);
    o.push('\n');
    if !m.anomalies.is_empty() {
        let _ = writeln!(o, "| when | series | value | expected | z |");
        let _ = writeln!(o, "|---|---|---:|---:|---:|");
        for a in &m.anomalies {
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} | {:+.1} |",
                time(a.ts),
                cell(&a.series),
                number(Some(a.value)),
                number(Some(a.expected)),
                a.score
            );
        }
        o.push('\n');
    }
    if let Some(b) = &m.breakdown {
        let _ = writeln!(o, "By `{}`:\n", cell(&b.dimension));
        let _ = writeln!(o, "| value | mean | ratio | share of total | points |");
        let _ = writeln!(o, "|---|---:|---:|---:|---:|");
        for v in &b.values {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.1}% | {} |",
                cell(&v.label),
                number(Some(v.value)),
                v.ratio.map_or("-".to_string(), |r| format!("{r:.2}x")),
                v.share_of_total * 100.0,
                v.count
            );
        }
        o.push('\n');
    }
    if !m.drivers.is_empty() {
        let _ = writeln!(o, "Behind the change:\n");
        let _ = writeln!(o, "| value | previous | now | share of change |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        for d in &m.drivers {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:+.0}% |",
                cell(&d.label),
                number(Some(d.previous)),
                number(Some(d.current)),
                d.share_of_delta * 100.0
            );
        }
        o.push('\n');
    }
}
