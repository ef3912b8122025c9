//! Any bytes given to the IDX reader (raw or gzipped) give images/labels or an `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for magic in [0x0000_0801, 0x0000_0803] {
        if let Ok(idx) = wgrad_data::idx::parse(data, Path::new("fuzz-idx"), magic) {
            assert_eq!(idx.dims.iter().product::<usize>(), idx.data.len());
        }
    }
});
