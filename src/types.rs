//! Core value types: timestamps, series identity, points, time ranges and selectors.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};

/// Nanoseconds since the Unix epoch (negative before it). Every timestamp and every
/// time range in the API is in this unit; [`timestamp`] converts from others.
pub type Timestamp = i64;

/// Smallest timestamp a point may carry (about the year 1823).
///
/// Stored timestamps keep 2^62 ns of headroom on either side so that range ends,
/// bucket alignment and steps computed from them can never overflow an `i64`.
pub const MIN_TIMESTAMP: Timestamp = -(1 << 62);
/// Largest timestamp a point may carry (about the year 2116).
pub const MAX_TIMESTAMP: Timestamp = (1 << 62) - 1;

/// Conversions to [`Timestamp`] (nanoseconds since the Unix epoch) from the units callers
/// usually hold, so that a value in seconds or milliseconds is never passed where
/// nanoseconds are expected (`between(ms, ms)` would silently query 1970).
///
/// Each conversion fails with [`Error::InvalidArgument`] when the result lies outside
/// [`MIN_TIMESTAMP`]`..=`[`MAX_TIMESTAMP`] (about the years 1823 to 2116), the range a
/// point may carry.
///
/// ```
/// use sedimentdb::timestamp;
/// assert_eq!(timestamp::from_secs(2)?, 2_000_000_000);
/// assert_eq!(timestamp::from_millis(-1500)?, -1_500_000_000);
/// assert_eq!(timestamp::from_micros(7)?, 7_000);
/// let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(42);
/// assert_eq!(timestamp::from_system_time(t)?, 42);
/// assert!(timestamp::now() > timestamp::from_secs(1_700_000_000)?);
/// assert!(timestamp::from_secs(i64::MAX).is_err());
/// # Ok::<(), sedimentdb::Error>(())
/// ```
pub mod timestamp {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::{Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
    use crate::error::{Error, Result};

    fn scaled(value: i64, ns_per_unit: i64, unit: &str) -> Result<Timestamp> {
        value
            .checked_mul(ns_per_unit)
            .filter(|ns| (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(ns))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{value} {unit} since the Unix epoch is outside the timestamp range"
                ))
            })
    }

    /// The timestamp `secs` seconds after the Unix epoch (before it when negative).
    pub fn from_secs(secs: i64) -> Result<Timestamp> {
        scaled(secs, 1_000_000_000, "seconds")
    }

    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub fn from_millis(millis: i64) -> Result<Timestamp> {
        scaled(millis, 1_000_000, "milliseconds")
    }

    /// The timestamp `micros` microseconds after the Unix epoch.
    pub fn from_micros(micros: i64) -> Result<Timestamp> {
        scaled(micros, 1_000, "microseconds")
    }

    /// The timestamp of `time`, in nanoseconds since the Unix epoch (exact: a
    /// `SystemTime` has at most nanosecond precision).
    pub fn from_system_time(time: SystemTime) -> Result<Timestamp> {
        let ns = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos()).ok(),
            Err(before) => i64::try_from(before.duration().as_nanos())
                .ok()
                .map(|ns| -ns),
        };
        ns.filter(|ns| (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(ns))
            .ok_or_else(|| Error::invalid(format!("{time:?} is outside the timestamp range")))
    }

    /// The system clock now, in nanoseconds since the Unix epoch. A clock set outside
    /// the timestamp range (before 1823 or after 2116) gives the nearest end of it.
    pub fn now() -> Timestamp {
        let now = SystemTime::now();
        from_system_time(now).unwrap_or(if now < UNIX_EPOCH {
            MIN_TIMESTAMP
        } else {
            MAX_TIMESTAMP
        })
    }
}

/// Dense identifier of a series inside one database. Ids are never reused or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesId(pub u32);

/// One sample: a timestamp and a value. Values are stored bit-exactly (NaN payloads,
/// infinities and `-0.0` included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// The sample value.
    pub value: f64,
}

/// A half-open time range `[start, end)` of timestamps in nanoseconds since the Unix
/// epoch (see [`timestamp`] for conversions from seconds, milliseconds and
/// `SystemTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// First timestamp included.
    pub start: Timestamp,
    /// First timestamp excluded.
    pub end: Timestamp,
}

impl TimeRange {
    /// The range `[start, end)`, both in nanoseconds since the Unix epoch.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeRange { start, end }
    }

    /// Every timestamp.
    pub fn all() -> Self {
        TimeRange {
            start: i64::MIN,
            end: i64::MAX,
        }
    }

    /// True when `ts` (nanoseconds since the Unix epoch) lies inside the range.
    #[inline]
    pub fn contains(&self, ts: Timestamp) -> bool {
        ts >= self.start && ts < self.end
    }

    /// True when the closed interval `[min, max]` (nanoseconds since the Unix epoch)
    /// shares a timestamp with this range.
    #[inline]
    pub fn overlaps(&self, min: Timestamp, max: Timestamp) -> bool {
        min < self.end && max >= self.start
    }

    /// True when the range holds no timestamp.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

/// Limits applied when a series key is validated. See [`crate::Options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyLimits {
    /// Longest metric name, in bytes.
    pub max_name_len: usize,
    /// Most dimensions on one series.
    pub max_dimensions: usize,
    /// Longest dimension key, in bytes.
    pub max_dimension_key_len: usize,
    /// Longest dimension value, in bytes.
    pub max_dimension_value_len: usize,
}

impl Default for KeyLimits {
    fn default() -> Self {
        KeyLimits {
            max_name_len: 256,
            max_dimensions: 32,
            max_dimension_key_len: 128,
            max_dimension_value_len: 1024,
        }
    }
}

/// Identity of a series: a metric name plus dimensions (`key=value`), kept sorted by key.
///
/// Metric names match `[A-Za-z_:][A-Za-z0-9_:.-]*`, dimension keys match
/// `[A-Za-z_][A-Za-z0-9_.-]*`; dimension values are any non-empty UTF-8 without NUL
/// (an empty value means "absent", as in Prometheus: leave the dimension out). Keys are
/// unique within a series. Series with an empty value written by an earlier version
/// stay readable; no new one can be created.
///
/// ```
/// use sedimentdb::SeriesKey;
/// let key = SeriesKey::new("cpu_usage").with("region", "eu").with("host", "h1");
/// assert_eq!(key.to_string(), r#"cpu_usage{host="h1",region="eu"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    name: String,
    dimensions: Vec<(String, String)>,
}

impl SeriesKey {
    /// A series with no dimensions yet.
    pub fn new(name: impl Into<String>) -> Self {
        SeriesKey {
            name: name.into(),
            dimensions: Vec::new(),
        }
    }

    /// Adds a dimension, keeping dimensions sorted by key. A repeated key is kept twice
    /// and rejected by validation, so that a caller's mistake is reported, not hidden.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push_dimension(key.into(), value.into());
        self
    }

    /// Builds a key from a name and any list of dimensions.
    pub fn from_parts<K, V>(name: impl Into<String>, dims: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut key = SeriesKey::new(name);
        for (k, v) in dims {
            key.push_dimension(k.into(), v.into());
        }
        key
    }

    fn push_dimension(&mut self, key: String, value: String) {
        let at = self
            .dimensions
            .partition_point(|(k, _)| k.as_str() <= key.as_str());
        self.dimensions.insert(at, (key, value));
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dimensions, sorted by key.
    pub fn dimensions(&self) -> &[(String, String)] {
        &self.dimensions
    }

    /// The value of dimension `key`, if present.
    pub fn dimension(&self, key: &str) -> Option<&str> {
        self.dimensions
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.dimensions[i].1.as_str())
    }

    /// Checks the key against the naming rules and `limits`.
    pub fn validate(&self, limits: &KeyLimits) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("metric name is empty"));
        }
        if self.name.len() > limits.max_name_len {
            return Err(Error::invalid(format!(
                "metric name is {} bytes, the limit is {}",
                self.name.len(),
                limits.max_name_len
            )));
        }
        if !is_metric_name(&self.name) {
            return Err(Error::invalid(format!(
                "metric name {:?} has characters outside [A-Za-z0-9_:.-] or starts with a digit, '.' or '-'",
                self.name
            )));
        }
        if self.dimensions.len() > limits.max_dimensions {
            return Err(Error::invalid(format!(
                "series has {} dimensions, the limit is {}",
                self.dimensions.len(),
                limits.max_dimensions
            )));
        }
        for (i, (k, v)) in self.dimensions.iter().enumerate() {
            if k.is_empty() || k.len() > limits.max_dimension_key_len || !is_dimension_key(k) {
                return Err(Error::invalid(format!(
                    "dimension key {k:?} is empty, longer than {} bytes, or has characters outside [A-Za-z0-9_.-]",
                    limits.max_dimension_key_len
                )));
            }
            if v.is_empty() {
                // Prometheus' model (and PromQL's `{k=""}`) treats an empty value as
                // the dimension being absent; a series `{k=""}` distinct from `{}`
                // could not be named by such a client. Leave the dimension out instead.
                return Err(Error::invalid(format!(
                    "value of dimension {k:?} is empty (an empty value means the dimension is absent: leave it out)"
                )));
            }
            if v.len() > limits.max_dimension_value_len {
                return Err(Error::invalid(format!(
                    "value of dimension {k:?} is {} bytes, the limit is {}",
                    v.len(),
                    limits.max_dimension_value_len
                )));
            }
            if v.contains('\0') {
                return Err(Error::invalid(format!(
                    "value of dimension {k:?} contains NUL"
                )));
            }
            if i > 0 && self.dimensions[i - 1].0 == *k {
                return Err(Error::invalid(format!("dimension key {k:?} appears twice")));
            }
        }
        Ok(())
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'))
}

fn is_dimension_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.dimensions.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.dimensions.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{k}={v:?}")?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

/// Checks that a point's timestamp is storable.
pub(crate) fn validate_timestamp(ts: Timestamp) -> Result<()> {
    if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts) {
        return Err(Error::invalid(format!(
            "timestamp {ts} is outside the storable range [{MIN_TIMESTAMP}, {MAX_TIMESTAMP}]"
        )));
    }
    Ok(())
}

/// `d` in nanoseconds, the unit of every [`Timestamp`]; `None` when it does not fit an
/// `i64` (about 292 years).
pub(crate) fn duration_ns(d: std::time::Duration) -> Option<i64> {
    i64::try_from(d.as_nanos()).ok()
}

/// [`duration_ns`], saturating at `i64::MAX`: for options where "longer than 292 years"
/// means "forever".
/// The wall clock in nanoseconds since the Unix epoch (negative before it, saturated
/// at the ends of `i64`).
pub(crate) fn wall_clock_ns() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ns_saturating(after),
        Err(before) => duration_ns_saturating(before.duration()).saturating_neg(),
    }
}

pub(crate) fn duration_ns_saturating(d: std::time::Duration) -> i64 {
    duration_ns(d).unwrap_or(i64::MAX)
}

/// One condition on a dimension. Used inside a [`Selector`]; its text form (`host="a"`,
/// `host=~"web-.*"`, ...) is described in [`Selector`]'s `FromStr` grammar.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Matcher {
    /// The dimension is present and equals the value.
    Eq(String, String),
    /// The dimension is absent or differs from the value (Prometheus semantics).
    Ne(String, String),
    /// The dimension is present and its whole value matches the regular expression.
    Regex(String, regex::Regex),
    /// The dimension is absent, or its value does not wholly match the regular
    /// expression (PromQL's `!~`, with the absent-means-true rule of [`Matcher::Ne`]).
    NotRegex(String, regex::Regex),
    /// The dimension is present and equals one of the values.
    In(String, Vec<String>),
    /// The dimension is present, with any value.
    Exists(String),
    /// The dimension is absent.
    Absent(String),
}

/// Longest regular expression source accepted in a matcher, in bytes.
pub const MAX_REGEX_LEN: usize = 4096;

impl Matcher {
    /// `key == value`.
    pub fn eq(key: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher::Eq(key.into(), value.into())
    }

    /// `key != value` (also true for series without `key`).
    pub fn ne(key: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher::Ne(key.into(), value.into())
    }

    /// `key =~ pattern`, anchored at both ends. Patterns are compiled with a size limit,
    /// and matching is linear-time, so hostile patterns cannot hang a query.
    pub fn regex(key: impl Into<String>, pattern: &str) -> Result<Self> {
        Ok(Matcher::Regex(key.into(), anchored_regex(pattern)?))
    }

    /// `key !~ pattern`: absent, or not wholly matching the pattern (compiled as for
    /// [`Matcher::regex`]).
    pub fn not_regex(key: impl Into<String>, pattern: &str) -> Result<Self> {
        Ok(Matcher::NotRegex(key.into(), anchored_regex(pattern)?))
    }

    /// `key` equals one of `values`.
    pub fn one_of<I, S>(key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Matcher::In(key.into(), values.into_iter().map(Into::into).collect())
    }

    /// `key` is present.
    pub fn exists(key: impl Into<String>) -> Self {
        Matcher::Exists(key.into())
    }

    /// `key` is absent.
    pub fn absent(key: impl Into<String>) -> Self {
        Matcher::Absent(key.into())
    }

    /// The dimension key this matcher tests.
    pub fn key(&self) -> &str {
        match self {
            Matcher::Eq(k, _)
            | Matcher::Ne(k, _)
            | Matcher::Regex(k, _)
            | Matcher::NotRegex(k, _)
            | Matcher::In(k, _)
            | Matcher::Exists(k)
            | Matcher::Absent(k) => k,
        }
    }

    /// Evaluates the matcher against one series key (the reference semantics that the
    /// bitmap evaluation must agree with).
    pub fn matches(&self, key: &SeriesKey) -> bool {
        let value = key.dimension(self.key());
        match self {
            Matcher::Eq(_, v) => value == Some(v.as_str()),
            Matcher::Ne(_, v) => value != Some(v.as_str()),
            Matcher::Regex(_, re) => value.is_some_and(|x| re.is_match(x)),
            Matcher::NotRegex(_, re) => !value.is_some_and(|x| re.is_match(x)),
            Matcher::In(_, vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
            Matcher::Exists(_) => value.is_some(),
            Matcher::Absent(_) => value.is_none(),
        }
    }
}

/// Compiles `pattern` anchored at both ends, within the size limits of [`Matcher::regex`].
fn anchored_regex(pattern: &str) -> Result<regex::Regex> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(Error::invalid(format!(
            "regex is {} bytes, the limit is {MAX_REGEX_LEN}",
            pattern.len()
        )));
    }
    let anchored = format!("^(?:{pattern})$");
    let re = regex::RegexBuilder::new(&anchored)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| Error::invalid(format!("bad regex {pattern:?}: {e}")))?;
    Ok(re)
}

/// Which series a read touches: an optional metric name and dimension matchers, all of
/// which must hold.
///
/// ```
/// use sedimentdb::{Matcher, Selector};
/// let sel = Selector::metric("cpu_usage").with(Matcher::eq("region", "eu"));
/// assert_eq!(sel.metric_name(), Some("cpu_usage"));
/// ```
///
/// # Text form
///
/// PromQL's series selector, with three additions for the matchers PromQL lacks
/// (`in`, `exists`, `absent`):
///
/// ```text
/// selector = ws [ metric ws ] [ "{" ws [ matcher ws { "," ws matcher ws } [ "," ws ] ] "}" ] ws
/// metric   = [A-Za-z_:] [A-Za-z0-9_:.-]*
/// matcher  = key ws op ws string
///          | key ws "in" ws "(" ws [ string ws { "," ws string ws } [ "," ws ] ] ")"
///          | key ws "exists"
///          | key ws "absent"
/// key      = [A-Za-z_] [A-Za-z0-9_.-]*
/// op       = "=" | "!=" | "=~" | "!~"
/// string   = '"' { char | escape } '"'  |  "'" { char | escape } "'"
/// escape   = "\\" ( "\\" | '"' | "'" | "n" | "t" | "r" | "0" | "u{" hex{1,6} "}" )
/// ws       = { space | tab | newline }
/// ```
///
/// - `=` is [`Matcher::Eq`], `!=` [`Matcher::Ne`] (true also where the dimension is
///   absent), `=~` [`Matcher::Regex`] and `!~` [`Matcher::NotRegex`] (regular
///   expressions anchored at both ends, Rust `regex` syntax), `in` [`Matcher::In`],
///   `exists` [`Matcher::Exists`], `absent` [`Matcher::Absent`].
/// - `{__name__="cpu"}` names the metric like `cpu{}` does; only `=` is accepted on
///   `__name__`, and a metric named twice is an error.
/// - `{}` (or `{ }`) selects every series; the empty string is refused.
/// - Errors are [`Error::InvalidArgument`] naming the 1-based column (in characters) of
///   the mistake, e.g. `selector column 10: expected an operator (=, !=, =~, !~, in,
///   exists, absent) after "host"`.
///
/// `Display` prints the canonical form (`metric{k="v",k2=~"re"}`, strings in double
/// quotes with the escapes above), which parses back to the same selector.
///
/// ```
/// use sedimentdb::Selector;
///
/// let sel: Selector = r#"cpu_usage{host="web-1", region=~"eu-.*"}"#.parse()?;
/// assert_eq!(sel.metric_name(), Some("cpu_usage"));
/// assert_eq!(sel.to_string(), r#"cpu_usage{host="web-1",region=~"eu-.*"}"#);
/// assert_eq!(sel.to_string().parse::<Selector>()?.to_string(), sel.to_string());
///
/// let err = r#"cpu{host="a" region="b"}"#.parse::<Selector>().unwrap_err();
/// assert!(err.to_string().contains("column 14"), "{err}");
/// # Ok::<(), sedimentdb::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Selector {
    metric: Option<String>,
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Every series of one metric.
    pub fn metric(name: impl Into<String>) -> Self {
        Selector {
            metric: Some(name.into()),
            matchers: Vec::new(),
        }
    }

    /// Every series of every metric (narrow it with [`Selector::with`]).
    pub fn any() -> Self {
        Selector::default()
    }

    /// Adds a matcher.
    pub fn with(mut self, matcher: Matcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// The metric name, if the selector names one.
    pub fn metric_name(&self) -> Option<&str> {
        self.metric.as_deref()
    }

    /// The dimension matchers.
    pub fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }

    /// Reference evaluation against one key.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.metric.as_deref().is_none_or(|m| m == key.name())
            && self.matchers.iter().all(|m| m.matches(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_are_sorted_and_displayed() {
        let k = SeriesKey::new("m").with("b", "2").with("a", "1");
        assert_eq!(k.dimensions()[0].0, "a");
        assert_eq!(k.dimension("b"), Some("2"));
        assert_eq!(k.dimension("c"), None);
        assert_eq!(k.to_string(), "m{a=\"1\",b=\"2\"}");
    }

    #[test]
    fn validation_rejects_bad_keys() {
        let lim = KeyLimits::default();
        assert!(SeriesKey::new("cpu.usage_total:5m").validate(&lim).is_ok());
        for bad in ["", "1abc", "a b", "../etc", "a/b", "a\0b", "é"] {
            assert!(SeriesKey::new(bad).validate(&lim).is_err(), "{bad:?}");
        }
        assert!(SeriesKey::new("x".repeat(257)).validate(&lim).is_err());
        assert!(SeriesKey::new("m")
            .with("a", "1")
            .with("a", "2")
            .validate(&lim)
            .is_err());
        assert!(SeriesKey::new("m")
            .with("../k", "1")
            .validate(&lim)
            .is_err());
        assert!(SeriesKey::new("m").with("k", "a\0").validate(&lim).is_err());
        assert!(SeriesKey::new("m")
            .with("k", "v".repeat(1025))
            .validate(&lim)
            .is_err());
        let many = SeriesKey::from_parts("m", (0..33).map(|i| (format!("k{i}"), "v")));
        assert!(many.validate(&lim).is_err());
    }

    #[test]
    fn timestamps_outside_range_are_rejected() {
        assert!(validate_timestamp(0).is_ok());
        assert!(validate_timestamp(MAX_TIMESTAMP).is_ok());
        assert!(validate_timestamp(MIN_TIMESTAMP).is_ok());
        assert!(validate_timestamp(i64::MAX).is_err());
        assert!(validate_timestamp(MIN_TIMESTAMP - 1).is_err());
    }

    #[test]
    fn matchers_follow_reference_semantics() {
        let k = SeriesKey::new("m").with("host", "h1");
        assert!(Matcher::eq("host", "h1").matches(&k));
        assert!(Matcher::ne("host", "h2").matches(&k));
        assert!(Matcher::ne("zone", "a").matches(&k));
        assert!(Matcher::regex("host", "h[0-9]").unwrap().matches(&k));
        assert!(!Matcher::regex("host", "h").unwrap().matches(&k));
        assert!(Matcher::one_of("host", ["h0", "h1"]).matches(&k));
        assert!(Matcher::exists("host").matches(&k));
        assert!(Matcher::absent("zone").matches(&k));
        assert!(Matcher::regex("host", "(").is_err());
    }
}
