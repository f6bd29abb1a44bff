//! Text formats of sedimentdb points, read and written in a stream: InfluxDB line
//! protocol ([`influx`]), OpenMetrics / Prometheus text ([`openmetrics`]), CSV in long
//! format ([`csv_long`]) and the collector's metric-event JSONL ([`jsonl`]).
//!
//! Readers hand out batches of points whose series are named by small ids of the
//! reader's [`SeriesTable`] (each distinct key is built and validated once); lines that
//! cannot be read are skipped and reported with their number and the reason. Writers
//! take the per-series output of [`Db::select`](sedimentdb::Db::select). [`load`] and
//! [`export`] connect them to a database; `sediment import` and `sediment export` are
//! thin layers over them.
//!
//! Every writer's output reads back bit-exact (values, including `-0.0` and the
//! infinities, and timestamps across the engine's whole range); NaN reads back as NaN
//! (text has one NaN, so its payload bits are not kept).
//!
//! ```
//! use sedimentdb::{Db, Options, Selector, TimeRange};
//! use sedimentdb_formats::{export, load, Format, ReadOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! let input = "cpu,host=a usage_user=1.5,usage_idle=98 1000\ncpu,host=a usage_user=2 2000\n";
//! let mut reader = Format::Influx.reader(input.as_bytes(), &ReadOptions::default());
//! let report = load(Some(&db), reader.as_mut(), |_| {})?;
//! assert_eq!((report.points_written, report.series), (3, 2));
//!
//! let mut csv = Vec::new();
//! export(&db, &Selector::metric("cpu_usage_user"), TimeRange::all(), Format::Csv, &mut csv, |_| {})?;
//! assert_eq!(String::from_utf8(csv)?, "ts,metric,host,value\n1000,cpu_usage_user,a,1.5\n2000,cpu_usage_user,a,2.0\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod batch;
pub mod csv_long;
mod error;
mod export;
mod format;
pub mod influx;
pub mod jsonl;
mod lines;
mod load;
mod number;
pub mod openmetrics;
mod reader;
mod series;
mod timefmt;
mod writer;

pub use batch::{ParsedPoint, PointBatch};
pub use error::{ReadError, Skipped, WriteError};
pub use export::{export, ExportReport};
pub use format::Format;
pub use load::{load, LoadError, LoadReport, MAX_SKIPPED_KEPT};
pub use number::Precision;
pub use reader::{PointReader, ReadOptions};
pub use series::SeriesTable;
pub use writer::PointWriter;
