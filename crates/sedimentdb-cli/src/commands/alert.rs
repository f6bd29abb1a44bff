//! `sediment alert`: evaluates one inline rule or a rule file over the stored points
//! (the collector's rule types, through `sedimentdb_collector::alert::evaluate_stored`)
//! and prints what fires. Exit status 0 nothing firing, 1 firing, 2 error, so that it
//! works in cron and CI; `--watch 30s` re-evaluates on a fresh snapshot.

use std::time::Duration;

use clap::{ArgGroup, Args, ValueEnum};
use sedimentdb::{Aggregate, Db, Query, Selector, Timestamp};
use sedimentdb_collector::alert::{
    evaluate_stored, AlertRule, Evaluation, Op, RuleKind, TrendDirection, WindowAggregate,
};

use crate::exit::{CliError, CliResult, Status};
use crate::output::{emit, Global};
use crate::render::number::human;
use crate::render::table::{Align, Table};
use crate::timearg::{parse_now, parse_std_duration, rfc3339, wall_clock_ns, NowArg};

/// Arguments of `alert`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("rule").required(true).args(["threshold", "anomaly", "trend", "rules"])))]
pub struct AlertArgs {
    /// An inline threshold rule `[AGG(]METRIC[)] OP VALUE`, e.g. "error_rate > 0.05" or
    /// "max(cpu_usage) >= 90"; AGG is avg (default), max, min, sum, count or last; OP is
    /// >, >=, < or <=.
    #[arg(long)]
    pub threshold: Option<String>,

    /// An inline anomaly rule on this metric: one of the newest three points is an outlier
    /// (robust z-score above --z) against the rolling baseline of the points before it.
    #[arg(long, value_name = "METRIC")]
    pub anomaly: Option<String>,

    /// An inline trend rule on this metric: the least-squares slope over the window goes
    /// the bad way (--direction) at least --min-slope per second with R² >= --min-r2.
    #[arg(long, value_name = "METRIC")]
    pub trend: Option<String>,

    /// A rule file (TOML `[[rule]]` tables or JSON `{"rule": [...]}`, the collector's
    /// format: threshold, trend, anomaly and correlation rules).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<std::path::PathBuf>,

    /// The window of an inline rule (points considered).
    #[arg(long, value_parser = parse_std_duration, default_value = "5m")]
    pub window: Duration,

    /// An inline rule fires only if its condition also held this long ago (the rule's
    /// `for`).
    #[arg(long = "for", value_parser = parse_std_duration)]
    pub for_duration: Option<Duration>,

    /// Only series with this dimension value, `key=value` (repeatable; inline rules).
    #[arg(long = "dim", value_name = "KEY=VALUE", value_parser = parse_dim)]
    pub dims: Vec<(String, String)>,

    /// One alert per value of these dimensions (inline rules; comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,

    /// Anomaly: the robust z-score bound.
    #[arg(long, default_value_t = 3.5)]
    pub z: f64,

    /// Trend: the bad direction.
    #[arg(long, value_enum, default_value_t = Bad::Increasing)]
    pub direction: Bad,

    /// Trend: the smallest slope per second that counts.
    #[arg(long, default_value_t = 0.0)]
    pub min_slope: f64,

    /// Trend: the smallest R² that counts.
    #[arg(long, default_value_t = 0.5)]
    pub min_r2: f64,

    /// Evaluate as of this time (RFC 3339, a date, nanoseconds, relative) or `latest`
    /// (the newest point of the rules' metrics). Default: the wall clock.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<NowArg>,

    /// Re-evaluate at this interval on a fresh snapshot until interrupted (with the
    /// wall clock as now, or `--now latest` again each time).
    #[arg(long, value_parser = parse_std_duration)]
    pub watch: Option<Duration>,

    /// Also list the groups that do not fire.
    #[arg(long)]
    pub all: bool,

    /// `table` (default) or `json` (`{"now", "firing", "evaluations": [{"rule",
    /// "labels", "firing", "value", "message"}]}`).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// `--direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bad {
    /// Growth is bad.
    Increasing,
    /// Decline is bad.
    Decreasing,
}

fn parse_dim(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

/// Parses `[AGG(]METRIC[)] OP VALUE`.
pub fn parse_threshold(text: &str) -> CliResult<(WindowAggregate, String, Op, f64)> {
    let bad = |why: &str| {
        CliError::new(format!(
            "bad --threshold {text:?}: {why} (e.g. \"error_rate > 0.05\" or \"max(cpu) >= 90\")"
        ))
    };
    let pos = text
        .find(['>', '<'])
        .ok_or_else(|| bad("no comparison >, >=, < or <="))?;
    let (lhs, rest) = text.split_at(pos);
    let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        (Op::Lt, &rest[1..])
    };
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| bad(&format!("{:?} is not a number", value.trim())))?;
    if !value.is_finite() {
        return Err(bad("the value must be finite"));
    }
    let lhs = lhs.trim();
    let (agg, metric) = match lhs.split_once('(') {
        Some((agg, rest)) => {
            let metric = rest
                .strip_suffix(')')
                .ok_or_else(|| bad("missing `)` after the metric"))?;
            let agg = match agg.trim() {
                "avg" | "mean" => WindowAggregate::Avg,
                "max" => WindowAggregate::Max,
                "min" => WindowAggregate::Min,
                "sum" => WindowAggregate::Sum,
                "count" => WindowAggregate::Count,
                "last" => WindowAggregate::Last,
                other => {
                    return Err(bad(&format!(
                        "unknown aggregate {other:?} (avg, max, min, sum, count, last)"
                    )))
                }
            };
            (agg, metric.trim())
        }
        None => (WindowAggregate::Avg, lhs),
    };
    if metric.is_empty() || metric.contains(char::is_whitespace) {
        return Err(bad("expected one metric name before the comparison"));
    }
    Ok((agg, metric.to_string(), op, value))
}

/// The rules the arguments describe.
fn rules(args: &AlertArgs) -> CliResult<Vec<AlertRule>> {
    if let Some(path) = &args.rules {
        let rules = AlertRule::load(path).map_err(|e| {
            CliError::new(format!("{}: {e}", path.display()).replace(" rule file:", ""))
        })?;
        if rules.is_empty() {
            return Err(CliError::new(format!(
                "{} holds no [[rule]]",
                path.display()
            )));
        }
        return Ok(rules);
    }
    let mut rule = if let Some(text) = &args.threshold {
        let (agg, metric, op, value) = parse_threshold(text)?;
        AlertRule::threshold(text.trim(), metric, agg, op, value, args.window)
    } else if let Some(metric) = &args.anomaly {
        let mut r = AlertRule::anomaly(format!("anomaly({metric})"), metric, args.window);
        if let RuleKind::Anomaly { z, .. } = &mut r.kind {
            *z = args.z;
        }
        r
    } else if let Some(metric) = &args.trend {
        let direction = match args.direction {
            Bad::Increasing => TrendDirection::Increasing,
            Bad::Decreasing => TrendDirection::Decreasing,
        };
        let mut r = AlertRule::trend(
            format!("trend({metric})"),
            metric,
            direction,
            args.min_slope,
            args.window,
        );
        if let RuleKind::Trend { min_r2, .. } = &mut r.kind {
            *min_r2 = args.min_r2;
        }
        r
    } else {
        return Err(CliError::new(
            "give --threshold, --anomaly, --trend or --rules",
        ));
    };
    for (k, v) in &args.dims {
        rule = rule.filter(k.clone(), v.clone());
    }
    rule = rule.group_by(args.group_by.iter().cloned());
    if let Some(d) = args.for_duration {
        rule = rule.for_duration(d);
    }
    rule.check().map_err(|e| CliError::new(e.to_string()))?;
    Ok(vec![rule])
}

/// The newest point of the rules' metrics.
fn latest(db: &Db, rules: &[AlertRule]) -> CliResult<Timestamp> {
    let mut newest = None;
    for r in rules {
        for m in r.metrics() {
            let q = Query::select(Selector::metric(m))
                .aggregate(Aggregate::Last)
                .group_all();
            if let Some(t) = db
                .query(&q)?
                .series
                .first()
                .and_then(|s| s.timestamps.first())
            {
                newest = newest.max(Some(*t));
            }
        }
    }
    newest.ok_or_else(|| CliError::new("--now latest: the rules' metrics have no points"))
}

/// Runs the evaluation (once, or every `--watch`).
pub fn run(global: &Global, args: AlertArgs) -> CliResult<Status> {
    let rules = rules(&args)?;
    let db = global.open_for_reading()?;
    loop {
        let now = match args.now {
            Some(NowArg::At(t)) => t,
            Some(NowArg::Latest) => latest(&db, &rules)?,
            None => wall_clock_ns(),
        };
        let found = evaluate_stored(&db, &rules, now).map_err(|e| CliError::new(e.to_string()))?;
        let firing = found.iter().filter(|e| e.firing).count();
        print(&args, &rules, &found, now, global.color)?;
        match args.watch {
            None => {
                db.close()?;
                return Ok(if firing > 0 {
                    Status::Finding
                } else {
                    Status::Ok
                });
            }
            Some(every) => {
                std::thread::sleep(every);
                db.refresh()?;
            }
        }
    }
}

fn print(
    args: &AlertArgs,
    rules: &[AlertRule],
    found: &[Evaluation],
    now: Timestamp,
    color: bool,
) -> CliResult<()> {
    let firing = found.iter().filter(|e| e.firing).count();
    if args.format == "json" {
        let doc = serde_json::json!({
            "now": now,
            "firing": firing,
            "evaluations": found,
        });
        let json = serde_json::to_string_pretty(&doc)
            .map_err(|e| CliError::new(format!("cannot encode the alerts: {e}")))?;
        return emit(&format!("{json}\n"));
    }
    emit(&format!(
        "{}: {firing} firing of {} evaluated ({} rule{})\n",
        rfc3339(now),
        found.len(),
        rules.len(),
        if rules.len() == 1 { "" } else { "s" }
    ))?;
    let shown: Vec<&Evaluation> = found.iter().filter(|e| args.all || e.firing).collect();
    if shown.is_empty() {
        return Ok(());
    }
    let mut t = Table::new(&[
        ("STATE", Align::Left),
        ("RULE", Align::Left),
        ("SEVERITY", Align::Left),
        ("LABELS", Align::Left),
        ("VALUE", Align::Right),
        ("MESSAGE", Align::Left),
    ]);
    for e in shown {
        let severity = rules
            .iter()
            .find(|r| r.name == e.rule)
            .map(|r| format!("{:?}", r.severity).to_lowercase())
            .unwrap_or_default();
        let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Plain words: escape codes inside a column would break its alignment.
        let state = if e.firing { "FIRING" } else { "ok" }.to_string();
        t.row(vec![
            state,
            e.rule.clone(),
            severity,
            labels.join(","),
            human(e.value),
            e.message.clone(),
        ]);
    }
    emit(&t.render(color))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_expressions() {
        let (agg, m, op, v) = parse_threshold("error_rate > 0.05").unwrap();
        assert_eq!(
            (agg, m.as_str(), op, v),
            (WindowAggregate::Avg, "error_rate", Op::Gt, 0.05)
        );
        let (agg, m, op, v) = parse_threshold("max(cpu_usage)>=90").unwrap();
        assert_eq!(
            (agg, m.as_str(), op, v),
            (WindowAggregate::Max, "cpu_usage", Op::Ge, 90.0)
        );
        assert!(parse_threshold("error_rate = 1").is_err());
        assert!(parse_threshold("p42(x) > 1").is_err());
        assert!(parse_threshold("a b > 1").is_err());
        assert!(parse_threshold("x > lots").is_err());
    }
}
