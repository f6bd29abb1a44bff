//! InfluxDB line protocol.
//!
//! `measurement[,tag=value...] field=value[,field=value...] [timestamp]`
//!
//! Each numeric field becomes a point of the series named `measurement_field` with the
//! tags as dimensions; a field named `value` becomes the series `measurement` itself
//! (so that what [`InfluxWriter`] writes, `metric value=...`, reads back as `metric`).
//! Floats, integers (`12i`), unsigned integers (`12u`) and booleans (`t`, `true`, ... as
//! 1 and 0) are read; string fields are skipped with a reason. `NaN`, `+Inf` and `-Inf`
//! are read and written as floats (InfluxDB itself has no non-finite floats).
//!
//! Escapes: `\,` and `\ ` in measurements; `\,`, `\=` and `\ ` in tag keys, tag values
//! and field keys; `\\` is a backslash everywhere, and a backslash before any other
//! character is kept as it is (as InfluxDB does). Line protocol has no escape for a
//! newline, so the writer refuses dimension values containing one.

mod read;
mod write;

pub use read::InfluxReader;
pub use write::InfluxWriter;
