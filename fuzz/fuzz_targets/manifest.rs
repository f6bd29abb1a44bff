//! Fuzz target: arbitrary bytes as one manifest file (see `sedimentdb::__fuzz::manifest`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::manifest(data);
});
