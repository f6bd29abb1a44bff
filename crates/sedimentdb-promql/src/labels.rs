//! Prometheus label sets: the metric name as `__name__` beside the dimensions, sorted
//! by label name, and the label arithmetic of aggregations and vector matching.

use std::fmt;

use sedimentdb::SeriesKey;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// A label set, sorted by name, names unique. A series key's name becomes `__name__`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// From `(name, value)` pairs in any order (a later duplicate name wins).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        Labels(v)
    }

    /// The labels of a stored series: `__name__` and its dimensions.
    pub fn from_key(key: &SeriesKey) -> Self {
        Labels::from_pairs(
            std::iter::once((METRIC_NAME, key.name())).chain(
                key.dimensions()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        )
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// True when there is no label.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Without `__name__`.
    pub fn without_name(&self) -> Labels {
        self.without(&[METRIC_NAME])
    }

    /// Only the labels named in `names`.
    pub fn keep<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| names.iter().any(|n| n.as_ref() == k))
                .cloned()
                .collect(),
        )
    }

    /// Without the labels named in `names`.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| !names.iter().any(|n| n.as_ref() == k))
                .cloned()
                .collect(),
        )
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_key_becomes_sorted_labels_with_the_name() {
        let key = SeriesKey::new("cpu").with("zone", "a").with("host", "h1");
        let labels = Labels::from_key(&key);
        let names: Vec<&str> = labels.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["__name__", "host", "zone"]);
        assert_eq!(labels.get("__name__"), Some("cpu"));
        assert_eq!(labels.without_name().get("__name__"), None);
        assert_eq!(labels.keep(&["zone"]).pairs().len(), 1);
        assert_eq!(labels.without(&["zone"]).get("host"), Some("h1"));
    }
}
