//! Immutable columnar segment files.
pub(crate) mod encoding;
