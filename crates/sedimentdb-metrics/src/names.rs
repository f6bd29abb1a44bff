//! How a facade metric becomes sedimentdb series keys: names and label keys made valid
//! (every character sedimentdb does not allow becomes `_`, as Prometheus exporters do),
//! labels with empty values left out (empty means absent), the unit as the `unit`
//! dimension, and the summary series of a histogram.

use std::collections::BTreeMap;

use metrics::Key;
use sedimentdb::SeriesKey;

/// A metric name sedimentdb accepts: `[A-Za-z_:][A-Za-z0-9_:.-]*`.
pub(crate) fn metric_name(name: &str) -> String {
    sanitize(
        name,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'),
        |b| b.is_ascii_alphabetic() || matches!(b, b'_' | b':'),
    )
}

/// A dimension key sedimentdb accepts: `[A-Za-z_][A-Za-z0-9_.-]*`.
pub(crate) fn label_key(key: &str) -> String {
    sanitize(
        key,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'),
        |b| b.is_ascii_alphabetic() || b == b'_',
    )
}

fn sanitize(text: &str, ok: impl Fn(u8) -> bool, ok_first: impl Fn(u8) -> bool) -> String {
    let mut out: String = text
        .bytes()
        .map(|b| if ok(b) { b as char } else { '_' })
        .collect();
    if !out.bytes().next().is_some_and(ok_first) {
        out.insert(0, '_');
    }
    out
}

/// What a series is made of besides the metric's own name and labels.
#[derive(Debug, Default)]
pub(crate) struct Extras<'a> {
    /// Appended to the metric name (`_count`, `_sum`, ...).
    pub(crate) suffix: &'static str,
    /// The facade's unit of the metric.
    pub(crate) unit: Option<&'a str>,
    /// Labels of every series; the metric's own win.
    pub(crate) global: &'a [(String, String)],
    /// One more label (`quantile`), which wins over all.
    pub(crate) extra: Option<(&'static str, String)>,
}

/// The series key of `key` with `extras`.
pub(crate) fn series_key(key: &Key, extras: &Extras<'_>) -> SeriesKey {
    let mut dims: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in extras.global {
        dims.insert(label_key(k), v.clone());
    }
    if let Some(unit) = extras.unit {
        dims.insert("unit".into(), unit.to_string());
    }
    for label in key.labels() {
        if !label.value().is_empty() {
            dims.insert(label_key(label.key()), label.value().to_string());
        }
    }
    if let Some((k, v)) = &extras.extra {
        dims.insert((*k).to_string(), v.clone());
    }
    let name = format!("{}{}", metric_name(key.name()), extras.suffix);
    SeriesKey::from_parts(name, dims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_made_valid() {
        assert_eq!(metric_name("http.requests total"), "http.requests_total");
        assert_eq!(metric_name("9lives"), "_9lives");
        assert_eq!(label_key("status:code"), "status_code");
        let labels: Vec<metrics::Label> = [("", "x"), ("route", "/a"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| metrics::Label::new(k, v))
            .collect();
        let key = Key::from_parts("db.query", labels);
        let global = [("instance".to_string(), "web-1".to_string())];
        let k = series_key(
            &key,
            &Extras {
                suffix: "_count",
                unit: Some("seconds"),
                global: &global,
                extra: Some(("quantile", "0.5".into())),
            },
        );
        assert_eq!(k.name(), "db.query_count");
        assert_eq!(k.dimension("route"), Some("/a"));
        assert_eq!(k.dimension("_"), Some("x"));
        assert_eq!(k.dimension("empty"), None);
        assert_eq!(k.dimension("instance"), Some("web-1"));
        assert_eq!(k.dimension("unit"), Some("seconds"));
        assert_eq!(k.dimension("quantile"), Some("0.5"));
    }
}
