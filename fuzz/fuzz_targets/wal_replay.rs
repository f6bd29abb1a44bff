//! Fuzz target: arbitrary bytes as one wal file (see `sedimentdb::__fuzz::wal_replay`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::wal_replay(data);
});
