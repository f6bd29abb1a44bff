//! Labels of result series as flat maps, and the short names a table shows: only the
//! dimensions that differ between the rows (the rest is said once above the table).

use std::collections::BTreeMap;

use sedimentdb::query::Labels;

/// A result series' metric (none for a group) and dimension values (`None`: a group
/// whose series lack that dimension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatLabels {
    /// The metric name, for one stored series.
    pub metric: Option<String>,
    /// Dimension -> value.
    pub dims: BTreeMap<String, Option<String>>,
}

impl FlatLabels {
    /// From the engine's labels.
    pub fn new(labels: &Labels) -> Self {
        match labels {
            Labels::Series(key) => FlatLabels {
                metric: Some(key.name().to_string()),
                dims: key
                    .dimensions()
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
            },
            Labels::Group(g) => FlatLabels {
                metric: None,
                dims: g.iter().cloned().collect(),
            },
        }
    }
}

/// The dimensions whose value is the same in every row (and present in every row).
pub fn common(rows: &[FlatLabels]) -> BTreeMap<String, String> {
    let Some(first) = rows.first() else {
        return BTreeMap::new();
    };
    first
        .dims
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_ref()?;
            rows.iter()
                .all(|r| r.dims.get(k) == Some(&Some(v.clone())))
                .then(|| (k.clone(), v.clone()))
        })
        .collect()
}

/// The fewest dimensions whose values tell the rows apart, among those not in `common`;
/// with the metric name, they name a row. Chosen greedily, first the dimensions with the
/// most distinct values among `population` (the series the query matched, so that a
/// host name wins over a tag two hosts happen to differ in too); dimensions that only
/// repeat what these say (a host's region, rack...) are left out.
pub fn distinguishing(
    rows: &[FlatLabels],
    common: &BTreeMap<String, String>,
    population: &[FlatLabels],
) -> Vec<String> {
    let mut candidates: Vec<((usize, usize), String)> = rows
        .iter()
        .flat_map(|r| r.dims.keys())
        .filter(|k| !common.contains_key(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            let in_rows: std::collections::BTreeSet<_> =
                rows.iter().map(|r| r.dims.get(k)).collect();
            let in_population: std::collections::BTreeSet<_> =
                population.iter().map(|r| r.dims.get(k)).collect();
            ((in_population.len(), in_rows.len()), k.clone())
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let name = |r: &FlatLabels, dims: &[String]| {
        (
            r.metric.clone(),
            dims.iter()
                .map(|d| r.dims.get(d).cloned())
                .collect::<Vec<_>>(),
        )
    };
    let mut chosen: Vec<String> = Vec::new();
    for (_, dim) in candidates {
        let distinct: std::collections::BTreeSet<_> =
            rows.iter().map(|r| name(r, &chosen)).collect();
        if distinct.len() == rows.len() {
            break;
        }
        chosen.push(dim);
    }
    chosen.sort();
    chosen
}

/// `metric{k="v",...}` with only the dimensions in `shown`.
pub fn short_name(row: &FlatLabels, shown: &[String]) -> String {
    let mut out = row.metric.clone().unwrap_or_default();
    let rest: Vec<String> = row
        .dims
        .iter()
        .filter(|(k, _)| shown.contains(k))
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v:?}"),
            None => format!("{k}=<absent>"),
        })
        .collect();
    if !rest.is_empty() || out.is_empty() {
        out.push('{');
        out.push_str(&rest.join(","));
        out.push('}');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sedimentdb::SeriesKey;
    use std::sync::Arc;

    #[test]
    fn only_differing_dimensions_name_the_rows() {
        let a = FlatLabels::new(&Labels::Series(Arc::new(
            SeriesKey::new("cpu").with("host", "a").with("dc", "eu"),
        )));
        let b = FlatLabels::new(&Labels::Series(Arc::new(
            SeriesKey::new("cpu").with("host", "b").with("dc", "eu"),
        )));
        let c_ = FlatLabels::new(&Labels::Series(Arc::new(
            SeriesKey::new("cpu").with("host", "c").with("dc", "us"),
        )));
        let rows = [a.clone(), b, c_];
        let c = common(&rows);
        assert!(c.is_empty());
        // host tells the rows apart; dc only repeats it.
        let shown = distinguishing(&rows, &c, &[]);
        assert_eq!(shown, ["host"]);
        assert_eq!(short_name(&a, &shown), "cpu{host=\"a\"}");
        let g = FlatLabels::new(&Labels::Group(vec![("host".into(), None)]));
        assert_eq!(short_name(&g, &["host".to_string()]), "{host=<absent>}");
        assert_eq!(
            short_name(&FlatLabels::new(&Labels::Group(vec![])), &[]),
            "{}"
        );
    }
}
