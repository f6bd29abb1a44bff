//! Every column decoder on arbitrary bytes, and encode -> decode round trips of values
//! and timestamps derived from them. The checks themselves live in the library
//! (`segment/encoding/fuzz_entry.rs`) so that unit tests run the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sedimentdb::__fuzz::codecs(data);
});
