//! Export: the points of a selection, series by series, through a writer.

use std::collections::BTreeSet;
use std::io::Write;

use sedimentdb::{Db, Selector, TimeRange};

use crate::error::WriteError;
use crate::format::Format;

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportReport {
    /// Series with at least one point in the range.
    pub series: u64,
    /// Points written.
    pub points: u64,
}

/// Writes every point of the series matching `selector` in `range` to `out` in
/// `format`, grouped by metric name (names in order, series of a name in id order; an
/// OpenMetrics family must be contiguous). Memory holds one series' points at a time.
/// `progress` is called after each series with the points written so far.
pub fn export<W: Write>(
    db: &Db,
    selector: &Selector,
    range: TimeRange,
    format: Format,
    out: W,
    mut progress: impl FnMut(u64),
) -> Result<ExportReport, WriteError> {
    let keys = db.list_series(selector)?;
    let names: BTreeSet<&str> = keys.iter().map(|k| k.name()).collect();
    let dims: BTreeSet<String> = keys
        .iter()
        .flat_map(|k| k.dimensions().iter().map(|(d, _)| d.clone()))
        .collect();
    let mut writer = format.writer(out, dims);
    let mut report = ExportReport::default();
    for name in names {
        let mut by_name = Selector::metric(name);
        for m in selector.matchers() {
            by_name = by_name.with(m.clone());
        }
        for series in db.select(&by_name, range)? {
            let series = series?;
            writer.write_series(&series)?;
            report.series += 1;
            report.points += series.len() as u64;
            progress(report.points);
        }
    }
    writer.finish()?;
    Ok(report)
}
