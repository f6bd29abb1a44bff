//! On-disk primitives shared by every file type; the layouts themselves are in
//! [FORMAT.md](https://github.com/sedimentdb/sedimentdb/blob/main/FORMAT.md), the one
//! description of the bytes.
//!
//! - `varint`: the one strict LEB128 varint and zigzag.
//! - `bytes`: checked little-endian reads and a bounds-checked cursor.
//! - `frame`: the header, checksummed zstd frames, footer and trailer of segment and
//!   rollup files; the one bincode configuration.
//! - `compress`: the one place that calls zstd.
//!
//! These modules parse untrusted bytes: they deny indexing, `unwrap` and `expect`.

pub(crate) mod bytes;
pub(crate) mod compress;
pub(crate) mod frame;
pub(crate) mod varint;
