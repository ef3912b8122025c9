//! Any text given as a sentiment ground-truth file (id, score, sentence per line) gives
//! sentences or an `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wgrad_data::text::parse_ground_truth(text, Path::new("fuzz_GroundTruth.txt"));
    }
});
