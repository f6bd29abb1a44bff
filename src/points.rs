//! Merging sorted runs of one series from several sources: the storage primitive that
//! flush, deletion, compaction and queries share (a later source wins on equal
//! timestamps).

/// Merges `pieces` (each sorted by time without duplicates; later pieces are newer)
/// into one sorted run in which, for equal timestamps, the newest piece's value wins.
pub(crate) fn merge_pieces(
    pieces: &[(Vec<i64>, Vec<f64>)],
    ts_out: &mut Vec<i64>,
    val_out: &mut Vec<f64>,
) {
    let non_empty: Vec<&(Vec<i64>, Vec<f64>)> = pieces.iter().filter(|p| !p.0.is_empty()).collect();
    // Common case: sources hold disjoint, increasing time spans (each flush covers later
    // time than the one before), so concatenation is the merge.
    let disjoint = non_empty.windows(2).all(|w| w[0].0.last() < w[1].0.first());
    if disjoint {
        for (t, v) in non_empty {
            ts_out.extend_from_slice(t);
            val_out.extend_from_slice(v);
        }
        return;
    }
    let total: usize = non_empty.iter().map(|p| p.0.len()).sum();
    let mut rows: Vec<(i64, u32, f64)> = Vec::with_capacity(total);
    for (rank, (t, v)) in non_empty.iter().enumerate() {
        rows.extend(t.iter().zip(v.iter()).map(|(&t, &v)| (t, rank as u32, v)));
    }
    rows.sort_unstable_by_key(|&(t, rank, _)| (t, rank));
    ts_out.reserve(rows.len());
    val_out.reserve(rows.len());
    for (t, _, v) in rows {
        if ts_out.last() == Some(&t) {
            if let Some(last) = val_out.last_mut() {
                *last = v;
            }
        } else {
            ts_out.push(t);
            val_out.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn merge_equals_last_writer_map(pieces in prop::collection::vec(prop::collection::btree_map(-50i64..50, any::<i32>(), 0..20), 0..5)) {
            let mut model = BTreeMap::new();
            let as_cols: Vec<(Vec<i64>, Vec<f64>)> = pieces.iter().map(|m| {
                for (&t, &v) in m { model.insert(t, v as f64); }
                (m.keys().copied().collect(), m.values().map(|&v| v as f64).collect())
            }).collect();
            let (mut t, mut v) = (Vec::new(), Vec::new());
            merge_pieces(&as_cols, &mut t, &mut v);
            let got: Vec<(i64, f64)> = t.into_iter().zip(v).collect();
            let want: Vec<(i64, f64)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
