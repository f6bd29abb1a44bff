//! Code shared by the examples: the TSBS data generator, the SQLite baseline and process
//! measurements, and the TSBS query set (the one part that uses sedimentdb).

pub mod sqlite_baseline;
pub mod sys;
pub mod tsbs_data;
pub mod tsbs_queries;
