//! Request parameters as Prometheus reads them: from the query string and, for POST,
//! an `application/x-www-form-urlencoded` body; times as Unix seconds or RFC 3339,
//! durations as seconds or PromQL durations (`5m`, `1h30m`).

use std::time::SystemTime;

use sedimentdb_promql::PromError;

/// All `(name, value)` pairs of a request, in order (`match[]` repeats).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// From a query string and an optional form body.
    pub fn new(query: Option<&str>, form_body: Option<&[u8]>) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if let Some(b) = form_body {
            pairs.extend(form_urlencoded::parse(b).into_owned());
        }
        Params(pairs)
    }

    /// The first value of `name` (empty values count as absent, as Prometheus' FormValue).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter in nanoseconds, or `default` when absent.
    pub fn time(&self, name: &str, default: i64) -> Result<i64, PromError> {
        match self.get(name) {
            None => Ok(default),
            Some(s) => parse_time(s).ok_or_else(|| {
                PromError::BadData(format!(
                    "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
                ))
            }),
        }
    }

    /// A required duration parameter in nanoseconds.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, PromError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => parse_duration(s).map(Some).ok_or_else(|| {
                PromError::BadData(format!(
                    "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
                ))
            }),
        }
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix seconds (fractions allowed) or RFC 3339, to nanoseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return None;
        }
        // Milliseconds are Prometheus' resolution: round there, as it does.
        let ms = (secs * 1000.0).round();
        if ms.abs() > (i64::MAX / 1_000_000) as f64 {
            return None;
        }
        return Some(ms as i64 * 1_000_000);
    }
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Seconds (fractions allowed) or a PromQL duration, to nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs.abs() > (i64::MAX / 1_000_000_000) as f64 {
            return None;
        }
        return Some((secs * 1000.0).round() as i64 * 1_000_000);
    }
    let d = sedimentdb_promql::parse_duration(s)?;
    i64::try_from(d.as_nanos()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_parse_as_prometheus_reads_them() {
        assert_eq!(parse_time("1.5"), Some(1_500_000_000));
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:10Z"), Some(10_000_000_000));
        assert_eq!(parse_time("soon"), None);
        assert_eq!(parse_duration("15"), Some(15_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("5x"), None);
        let p = Params::new(Some("match%5B%5D=a&match[]=b&time="), Some(b"query=1%2B1"));
        assert_eq!(p.all("match[]"), ["a", "b"]);
        assert_eq!(p.get("time"), None);
        assert_eq!(p.get("query"), Some("1+1"));
    }
}
