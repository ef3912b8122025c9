//! Launcher for argsort: shaders/sort_init.wgsl then sort_step.wgsl's bitonic network
//! (CPU reference: wgrad_cpu::sort::argsort_rows).

use super::to_u32;
use crate::shaders::{self, linear_workgroups, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

uniform_params! {
    /// The block of both sort kernels: `rows` rows of `n` values; `p`: the padded row length;
    /// `k`, `j`: the network step (sort_step.wgsl); `offset`: x's first element (sort_init.wgsl).
    struct Params {
        rows: u32, n: u32, p: u32, k: u32,
        j: u32, offset: u32,
    }
}

/// The sort key of each dtype, in the order of wgrad_cpu::sort (f16 is sorted as f32 by
/// the caller). Floats: every NaN one pattern, -0 as +0 (by bits, which the compiler may
/// not fold away as it may `v != v`), then sign-magnitude flipped into unsigned order.
fn sortable(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => {
            "fn sortable(v: f32) -> u32 {\n    var bits = bitcast<u32>(v);\n    \
             if ((bits & 0x7fffffffu) > 0x7f800000u) { bits = 0x7fc00000u; }\n    \
             if ((bits & 0x7fffffffu) == 0u) { bits = 0u; }\n    \
             return select(bits | 0x80000000u, ~bits, (bits >> 31u) == 1u);\n}\n"
        }
        DType::I32 => "fn sortable(v: i32) -> u32 { return bitcast<u32>(v) ^ 0x80000000u; }\n",
        DType::U32 => "fn sortable(v: u32) -> u32 { return v; }\n",
        DType::F16 => panic!("argsort: f16 is sorted as f32 (the caller casts)"),
    }
}

/// The WGSL module of the first launch for input `dtype`, ascending or `descending`.
pub fn init_source(dtype: DType, descending: bool) -> String {
    let bindings =
        shaders::storage_bindings(&[("x", "read", "T"), ("keys", "read_write", "u32"), ("idx", "read_write", "u32")]);
    let prelude = format!(
        "{}alias T = {};\nconst DESCENDING: bool = {descending};\n{}{bindings}",
        Params::WGSL,
        wgsl_type(dtype),
        sortable(dtype)
    );
    shaders::compose(&[dtype], &prelude, shaders::SORT_INIT)
}

/// The WGSL module of one network step.
pub fn step_source() -> String {
    shaders::compose(&[], Params::WGSL, shaders::SORT_STEP)
}

/// For each of `rows` contiguous rows of `n` values of `x` (f32, i32 or u32; its first
/// element at `x.1`): the indices that sort it, as a `[rows, p]` u32 buffer whose first
/// `n` columns are the answer (`p`, returned, is `n` rounded up to a power of two).
/// Equal values keep their order.
pub fn argsort_rows(
    gpu: &GpuDevice,
    x: (&PooledBuffer, usize),
    dtype: DType,
    rows: usize,
    n: usize,
    descending: bool,
) -> (PooledBuffer, usize) {
    let p = n.next_power_of_two();
    let keys = gpu.output_buffer((rows * p * 4) as u64);
    let idx = gpu.output_buffer((rows * p * 4) as u64);
    if rows * n == 0 {
        return (idx, p);
    }
    let total = to_u32(rows * p, "argsort");
    let offset = to_u32(x.1, "argsort");
    let params =
        |k: usize, j: usize| Params { rows: rows as u32, n: n as u32, p: p as u32, k: k as u32, j: j as u32, offset };
    gpu.launch(KernelLaunch::new(
        KernelKey::SortInit { dtype, descending },
        &params(0, 0),
        &[x.0, &keys, &idx],
        linear_workgroups(total as usize, 256),
    ));
    let mut k = 2;
    while k <= p {
        let mut j = k / 2;
        while j > 0 {
            gpu.launch(KernelLaunch::new(
                KernelKey::SortStep,
                &params(k, j),
                &[&keys, &idx],
                linear_workgroups(total as usize, 256),
            ));
            j /= 2;
        }
        k *= 2;
    }
    (idx, p)
}
