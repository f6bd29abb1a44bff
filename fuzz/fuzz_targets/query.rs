//! The query builder on arbitrary parameters against a small in-memory database (warm
//! and cold segments, head points, a deletion, special values): the query returns or
//! fails with a typed error, honours its limit, and the serial and parallel paths agree
//! bit for bit. The checks live in the library (`src/fuzz_entry.rs`) so that
//! `tests/fuzz_replay.rs` runs the same code on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::query(data);
});
