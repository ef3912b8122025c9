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
        // An infinite expectation must be met exactly: `inf <= atol + rtol * inf` would
        // otherwise accept any finite value (or the other infinity).
        let ok = (x.is_nan() && y.is_nan()) || x == y || (y.is_finite() && (x - y).abs() <= atol + rtol * y.abs());
        assert!(ok, "{what}: element {i} is {x}, expected {y} (atol {atol}, rtol {rtol}); shape {:?}", actual.dims());
    }
}

/// The conformance pattern: runs `f` on every device (each builds its inputs on the
/// device it is given, from the same host data) and checks every GPU result against the
/// CPU's, which is the reference, within `atol + rtol * |expected|`. Returns the CPU
/// result so that callers can also check it against hand-computed values
/// ([`conform`] when they do not).
pub fn conformed(what: &str, atol: f64, rtol: f64, f: impl Fn(&Device) -> Tensor) -> Tensor {
    let mut devs = devices().into_iter();
    let cpu = devs.next().expect("the CPU is always the first device");
    let want = f(&cpu);
    assert_eq!(want.device(), &cpu, "{what}: the reference result must live on the CPU");
    for dev in devs {
        let got = f(&dev);
        assert_eq!(got.device(), &dev, "{what}: the result must stay on {dev:?}");
        let got = got.try_to_device(&cpu).unwrap_or_else(|e| panic!("{what} on {dev:?}: readback failed: {e}"));
        assert_close(&got, &want, atol, rtol, &format!("{what} on {dev:?}"));
    }
    want
}

/// [`conformed`], for callers that need no result.
pub fn conform(what: &str, atol: f64, rtol: f64, f: impl Fn(&Device) -> Tensor) {
    let _ = conformed(what, atol, rtol, f);
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
    /// A CPU tensor of `shape` with values uniform in [lo, hi); integer dtypes get the
    /// whole numbers below each value (u32 needs lo >= 0), f16 the nearest half.
    pub fn tensor(&mut self, shape: &[usize], dtype: DType, lo: f32, hi: f32) -> Tensor {
        let v = self.vec_f32(shape.iter().product(), lo, hi);
        let cpu = Device::cpu();
        match dtype {
            DType::F32 => Tensor::from_vec(v, shape, &cpu),
            DType::F16 => Tensor::from_vec(v.into_iter().map(half::f16::from_f32).collect::<Vec<_>>(), shape, &cpu),
            DType::I32 => Tensor::from_vec(v.into_iter().map(|x| x.floor() as i32).collect::<Vec<_>>(), shape, &cpu),
            DType::U32 => {
                assert!(lo >= 0.0, "u32 data needs lo >= 0");
                Tensor::from_vec(v.into_iter().map(|x| x.floor() as u32).collect::<Vec<_>>(), shape, &cpu)
            }
        }
    }
    /// A random shape of `rank` dims, each in 1..=max, sometimes 1 and odd sizes.
    pub fn shape(&mut self, rank: usize, max: usize) -> Vec<usize> {
        (0..rank).map(|_| if self.range(0, 4) == 0 { 1 } else { self.range(1, max) }).collect()
    }
}

/// The seed CNN of docs/BENCHMARKS.md W6, shared with the examples.
#[path = "../../examples/common/seed_cnn.rs"]
pub mod seed_cnn;

/// True (and says so on stderr) when a test device cannot hold f16 tensors, as wgpu's GL
/// backend cannot: the caller then leaves out its f16 case for every device.
pub fn lacks_f16(what: &str) -> bool {
    match devices().into_iter().find(|d| !d.supports_f16()) {
        Some(dev) => {
            eprintln!("{what}: not checked in f16: {} has no SHADER_F16", dev.name());
            true
        }
        None => false,
    }
}

/// `[("name", Tensor::name as Ty), ...]`: a table of `Tensor` methods of one signature
/// `Ty`, each named as written.
#[allow(unused_macros)]
macro_rules! tensor_methods {
    ($ty:ty: $($name:ident),+ $(,)?) => {
        [$((stringify!($name), wgrad::Tensor::$name as $ty)),+]
    };
}
#[allow(unused_imports)]
pub(crate) use tensor_methods;
