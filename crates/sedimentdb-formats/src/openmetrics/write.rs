//! The OpenMetrics writer: one family per metric name (the caller passes the series of
//! a name together), samples with decimal-second timestamps, `# EOF` at the end.

use std::io::Write;

use sedimentdb::SeriesPoints;

use crate::error::WriteError;
use crate::number;
use crate::writer::{PointWriter, Sink};

/// Writes OpenMetrics text; see the [module documentation](super).
pub struct OpenMetricsWriter<W: Write> {
    sink: Sink<W>,
    family: Option<String>,
    prefix: Vec<u8>,
}

impl<W: Write> OpenMetricsWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        OpenMetricsWriter {
            sink: Sink::new(out),
            family: None,
            prefix: Vec::new(),
        }
    }
}

impl<W: Write> PointWriter for OpenMetricsWriter<W> {
    fn write_series(&mut self, points: &SeriesPoints) -> Result<(), WriteError> {
        let key = &points.key;
        if self.family.as_deref() != Some(key.name()) {
            let buf = &mut self.sink.buf;
            buf.extend_from_slice(b"# TYPE ");
            buf.extend_from_slice(key.name().as_bytes());
            buf.extend_from_slice(b" unknown\n");
            self.family = Some(key.name().to_string());
        }
        self.prefix.clear();
        self.prefix.extend_from_slice(key.name().as_bytes());
        if !key.dimensions().is_empty() {
            self.prefix.push(b'{');
            for (i, (k, v)) in key.dimensions().iter().enumerate() {
                if i > 0 {
                    self.prefix.push(b',');
                }
                self.prefix.extend_from_slice(k.as_bytes());
                self.prefix.extend_from_slice(b"=\"");
                for ch in v.bytes() {
                    match ch {
                        b'\\' => self.prefix.extend_from_slice(b"\\\\"),
                        b'"' => self.prefix.extend_from_slice(b"\\\""),
                        b'\n' => self.prefix.extend_from_slice(b"\\n"),
                        _ => self.prefix.push(ch),
                    }
                }
                self.prefix.push(b'"');
            }
            self.prefix.push(b'}');
        }
        self.prefix.push(b' ');
        for (ts, value) in points.iter() {
            let buf = &mut self.sink.buf;
            buf.extend_from_slice(&self.prefix);
            number::write_f64(buf, value);
            buf.push(b' ');
            number::write_decimal_seconds(buf, ts);
            buf.push(b'\n');
            self.sink.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), WriteError> {
        self.sink.buf.extend_from_slice(b"# EOF\n");
        self.sink.flush()
    }
}
