//! Which metrics a report or dashboard covers: the scope's selectors, intersected with
//! a user selector, and the listed series grouped by metric name. Pure functions over
//! the catalog's keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use sedimentdb::{Query, Selector, SeriesKey};
use sedimentdb_collector::RESERVED_DIMENSIONS;

/// The metric the collector records alert transitions in; reported as alerts, not as a
/// metric.
pub const ALERT_METRIC: &str = "alert_state";

/// Both selectors at once: `None` when they name different metrics (nothing matches).
pub fn intersect(a: &Selector, b: &Selector) -> Option<Selector> {
    let metric = match (a.metric_name(), b.metric_name()) {
        (Some(x), Some(y)) if x != y => return None,
        (Some(x), _) | (None, Some(x)) => Some(x.to_string()),
        (None, None) => None,
    };
    let mut out = match metric {
        Some(m) => Selector::metric(m),
        None => Selector::any(),
    };
    for m in a.matchers().iter().chain(b.matchers()) {
        out = out.with(m.clone());
    }
    Some(out)
}

/// `selector` narrowed to one metric; `None` when it names another.
pub fn for_metric(selector: &Selector, metric: &str) -> Option<Selector> {
    intersect(selector, &Selector::metric(metric))
}

/// A query over every series of `metric` matching any of `scope`.
pub fn metric_query(scope: &[Selector], metric: &str) -> Option<Query> {
    let mut selectors = scope.iter().filter_map(|s| for_metric(s, metric));
    let first = selectors.next()?;
    Some(selectors.fold(Query::select(first), Query::or))
}

/// One metric of a scope and what its series say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricInfo {
    /// The metric name.
    pub name: String,
    /// Its series in the scope.
    pub series: usize,
    /// The `unit`, `source` and `category` dimensions, when all its series agree.
    pub unit: Option<String>,
    /// See `unit`.
    pub source: Option<String>,
    /// See `unit`.
    pub category: Option<String>,
    /// Its other dimensions, sorted, with their number of distinct values.
    pub dimensions: Vec<(String, usize)>,
}

/// Groups series keys (possibly listed more than once) by metric name, leaving out the
/// collector's alert records. Sorted by name.
pub fn group_metrics(keys: &[Arc<SeriesKey>]) -> Vec<MetricInfo> {
    let mut by_name: BTreeMap<&str, Vec<&SeriesKey>> = BTreeMap::new();
    for k in keys {
        if k.name() != ALERT_METRIC {
            by_name.entry(k.name()).or_default().push(k);
        }
    }
    by_name
        .into_iter()
        .map(|(name, mut keys)| {
            keys.sort_unstable_by(|a, b| a.dimensions().cmp(b.dimensions()));
            keys.dedup_by(|a, b| a.dimensions() == b.dimensions());
            let agreed = |dim: &str| {
                let first = keys[0].dimension(dim)?;
                keys.iter()
                    .all(|k| k.dimension(dim) == Some(first))
                    .then(|| first.to_string())
            };
            let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for k in &keys {
                for (d, v) in k.dimensions() {
                    if !RESERVED_DIMENSIONS.contains(&d.as_str()) {
                        values.entry(d).or_default().push(v);
                    }
                }
            }
            let dimensions = values
                .into_iter()
                .map(|(d, mut vs)| {
                    vs.sort_unstable();
                    vs.dedup();
                    (d.to_string(), vs.len())
                })
                .collect();
            MetricInfo {
                name: name.to_string(),
                series: keys.len(),
                unit: agreed("unit"),
                source: agreed("source"),
                category: agreed("category"),
                dimensions,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sedimentdb::Matcher;

    #[test]
    fn intersection_keeps_both_sides_and_refuses_two_names() {
        let a = Selector::any().with(Matcher::eq("source", "system"));
        let b = Selector::metric("cpu").with(Matcher::eq("host", "h1"));
        let both = intersect(&a, &b).unwrap();
        assert_eq!(both.metric_name(), Some("cpu"));
        assert_eq!(both.matchers().len(), 2);
        assert!(intersect(&Selector::metric("x"), &Selector::metric("y")).is_none());
        assert!(metric_query(&[Selector::metric("x")], "y").is_none());
    }

    #[test]
    fn metrics_are_grouped_with_agreed_units_and_dimension_counts() {
        let keys: Vec<Arc<SeriesKey>> = [
            SeriesKey::new("cpu")
                .with("host", "a")
                .with("unit", "percent"),
            SeriesKey::new("cpu")
                .with("host", "b")
                .with("unit", "percent"),
            SeriesKey::new("cpu")
                .with("host", "b")
                .with("unit", "percent"),
            SeriesKey::new("lat")
                .with("unit", "ms")
                .with("command", "x"),
            SeriesKey::new("lat").with("unit", "s").with("command", "x"),
            SeriesKey::new(ALERT_METRIC).with("rule", "r"),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let m = group_metrics(&keys);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].name.as_str(), m[0].series), ("cpu", 2));
        assert_eq!(m[0].unit.as_deref(), Some("percent"));
        assert_eq!(m[0].dimensions, vec![("host".to_string(), 2)]);
        assert_eq!(m[1].unit, None, "ms and s disagree");
    }
}
