//! Fuzz target: arbitrary bytes as one catalog file (see `sedimentdb::__fuzz::catalog`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::catalog(data);
});
