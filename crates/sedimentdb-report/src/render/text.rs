//! The plain-text report.

use std::fmt::Write;

use super::fmt::{number, percent, time};
use crate::model::{AlertReport, MetricReport, Report};

/// The report as plain text (80 columns where the data allows).
pub fn text(report: &Report) -> String {
    let mut o = String::new();
    let p = &report.period;
    let _ = writeln!(o, "{}", report.title);
    let _ = writeln!(o, "{}", "=".repeat(report.title.len()));
    let _ = writeln!(
        o,
        "Period    {} .. {} UTC (buckets of {}s; previous period from {})",
        time(p.start),
        time(p.end),
        p.step_seconds,
        time(p.previous_start)
    );
    if let Some(sel) = &report.selector {
        let _ = writeln!(o, "Selector  {sel}");
    }
    let _ = writeln!(o, "Summary   {}", summary_line(report));
    for m in &report.metrics {
        o.push('\n');
        metric(&mut o, m);
    }
    if report.metrics.is_empty() {
        let _ = writeln!(o, "\nNo metric of this report has points in the period.");
    }
    if !report.alerts.is_empty() {
        let _ = writeln!(o, "\nAlerts");
        for a in &report.alerts {
            let _ = writeln!(o, "  {}", alert_line(a));
        }
    }
    if !report.recommendations.is_empty() {
        let _ = writeln!(o, "\nRecommendations");
        for r in &report.recommendations {
            let _ = writeln!(o, "  [{:.2}] {}: {}", r.impact, r.area, r.text);
        }
    }
    o
}

/// One line of counts.
pub(crate) fn summary_line(r: &Report) -> String {
    let s = &r.summary;
    format!(
        "{} metrics, {} series, {} points; {} degrading, {} improving; {} anomalies; {} alerts firing, {} fired",
        s.metrics, s.series, s.points, s.degrading, s.improving, s.anomalies, s.firing_alerts, s.fired_alerts
    )
}

/// `name (unit)`.
pub(crate) fn metric_title(m: &MetricReport) -> String {
    match &m.unit {
        Some(u) => format!("{} ({u})", m.name),
        None => m.name.clone(),
    }
}

/// The change against the previous period in words.
pub(crate) fn change_text(m: &MetricReport) -> String {
    let h = &m.headline;
    match h.change {
        Some(c) => format!(
            "{}{} ({}) against the previous period (avg {})",
            if c >= 0.0 { "+" } else { "" },
            number(Some(c)),
            percent(h.change_ratio),
            number(h.previous_avg)
        ),
        None => "no previous period to compare with".to_string(),
    }
}

/// The trend and forecast in words.
pub(crate) fn trend_text(m: &MetricReport) -> String {
    let Some(t) = &m.trend else {
        return "too few buckets for a trend".to_string();
    };
    let mut s = format!(
        "{}: {}{} per day (R² {:.2})",
        t.verdict,
        if t.slope_per_day >= 0.0 { "+" } else { "" },
        number(Some(t.slope_per_day)),
        t.r_squared
    );
    if let Some(f) = &t.forecast {
        let _ = write!(
            s,
            "; forecast {} [{} .. {}] at {}",
            number(Some(f.value)),
            number(Some(f.lower)),
            number(Some(f.upper)),
            time(f.ts)
        );
    }
    s
}

fn metric(o: &mut String, m: &MetricReport) {
    let h = &m.headline;
    let _ = writeln!(o, "== {} · {} series", metric_title(m), m.series);
    let _ = writeln!(
        o,
        "  current {}  min {}  avg {}  p50 {}  p99 {}  max {}  ({} points)",
        number(h.current),
        number(h.min),
        number(h.avg),
        number(h.p50),
        number(h.p99),
        number(h.max),
        h.points
    );
    let _ = writeln!(o, "  change    {}", change_text(m));
    let _ = writeln!(o, "  trend     {}", trend_text(m));
    if m.anomalies_total == 0 {
        let _ = writeln!(o, "  anomalies none");
    } else {
        let _ = writeln!(o, "  anomalies {} (most unusual first)", m.anomalies_total);
        for a in &m.anomalies {
            let _ = writeln!(
                o,
                "    {}  {}  {} where {} was expected (z {:+.1})",
                time(a.ts),
                a.series,
                number(Some(a.value)),
                number(Some(a.expected)),
                a.score
            );
        }
    }
    if let Some(b) = &m.breakdown {
        let _ = writeln!(o, "  by {}", b.dimension);
        for v in b.values.iter().take(5) {
            let _ = writeln!(
                o,
                "    {:<32} {:>10}  {:>6}x  {:>5.1}% of total  ({} points)",
                v.label,
                number(Some(v.value)),
                v.ratio.map_or("-".to_string(), |r| format!("{r:.2}")),
                v.share_of_total * 100.0,
                v.count
            );
        }
    }
    if !m.drivers.is_empty() {
        let _ = writeln!(o, "  behind the change");
        for d in &m.drivers {
            let _ = writeln!(
                o,
                "    {:<32} {} -> {}  ({:+.0}% of the change)",
                d.label,
                number(Some(d.previous)),
                number(Some(d.current)),
                d.share_of_delta * 100.0
            );
        }
    }
}

/// One alert in words.
pub(crate) fn alert_line(a: &AlertReport) -> String {
    let labels = if a.labels.is_empty() {
        String::new()
    } else {
        let l: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(" {{{}}}", l.join(","))
    };
    let mut s = format!(
        "{} {} {}{}",
        a.state.to_uppercase(),
        a.severity,
        a.rule,
        labels
    );
    if let Some(since) = a.since {
        let _ = write!(s, " since {}", time(since));
    }
    let _ = write!(s, ", fired {}x in the period", a.fired);
    if let Some(m) = &a.message {
        let _ = write!(s, " - {m}");
    }
    s
}
