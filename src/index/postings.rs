//! Roaring postings: for each metric name and each `dimension=value` pair, the bitmap of
//! series ids that carry it, and the evaluation of a [`Selector`] against them.
//!
//! Evaluation must agree exactly with [`Selector::matches`], the reference semantics.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use roaring::{MultiOps, RoaringBitmap};

use crate::types::{Matcher, Selector, SeriesKey};

/// Postings of one dimension key.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct DimPostings {
    /// Every series that has this dimension, whatever its value: `Exists` and `Absent`
    /// are then one bitmap operation instead of a union over all values.
    pub(super) all: RoaringBitmap,
    /// Value -> series with that value.
    pub(super) values: HashMap<String, RoaringBitmap>,
}

/// All postings of a catalog.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Postings {
    /// Metric name -> series with that name.
    pub(super) metrics: HashMap<String, RoaringBitmap>,
    /// Dimension key -> its postings.
    pub(super) dims: HashMap<String, DimPostings>,
}

impl Postings {
    /// Adds series `id`. Ids arrive in increasing order, so every insert appends to the
    /// last container of each bitmap.
    pub(super) fn add(&mut self, id: u32, key: &SeriesKey) {
        // `get_mut` first: `entry` would allocate an owned String on every call, and on
        // the write path nearly every name and pair already exists.
        match self.metrics.get_mut(key.name()) {
            Some(bitmap) => {
                bitmap.insert(id);
            }
            None => {
                self.metrics
                    .insert(key.name().to_owned(), RoaringBitmap::from_iter([id]));
            }
        }
        for (k, v) in key.dimensions() {
            let dim = match self.dims.get_mut(k.as_str()) {
                Some(dim) => dim,
                None => self.dims.entry(k.clone()).or_default(),
            };
            dim.all.insert(id);
            match dim.values.get_mut(v.as_str()) {
                Some(bitmap) => {
                    bitmap.insert(id);
                }
                None => {
                    dim.values.insert(v.clone(), RoaringBitmap::from_iter([id]));
                }
            }
        }
    }

    /// Takes series `id` back out (undoing `add` for a creation that failed). Names,
    /// dimensions and values left with no series are dropped, so the postings equal
    /// those built without the series.
    pub(super) fn remove(&mut self, id: u32, key: &SeriesKey) {
        if let Some(bitmap) = self.metrics.get_mut(key.name()) {
            bitmap.remove(id);
            if bitmap.is_empty() {
                self.metrics.remove(key.name());
            }
        }
        for (k, v) in key.dimensions() {
            let Some(dim) = self.dims.get_mut(k.as_str()) else {
                continue;
            };
            dim.all.remove(id);
            if let Some(bitmap) = dim.values.get_mut(v.as_str()) {
                bitmap.remove(id);
                if bitmap.is_empty() {
                    dim.values.remove(v.as_str());
                }
            }
            if dim.all.is_empty() {
                self.dims.remove(k.as_str());
            }
        }
    }

    /// Rebuilds postings from keys, `keys[i]` being series `i`.
    pub(super) fn from_keys(keys: &[Arc<SeriesKey>]) -> Postings {
        let mut postings = Postings::default();
        for (id, key) in (0u32..).zip(keys) {
            postings.add(id, key);
        }
        postings
    }

    fn value(&self, key: &str, value: &str) -> Option<&RoaringBitmap> {
        self.dims.get(key)?.values.get(value)
    }

    /// Ids of the series among `keys` (series `i` is `keys[i]`) that `selector` matches.
    ///
    /// Plan: the metric name and every positive matcher (`Eq`, `In`, `Exists`) give a
    /// set; they are intersected smallest first. Negative matchers (`Ne`, `Absent`,
    /// `NotRegex`) are
    /// subtracted from that, or from all ids if there is no positive set. A regex is
    /// answered per distinct value of its dimension (union of the matching values'
    /// bitmaps), unless the candidates left are fewer than those values: then each
    /// candidate's own value is tested instead, which is cheaper and gives the same set.
    pub(super) fn select(&self, selector: &Selector, keys: &[Arc<SeriesKey>]) -> RoaringBitmap {
        let mut positives: Vec<Cow<'_, RoaringBitmap>> = Vec::new();
        let mut negatives: Vec<Cow<'_, RoaringBitmap>> = Vec::new();
        let mut regexes: Vec<(&str, &Regex, &DimPostings)> = Vec::new();

        if let Some(name) = selector.metric_name() {
            match self.metrics.get(name) {
                Some(bitmap) => positives.push(Cow::Borrowed(bitmap)),
                None => return RoaringBitmap::new(),
            }
        }
        for matcher in selector.matchers() {
            match matcher {
                Matcher::Eq(k, v) => match self.value(k, v) {
                    Some(bitmap) => positives.push(Cow::Borrowed(bitmap)),
                    None => return RoaringBitmap::new(),
                },
                Matcher::In(k, values) => {
                    let Some(dim) = self.dims.get(k.as_str()) else {
                        return RoaringBitmap::new();
                    };
                    let union = values
                        .iter()
                        .filter_map(|v| dim.values.get(v.as_str()))
                        .union();
                    if union.is_empty() {
                        return union;
                    }
                    positives.push(Cow::Owned(union));
                }
                Matcher::Exists(k) => match self.dims.get(k.as_str()) {
                    Some(dim) => positives.push(Cow::Borrowed(&dim.all)),
                    None => return RoaringBitmap::new(),
                },
                Matcher::Ne(k, v) => {
                    if let Some(bitmap) = self.value(k, v) {
                        negatives.push(Cow::Borrowed(bitmap));
                    }
                }
                Matcher::Absent(k) => {
                    if let Some(dim) = self.dims.get(k.as_str()) {
                        negatives.push(Cow::Borrowed(&dim.all));
                    }
                }
                // The series whose value matches are subtracted (answered per distinct
                // value); those without the dimension stay.
                Matcher::NotRegex(k, re) => {
                    if let Some(dim) = self.dims.get(k.as_str()) {
                        negatives.push(Cow::Owned(regex_union(re, dim)));
                    }
                }
                Matcher::Regex(k, re) => match self.dims.get(k.as_str()) {
                    Some(dim) => regexes.push((k, re, dim)),
                    None => return RoaringBitmap::new(),
                },
            }
        }

        // `len` walks the containers, not the values: cheap enough to sort by.
        positives.sort_by_cached_key(|bitmap| bitmap.len());
        let mut positives = positives.into_iter();
        let mut result = match positives.next() {
            Some(smallest) => {
                let mut result = smallest.into_owned();
                for bitmap in positives {
                    if result.is_empty() {
                        return result;
                    }
                    result &= bitmap.as_ref();
                }
                result
            }
            // No positive set: the first regex, answered per value, is a better start
            // than all ids.
            None => match regexes.pop() {
                Some((_, re, dim)) => regex_union(re, dim),
                None => {
                    let mut all = RoaringBitmap::new();
                    // Series ids are below u32::MAX (see `catalog::MAX_SERIES`).
                    all.insert_range(0..u32::try_from(keys.len()).unwrap_or(u32::MAX));
                    all
                }
            },
        };
        for bitmap in negatives {
            if result.is_empty() {
                return result;
            }
            result -= bitmap.as_ref();
        }
        for (k, re, dim) in regexes {
            if result.is_empty() {
                return result;
            }
            if result.len() < dim.values.len() as u64 {
                result = result
                    .iter()
                    .filter(|&id| {
                        keys.get(id as usize)
                            .and_then(|key| key.dimension(k))
                            .is_some_and(|value| re.is_match(value))
                    })
                    .collect();
            } else {
                result &= regex_union(re, dim);
            }
        }
        result
    }

    /// Every value of dimension `key`, sorted, each with the ids of the series carrying
    /// it; the bitmaps are intersected with `within` when given, and values left with no
    /// series are dropped.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub(super) fn dimension_values(
        &self,
        key: &str,
        within: Option<&RoaringBitmap>,
    ) -> Vec<(String, RoaringBitmap)> {
        let Some(dim) = self.dims.get(key) else {
            return Vec::new();
        };
        let mut values: Vec<(String, RoaringBitmap)> = dim
            .values
            .iter()
            .filter_map(|(value, bitmap)| {
                let bitmap = match within {
                    Some(within) => bitmap & within,
                    None => bitmap.clone(),
                };
                (!bitmap.is_empty()).then(|| (value.clone(), bitmap))
            })
            .collect();
        values.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        values
    }

    /// All metric names, sorted.
    #[cfg_attr(not(test), allow(dead_code))] // used by tests; the query engine uses the rest next
    pub(super) fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metrics.keys().cloned().collect();
        names.sort_unstable();
        names
    }
}

/// Union of the bitmaps of the values of `dim` that `re` matches. The matcher's regex is
/// anchored at both ends, so `is_match` tests the whole value.
fn regex_union(re: &Regex, dim: &DimPostings) -> RoaringBitmap {
    dim.values
        .iter()
        .filter(|(value, _)| re.is_match(value))
        .map(|(_, bitmap)| bitmap)
        .union()
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    use crate::index::Catalog;
    use crate::types::{Matcher, Selector, SeriesKey};

    const NAMES: [&str; 3] = ["cpu", "mem", "disk"];
    const DIM_KEYS: [&str; 3] = ["host", "region", "zone"];
    const VALUES: [&str; 5] = ["h0", "h1", "h2", "x", ""];
    const PATTERNS: [&str; 8] = ["h[0-2]", ".*", "", "h.", "x|h1", ".+", "h", "[^h].*"];

    /// A key with one of a few names and each of a few dimensions present or not, with
    /// one of a few values (the empty value included).
    pub(in crate::index) fn arb_key() -> impl Strategy<Value = SeriesKey> {
        (
            0..NAMES.len(),
            prop::collection::vec(prop::option::of(0..VALUES.len()), DIM_KEYS.len()),
        )
            .prop_map(|(name, dims)| {
                let dims = dims
                    .into_iter()
                    .zip(DIM_KEYS)
                    .filter_map(|(value, key)| Some((key, VALUES[value?])));
                SeriesKey::from_parts(NAMES[name], dims)
            })
    }

    /// A catalog of up to 60 random series (repeats collapse).
    pub(in crate::index) fn arb_catalog() -> impl Strategy<Value = Vec<SeriesKey>> {
        prop::collection::vec(arb_key(), 0..60)
    }

    pub(in crate::index) fn build(keys: &[SeriesKey]) -> Catalog {
        let catalog = Catalog::new();
        let refs: Vec<&SeriesKey> = keys.iter().collect();
        catalog.get_or_create(&refs, u64::MAX).unwrap();
        catalog
    }

    fn arb_matcher() -> impl Strategy<Value = Matcher> {
        // A key that no series has, and a value that none has, are part of the mix.
        let key = prop::sample::select(vec!["host", "region", "zone", "missing"]);
        let value = prop::sample::select(vec!["h0", "h1", "h2", "x", "", "nope"]);
        prop_oneof![
            (key.clone(), value.clone()).prop_map(|(k, v)| Matcher::eq(k, v)),
            (key.clone(), value.clone()).prop_map(|(k, v)| Matcher::ne(k, v)),
            (key.clone(), prop::sample::select(PATTERNS.to_vec()))
                .prop_map(|(k, p)| Matcher::regex(k, p).unwrap()),
            (key.clone(), prop::sample::select(PATTERNS.to_vec()))
                .prop_map(|(k, p)| Matcher::not_regex(k, p).unwrap()),
            (key.clone(), prop::collection::vec(value, 0..4))
                .prop_map(|(k, vs)| Matcher::one_of(k, vs)),
            key.clone().prop_map(Matcher::exists),
            key.prop_map(Matcher::absent),
        ]
    }

    pub(in crate::index) fn arb_selector() -> impl Strategy<Value = Selector> {
        (
            prop::option::of(prop::sample::select(vec!["cpu", "mem", "disk", "nope"])),
            prop::collection::vec(arb_matcher(), 0..4),
        )
            .prop_map(|(name, matchers)| {
                let selector = name.map_or_else(Selector::any, Selector::metric);
                matchers.into_iter().fold(selector, Selector::with)
            })
    }

    /// The reference answer: every key filtered with `Selector::matches`.
    pub(in crate::index) fn reference(catalog: &Catalog, selector: &Selector) -> RoaringBitmap {
        (0..catalog.len() as u32)
            .filter(|&id| selector.matches(&catalog.key(crate::SeriesId(id)).unwrap()))
            .collect()
    }

    proptest! {
        #[test]
        fn select_equals_reference(
            keys in arb_catalog(),
            selectors in prop::collection::vec(arb_selector(), 1..12),
        ) {
            let catalog = build(&keys);
            for selector in &selectors {
                prop_assert_eq!(catalog.select(selector), reference(&catalog, selector), "{:?}", selector);
            }
        }

        #[test]
        fn dimension_values_and_names_equal_reference(
            keys in arb_catalog(),
            selector in arb_selector(),
        ) {
            let catalog = build(&keys);
            let within = catalog.select(&selector);
            for dim in DIM_KEYS.into_iter().chain(["missing"]) {
                let mut expected: Vec<(String, RoaringBitmap)> = Vec::new();
                let mut expected_within: Vec<(String, RoaringBitmap)> = Vec::new();
                for value in VALUES {
                    let ids = catalog.select(&Selector::any().with(Matcher::eq(dim, value)));
                    if !ids.is_empty() {
                        expected.push((value.to_owned(), ids.clone()));
                    }
                    let ids = ids & &within;
                    if !ids.is_empty() {
                        expected_within.push((value.to_owned(), ids));
                    }
                }
                expected.sort_by(|a, b| a.0.cmp(&b.0));
                expected_within.sort_by(|a, b| a.0.cmp(&b.0));
                prop_assert_eq!(catalog.dimension_values(dim), expected);
                prop_assert_eq!(catalog.dimension_values_within(dim, &within), expected_within);
            }
            let mut names: Vec<String> = keys.iter().map(|k| k.name().to_owned()).collect();
            names.sort();
            names.dedup();
            prop_assert_eq!(catalog.metric_names(), names);
        }
    }

    #[test]
    fn regex_is_answered_per_value_or_per_candidate_alike() {
        // 200 hosts: a selector narrowed to one series tests that series' value; a bare
        // regex unions the bitmaps of the matching values. Both must match the reference.
        let keys: Vec<SeriesKey> = (0..200)
            .map(|i| {
                SeriesKey::new("cpu")
                    .with("host", format!("h{i}"))
                    .with("rack", format!("r{}", i % 7))
            })
            .collect();
        let catalog = build(&keys);
        let selectors = [
            Selector::any().with(Matcher::regex("host", "h1[0-9]").unwrap()),
            Selector::any()
                .with(Matcher::eq("rack", "r3"))
                .with(Matcher::regex("host", "h1[0-9]").unwrap()),
            Selector::any()
                .with(Matcher::eq("host", "h17"))
                .with(Matcher::regex("host", "h1[0-9]").unwrap()),
            Selector::any()
                .with(Matcher::eq("host", "h17"))
                .with(Matcher::regex("rack", "r[0-2]").unwrap()),
            Selector::any()
                .with(Matcher::ne("rack", "r3"))
                .with(Matcher::regex("host", ".*5").unwrap())
                .with(Matcher::regex("rack", "r[0-5]").unwrap()),
        ];
        for selector in &selectors {
            assert_eq!(
                catalog.select(selector),
                reference(&catalog, selector),
                "{selector:?}"
            );
        }
        assert_eq!(catalog.select(&selectors[0]).len(), 10);
        assert_eq!(catalog.select(&selectors[2]).len(), 1);
    }

    #[test]
    fn negative_matchers_keep_series_without_the_dimension() {
        let catalog = build(&[
            SeriesKey::new("cpu").with("host", "h1"),
            SeriesKey::new("cpu"),
            SeriesKey::new("mem").with("host", "h2"),
        ]);
        let ids = |s: Selector| catalog.select(&s).iter().collect::<Vec<u32>>();
        assert_eq!(ids(Selector::any().with(Matcher::ne("host", "h1"))), [1, 2]);
        assert_eq!(
            ids(Selector::metric("cpu").with(Matcher::absent("host"))),
            [1]
        );
        assert_eq!(
            ids(Selector::any().with(Matcher::ne("zone", "a"))),
            [0, 1, 2]
        );
        assert_eq!(
            ids(Selector::any().with(Matcher::absent("zone"))),
            [0, 1, 2]
        );
        assert!(ids(Selector::any().with(Matcher::exists("zone"))).is_empty());
        // A regex that matches the empty string still needs the dimension present.
        assert_eq!(
            ids(Selector::any().with(Matcher::regex("host", ".*").unwrap())),
            [0, 2]
        );
        assert!(
            ids(Selector::any().with(Matcher::one_of("host", Vec::<String>::new()))).is_empty()
        );
        assert!(ids(Selector::metric("nope")).is_empty());
    }
}
