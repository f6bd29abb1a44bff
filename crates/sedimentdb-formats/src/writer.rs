//! The writer interface every output format implements, and the buffered sink they share.

use std::io::Write;

use sedimentdb::SeriesPoints;

use crate::error::WriteError;

/// A streaming writer: one series' points at a time, constant memory apart from them.
pub trait PointWriter {
    /// Writes the points of one series.
    fn write_series(&mut self, points: &SeriesPoints) -> Result<(), WriteError>;

    /// Writes what the format needs at the end (OpenMetrics' `# EOF`) and flushes.
    fn finish(&mut self) -> Result<(), WriteError>;
}

/// Output bytes gathered in a buffer and handed to the underlying writer in big writes.
pub(crate) struct Sink<W: Write> {
    out: W,
    pub(crate) buf: Vec<u8>,
}

const FLUSH_AT: usize = 1 << 20;

impl<W: Write> Sink<W> {
    pub(crate) fn new(out: W) -> Self {
        Sink {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
        }
    }

    /// Hands the buffer to the writer once it is big.
    pub(crate) fn maybe_flush(&mut self) -> Result<(), WriteError> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes everything and flushes the writer.
    pub(crate) fn flush(&mut self) -> Result<(), WriteError> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()?;
        Ok(())
    }
}
