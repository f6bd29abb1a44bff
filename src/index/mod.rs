//! Series catalog and roaring postings.
//!
//! The catalog gives every series a dense `u32` id (in creation order, never reused) and
//! keeps, for every metric name and every `dimension=value` pair, the roaring bitmap of
//! the ids that carry it. A selector is then answered with bitmap intersections, unions
//! and differences instead of a scan of all keys.
//!
//! - [`catalog`]: ids <-> keys, creation under a series limit, recovery.
//! - [`postings`]: the bitmaps and the evaluation of selectors against them.
//! - [`file`]: the catalog file (keys and postings), its byte layout and its decoder.

mod catalog;
mod file;
mod postings;

/// Most series one catalog holds: a bound of the formats (series ids are `u32` in the
/// WAL, the catalog file and segment chunk tables). Ids run from 0 to `MAX_SERIES - 1`,
/// so that the number of series and the exclusive end of the id range both fit in a
/// `u32`.
pub(crate) const MAX_SERIES: u64 = u32::MAX as u64;

pub(crate) use catalog::{Catalog, RecoveryConflict};
