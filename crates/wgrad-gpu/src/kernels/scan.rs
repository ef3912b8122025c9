//! Launcher for shaders/cumsum.wgsl (CPU reference: wgrad_cpu::sort::cumsum_rows).

use super::to_u32;
use crate::shaders::{self, linear_workgroups, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

uniform_params! {
    /// `rows` contiguous rows of `n` values, the first at element `offset` of x.
    struct Params { rows: u32, n: u32, offset: u32 }
}

/// The WGSL module for element type `dtype` (f32, i32, u32), forward or `reverse`.
pub fn source(dtype: DType, reverse: bool) -> String {
    let prelude = format!(
        "{}alias T = {};\nconst REVERSE: bool = {reverse};\n{}",
        Params::WGSL,
        wgsl_type(dtype),
        shaders::io_bindings("T", &["out"], &["x"])
    );
    shaders::compose(&[dtype], &prelude, shaders::CUMSUM)
}

/// Running sums along each of `rows` contiguous rows of `n` values of `x` (its first
/// element at `x.1`; from the end when `reverse`), into a new `[rows, n]` buffer.
pub fn cumsum_rows(
    gpu: &GpuDevice,
    x: (&PooledBuffer, usize),
    dtype: DType,
    rows: usize,
    n: usize,
    reverse: bool,
) -> PooledBuffer {
    let out = gpu.output_buffer((rows * n * dtype.size_in_bytes()) as u64);
    if rows * n == 0 {
        return out;
    }
    let params = Params { rows: to_u32(rows, "cumsum"), n: to_u32(n, "cumsum"), offset: to_u32(x.1, "cumsum") };
    gpu.launch(KernelLaunch::new(
        KernelKey::Cumsum { dtype, reverse },
        &params,
        &[&out, x.0],
        linear_workgroups(rows, 1),
    ));
    out
}
