//! Any bytes given to the zip (wheel) reader list members and read them, or give an
//! `Err`: no panic, no allocation a lying size asks for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.whl");
    if let Ok(members) = wgrad_data::zip::members(data, path) {
        for m in members.iter().take(16) {
            let _ = wgrad_data::zip::read_member(data, m, path);
        }
    }
});
