//! Launcher for shaders/gather.wgsl (CPU reference: wgrad_cpu::gather / index_select).

use super::{pack8, to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 256;

uniform_params! {
    /// `numel` outputs of the ids' `shape` (`rank` dims); `size`: x's extent along `dim`;
    /// the strides and element offsets of x and the ids.
    struct Params {
        numel: u32, rank: u32, dim: u32, size: u32,
        shape: [u32; 8],
        x_strides: [u32; 8],
        id_strides: [u32; 8],
        x_offset: u32, id_offset: u32, _pad0: u32, _pad1: u32,
    }
}

/// The prelude of both kernels: parameter block `params`, element type T (`dtype`) and
/// id type I; bindings out (1, T), `values` (2, T: x, or the output gradient g), ids (3).
fn prelude(params: &str, dtype: DType, id_dtype: DType, values: &str) -> String {
    let bindings =
        shaders::storage_bindings(&[("out", "read_write", "T"), (values, "read", "T"), ("ids", "read", "I")]);
    format!("{params}alias T = {};\nalias I = {};\n{bindings}", wgsl_type(dtype), wgsl_type(id_dtype))
}

/// The WGSL module for element type `dtype` and id type `id_dtype`.
pub fn source(dtype: DType, id_dtype: DType) -> String {
    shaders::compose(&[dtype, id_dtype], &prelude(Params::WGSL, dtype, id_dtype, "x"), shaders::GATHER)
}

/// torch.gather along `dim`: the output has the ids' shape and is contiguous.
/// Out-of-range ids surface as an error naming `op` at the recording thread's next
/// readback or sync.
pub fn gather(gpu: &GpuDevice, x: Operand, dim: usize, ids: Operand, op: &'static str) -> PooledBuffer {
    let shape = ids.layout.dims();
    let numel = ids.layout.numel();
    let out = gpu.output_buffer((numel * x.dtype.size_in_bytes()) as u64);
    if numel == 0 {
        return out;
    }
    let params = Params {
        numel: to_u32(numel, "gather"),
        rank: shape.len() as u32,
        dim: dim as u32,
        size: to_u32(x.layout.dims()[dim], "gather"),
        shape: pack8(shape, "gather"),
        x_strides: pack8(x.layout.strides(), "gather"),
        id_strides: pack8(ids.layout.strides(), "gather"),
        x_offset: to_u32(x.layout.offset(), "gather"),
        id_offset: to_u32(ids.layout.offset(), "gather"),
        _pad0: 0,
        _pad1: 0,
    };
    gpu.launch(
        KernelLaunch::new(
            KernelKey::Gather { dtype: x.dtype, ids: ids.dtype },
            &params,
            &[&out, x.buffer, ids.buffer],
            shaders::linear_workgroups(numel, WG),
        )
        .checking_ids(op),
    );
    out
}

uniform_params! {
    /// The backward's block: `numel` input-gradient elements of `out_shape` (`rank` dims);
    /// `lines`: ids.shape[dim]; the ids' shape, and the strides and offsets of ids and g.
    struct BackwardParams {
        numel: u32, rank: u32, dim: u32, lines: u32,
        out_shape: [u32; 8],
        id_shape: [u32; 8],
        id_strides: [u32; 8],
        g_strides: [u32; 8],
        id_offset: u32, g_offset: u32, _pad0: u32, _pad1: u32,
    }
}

/// The WGSL module of gather's backward for gradient type `dtype` and ids `id_dtype`.
pub fn backward_source(dtype: DType, id_dtype: DType) -> String {
    let prelude = prelude(BackwardParams::WGSL, dtype, id_dtype, "g");
    shaders::compose(&[dtype, id_dtype], &prelude, shaders::GATHER_BACKWARD)
}

/// The gradient of gather along `dim` for an input of `x_dims`: a new contiguous buffer
/// where every output-gradient element `g[q]` is summed into position `q` with
/// coordinate `dim` replaced by `ids[q]` (ids and g share a shape).
pub fn gather_backward(gpu: &GpuDevice, g: Operand, dim: usize, ids: Operand, x_dims: &[usize]) -> PooledBuffer {
    let numel: usize = x_dims.iter().product();
    let out = gpu.output_buffer((numel * g.dtype.size_in_bytes()) as u64);
    if numel == 0 {
        return out;
    }
    let params = BackwardParams {
        numel: to_u32(numel, "gather backward"),
        rank: x_dims.len() as u32,
        dim: dim as u32,
        lines: to_u32(ids.layout.dims()[dim], "gather backward"),
        out_shape: pack8(x_dims, "gather backward"),
        id_shape: pack8(ids.layout.dims(), "gather backward"),
        id_strides: pack8(ids.layout.strides(), "gather backward"),
        g_strides: pack8(g.layout.strides(), "gather backward"),
        id_offset: to_u32(ids.layout.offset(), "gather backward"),
        g_offset: to_u32(g.layout.offset(), "gather backward"),
        _pad0: 0,
        _pad1: 0,
    };
    gpu.launch(KernelLaunch::new(
        KernelKey::GatherBackward { dtype: g.dtype, ids: ids.dtype },
        &params,
        &[&out, g.buffer, ids.buffer],
        shaders::linear_workgroups(numel, WG),
    ));
    out
}
