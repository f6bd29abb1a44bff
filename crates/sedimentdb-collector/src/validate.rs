//! Validator: the first pipeline stage. It checks one event at a time and says exactly
//! why an event is refused, so that a batch keeps its good events.

use std::collections::BTreeSet;
use std::time::Duration;

use super::event::MetricEvent;
use super::event::RESERVED_DIMENSIONS;
use sedimentdb::Timestamp;

/// Why an event was refused. Nothing of a refused event is stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The metric name is empty, too long, or has characters outside
    /// `[A-Za-z0-9_:.-]` (or starts with a digit, `.` or `-`).
    #[error("invalid metric name {0:?} (the rule is [A-Za-z_:][A-Za-z0-9_:.-]*; ValidatorConfig::max_name_len bounds its length, default 200 bytes)")]
    InvalidName(String),
    /// The category is empty, too long, or not `[a-z0-9_.-]+`.
    #[error("invalid category {0:?} (the rule is [a-z0-9_.-]+; ValidatorConfig::max_label_len bounds its length, default 32 bytes)")]
    InvalidCategory(String),
    /// The unit is too long or has characters outside `[A-Za-z0-9_%/.]`.
    #[error("invalid unit {0:?} (the rule is [A-Za-z0-9_%/.]*; ValidatorConfig::max_label_len bounds its length, default 32 bytes)")]
    InvalidUnit(String),
    /// The unit is valid but not in the configured list of known units.
    #[error("unknown unit {0:?}: not in ValidatorConfig::allowed_units")]
    UnknownUnit(String),
    /// The value is NaN or infinite.
    #[error("value {0} is not finite")]
    NonFiniteValue(f64),
    /// The timestamp lies further in the future than the allowed clock skew.
    #[error("timestamp {} is more than {skew:?} ahead of the collector's clock (limit ValidatorConfig::max_future_skew)", crate::event::format_rfc3339(*ts))]
    TimestampInFuture {
        /// The event's timestamp.
        ts: Timestamp,
        /// The allowed skew.
        skew: Duration,
    },
    /// The timestamp is older than the allowed age.
    #[error("timestamp {} is more than {max_age:?} old (limit ValidatorConfig::max_age; set it to None to accept any age, as imports of history do)", crate::event::format_rfc3339(*ts))]
    TimestampTooOld {
        /// The event's timestamp.
        ts: Timestamp,
        /// The allowed age.
        max_age: Duration,
    },
    /// More dimensions than allowed.
    #[error("{count} dimensions, the limit is {limit} (ValidatorConfig::max_dimensions)")]
    TooManyDimensions {
        /// Dimensions on the event.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A dimension key is empty, too long, or not `[A-Za-z_][A-Za-z0-9_.-]*`.
    #[error("invalid dimension key {0:?} (the rule is [A-Za-z_][A-Za-z0-9_.-]*; ValidatorConfig::max_dimension_key_len bounds its length, default 64 bytes)")]
    InvalidDimensionKey(String),
    /// A dimension key the collector sets itself (`source`, `category`, `unit`,
    /// `sample_rate`).
    #[error("dimension key {0:?} is reserved")]
    ReservedDimension(String),
    /// A dimension value is too long or contains NUL.
    #[error("value of dimension {key:?} is invalid ({reason})")]
    InvalidDimensionValue {
        /// The dimension key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The event's metadata, as JSON, is larger than allowed.
    #[error("metadata is {bytes} bytes as JSON, the limit is {limit} (ValidatorConfig::max_metadata_bytes)")]
    MetadataTooLarge {
        /// Its size as compact JSON.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The id is longer than allowed.
    #[error("id is {len} bytes, the limit is {limit} (ValidatorConfig::max_id_len)")]
    IdTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The same series was stored earlier with other attributes than this event's.
    #[error("series {name:?} was stored with other source, category or unit")]
    AttributeConflict {
        /// The metric name.
        name: String,
    },
    /// The engine refused the series key (e.g. past its series limit).
    #[error("the store refused the series: {0}")]
    SeriesRefused(String),
}

/// Limits the validator applies. Every field documents its default.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorConfig {
    /// How far ahead of the collector's clock a timestamp may be. Default: 5 minutes.
    pub max_future_skew: Duration,
    /// How old a timestamp may be; `None` accepts any age (imports of history).
    /// Default: 7 days.
    pub max_age: Option<Duration>,
    /// Longest metric name in bytes. Default: 200.
    pub max_name_len: usize,
    /// Most dimensions an event may carry (the collector adds up to four reserved ones
    /// and the enricher its defaults; the engine allows 32 in all). Default: 16.
    pub max_dimensions: usize,
    /// Longest dimension key in bytes. Default: 64.
    pub max_dimension_key_len: usize,
    /// Longest dimension value in bytes. Default: 256.
    pub max_dimension_value_len: usize,
    /// Longest id in bytes. Default: 128.
    pub max_id_len: usize,
    /// Longest category and unit in bytes. Default: 32.
    pub max_label_len: usize,
    /// Largest metadata of one event, in bytes of compact JSON. Metadata is not stored,
    /// but it is held in memory, queued and handed to in-process sinks with the event;
    /// the bound keeps one event from costing megabytes. Default: 16 KiB.
    pub max_metadata_bytes: usize,
    /// When set, units must be in this set (the empty unit is always allowed).
    /// Default: `None` (any well-formed unit). [`ValidatorConfig::known_units`] lists a
    /// usual set.
    pub allowed_units: Option<BTreeSet<String>>,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            max_future_skew: Duration::from_secs(300),
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            max_name_len: 200,
            max_dimensions: 16,
            max_dimension_key_len: 64,
            max_dimension_value_len: 256,
            max_id_len: 128,
            max_label_len: 32,
            max_metadata_bytes: 16 << 10,
            allowed_units: None,
        }
    }
}

impl ValidatorConfig {
    /// A usual set of units: time, sizes, ratios, counts, rates, money.
    pub fn known_units() -> BTreeSet<String> {
        [
            "ns",
            "us",
            "ms",
            "s",
            "min",
            "h",
            "bytes",
            "KB",
            "MB",
            "GB",
            "percent",
            "ratio",
            "count",
            "score",
            "bytes/s",
            "ops/s",
            "requests/s",
            "events",
            "users",
            "usd",
            "eur",
            "celsius",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }
}

/// The validation stage.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    config: ValidatorConfig,
}

impl Validator {
    /// A validator with these limits.
    pub fn new(config: ValidatorConfig) -> Self {
        Validator { config }
    }

    /// The limits in force.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Checks everything: [`Validator::check_point`] and [`Validator::check_identity`].
    pub fn validate(&self, event: &MetricEvent, now: Timestamp) -> Result<(), Rejection> {
        self.check_point(event, now)?;
        self.check_identity(event)
    }

    /// The checks that depend on each point: value, timestamp, id. Cheap; run for every
    /// event.
    pub fn check_point(&self, event: &MetricEvent, now: Timestamp) -> Result<(), Rejection> {
        self.check_point_with(event, now, true)
    }

    /// [`Validator::check_point`], with the age limit applied or not (imports of
    /// history skip it).
    pub fn check_point_with(
        &self,
        event: &MetricEvent,
        now: Timestamp,
        enforce_age: bool,
    ) -> Result<(), Rejection> {
        if !event.value.is_finite() {
            return Err(Rejection::NonFiniteValue(event.value));
        }
        let skew = duration_ns(self.config.max_future_skew);
        if event.timestamp > now.saturating_add(skew) {
            return Err(Rejection::TimestampInFuture {
                ts: event.timestamp,
                skew: self.config.max_future_skew,
            });
        }
        if let Some(max_age) = self.config.max_age.filter(|_| enforce_age) {
            if event.timestamp < now.saturating_sub(duration_ns(max_age)) {
                return Err(Rejection::TimestampTooOld {
                    ts: event.timestamp,
                    max_age,
                });
            }
        }
        if !(sedimentdb::MIN_TIMESTAMP..=sedimentdb::MAX_TIMESTAMP).contains(&event.timestamp) {
            return Err(Rejection::TimestampTooOld {
                ts: event.timestamp,
                max_age: self.config.max_age.unwrap_or(Duration::MAX),
            });
        }
        if !event.metadata.is_empty() {
            let bytes = metadata_json_len(&event.metadata);
            if bytes > self.config.max_metadata_bytes {
                return Err(Rejection::MetadataTooLarge {
                    bytes,
                    limit: self.config.max_metadata_bytes,
                });
            }
        }
        if event.id.len() > self.config.max_id_len {
            return Err(Rejection::IdTooLong {
                len: event.id.len(),
                limit: self.config.max_id_len,
            });
        }
        Ok(())
    }

    /// The checks that depend only on the series identity: name, category, unit,
    /// dimensions. The collector runs them once per distinct series (a cached series was
    /// checked when it was first seen).
    pub fn check_identity(&self, event: &MetricEvent) -> Result<(), Rejection> {
        let c = &self.config;
        if event.name.len() > c.max_name_len || !is_metric_name(&event.name) {
            return Err(Rejection::InvalidName(event.name.clone()));
        }
        if event.category.is_empty()
            || event.category.len() > c.max_label_len
            || !event.category.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            })
        {
            return Err(Rejection::InvalidCategory(event.category.clone()));
        }
        if event.unit.len() > c.max_label_len
            || !event
                .unit
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b'/' | b'.'))
        {
            return Err(Rejection::InvalidUnit(event.unit.clone()));
        }
        if let Some(units) = &c.allowed_units {
            if !event.unit.is_empty() && !units.contains(&event.unit) {
                return Err(Rejection::UnknownUnit(event.unit.clone()));
            }
        }
        if event.dimensions.len() > c.max_dimensions {
            return Err(Rejection::TooManyDimensions {
                count: event.dimensions.len(),
                limit: c.max_dimensions,
            });
        }
        for (key, value) in &event.dimensions {
            if key.len() > c.max_dimension_key_len || !is_dimension_key(key) {
                return Err(Rejection::InvalidDimensionKey(key.clone()));
            }
            if RESERVED_DIMENSIONS.contains(&key.as_str()) {
                return Err(Rejection::ReservedDimension(key.clone()));
            }
            if value.len() > c.max_dimension_value_len {
                return Err(Rejection::InvalidDimensionValue {
                    key: key.clone(),
                    reason:
                        "longer than ValidatorConfig::max_dimension_value_len, default 256 bytes",
                });
            }
            if value.contains('\0') {
                return Err(Rejection::InvalidDimensionValue {
                    key: key.clone(),
                    reason: "contains NUL",
                });
            }
        }
        Ok(())
    }
}

/// The size of `metadata` as compact JSON, counted without building the text.
fn metadata_json_len(metadata: &std::collections::BTreeMap<String, serde_json::Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing JSON values into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, metadata);
    count.0
}

pub(crate) fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The engine's metric-name rule.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'))
}

/// The engine's dimension-key rule.
pub(crate) fn is_dimension_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Source, SystemMetric};

    const NOW: i64 = 1_714_564_800_000_000_000;

    fn ok_event() -> MetricEvent {
        SystemMetric::new("cpu_usage", 10.0, "percent")
            .at(NOW)
            .build()
    }

    fn reject(f: impl FnOnce(&mut MetricEvent)) -> Rejection {
        let mut e = ok_event();
        f(&mut e);
        Validator::default().validate(&e, NOW).unwrap_err()
    }

    #[test]
    fn accepts_a_good_event() {
        Validator::default().validate(&ok_event(), NOW).unwrap();
    }

    #[test]
    fn every_rule_has_its_reason() {
        assert!(matches!(
            reject(|e| e.name = "1cpu".into()),
            Rejection::InvalidName(_)
        ));
        assert!(matches!(
            reject(|e| e.name.clear()),
            Rejection::InvalidName(_)
        ));
        assert!(matches!(
            reject(|e| e.category = "Bad Cat".into()),
            Rejection::InvalidCategory(_)
        ));
        assert!(matches!(
            reject(|e| e.unit = "m s".into()),
            Rejection::InvalidUnit(_)
        ));
        assert!(matches!(
            reject(|e| e.value = f64::NAN),
            Rejection::NonFiniteValue(_)
        ));
        assert!(matches!(
            reject(|e| e.value = f64::INFINITY),
            Rejection::NonFiniteValue(_)
        ));
        assert!(matches!(
            reject(|e| e.timestamp = NOW + 3_600_000_000_000),
            Rejection::TimestampInFuture { .. }
        ));
        assert!(matches!(
            reject(|e| e.timestamp = NOW - 8 * 86_400_000_000_000),
            Rejection::TimestampTooOld { .. }
        ));
        assert!(matches!(
            reject(|e| for i in 0..17 {
                e.dimensions.insert(format!("k{i}"), "v".into());
            }),
            Rejection::TooManyDimensions {
                count: 17,
                limit: 16
            }
        ));
        assert!(matches!(
            reject(|e| {
                e.dimensions.insert("../x".into(), "v".into());
            }),
            Rejection::InvalidDimensionKey(_)
        ));
        assert!(matches!(
            reject(|e| {
                e.dimensions.insert("source".into(), "v".into());
            }),
            Rejection::ReservedDimension(_)
        ));
        assert!(matches!(
            reject(|e| {
                e.dimensions.insert("k".into(), "x".repeat(300));
            }),
            Rejection::InvalidDimensionValue { .. }
        ));
        assert!(matches!(
            reject(|e| {
                e.dimensions.insert("k".into(), "a\0b".into());
            }),
            Rejection::InvalidDimensionValue { .. }
        ));
        assert!(matches!(
            reject(|e| e.id = "x".repeat(200)),
            Rejection::IdTooLong { .. }
        ));
    }

    #[test]
    fn unit_list_and_age_are_configurable() {
        let v = Validator::new(ValidatorConfig {
            allowed_units: Some(ValidatorConfig::known_units()),
            max_age: None,
            ..ValidatorConfig::default()
        });
        let mut e = ok_event();
        e.timestamp = 0;
        v.validate(&e, NOW).unwrap();
        e.unit = "furlongs".into();
        assert_eq!(
            v.validate(&e, NOW),
            Err(Rejection::UnknownUnit("furlongs".into()))
        );
        let mut e = MetricEvent::new(Source::Business, "kpi", "x", 1.0, "");
        e.timestamp = NOW;
        v.validate(&e, NOW).unwrap();
    }
}
