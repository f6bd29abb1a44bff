//! Fuzz target: arbitrary bytes as one rollup file (see `sedimentdb::__fuzz::rollup`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::rollup(data);
});
