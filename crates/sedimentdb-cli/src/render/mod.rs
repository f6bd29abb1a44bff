//! Presentation for people: aligned tables, sparklines, numbers and colours. Pure
//! functions from data to text; the commands decide where the text goes.

pub mod labels;
pub mod number;
pub mod sparkline;
pub mod table;
