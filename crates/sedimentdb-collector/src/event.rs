//! The metric event: the unit the collection layer receives, validates and stores.
//!
//! On the wire an event is one JSON object (one per line in JSONL files):
//!
//! ```json
//! {"id":"e-1","timestamp":"2024-05-01T12:00:00.250Z","source":"performance",
//!  "category":"latency","name":"command_execution_time","value":12.5,"unit":"ms",
//!  "dimensions":{"command":"user-prefs"},"metadata":{"trace":"abc"}}
//! ```
//!
//! `timestamp` is RFC 3339 (any offset; stored as UTC nanoseconds). An integer is read as
//! nanoseconds since the Unix epoch. `id`, `unit`, `dimensions` and `metadata` may be
//! omitted. See the [module documentation](super) for how an event maps onto a series.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use sedimentdb::Timestamp;

/// Dimension keys the collector sets itself (series attributes); events may not use them.
pub const RESERVED_DIMENSIONS: [&str; 4] = ["source", "category", "unit", "sample_rate"];

/// Where a metric comes from; decides its data class (retention, access).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Machine and process resources: CPU, memory, disk, queue depths.
    System,
    /// What users do: interactions, feature use. Carries personal identifiers.
    User,
    /// Latency, throughput, error rates of the service's own operations.
    Performance,
    /// Outcomes of the learning system: suggestions, acceptance, confidence.
    Learning,
    /// Business figures: adoption, conversions, revenue.
    Business,
    /// Security events: failed logins, permission denials.
    Security,
}

impl Source {
    /// Every source, in declaration order.
    pub const ALL: [Source; 6] = [
        Source::System,
        Source::User,
        Source::Performance,
        Source::Learning,
        Source::Business,
        Source::Security,
    ];

    /// The lowercase name used in JSON and in the stored `source` dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::System => "system",
            Source::User => "user",
            Source::Performance => "performance",
            Source::Learning => "learning",
            Source::Business => "business",
            Source::Security => "security",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|src| src.as_str() == s)
    }

    /// The category a typed constructor gives when none is set.
    pub fn default_category(self) -> &'static str {
        match self {
            Source::System => "resource",
            Source::User => "interaction",
            Source::Performance => "latency",
            Source::Learning => "learning",
            Source::Business => "kpi",
            Source::Security => "access",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric observation as the collector receives it.
///
/// ```
/// use sedimentdb_collector::{MetricEvent, Source};
/// let e: MetricEvent = serde_json::from_str(
///     r#"{"timestamp":"2024-05-01T12:00:00Z","source":"system","category":"resource",
///         "name":"cpu_usage","value":41.5,"unit":"percent","dimensions":{"host":"h1"}}"#,
/// ).unwrap();
/// assert_eq!(e.source, Source::System);
/// assert_eq!(e.timestamp, 1_714_564_800_000_000_000);
/// let back = serde_json::to_string(&e).unwrap();
/// assert!(back.contains(r#""timestamp":"2024-05-01T12:00:00Z""#));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricEvent {
    /// Unique id, used for de-duplication. Empty means "assign one": the collector then
    /// generates a unique id (and skips de-duplication, which it cannot need).
    #[serde(default)]
    pub id: String,
    /// Nanoseconds since the Unix epoch; RFC 3339 in JSON.
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
    /// Where the metric comes from.
    pub source: Source,
    /// A finer class inside the source (e.g. `latency`, `adoption`); `[a-z0-9_.-]+`.
    pub category: String,
    /// Metric name, `[A-Za-z_:][A-Za-z0-9_:.-]*`.
    pub name: String,
    /// The value; must be finite.
    pub value: f64,
    /// Unit (e.g. `ms`, `percent`, `bytes`, `count`); may be empty.
    #[serde(default)]
    pub unit: String,
    /// Dimensions: together with the name they identify the series. In JSON a value
    /// may be a string, a boolean or a number, stored as its canonical string (`true`,
    /// `15.2`, `3`: JSON's own spelling of it), so `{"success": true}` and
    /// `{"success": "true"}` name the same series; `null`, arrays and objects are
    /// refused.
    #[serde(default, deserialize_with = "scalar_dimensions::deserialize")]
    pub dimensions: BTreeMap<String, String>,
    /// Free-form context. Not stored by the engine (it stores numbers); kept for sinks
    /// and exports in the same process.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl MetricEvent {
    /// An event with no id, dimensions or metadata, stamped with the current time.
    pub fn new(
        source: Source,
        category: impl Into<String>,
        name: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
    ) -> Self {
        MetricEvent {
            id: String::new(),
            timestamp: now_ns(),
            source,
            category: category.into(),
            name: name.into(),
            value,
            unit: unit.into(),
            dimensions: BTreeMap::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the timestamp (nanoseconds since the Unix epoch).
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Adds (or replaces) a dimension.
    pub fn with_dimension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.metadata.insert(key.into(), value);
        self
    }

    /// Parses one JSON object.
    pub fn from_json(line: &str) -> Result<MetricEvent, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// Serialises to one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // A map of strings and finite-or-null numbers cannot fail to serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The current wall-clock time in nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> Timestamp {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC (`Z`), with as many fraction
/// digits as needed (none, 3, 6 or 9).
pub fn format_rfc3339(ts: Timestamp) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts)) {
        Ok(t) => t.format(&Rfc3339).unwrap_or_else(|_| ts.to_string()),
        Err(_) => ts.to_string(),
    }
}

/// Parses an RFC 3339 timestamp into nanoseconds since the epoch.
///
/// Also accepts the naive ISO form Python's `datetime.isoformat()` writes
/// (`2024-05-01T12:00:00.123456`, no offset), read as UTC, and a space instead of `T`.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    let parse = |text: &str| {
        time::OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
    };
    if let Some(ts) = parse(s) {
        return Some(ts);
    }
    let mut fixed = s.replacen(' ', "T", 1);
    if !has_offset(&fixed) {
        fixed.push('Z');
    }
    parse(&fixed)
}

/// True when an ISO timestamp ends in `Z` or `±hh:mm`.
fn has_offset(s: &str) -> bool {
    if s.ends_with('Z') || s.ends_with('z') {
        return true;
    }
    let b = s.as_bytes();
    b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':'
}

/// Serde adapter: RFC 3339 strings for nanosecond timestamps (integers also read).
pub mod rfc3339 {
    use super::*;

    /// Writes the timestamp as RFC 3339.
    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*ts))
    }

    /// Reads RFC 3339 (or an integer of nanoseconds).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(ns) => Ok(ns),
            Raw::Text(text) => parse_rfc3339(&text).ok_or_else(|| {
                serde::de::Error::custom(format!("timestamp {text:?} is not RFC 3339"))
            }),
        }
    }
}

/// Dimension values in JSON: strings as they are, booleans and numbers as their
/// canonical JSON text.
mod scalar_dimensions {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        raw.into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Number(n) => n.to_string(),
                    other => {
                        return Err(serde::de::Error::custom(format!(
                            "dimension {key:?} is {}: a dimension value must be a string, \
                             a boolean or a number",
                            match other {
                                serde_json::Value::Null => "null",
                                serde_json::Value::Array(_) => "an array",
                                _ => "an object",
                            }
                        )))
                    }
                };
                Ok((key, text))
            })
            .collect()
    }
}

/// Defines one typed constructor: a builder that presets the source and default
/// category, takes the kind's required fields, and turns into a [`MetricEvent`].
macro_rules! typed_metric {
    ($(#[$doc:meta])* $kind:ident, $source:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $kind(MetricEvent);

        impl $kind {
            /// Sets the category (default: the source's default category).
            pub fn category(mut self, category: impl Into<String>) -> Self {
                self.0.category = category.into();
                self
            }

            /// Adds a dimension.
            pub fn dimension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.0.dimensions.insert(key.into(), value.into());
                self
            }

            /// Adds a metadata entry.
            pub fn metadata(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
                self.0.metadata.insert(key.into(), value);
                self
            }

            /// Sets the timestamp (default: now).
            pub fn at(mut self, timestamp: Timestamp) -> Self {
                self.0.timestamp = timestamp;
                self
            }

            /// Sets the id (default: assigned by the collector).
            pub fn id(mut self, id: impl Into<String>) -> Self {
                self.0.id = id.into();
                self
            }

            /// The finished event.
            pub fn build(self) -> MetricEvent {
                self.0
            }

            fn base(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
                let source: Source = $source;
                $kind(MetricEvent::new(source, source.default_category(), name, value, unit))
            }
        }

        impl From<$kind> for MetricEvent {
            fn from(m: $kind) -> MetricEvent {
                m.0
            }
        }
    };
}

typed_metric!(
    /// A machine or process resource figure (category `resource` by default).
    ///
    /// ```
    /// use sedimentdb_collector::{MetricEvent, Source, SystemMetric};
    /// let e: MetricEvent = SystemMetric::new("cpu_usage", 73.0, "percent").dimension("host", "h1").into();
    /// assert_eq!((e.source, e.category.as_str()), (Source::System, "resource"));
    /// ```
    SystemMetric,
    Source::System
);
typed_metric!(
    /// The cost of one operation, with dimensions `operation` and `success`
    /// (category `latency` by default).
    PerformanceMetric,
    Source::Performance
);
typed_metric!(
    /// Something a user did, keyed by `user_id` (hashed before storage when the
    /// privacy layer lists it; category `interaction` by default).
    UserMetric,
    Source::User
);
typed_metric!(
    /// An outcome of the learning system (category `learning` by default).
    LearningMetric,
    Source::Learning
);
typed_metric!(
    /// A business figure (category `kpi` by default).
    BusinessMetric,
    Source::Business
);
typed_metric!(
    /// A security event with a `severity` dimension (category `access` by default).
    SecurityMetric,
    Source::Security
);

impl SystemMetric {
    /// `name` = `value` `unit`, e.g. `("memory_used", 512.0, "MB")`.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Self::base(name, value, unit)
    }
}

impl PerformanceMetric {
    /// One timing or rate of `operation`; `success` is recorded as a dimension.
    pub fn new(
        operation: impl Into<String>,
        name: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        success: bool,
    ) -> Self {
        Self::base(name, value, unit)
            .dimension("operation", operation)
            .dimension("success", if success { "true" } else { "false" })
    }
}

impl UserMetric {
    /// A user's action, counted (`value` usually 1, unit `count`).
    pub fn new(user_id: impl Into<String>, name: impl Into<String>, value: f64) -> Self {
        Self::base(name, value, "count").dimension("user_id", user_id)
    }

    /// Adds the session the action belongs to (`session_id`, an identifier too).
    pub fn session(self, session_id: impl Into<String>) -> Self {
        self.dimension("session_id", session_id)
    }
}

impl LearningMetric {
    /// A learning outcome such as `suggestion_accepted` or `confidence`.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Self::base(name, value, unit)
    }
}

impl BusinessMetric {
    /// A business figure such as `feature_adoption_ratio`.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Self::base(name, value, unit)
    }
}

impl SecurityMetric {
    /// A security event counted once, with its `severity` (`low`, `medium`, `high`,
    /// `critical`).
    pub fn new(name: impl Into<String>, value: f64, severity: impl Into<String>) -> Self {
        Self::base(name, value, "count").dimension("severity", severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_every_field() {
        let e = PerformanceMetric::new("deploy", "command_execution_time", 12.5, "ms", true)
            .at(1_714_564_800_250_000_000)
            .id("e-1")
            .metadata("trace", serde_json::json!("abc"))
            .build();
        let json = e.to_json();
        assert!(
            json.contains(r#""timestamp":"2024-05-01T12:00:00.25Z""#),
            "{json}"
        );
        let back = MetricEvent::from_json(&json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn timestamps_parse_in_several_forms() {
        let want = 1_714_564_800_123_456_000;
        for text in [
            "2024-05-01T12:00:00.123456Z",
            "2024-05-01T14:00:00.123456+02:00",
            "2024-05-01T12:00:00.123456",
            "2024-05-01 12:00:00.123456",
            "2024-05-01T12:00:00.123456+00:00",
        ] {
            assert_eq!(parse_rfc3339(text), Some(want), "{text}");
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn integer_timestamps_and_missing_optionals_are_accepted() {
        let e = MetricEvent::from_json(
            r#"{"timestamp":5,"source":"security","category":"auth","name":"login_failed","value":1}"#,
        )
        .unwrap();
        assert_eq!(e.timestamp, 5);
        assert!(e.id.is_empty() && e.unit.is_empty() && e.dimensions.is_empty());
        assert!(MetricEvent::from_json(
            r#"{"timestamp":5,"source":"nope","category":"a","name":"b","value":1}"#
        )
        .is_err());
    }

    #[test]
    fn typed_constructors_preset_source_category_and_dimensions() {
        let kinds: [(MetricEvent, Source, &str); 6] = [
            (
                SystemMetric::new("cpu", 1.0, "percent").build(),
                Source::System,
                "resource",
            ),
            (
                PerformanceMetric::new("op", "t", 1.0, "ms", false).build(),
                Source::Performance,
                "latency",
            ),
            (
                UserMetric::new("u1", "clicks", 1.0).session("s1").build(),
                Source::User,
                "interaction",
            ),
            (
                LearningMetric::new("confidence", 0.5, "ratio").build(),
                Source::Learning,
                "learning",
            ),
            (
                BusinessMetric::new("revenue", 3.0, "usd").build(),
                Source::Business,
                "kpi",
            ),
            (
                SecurityMetric::new("login_failed", 1.0, "high").build(),
                Source::Security,
                "access",
            ),
        ];
        for (e, source, category) in &kinds {
            assert_eq!((e.source, e.category.as_str()), (*source, *category));
        }
        assert_eq!(kinds[1].0.dimensions["success"], "false");
        assert_eq!(kinds[2].0.dimensions["user_id"], "u1");
        assert_eq!(kinds[2].0.dimensions["session_id"], "s1");
        assert_eq!(kinds[5].0.dimensions["severity"], "high");
    }
}
