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

// Nothing outside this module uses the catalog until the database wires it into the
// write and query paths; remove these allows then, so that dead code shows up again.
#![allow(dead_code)]

mod catalog;
mod file;
mod postings;

#[allow(unused_imports)]
pub(crate) use catalog::{Catalog, RecoveryConflict};
