//! Shared test helpers: the devices every conformance test runs on, and comparisons.
#![allow(dead_code)]

use wgrad::{DType, Device, Tensor};

/// The GPU device for tests. With no adapter this fails with instructions, unless
/// WGRAD_SKIP_GPU=1 says to skip GPU tests explicitly (then it returns None).
pub fn gpu() -> Option<Device> {
    if std::env::var("WGRAD_SKIP_GPU").is_ok_and(|v| v == "1") {
        eprintln!("WGRAD_SKIP_GPU=1: skipping the GPU half of this test");
        return None;
    }
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => panic!(
            "GPU tests need a wgpu adapter: {e}\n\
             On Debian/Ubuntu without a GPU: apt-get install mesa-vulkan-drivers (software Vulkan).\n\
             To run only the CPU half, set WGRAD_SKIP_GPU=1."
        ),
    }
}

/// Every device a conformance test runs on: the CPU, then the GPU.
pub fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(gpu());
    d
}

/// Values of any tensor as f64.
pub fn values(t: &Tensor) -> Vec<f64> {
    match t.dtype() {
        DType::F32 => t.to_vec::<f32>().unwrap().into_iter().map(f64::from).collect(),
        DType::F16 => t.to_vec::<half::f16>().unwrap().into_iter().map(|v| v.to_f64()).collect(),
        DType::U32 => t.to_vec::<u32>().unwrap().into_iter().map(f64::from).collect(),
        DType::I32 => t.to_vec::<i32>().unwrap().into_iter().map(f64::from).collect(),
    }
}

/// Asserts `actual` matches `expected` in shape, dtype and values within
/// `atol + rtol * |expected|` (NaN matches NaN, inf matches inf of the same sign).
pub fn assert_close(actual: &Tensor, expected: &Tensor, atol: f64, rtol: f64, what: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
    assert_eq!(actual.dtype(), expected.dtype(), "{what}: dtypes differ");
    let (a, e) = (values(actual), values(expected));
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs();
        assert!(ok, "{what}: element {i} is {x}, expected {y} (atol {atol}, rtol {rtol}); shape {:?}", actual.dims());
    }
}

/// A small deterministic generator for shapes and data in tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51afd7ed558ccd);
        z ^ (z >> 33)
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    /// Uniform f32 in [lo, hi).
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }
    pub fn vec_f32(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32(lo, hi)).collect()
    }
    /// A random shape of `rank` dims, each in 1..=max, sometimes 1 and odd sizes.
    pub fn shape(&mut self, rank: usize, max: usize) -> Vec<usize> {
        (0..rank).map(|_| if self.range(0, 4) == 0 { 1 } else { self.range(1, max) }).collect()
    }
}
