//! Reading: selecting series and merging their points across head and segments.

pub(crate) mod merge;
pub(crate) mod select;
