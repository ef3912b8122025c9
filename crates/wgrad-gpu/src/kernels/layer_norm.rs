//! Launchers for shaders/layer_norm.wgsl and layer_norm_backward.wgsl (the CPU
//! reference is the composed `F::layer_norm`: mean, variance, scale, shift).

use super::to_u32;
use crate::shaders;
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

/// Longest row one invocation normalises (lavapipe ends invocations after 65535 loop
/// iterations; the kernels walk a row three times).
pub const MAX_ROW: usize = 4096;
/// Rows per workgroup.
const WG: u32 = 64;

uniform_params! {
    /// The block of both kernels: `rows` rows of `d` values at `x_offset` and the weight
    /// row at `w_offset`; the forward's bias and eps, the backward's dy (element offsets).
    struct Params {
        rows: u32, d: u32, x_offset: u32, w_offset: u32,
        b_offset: u32, eps: f32, dy_offset: u32, _pad0: u32,
    }
}

impl Params {
    /// The rows `x` and weight `w` (buffer, element offset) of `rows` x `d`, the other
    /// fields 0 (`what` names the launch in a size panic).
    fn rows(rows: usize, d: usize, x: (&PooledBuffer, usize), w: (&PooledBuffer, usize), what: &str) -> Params {
        let u = |v: usize| to_u32(v, what);
        Params { rows: u(rows), d: u(d), x_offset: u(x.1), w_offset: u(w.1), ..bytemuck::Zeroable::zeroed() }
    }
}

/// The forward module.
pub fn source() -> String {
    let bindings = shaders::io_bindings("f32", &["y", "stats"], &["x", "w", "b"]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", Params::WGSL), shaders::LAYER_NORM)
}

/// The backward (input gradient) module.
pub fn backward_source() -> String {
    let bindings = shaders::io_bindings("f32", &["dx"], &["x", "w", "dy", "stats"]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", Params::WGSL), shaders::LAYER_NORM_BACKWARD)
}

/// Normalises `rows` contiguous rows of `d` f32 values of `x` (buffer, element offset)
/// with weight and bias rows `w`, `b`; returns `(y [rows, d], stats [rows, 2])`, the
/// stats being each row's mean and 1/sqrt(var + eps).
pub fn layer_norm(
    gpu: &GpuDevice,
    rows: usize,
    d: usize,
    x: (&PooledBuffer, usize),
    w: (&PooledBuffer, usize),
    b: (&PooledBuffer, usize),
    eps: f32,
) -> (PooledBuffer, PooledBuffer) {
    assert!(d <= MAX_ROW, "layer_norm kernel: rows of {d} > {MAX_ROW}");
    let y = gpu.output_buffer((rows * d * 4) as u64);
    let stats = gpu.output_buffer((rows * 2 * 4) as u64);
    let params = Params { b_offset: to_u32(b.1, "layer_norm"), eps, ..Params::rows(rows, d, x, w, "layer_norm") };
    gpu.launch(KernelLaunch::new(
        KernelKey::LayerNorm,
        &params,
        &[&y, &stats, x.0, w.0, b.0],
        shaders::linear_workgroups(rows, WG),
    ));
    (y, stats)
}

/// The input gradient of [`layer_norm`] from `dy` (contiguous rows), the forward's input
/// `x`, weight `w` and `stats`.
pub fn layer_norm_backward(
    gpu: &GpuDevice,
    rows: usize,
    d: usize,
    x: (&PooledBuffer, usize),
    w: (&PooledBuffer, usize),
    dy: (&PooledBuffer, usize),
    stats: &PooledBuffer,
) -> PooledBuffer {
    let dx = gpu.output_buffer((rows * d * 4) as u64);
    let what = "layer_norm_backward";
    let params = Params { dy_offset: to_u32(dy.1, what), ..Params::rows(rows, d, x, w, what) };
    gpu.launch(KernelLaunch::new(
        KernelKey::LayerNormBackward,
        &params,
        &[&dx, x.0, w.0, dy.0, stats],
        shaders::linear_workgroups(rows, WG),
    ));
    dx
}
