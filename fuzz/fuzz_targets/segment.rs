//! Fuzz target: arbitrary bytes as one segment file (see `sedimentdb::__fuzz::segment`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::segment(data);
});
