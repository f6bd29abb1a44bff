//! Benchmark harnesses for sedimentdb (not published): the TSBS devops data generator,
//! the TSBS query set, the SQLite baseline they are compared with, and process
//! measurements (RSS, directory sizes). The examples of this crate (`tsbs`, `year`,
//! `soak`, `rollup_figures`, `collector_figures`, `anomaly_bench`, `anomaly_tune`) print `key=value` figures.
//!
//! rusqlite (with its bundled SQLite) is a dependency of this crate only, so that the
//! engine's own `cargo test` never builds SQLite.

pub mod anomaly_corpus;
pub mod sqlite_baseline;
pub mod sys;
pub mod tsbs_data;
pub mod tsbs_dataset;
pub mod tsbs_queries;

// README.md's Rust examples (engine and collector) are compiled and run as doctests here,
// the one crate that depends on both.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
