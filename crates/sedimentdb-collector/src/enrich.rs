//! Enricher: adds default dimensions (environment, version, host...) from configuration
//! to every event that does not set them itself.

use super::event::MetricEvent;
use super::event::RESERVED_DIMENSIONS;
use super::validate::{is_dimension_key, Rejection};

/// The enrichment stage: default dimensions, applied where an event has no value of its
/// own for the key.
///
/// ```
/// use sedimentdb_collector::{Enricher, SystemMetric};
/// let enricher = Enricher::new([("environment", "prod"), ("version", "1.4.2")]).unwrap();
/// let mut e = SystemMetric::new("cpu_usage", 3.0, "percent").dimension("version", "2.0").build();
/// enricher.apply(&mut e);
/// assert_eq!(e.dimensions["environment"], "prod");
/// assert_eq!(e.dimensions["version"], "2.0"); // the event's own value wins
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enricher {
    defaults: Vec<(String, String)>,
}

impl Enricher {
    /// An enricher adding these dimensions. Keys must be valid dimension keys and not
    /// reserved.
    pub fn new<K, V>(defaults: impl IntoIterator<Item = (K, V)>) -> Result<Self, Rejection>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut list: Vec<(String, String)> = Vec::new();
        for (k, v) in defaults {
            let (k, v) = (k.into(), v.into());
            if !is_dimension_key(&k) {
                return Err(Rejection::InvalidDimensionKey(k));
            }
            if RESERVED_DIMENSIONS.contains(&k.as_str()) {
                return Err(Rejection::ReservedDimension(k));
            }
            match list.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => list.push((k, v)),
            }
        }
        list.sort();
        Ok(Enricher { defaults: list })
    }

    /// The default dimensions, sorted by key.
    pub fn defaults(&self) -> &[(String, String)] {
        &self.defaults
    }

    /// Adds every default the event does not set.
    pub fn apply(&self, event: &mut MetricEvent) {
        for (k, v) in &self.defaults {
            if !event.dimensions.contains_key(k) {
                event.dimensions.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_default_keys_are_refused() {
        assert!(Enricher::new([("bad key", "x")]).is_err());
        assert!(Enricher::new([("unit", "x")]).is_err());
        let e = Enricher::new([("b", "1"), ("a", "2"), ("b", "3")]).unwrap();
        assert_eq!(
            e.defaults(),
            &[("a".into(), "2".into()), ("b".into(), "3".into())]
        );
    }
}
