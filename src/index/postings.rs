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
    /// set; they are intersected smallest first. Negative matchers (`Ne`, `Absent`) are
    /// subtracted from that, or from all ids if there is no positive set. A regex is
    /// answered per distinct value of its dimension (union of the matching values'
    /// bitmaps), unless the candidates left are fewer than those values: then each
    /// candidate's own value is tested instead, which is cheaper and gives the same set.
    pub(super) fn select(&self, selector: &Selector, keys: &[Arc<SeriesKey>]) -> RoaringBitmap {
        let mut positives: Vec<Cow<'_, RoaringBitmap>> = Vec::new();
        let mut negatives: Vec<&RoaringBitmap> = Vec::new();
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
                        negatives.push(bitmap);
                    }
                }
                Matcher::Absent(k) => {
                    if let Some(dim) = self.dims.get(k.as_str()) {
                        negatives.push(&dim.all);
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
            result -= bitmap;
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
