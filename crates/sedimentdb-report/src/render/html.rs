//! The HTML report: one self-contained file. Styles are inline, charts are inline SVG,
//! there is no script and no reference to anything outside the file, so it opens offline
//! and in mail clients that strip scripts.

use std::fmt::Write;

use super::chart::{breakdown_svg, timeline_svg};
use super::fmt::{number, percent, time};
use super::text::{alert_line, change_text, metric_title, summary_line, trend_text};
use crate::error::Result;
use crate::model::{MetricReport, Report};

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#23262d}
main{max-width:900px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:0 0 8px}
.muted{color:#6b7080}.card{background:#fff;border:1px solid #e1e3e8;border-radius:8px;padding:16px 18px;margin:16px 0}
.figures{display:grid;grid-template-columns:repeat(7,1fr);gap:8px;margin:10px 0}
.figures div{background:#f7f8fa;border-radius:6px;padding:6px 8px}
.figures b{display:block;font-size:16px}.figures span{font-size:11px;color:#6b7080;text-transform:uppercase}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2}td.n,th.n{text-align:right}
.degrading{color:#b3261e;font-weight:600}.improving{color:#1e7b34;font-weight:600}.stable{color:#4a5060}
.firing{color:#b3261e;font-weight:600}.resolved{color:#4a5060}
figure{margin:8px 0}figure svg{max-width:100%;height:auto}
ul{padding-left:20px}li{margin:4px 0}
";

/// The report as one HTML document.
pub fn html(report: &Report) -> Result<String> {
    let mut o = String::new();
    let p = &report.period;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n",
        esc(&report.title)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&report.title));
    let _ = writeln!(
        o,
        "<p class=\"muted\">{} .. {} UTC, buckets of {} s, compared with the period from {}{}</p>",
        esc(&time(p.start)),
        esc(&time(p.end)),
        p.step_seconds,
        esc(&time(p.previous_start)),
        report.selector.as_ref().map_or(String::new(), |s| format!(
            "; selector <code>{}</code>",
            esc(s)
        ))
    );
    let _ = writeln!(
        o,
        "<div class=\"card\" id=\"summary\"><p>{}</p></div>",
        esc(&summary_line(report))
    );

    if !report.recommendations.is_empty() {
        let _ = writeln!(
            o,
            "<div class=\"card\" id=\"recommendations\"><h2>Recommendations</h2><ul>"
        );
        for r in &report.recommendations {
            let _ = writeln!(
                o,
                "<li><b>{}</b> <span class=\"muted\">(impact {:.2}, {})</span> {}</li>",
                esc(&r.area),
                r.impact,
                esc(&r.origin),
                esc(&r.text)
            );
        }
        let _ = writeln!(o, "</ul></div>");
    }
    if !report.alerts.is_empty() {
        let _ = writeln!(o, "<div class=\"card\" id=\"alerts\"><h2>Alerts</h2><ul>");
        for a in &report.alerts {
            let _ = writeln!(
                o,
                "<li class=\"{}\">{}</li>",
                esc(&a.state),
                esc(&alert_line(a))
            );
        }
        let _ = writeln!(o, "</ul></div>");
    }
    for m in &report.metrics {
        metric(&mut o, m, report)?;
    }
    if report.metrics.is_empty() {
        let _ = writeln!(
            o,
            "<div class=\"card\"><p>No metric of this report has points in the period.</p></div>"
        );
    }
    let _ = writeln!(
        o,
        "<p class=\"muted\">schema {}</p></main></body></html>",
        esc(&report.schema)
    );
    Ok(o)
}

fn metric(o: &mut String, m: &MetricReport, report: &Report) -> Result<()> {
    let h = &m.headline;
    let _ = writeln!(
        o,
        "<section class=\"card metric\" data-metric=\"{}\">",
        esc(&m.name)
    );
    let _ = writeln!(
        o,
        "<h2>{} <span class=\"muted\">· {} series</span></h2>",
        esc(&metric_title(m)),
        m.series
    );
    let _ = write!(o, "<div class=\"figures\">");
    for (name, v) in [
        ("current", h.current),
        ("min", h.min),
        ("avg", h.avg),
        ("p50", h.p50),
        ("p99", h.p99),
        ("max", h.max),
    ] {
        let _ = write!(
            o,
            "<div><span>{name}</span><b>{}</b></div>",
            esc(&number(v))
        );
    }
    let _ = writeln!(
        o,
        "<div><span>change</span><b>{}</b></div></div>",
        esc(&percent(h.change_ratio))
    );
    let verdict = m.trend.as_ref().map_or("stable", |t| t.verdict.as_str());
    let _ = writeln!(o, "<p>Change: {}</p>", esc(&change_text(m)));
    let _ = writeln!(
        o,
        "<p>Trend: <span class=\"{}\">{}</span></p>",
        esc(verdict),
        esc(&trend_text(m))
    );
    let _ = writeln!(
        o,
        "<figure class=\"chart timeline\" data-metric=\"{}\">{}</figure>",
        esc(&m.name),
        timeline_svg(m, &report.period)?
    );
    if !m.anomalies.is_empty() {
        let _ = writeln!(
            o,
            "<h3>Anomalies ({})</h3><table><tr><th>when</th><th>series</th><th class=\"n\">value</th><th class=\"n\">expected</th><th class=\"n\">z</th></tr>",
            m.anomalies_total
        );
        for a in &m.anomalies {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:+.1}</td></tr>",
                esc(&time(a.ts)),
                esc(&a.series),
                esc(&number(Some(a.value))),
                esc(&number(Some(a.expected))),
                a.score
            );
        }
        let _ = writeln!(o, "</table>");
    }
    if let (Some(b), Some(svg)) = (&m.breakdown, breakdown_svg(m)?) {
        let _ = writeln!(
            o,
            "<h3>By {} <span class=\"muted\">(mean per value; the red line is the overall mean)</span></h3>\
             <figure class=\"chart breakdown\" data-metric=\"{}\">{svg}</figure>",
            esc(&b.dimension),
            esc(&m.name)
        );
    }
    if !m.drivers.is_empty() {
        let _ = writeln!(
            o,
            "<h3>Behind the change</h3><table><tr><th>value</th><th class=\"n\">previous</th><th class=\"n\">now</th><th class=\"n\">share of change</th></tr>"
        );
        for d in &m.drivers {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:+.0}%</td></tr>",
                esc(&d.label),
                esc(&number(Some(d.previous))),
                esc(&number(Some(d.current))),
                d.share_of_delta * 100.0
            );
        }
        let _ = writeln!(o, "</table>");
    }
    let _ = writeln!(o, "</section>");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
