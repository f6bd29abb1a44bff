//! The framing shared by segment and rollup files (FORMAT.md, "Segment files"): a
//! 16-byte header, checksummed zstd frames (chunks, rollup blocks), the footer frame and
//! the 36-byte trailer; and the one bincode configuration of the formats that still
//! use bincode (the manifest body).
//!
//! Offsets are chained constants, so that a field added in one place moves the others.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::path::Path;

use bincode::Options as _;

use super::bytes::{u32_at, u64_at};
use super::compress::{Compressor, Decompressor};
use crate::error::{Error, Result};

pub(crate) const HEADER_MAGIC: usize = 0;
pub(crate) const HEADER_VERSION: usize = HEADER_MAGIC + 8;
pub(crate) const HEADER_FLAGS: usize = HEADER_VERSION + 4;
/// Bytes of the file header.
pub(crate) const HEADER_LEN: usize = HEADER_FLAGS + 4;
const _: () = assert!(HEADER_LEN == 16);

pub(crate) const TRAILER_FOOTER_OFFSET: usize = 0;
pub(crate) const TRAILER_FOOTER_LEN: usize = TRAILER_FOOTER_OFFSET + 8;
pub(crate) const TRAILER_FOOTER_RAW_LEN: usize = TRAILER_FOOTER_LEN + 4;
pub(crate) const TRAILER_FOOTER_CRC: usize = TRAILER_FOOTER_RAW_LEN + 4;
pub(crate) const TRAILER_VERSION: usize = TRAILER_FOOTER_CRC + 4;
pub(crate) const TRAILER_CRC: usize = TRAILER_VERSION + 4;
pub(crate) const TRAILER_MAGIC: usize = TRAILER_CRC + 4;
/// Bytes of the trailer.
pub(crate) const TRAILER_LEN: usize = TRAILER_MAGIC + 8;
const _: () = assert!(TRAILER_LEN == 36);

/// A footer decompressing to more than this is damaged (about 10 M chunks).
pub(crate) const MAX_FOOTER_RAW_LEN: u64 = 1 << 30;
/// Largest `footer_raw_len / footer_len` accepted.
const MAX_FOOTER_RATIO: u64 = 1024;

/// The header of a file with `magic` and format `version`; flags are zero.
pub(crate) fn header(magic: &[u8; 8], version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    let (m, rest) = h.split_at_mut(HEADER_VERSION);
    m.copy_from_slice(magic);
    let (v, flags) = rest.split_at_mut(HEADER_FLAGS - HEADER_VERSION);
    v.copy_from_slice(&version.to_le_bytes());
    flags.copy_from_slice(&0u32.to_le_bytes());
    h
}

thread_local! {
    /// Decompression context and scratch buffer reused across frames on one thread.
    static SCRATCH: RefCell<Option<(Decompressor, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Where one checksummed zstd frame (a segment chunk or a rollup block) lies in a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRef {
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
    pub crc: u32,
}

/// Checks `frame`'s bounds and CRC in `bytes`, decompresses it into this thread's
/// scratch buffer (one decompression context per thread, not one per frame) and hands
/// the decompressed bytes to `decode`. Every failure is a corruption error naming `path`
/// and the frame's offset; `what` names the frame kind in the message.
pub(crate) fn with_frame<R>(
    bytes: &[u8],
    path: &Path,
    frame: FrameRef,
    what: &str,
    decode: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    let at = frame.offset;
    let corrupt = |msg: String| Error::corruption(path, at, msg);
    let data = usize::try_from(at)
        .ok()
        .and_then(|start| Some(start..start.checked_add(frame.len as usize)?))
        .and_then(|range| bytes.get(range))
        .ok_or_else(|| corrupt(format!("{what} outside the file")))?;
    if crc32fast::hash(data) != frame.crc {
        return Err(corrupt(format!("{what} checksum mismatch")));
    }
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let d = Decompressor::new().map_err(|e| Error::io("zstd init", path, e))?;
            *cell = Some((d, Vec::new()));
        }
        let Some((decompressor, raw)) = cell.as_mut() else {
            return Err(Error::Internal("scratch buffer missing".into()));
        };
        let n = decompressor
            .decompress_into(data, raw, frame.raw_len as usize)
            .map_err(|e| corrupt(format!("{what} does not decompress: {e}")))?;
        if n != frame.raw_len as usize || raw.len() != n {
            return Err(corrupt(format!("{what} decompressed to the wrong length")));
        }
        decode(raw)
    })
}

/// The footer frame and trailer that end a segment or rollup file whose footer (bytes
/// `raw`) starts at `footer_offset`.
pub(crate) fn footer_and_trailer(
    compressor: &mut Compressor,
    raw: &[u8],
    footer_offset: u64,
    magic: &[u8; 8],
    version: u32,
    path: &Path,
) -> Result<Vec<u8>> {
    let mut out = compressor
        .compress(raw)
        .map_err(|e| Error::io("zstd compress", path, e))?;
    let footer_len = u32::try_from(out.len())
        .map_err(|_| Error::Internal(format!("footer of {} bytes", out.len())))?;
    let raw_len = u32::try_from(raw.len())
        .map_err(|_| Error::Internal(format!("footer of {} bytes", raw.len())))?;
    let fields: [&[u8]; 6] = [
        &footer_offset.to_le_bytes(),
        &footer_len.to_le_bytes(),
        &raw_len.to_le_bytes(),
        &crc32fast::hash(&out).to_le_bytes(),
        &version.to_le_bytes(),
        &[],
    ];
    let mut trailer = Vec::with_capacity(TRAILER_LEN);
    for field in fields {
        trailer.extend_from_slice(field);
    }
    debug_assert_eq!(trailer.len(), TRAILER_CRC);
    let trailer_crc = crc32fast::hash(&trailer);
    trailer.extend_from_slice(&trailer_crc.to_le_bytes());
    trailer.extend_from_slice(magic);
    debug_assert_eq!(trailer.len(), TRAILER_LEN);
    out.extend_from_slice(&trailer);
    Ok(out)
}

/// A file whose framing [`parse_framed`] accepted.
#[derive(Debug)]
pub(crate) struct Framed {
    /// The decompressed footer.
    pub footer: Vec<u8>,
    /// Where the footer frame starts (the chunk or block area ends there).
    pub footer_offset: u64,
}

/// Checks the framing shared by segment and rollup files (header, trailer, footer
/// checksum and size) and decompresses the footer. `supported` is the newest version
/// this build reads; the magic's last byte must equal `magic`'s.
pub(crate) fn parse_framed(
    b: &[u8],
    path: &Path,
    magic: &[u8; 8],
    supported: u32,
) -> Result<Framed> {
    let corrupt = |offset: usize, what: String| Error::corruption(path, offset as u64, what);
    let short = || {
        corrupt(
            0,
            format!("file of {} bytes is too short for a segment", b.len()),
        )
    };
    if b.len() < HEADER_LEN + TRAILER_LEN {
        return Err(short());
    }
    let found_magic = b.get(HEADER_MAGIC..HEADER_VERSION).ok_or_else(short)?;
    if found_magic.get(..7) != magic.get(..7) {
        return Err(corrupt(0, "bad segment magic".into()));
    }
    let version = u32_at(b, HEADER_VERSION).ok_or_else(short)?;
    // The magic's last byte is the major version: when it differs, it is the version to
    // report (the field after it may well still say 1).
    let major = found_magic.get(7).copied().unwrap_or(0);
    let expected_major = magic.get(7).copied().unwrap_or(0);
    if version > supported || major != expected_major {
        return Err(Error::UnsupportedVersion {
            file: path.into(),
            found: if major != expected_major {
                u32::from(major)
            } else {
                version
            },
            supported,
        });
    }
    if version == 0 {
        return Err(corrupt(HEADER_VERSION, "segment version 0".into()));
    }
    // No flag is defined yet. The header is outside every checksum, so this check
    // is what catches damage here, and a file from a writer that sets a flag this
    // build does not know is refused rather than misread (as the catalog does).
    let flags = u32_at(b, HEADER_FLAGS).ok_or_else(short)?;
    if flags != 0 {
        return Err(corrupt(HEADER_FLAGS, format!("unknown flags {flags:#x}")));
    }
    let t_at = b.len() - TRAILER_LEN;
    let t = b.get(t_at..).ok_or_else(short)?;
    let field = |at: usize| u32_at(t, at).ok_or_else(short);
    if t.get(TRAILER_MAGIC..) != Some(&magic[..]) {
        return Err(corrupt(
            t_at + TRAILER_MAGIC,
            "bad trailer magic (truncated file?)".into(),
        ));
    }
    let covered = t.get(..TRAILER_CRC).ok_or_else(short)?;
    if crc32fast::hash(covered) != field(TRAILER_CRC)? {
        return Err(corrupt(t_at, "trailer checksum mismatch".into()));
    }
    if field(TRAILER_VERSION)? != version {
        return Err(corrupt(
            t_at + TRAILER_VERSION,
            "trailer and header versions differ".into(),
        ));
    }
    let footer_offset = u64_at(t, TRAILER_FOOTER_OFFSET).ok_or_else(short)?;
    let footer_len = u64::from(field(TRAILER_FOOTER_LEN)?);
    let footer_raw_len = u64::from(field(TRAILER_FOOTER_RAW_LEN)?);
    if footer_offset < HEADER_LEN as u64 || footer_offset.saturating_add(footer_len) != t_at as u64
    {
        return Err(corrupt(
            t_at,
            format!("footer at {footer_offset}+{footer_len} does not end at the trailer"),
        ));
    }
    // footer_offset < t_at <= b.len(), so it fits in usize.
    let footer_at = footer_offset as usize;
    let compressed = b.get(footer_at..t_at).ok_or_else(short)?;
    if crc32fast::hash(compressed) != field(TRAILER_FOOTER_CRC)? {
        return Err(corrupt(footer_at, "footer checksum mismatch".into()));
    }
    if footer_raw_len > MAX_FOOTER_RAW_LEN
        || footer_raw_len > footer_len.saturating_mul(MAX_FOOTER_RATIO)
    {
        return Err(corrupt(
            t_at,
            format!("implausible footer size {footer_raw_len}"),
        ));
    }
    let footer = super::compress::decompress(compressed, footer_raw_len as usize)
        .map_err(|e| corrupt(footer_at, format!("footer does not decompress: {e}")))?;
    if footer.len() as u64 != footer_raw_len {
        return Err(corrupt(
            footer_at,
            "footer decompressed to the wrong length".into(),
        ));
    }
    Ok(Framed {
        footer,
        footer_offset,
    })
}

/// The one bincode configuration: fixed-width little-endian integers, `u64` lengths,
/// no trailing bytes, and a size limit on decoding (the bytes' own length), so that a
/// damaged length cannot make the decoder allocate more than the input.
fn bincode_options() -> impl bincode::Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// `value` in the one bincode configuration.
pub(crate) fn to_bincode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode_options()
        .serialize(value)
        .map_err(|e| Error::Internal(format!("bincode serialisation: {e}")))
}

/// Decodes `bytes` (all of them) in the one bincode configuration.
pub(crate) fn from_bincode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, bincode::Error> {
    bincode_options()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn file(footer: &[u8]) -> Vec<u8> {
        let mut b = header(b"SDTESTF\x01", 1).to_vec();
        b.extend_from_slice(b"chunk bytes");
        let mut c = Compressor::new(3).unwrap();
        let tail = footer_and_trailer(
            &mut c,
            footer,
            b.len() as u64,
            b"SDTESTF\x01",
            1,
            Path::new("f"),
        )
        .unwrap();
        b.extend_from_slice(&tail);
        b
    }

    #[test]
    fn framing_round_trips_and_every_damaged_byte_is_caught() {
        let footer = b"the footer".repeat(5);
        let good = file(&footer);
        let framed = parse_framed(&good, Path::new("f"), b"SDTESTF\x01", 1).unwrap();
        assert_eq!(framed.footer, footer);
        assert_eq!(framed.footer_offset, 16 + 11);
        let chunks = HEADER_LEN..framed.footer_offset as usize;
        for i in 0..good.len() {
            if chunks.contains(&i) {
                continue; // chunks have their own checksums
            }
            let mut bad = good.clone();
            bad[i] ^= 0x04;
            assert!(
                parse_framed(&bad, Path::new("f"), b"SDTESTF\x01", 1).is_err(),
                "byte {i}"
            );
        }
        for len in 0..good.len() {
            assert!(parse_framed(&good[..len], Path::new("f"), b"SDTESTF\x01", 1).is_err());
        }
        assert!(matches!(
            parse_framed(&good, Path::new("f"), b"SDTESTF\x01", 0),
            Err(Error::UnsupportedVersion { found: 1, .. })
        ));
    }

    #[test]
    fn bincode_is_fixed_width_little_endian() {
        let bytes = to_bincode(&(1u32, -2i64, vec![3u8])).unwrap();
        assert_eq!(
            bytes,
            [
                1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0,
                3
            ]
        );
        let back: (u32, i64, Vec<u8>) = from_bincode(&bytes).unwrap();
        assert_eq!(back, (1, -2, vec![3]));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(from_bincode::<(u32, i64, Vec<u8>)>(&trailing).is_err());
        // A length of 2^40 elements is refused without allocating them.
        let mut huge = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(from_bincode::<(u32, i64, Vec<u8>)>(&huge).is_err());
    }
}
