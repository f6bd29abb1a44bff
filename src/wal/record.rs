//! WAL file naming, the file header, and record framing. The byte layout, what the
//! writer guarantees and what replay assumes are in FORMAT.md ("WAL files": file header,
//! records, guarantees), the one description of them; the offsets below are chained
//! constants that mirror its tables.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::format::bytes::{u32_at, u64_at};

/// Magic bytes at the start of every WAL file.
pub(crate) const MAGIC: [u8; 8] = *b"SDWAL\r\n\x1a";
/// The format version this build writes and the newest it reads. Version 1 (no
/// durable mark in the record header) is still read.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The first version whose records carry a durable mark.
const MARKED_VERSION: u32 = 2;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + MAGIC.len();
const SEQ_OFFSET: usize = VERSION_OFFSET + 4;
const HEADER_CRC_OFFSET: usize = SEQ_OFFSET + 8;
/// Length of the file header in bytes.
pub(crate) const HEADER_LEN: usize = HEADER_CRC_OFFSET + 4;
const _: () = assert!(HEADER_LEN == 24);

const REC_LEN_OFFSET: usize = 0;
const REC_CRC_OFFSET: usize = REC_LEN_OFFSET + 4;
const REC_TYPE_OFFSET: usize = REC_CRC_OFFSET + 4;
/// Bytes of framing in front of a version 1 record payload.
const V1_RECORD_HEADER_LEN: usize = REC_TYPE_OFFSET + 1;
const _: () = assert!(V1_RECORD_HEADER_LEN == 9);
const REC_MARK_OFFSET: usize = REC_TYPE_OFFSET + 1;
/// Bytes of framing in front of every record payload this build writes (version 2).
pub(crate) const RECORD_HEADER_LEN: usize = REC_MARK_OFFSET + 8;
const _: () = assert!(RECORD_HEADER_LEN == 17);

/// Largest payload of one record. A batch of a million points encodes to well under
/// 20 MiB; anything larger is either a caller that must split its entry or a damaged
/// length field.
pub(crate) const MAX_RECORD_LEN: usize = 64 << 20;

const FILE_EXT: &str = ".wal";
const SEQ_DIGITS: usize = 20;

/// The file name of WAL file `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:020}{FILE_EXT}")
}

/// The seq of a WAL file name, or `None` for any other name (temporary files included).
pub(crate) fn parse_file_seq(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(FILE_EXT)?;
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of WAL file `seq` in `dir`.
pub(crate) fn file_path(dir: &Path, seq: u64) -> std::path::PathBuf {
    dir.join(file_name(seq))
}

/// The header of WAL file `seq`.
pub(crate) fn encode_header(seq: u64) -> [u8; HEADER_LEN] {
    encode_header_with_version(seq, FORMAT_VERSION)
}

/// A header with an arbitrary version, for tests of version handling.
pub(crate) fn encode_header_with_version(seq: u64, version: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[MAGIC_OFFSET..VERSION_OFFSET].copy_from_slice(&MAGIC);
    header[VERSION_OFFSET..SEQ_OFFSET].copy_from_slice(&version.to_le_bytes());
    header[SEQ_OFFSET..HEADER_CRC_OFFSET].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&header[..HEADER_CRC_OFFSET]);
    header[HEADER_CRC_OFFSET..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a file header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// The file is shorter than a header.
    Short,
    /// The header is damaged or belongs to another file.
    Damaged(&'static str),
    /// The header was written by a newer format version.
    Unsupported(u32),
}

/// How the records of a file are framed, from its header's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Version 1: length, CRC, type.
    V1,
    /// Version 2: length, CRC, type, durable mark.
    Marked,
}

impl Framing {
    fn header_len(self) -> usize {
        match self {
            Framing::V1 => V1_RECORD_HEADER_LEN,
            Framing::Marked => RECORD_HEADER_LEN,
        }
    }
}

/// Checks the header at the start of `data`, which must belong to file `seq`, and
/// returns how its records are framed.
pub(crate) fn check_header(data: &[u8], seq: u64) -> Result<Framing, HeaderError> {
    let header = data.get(..HEADER_LEN).ok_or(HeaderError::Short)?;
    if header.get(MAGIC_OFFSET..VERSION_OFFSET) != Some(&MAGIC[..]) {
        return Err(HeaderError::Damaged("bad magic: not a sedimentdb WAL file"));
    }
    let version = u32_at(header, VERSION_OFFSET).ok_or(HeaderError::Short)?;
    if version > FORMAT_VERSION {
        return Err(HeaderError::Unsupported(version));
    }
    if version == 0 {
        return Err(HeaderError::Damaged("format version 0 does not exist"));
    }
    let stored_crc = u32_at(header, HEADER_CRC_OFFSET).ok_or(HeaderError::Short)?;
    if header.get(..HEADER_CRC_OFFSET).map(crc32fast::hash) != Some(stored_crc) {
        return Err(HeaderError::Damaged("file header checksum mismatch"));
    }
    if u64_at(header, SEQ_OFFSET) != Some(seq) {
        return Err(HeaderError::Damaged(
            "sequence number in the header differs from the file name",
        ));
    }
    Ok(if version >= MARKED_VERSION {
        Framing::Marked
    } else {
        Framing::V1
    })
}

/// Appends the framed record (header + payload) to `out`, in the format this build
/// writes. `durable` is the record's durable mark: an offset in its file up to which
/// the file was fsynced before this record was written (at least the header's end, at
/// most the record's own offset). Replay uses it to tell a torn write from damage.
///
/// The caller checks `payload.len() <= MAX_RECORD_LEN` first.
pub(crate) fn frame_record(rtype: u8, durable: u64, payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_RECORD_LEN);
    let mark = durable.to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[rtype]);
    hasher.update(&mark);
    hasher.update(payload);
    let crc = hasher.finalize();
    out.reserve(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(rtype);
    out.extend_from_slice(&mark);
    out.extend_from_slice(payload);
}

/// Appends a version 1 record (no durable mark), as earlier builds wrote them: for the
/// tests that check version 1 files still read.
#[cfg(test)]
pub(crate) fn frame_record_v1(rtype: u8, payload: &[u8], out: &mut Vec<u8>) {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&[rtype]);
    hasher.update(payload);
    let crc = hasher.finalize();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(rtype);
    out.extend_from_slice(payload);
}

/// One record read back from a file, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawRecord<'a> {
    /// The record type byte.
    pub rtype: u8,
    /// The payload, CRC-checked.
    pub payload: &'a [u8],
    /// Offset of the byte after the record.
    pub next: usize,
    /// The durable mark (see [`frame_record`]); `None` in a version 1 file.
    pub durable: Option<u64>,
}

/// Why a record could not be read. Both end the readable part of a file; they are kept
/// apart only to say what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// The record runs past the end of the data (a torn write, or a damaged length).
    Torn(&'static str),
    /// The record is all there but fails its checks.
    Bad(&'static str),
}

impl RecordError {
    /// What was wrong.
    pub(crate) fn what(self) -> &'static str {
        match self {
            RecordError::Torn(what) | RecordError::Bad(what) => what,
        }
    }
}

/// Reads the record starting at `offset` of a file framed as `framing`: `Ok(None)` at
/// the end of `data`.
pub(crate) fn read_record(
    data: &[u8],
    offset: usize,
    framing: Framing,
) -> Result<Option<RawRecord<'_>>, RecordError> {
    let rest = match data.get(offset..) {
        Some([]) => return Ok(None),
        Some(rest) => rest,
        None => {
            return Err(RecordError::Torn(
                "record offset is past the end of the file",
            ))
        }
    };
    let header_len = framing.header_len();
    if rest.len() < header_len {
        return Err(RecordError::Torn(
            "record header extends past the end of the file",
        ));
    }
    let len =
        u32_at(rest, REC_LEN_OFFSET).ok_or(RecordError::Torn("short record header"))? as usize;
    if len > MAX_RECORD_LEN {
        return Err(RecordError::Bad("record length exceeds the 64 MiB cap"));
    }
    let durable = match framing {
        Framing::V1 => None,
        Framing::Marked => {
            let mark =
                u64_at(rest, REC_MARK_OFFSET).ok_or(RecordError::Torn("short record header"))?;
            // A mark is never past the record's own start nor inside the file header.
            // Checked before the CRC: it rejects most false starts cheaply when replay
            // searches damaged bytes for the next record.
            if mark < HEADER_LEN as u64 || mark > offset as u64 {
                return Err(RecordError::Bad(
                    "record's durable mark is outside the file before it",
                ));
            }
            Some(mark)
        }
    };
    let stored_crc =
        u32_at(rest, REC_CRC_OFFSET).ok_or(RecordError::Torn("short record header"))?;
    let end = header_len + len;
    let covered = rest
        .get(REC_TYPE_OFFSET..end)
        .ok_or(RecordError::Torn("record extends past the end of the file"))?;
    if crc32fast::hash(covered) != stored_crc {
        return Err(RecordError::Bad("record checksum mismatch"));
    }
    let rtype = *covered
        .first()
        .ok_or(RecordError::Torn("record has no type byte"))?;
    let payload = covered
        .get(header_len - REC_TYPE_OFFSET..)
        .ok_or(RecordError::Torn("short record header"))?;
    Ok(Some(RawRecord {
        rtype,
        payload,
        next: offset + end,
        durable,
    }))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_by_seq_and_parse_back() {
        assert_eq!(file_name(1), "00000000000000000001.wal");
        assert_eq!(parse_file_seq(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        for other in [
            "00000000000000000001.wal.tmp",
            "1.wal",
            "0000000000000000000a.wal",
            "99999999999999999999.wal",
            "+0000000000000000001.wal",
            "00000000000000000001.seg",
        ] {
            assert_eq!(parse_file_seq(other), None, "{other}");
        }
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let header = encode_header(7);
        assert_eq!(check_header(&header, 7), Ok(Framing::Marked));
        assert_eq!(
            check_header(&encode_header_with_version(7, 1), 7),
            Ok(Framing::V1)
        );
        assert!(matches!(
            check_header(&header, 8),
            Err(HeaderError::Damaged(_))
        ));
        assert_eq!(
            check_header(&header[..HEADER_LEN - 1], 7),
            Err(HeaderError::Short)
        );
        for i in 0..HEADER_LEN {
            let mut bad = header;
            bad[i] ^= 0x10;
            assert!(check_header(&bad, 7).is_err(), "byte {i}");
        }
        let newer = encode_header_with_version(7, FORMAT_VERSION + 1);
        assert_eq!(check_header(&newer, 7), Err(HeaderError::Unsupported(3)));
    }

    #[test]
    fn records_round_trip_and_detect_damage() {
        for framing in [Framing::Marked, Framing::V1] {
            let mut data = encode_header(1).to_vec();
            let frame = |rtype: u8, durable: u64, payload: &[u8], out: &mut Vec<u8>| match framing {
                Framing::Marked => frame_record(rtype, durable, payload, out),
                Framing::V1 => frame_record_v1(rtype, payload, out),
            };
            frame(2, HEADER_LEN as u64, b"hello", &mut data);
            let second_at = data.len();
            frame(1, second_at as u64, b"", &mut data);
            let first = read_record(&data, HEADER_LEN, framing).unwrap().unwrap();
            assert_eq!((first.rtype, first.payload), (2, &b"hello"[..]));
            let second = read_record(&data, first.next, framing).unwrap().unwrap();
            assert_eq!((second.rtype, second.payload), (1, &b""[..]));
            let marks = (first.durable, second.durable);
            match framing {
                Framing::Marked => {
                    assert_eq!(marks, (Some(HEADER_LEN as u64), Some(second_at as u64)))
                }
                Framing::V1 => assert_eq!(marks, (None, None)),
            }
            assert_eq!(read_record(&data, second.next, framing), Ok(None));

            for cut in HEADER_LEN + 1..first.next {
                assert!(matches!(
                    read_record(&data[..cut], HEADER_LEN, framing),
                    Err(RecordError::Torn(_))
                ));
            }
            for i in HEADER_LEN..first.next {
                let mut bad = data.clone();
                bad[i] ^= 0x01;
                assert!(read_record(&bad, HEADER_LEN, framing).is_err(), "byte {i}");
            }
            assert!(
                read_record(&[0u8; 64], 24, framing).is_err(),
                "zeros are not a record"
            );
            let mut huge = data.clone();
            huge[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(matches!(
                read_record(&huge, HEADER_LEN, framing),
                Err(RecordError::Bad(_))
            ));
        }
        // A mark past the record's own start is refused even with a good CRC.
        let mut data = encode_header(1).to_vec();
        frame_record(2, HEADER_LEN as u64 + 1, b"x", &mut data);
        assert!(matches!(
            read_record(&data, HEADER_LEN, Framing::Marked),
            Err(RecordError::Bad(_))
        ));
    }
}
