//! The line-protocol writer: `metric,dims value=<v> <ns>` per point.

use std::io::Write;

use sedimentdb::{SeriesKey, SeriesPoints};

use crate::error::WriteError;
use crate::number;
use crate::writer::{PointWriter, Sink};

/// Writes line protocol with nanosecond timestamps; see the [module documentation](super).
pub struct InfluxWriter<W: Write> {
    sink: Sink<W>,
    prefix: Vec<u8>,
}

impl<W: Write> InfluxWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        InfluxWriter {
            sink: Sink::new(out),
            prefix: Vec::new(),
        }
    }
}

impl<W: Write> PointWriter for InfluxWriter<W> {
    fn write_series(&mut self, points: &SeriesPoints) -> Result<(), WriteError> {
        series_prefix(&points.key, &mut self.prefix)?;
        for (ts, value) in points.iter() {
            let buf = &mut self.sink.buf;
            buf.extend_from_slice(&self.prefix);
            number::write_f64(buf, value);
            buf.push(b' ');
            number::write_i64(buf, ts);
            buf.push(b'\n');
            self.sink.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), WriteError> {
        self.sink.flush()
    }
}

/// `metric,k=v,... value=`
fn series_prefix(key: &SeriesKey, out: &mut Vec<u8>) -> Result<(), WriteError> {
    out.clear();
    let unrepresentable = |reason: String| WriteError::Unrepresentable {
        series: key.to_string(),
        reason,
    };
    escape_into(out, key.name(), b", ");
    for (k, v) in key.dimensions() {
        if v.is_empty() {
            return Err(unrepresentable(format!(
                "dimension {k:?} is empty, which line protocol cannot express (use csv or jsonl)"
            )));
        }
        if k.contains('\n') || v.contains('\n') {
            return Err(unrepresentable(format!(
                "dimension {k:?} holds a newline, which line protocol cannot escape (use csv or jsonl)"
            )));
        }
        out.push(b',');
        escape_into(out, k, b",= ");
        out.push(b'=');
        escape_into(out, v, b",= ");
    }
    out.extend_from_slice(b" value=");
    Ok(())
}

fn escape_into(out: &mut Vec<u8>, text: &str, special: &[u8]) {
    for &b in text.as_bytes() {
        if b == b'\\' || special.contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}
