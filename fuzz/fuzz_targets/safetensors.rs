//! Any bytes given to the safetensors parser give tensors or an `Err`: no panic, no
//! out-of-bounds read, no allocation a lying header asks for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = wgrad::io::parse_safetensors(data, Path::new("fuzz.safetensors"), &wgrad::Device::cpu());
});
