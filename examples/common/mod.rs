//! Code shared by the examples: the TSBS data generator, the SQLite baseline and process
//! measurements. Nothing here depends on sedimentdb itself.

pub mod sqlite_baseline;
pub mod sys;
pub mod tsbs_data;
