//! Migration of the original system's six files (in an `.ai_onboard/` directory) into
//! the collector's schema.
//!
//! Every record becomes one or more [`MetricEvent`]s that go through the normal pipeline
//! (validation, privacy, dedup) except the age limit: history is imported whatever its
//! age. A malformed line (bad JSON, a missing or mistyped field, a rejected event) is
//! reported with its line number and skipped; it never aborts the import nor costs the
//! good lines around it. Importing the same files twice rewrites the same points (same
//! series, same timestamps: the engine keeps the last write), so a re-run is harmless.
//!
//! # The original formats
//! Timestamps are RFC 3339, Python's naive `isoformat()` (read as UTC), or numbers:
//! seconds since the epoch (below 10^11), milliseconds (below 10^14), else nanoseconds.
//!
//! | file | one record | becomes |
//! |---|---|---|
//! | `analytics_metrics.jsonl` | `{"timestamp","metric","value","unit","type","tags":{..}}` (`type` = source, default `performance`; optional `category`) | one event, `tags` as dimensions |
//! | `metrics.jsonl` | the original `MetricEvent`: `{"id","timestamp","source","category","name","value","unit","dimensions","metadata"}` | the same event |
//! | `capability_usage.json` | a document `{"updated_at", "capabilities": {name: {"usage_count","success_count","failure_count","avg_duration_ms","last_used","tier"}}}` | `capability_usage_count` (business/adoption), `capability_success_rate` (performance/reliability), `capability_avg_duration` (performance/latency), dims `capability`, `tier` |
//! | `user_interactions.jsonl` | `{"timestamp","user_id","session_id","interaction_type","command","duration_ms","success","satisfaction"}` (`user_id` or `session_id` required) | `user_interaction` (user/interaction, 1 per line), `interaction_duration` (ms), `satisfaction_score` |
//! | `debug_learning.json` | a document `{"sessions":[{"session_id","started","events":[{"timestamp","pattern","confidence","outcome","resolution_time_s"}]}]}` | `debug_pattern_confidence` (learning/debugging, ratio), `debug_resolution_time` (s), dims `pattern`, `outcome`, `session_id` |
//! | `learning_events.jsonl` | `{"ts","event","model","confidence","user"}` | `learning_event` (learning, 1 per line, dims `event_type`, `model`, `user_id`), `learning_confidence` (ratio, must lie in [0, 1]) |
//!
//! In the two JSON documents a "line" is the line where the entry starts (found by its
//! key: best effort for hand-formatted files).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::error::CollectorError;
use super::event::{parse_rfc3339, MetricEvent, Source};
use super::report::Outcome;
use super::unified::UnifiedMetricsCollector;

/// The files, in import order.
pub const FILES: [&str; 6] = [
    "analytics_metrics.jsonl",
    "metrics.jsonl",
    "capability_usage.json",
    "user_interactions.jsonl",
    "debug_learning.json",
    "learning_events.jsonl",
];

/// A skipped record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIssue {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// What happened to one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// File name.
    pub file: String,
    /// False when the file was not there (not an error: older installs lack some).
    pub found: bool,
    /// Records read (non-empty lines, or entries of a document).
    pub records: usize,
    /// Events made from them.
    pub events: usize,
    /// Events stored.
    pub stored: usize,
    /// Events dropped as duplicates (same `id`).
    pub duplicates: usize,
    /// Skipped records.
    pub issues: Vec<LineIssue>,
}

/// What [`import_ai_onboard`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// One report per file, in [`FILES`] order.
    pub files: Vec<FileReport>,
}

impl MigrationReport {
    /// Events stored in all.
    pub fn stored(&self) -> usize {
        self.files.iter().map(|f| f.stored).sum()
    }

    /// Every skipped record as `(file, issue)`.
    pub fn issues(&self) -> impl Iterator<Item = (&str, &LineIssue)> {
        self.files
            .iter()
            .flat_map(|f| f.issues.iter().map(move |i| (f.file.as_str(), i)))
    }

    /// The report of one file.
    pub fn file(&self, name: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| f.file == name)
    }
}

/// Imports the six files found in `dir` (usually `.ai_onboard/`) through `collector`.
/// Fails only when the store fails or a file exists but cannot be read.
pub fn import_ai_onboard(
    collector: &UnifiedMetricsCollector,
    dir: impl AsRef<Path>,
) -> Result<MigrationReport, CollectorError> {
    let dir = dir.as_ref();
    let mut report = MigrationReport::default();
    for name in FILES {
        let path = dir.join(name);
        let mut file = FileReport {
            file: name.to_string(),
            ..FileReport::default()
        };
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.files.push(file);
                continue;
            }
            Err(e) => return Err(CollectorError::io("read", &path, e)),
        };
        file.found = true;
        let converted: Vec<(usize, Result<Vec<MetricEvent>, String>)> = match name {
            "analytics_metrics.jsonl" => per_line(&text, analytics_metric),
            "metrics.jsonl" => per_line(&text, original_event),
            "capability_usage.json" => capability_usage(&text),
            "user_interactions.jsonl" => per_line(&text, user_interaction),
            "debug_learning.json" => debug_learning(&text),
            _ => per_line(&text, learning_event),
        };
        file.records = converted.len();
        let mut events = Vec::new();
        let mut lines = Vec::new();
        for (line, result) in converted {
            match result {
                Ok(evs) => {
                    for e in evs {
                        lines.push(line);
                        events.push(e);
                    }
                }
                Err(reason) => file.issues.push(LineIssue { line, reason }),
            }
        }
        file.events = events.len();
        let batch = collector.shared.ingest_historic(events)?;
        let mut rejected_lines = BTreeMap::new();
        for (outcome, line) in batch.outcomes.iter().zip(&lines) {
            match outcome {
                Outcome::Stored(_) => file.stored += 1,
                Outcome::Duplicate(_) => file.duplicates += 1,
                Outcome::SampledOut(_) => {}
                Outcome::Rejected(r) => {
                    rejected_lines.entry(*line).or_insert_with(|| r.to_string());
                }
            }
        }
        for (line, reason) in rejected_lines {
            file.issues.push(LineIssue {
                line,
                reason: format!("rejected: {reason}"),
            });
        }
        file.issues.sort_by_key(|i| i.line);
        report.files.push(file);
    }
    Ok(report)
}

type Converted = Vec<(usize, Result<Vec<MetricEvent>, String>)>;

fn per_line(text: &str, convert: fn(&Value) -> Result<Vec<MetricEvent>, String>) -> Converted {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let result = serde_json::from_str::<Value>(l)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|v| convert(&v));
            (i + 1, result)
        })
        .collect()
}

/// Reads a timestamp: text (RFC 3339 or naive ISO) or a number (s, ms or ns).
fn timestamp(v: Option<&Value>) -> Result<i64, String> {
    match v {
        Some(Value::String(s)) => parse_rfc3339(s).ok_or_else(|| format!("bad timestamp {s:?}")),
        Some(Value::Number(n)) => {
            let x = n.as_f64().ok_or("bad timestamp number")?;
            let ns = if x.abs() < 1e11 {
                x * 1e9
            } else if x.abs() < 1e14 {
                x * 1e6
            } else {
                x
            };
            if ns.is_finite() && ns.abs() < 9.2e18 {
                Ok(ns.round() as i64)
            } else {
                Err(format!("timestamp {x} out of range"))
            }
        }
        Some(other) => Err(format!("bad timestamp {other}")),
        None => Err("missing timestamp".into()),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing or non-text field {key:?}"))
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("bad number in {key:?}")),
        Some(other) => Err(format!("field {key:?} is not a number: {other}")),
        None => Err(format!("missing field {key:?}")),
    }
}

fn opt_number(v: &Value, key: &str) -> Result<Option<f64>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => number(v, key).map(Some),
    }
}

/// A JSON scalar as dimension text.
fn as_dimension(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn analytics_metric(v: &Value) -> Result<Vec<MetricEvent>, String> {
    let source = match v.get("type").and_then(Value::as_str) {
        None => Source::Performance,
        Some(t) => Source::parse(t).ok_or_else(|| format!("unknown type {t:?}"))?,
    };
    let category = v
        .get("category")
        .and_then(Value::as_str)
        .unwrap_or(source.default_category());
    let unit = v.get("unit").and_then(Value::as_str).unwrap_or("");
    let mut e = MetricEvent::new(
        source,
        category,
        text(v, "metric")?,
        number(v, "value")?,
        unit,
    )
    .at(timestamp(v.get("timestamp"))?);
    if let Some(Value::Object(tags)) = v.get("tags") {
        for (k, t) in tags {
            if let Some(t) = as_dimension(t) {
                e.dimensions.insert(k.clone(), t);
            }
        }
    }
    Ok(vec![e])
}

fn original_event(v: &Value) -> Result<Vec<MetricEvent>, String> {
    let mut v = v.clone();
    let ts = timestamp(v.get("timestamp"))?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("timestamp".into(), Value::from(ts));
    }
    serde_json::from_value::<MetricEvent>(v)
        .map(|e| vec![e])
        .map_err(|e| format!("not an event: {e}"))
}

fn user_interaction(v: &Value) -> Result<Vec<MetricEvent>, String> {
    let ts = timestamp(v.get("timestamp"))?;
    let kind = text(v, "interaction_type")?;
    let mut dims = BTreeMap::new();
    dims.insert("interaction_type".to_string(), kind.to_string());
    for key in ["user_id", "session_id", "command", "success"] {
        if let Some(d) = v.get(key).and_then(as_dimension) {
            dims.insert(key.to_string(), d);
        }
    }
    if !dims.contains_key("user_id") && !dims.contains_key("session_id") {
        return Err("neither user_id nor session_id".into());
    }
    let event = |category: &str, name: &str, value: f64, unit: &str| {
        let mut e = MetricEvent::new(Source::User, category, name, value, unit).at(ts);
        e.dimensions = dims.clone();
        e
    };
    let mut out = vec![event("interaction", "user_interaction", 1.0, "count")];
    if let Some(ms) = opt_number(v, "duration_ms")? {
        out.push(event("latency", "interaction_duration", ms, "ms"));
    }
    if let Some(score) = opt_number(v, "satisfaction")? {
        out.push(event("feedback", "satisfaction_score", score, "score"));
    }
    Ok(out)
}

fn learning_event(v: &Value) -> Result<Vec<MetricEvent>, String> {
    let ts = timestamp(v.get("ts"))?;
    let mut dims = BTreeMap::new();
    dims.insert("event_type".to_string(), text(v, "event")?.to_string());
    if let Some(m) = v.get("model").and_then(as_dimension) {
        dims.insert("model".to_string(), m);
    }
    if let Some(u) = v.get("user").and_then(as_dimension) {
        dims.insert("user_id".to_string(), u);
    }
    let event = |name: &str, value: f64, unit: &str| {
        let mut e = MetricEvent::new(Source::Learning, "learning", name, value, unit).at(ts);
        e.dimensions = dims.clone();
        e
    };
    let mut out = vec![event("learning_event", 1.0, "count")];
    if let Some(c) = opt_number(v, "confidence")? {
        if !(0.0..=1.0).contains(&c) {
            return Err(format!("confidence {c} outside [0, 1]"));
        }
        out.push(event("learning_confidence", c, "ratio"));
    }
    Ok(out)
}

/// Line of the first occurrence of `needle` at or after line `from` (1-based).
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map_or(from.max(1), |(i, _)| i + 1)
}

fn document(text: &str) -> Result<Value, (usize, String)> {
    serde_json::from_str(text).map_err(|e| (e.line().max(1), format!("not JSON: {e}")))
}

fn capability_usage(text: &str) -> Converted {
    let doc = match document(text) {
        Ok(d) => d,
        Err((line, reason)) => return vec![(line, Err(reason))],
    };
    let updated = timestamp(doc.get("updated_at"));
    let Some(Value::Object(caps)) = doc.get("capabilities") else {
        return vec![(1, Err("no \"capabilities\" object".into()))];
    };
    caps.iter()
        .map(|(name, c)| {
            let line = line_of(text, &format!("\"{name}\""), 1);
            let result = (|| {
                let ts = match c.get("last_used") {
                    Some(v) => timestamp(Some(v))?,
                    None => updated.clone()?,
                };
                let usage = number(c, "usage_count")?;
                let mut dims = BTreeMap::new();
                dims.insert("capability".to_string(), name.clone());
                if let Some(t) = c.get("tier").and_then(as_dimension) {
                    dims.insert("tier".to_string(), t);
                }
                let event = |source, category: &str, metric: &str, value: f64, unit: &str| {
                    let mut e = MetricEvent::new(source, category, metric, value, unit).at(ts);
                    e.dimensions = dims.clone();
                    e
                };
                let mut out = vec![event(
                    Source::Business,
                    "adoption",
                    "capability_usage_count",
                    usage,
                    "count",
                )];
                if let (Some(ok), Some(bad)) = (
                    opt_number(c, "success_count")?,
                    opt_number(c, "failure_count")?,
                ) {
                    if ok + bad > 0.0 {
                        out.push(event(
                            Source::Performance,
                            "reliability",
                            "capability_success_rate",
                            ok / (ok + bad),
                            "ratio",
                        ));
                    }
                }
                if let Some(ms) = opt_number(c, "avg_duration_ms")? {
                    out.push(event(
                        Source::Performance,
                        "latency",
                        "capability_avg_duration",
                        ms,
                        "ms",
                    ));
                }
                Ok(out)
            })();
            (line, result)
        })
        .collect()
}

fn debug_learning(text: &str) -> Converted {
    let doc = match document(text) {
        Ok(d) => d,
        Err((line, reason)) => return vec![(line, Err(reason))],
    };
    let Some(Value::Array(sessions)) = doc.get("sessions") else {
        return vec![(1, Err("no \"sessions\" array".into()))];
    };
    let mut out = Vec::new();
    let mut cursor = 1;
    for s in sessions {
        let session = s.get("session_id").and_then(as_dimension);
        let Some(Value::Array(events)) = s.get("events") else {
            let line = line_of(text, "\"session_id\"", cursor);
            out.push((line, Err("session without an \"events\" array".into())));
            continue;
        };
        for ev in events {
            let line = line_of(text, "\"pattern\"", cursor);
            cursor = line + 1;
            let result = (|| {
                let ts = timestamp(ev.get("timestamp"))?;
                let mut dims = BTreeMap::new();
                dims.insert("pattern".to_string(), text_of(ev, "pattern")?);
                if let Some(o) = ev.get("outcome").and_then(as_dimension) {
                    dims.insert("outcome".to_string(), o);
                }
                if let Some(sid) = &session {
                    dims.insert("session_id".to_string(), sid.clone());
                }
                let event = |metric: &str, value: f64, unit: &str| {
                    let mut e =
                        MetricEvent::new(Source::Learning, "debugging", metric, value, unit).at(ts);
                    e.dimensions = dims.clone();
                    e
                };
                let mut evs = vec![event(
                    "debug_pattern_confidence",
                    number(ev, "confidence")?,
                    "ratio",
                )];
                if let Some(secs) = opt_number(ev, "resolution_time_s")? {
                    evs.push(event("debug_resolution_time", secs, "s"));
                }
                Ok(evs)
            })();
            out.push((line, result));
        }
    }
    out
}

fn text_of(v: &Value, key: &str) -> Result<String, String> {
    text(v, key).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_unit() {
        let want = Ok(1_714_564_800_500_000_000);
        assert_eq!(timestamp(Some(&Value::from(1_714_564_800.5))), want);
        assert_eq!(timestamp(Some(&Value::from(1_714_564_800_500u64))), want);
        assert_eq!(
            timestamp(Some(&Value::from(1_714_564_800_500_000_000u64))),
            want
        );
        assert_eq!(timestamp(Some(&Value::from("2024-05-01T12:00:00.5"))), want);
        assert!(timestamp(Some(&Value::from("soon"))).is_err());
        assert!(timestamp(None).is_err());
    }

    #[test]
    fn a_broken_document_is_one_issue_with_its_line() {
        let issues = capability_usage("{\n  \"capabilities\": {\n    \"x\": \n}");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].0, 4);
        assert!(issues[0].1.is_err());
    }
}
