//! Any text given to the `.ts` (aeon/sktime) parser gives series or an `Err`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wgrad_data::ts::parse_ts(text, Path::new("fuzz.ts"));
    }
});
