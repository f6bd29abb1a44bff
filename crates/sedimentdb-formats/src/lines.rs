//! Splits a byte stream into lines without copying each one: reads big blocks, hands out
//! the complete lines of a block as slices, and moves the partial last line to the front.

use std::io::Read;

const BLOCK: usize = 1 << 20;

/// A line splitter over any reader, counting lines (1-based) and bytes.
pub(crate) struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    /// Start of the next unread line in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    eof: bool,
    line: u64,
    bytes: u64,
}

impl<R: Read> Lines<R> {
    pub(crate) fn new(input: R) -> Self {
        Lines {
            input,
            buf: vec![0; BLOCK],
            pos: 0,
            end: 0,
            eof: false,
            line: 0,
            bytes: 0,
        }
    }

    /// The number of the line last returned.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far (of the lines returned).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next line without its `\n` (and `\r`) and its number, or `None` at the end
    /// of the input.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u64, &[u8])>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.pos..self.end]) {
                let start = self.pos;
                self.pos += i + 1;
                let line = self.take(start, start + i);
                return Ok(Some(line));
            }
            if self.eof {
                if self.pos < self.end {
                    let (start, end) = (self.pos, self.end);
                    self.pos = self.end;
                    let line = self.take(start, end);
                    return Ok(Some(line));
                }
                return Ok(None);
            }
            self.refill()?;
        }
    }

    fn take(&mut self, start: usize, mut end: usize) -> (u64, &[u8]) {
        self.line += 1;
        self.bytes += (end - start) as u64 + 1;
        if end > start && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        (self.line, &self.buf[start..end])
    }

    /// Moves the partial line to the front and reads more; grows the buffer when one line
    /// is longer than it.
    fn refill(&mut self) -> std::io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes per call, to cross block boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn splits_lines_across_reads_and_counts_them() {
        let text = b"a\r\nbb\n\nccc";
        for step in [1, 2, 3, 100] {
            let mut lines = Lines::new(Trickle(text, step));
            let mut got = Vec::new();
            while let Some((n, l)) = lines.next_line().unwrap() {
                got.push((n, l.to_vec()));
            }
            assert_eq!(
                got,
                vec![
                    (1, b"a".to_vec()),
                    (2, b"bb".to_vec()),
                    (3, b"".to_vec()),
                    (4, b"ccc".to_vec())
                ]
            );
            assert_eq!(lines.bytes(), text.len() as u64 + 1);
        }
    }

    #[test]
    fn a_line_longer_than_the_block_grows_the_buffer() {
        let mut text = vec![b'x'; BLOCK * 2 + 7];
        text.push(b'\n');
        text.extend_from_slice(b"y\n");
        let mut lines = Lines::new(&text[..]);
        assert_eq!(lines.next_line().unwrap().unwrap().1.len(), BLOCK * 2 + 7);
        assert_eq!(lines.next_line().unwrap().unwrap().1, b"y");
        assert!(lines.next_line().unwrap().is_none());
    }
}
