//! Any bytes given to the zip (wheel) reader list members and read them, or give an
//! `Err`: no panic, no allocation a lying size asks for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.whl");
    let _ = wgrad_data::unpack::scan_zip(Cursor::new(data), path, &mut |_, read| read().map(drop));
});
