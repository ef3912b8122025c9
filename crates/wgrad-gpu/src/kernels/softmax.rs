//! Launchers for shaders/softmax.wgsl and softmax_backward.wgsl (CPU reference:
//! wgrad_cpu::softmax, and the composed backward in wgrad's ops::softmax).

use super::{pack8, to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::{DType, Layout};

uniform_params! {
    /// `rows` rows of `len` values along the softmax dim; the other dims collapsed into
    /// `shape` (`outer_rank` dims) with x's and the output's strides; the strides along
    /// the dim; x's element offset.
    struct Params {
        rows: u32, len: u32, outer_rank: u32, _pad0: u32,
        shape: [u32; 8],
        x_strides: [u32; 8],
        out_strides: [u32; 8],
        x_dim_stride: u32, out_dim_stride: u32, x_offset: u32, _pad1: u32,
    }
}

/// The WGSL module for element type `dtype`; `log` selects log-softmax.
pub fn source(dtype: DType, log: bool) -> String {
    let bindings = shaders::io_bindings("T", &["out"], &["x"]);
    let prelude = format!("{}alias T = {};\nconst LOG: bool = {log};\n{bindings}", Params::WGSL, wgsl_type(dtype));
    shaders::compose(&[dtype], &prelude, shaders::SOFTMAX)
}

/// Softmax (log-softmax when `log`) of `x` along `dim`, into a new contiguous buffer
/// of x's shape.
pub fn softmax(gpu: &GpuDevice, x: Operand, dim: usize, log: bool) -> PooledBuffer {
    let l = x.layout;
    let out = gpu.output_buffer((l.numel() * x.dtype.size_in_bytes()) as u64);
    let len = l.dims()[dim];
    let rows = l.numel() / len.max(1);
    if l.numel() == 0 {
        return out;
    }
    let out_layout = Layout::contiguous(l.shape().clone());
    let others: Vec<usize> = (0..l.rank()).filter(|&d| d != dim).collect();
    let pick = |v: &[usize]| others.iter().map(|&d| v[d]).collect::<Vec<_>>();
    let outer = Layout::collapse_together(&[
        &Layout::new(pick(l.dims()), pick(l.strides()), 0),
        &Layout::new(pick(l.dims()), pick(out_layout.strides()), 0),
    ]);
    let params = Params {
        rows: to_u32(rows, "softmax"),
        len: to_u32(len, "softmax"),
        outer_rank: outer[0].rank() as u32,
        _pad0: 0,
        shape: pack8(outer[0].dims(), "softmax"),
        x_strides: pack8(outer[0].strides(), "softmax"),
        out_strides: pack8(outer[1].strides(), "softmax"),
        x_dim_stride: to_u32(l.strides()[dim], "softmax"),
        out_dim_stride: to_u32(out_layout.strides()[dim], "softmax"),
        x_offset: to_u32(l.offset(), "softmax"),
        _pad1: 0,
    };
    gpu.launch(KernelLaunch::new(
        KernelKey::Softmax { dtype: x.dtype, log },
        &params,
        &[&out, x.buffer],
        shaders::linear_workgroups(rows, 1),
    ));
    out
}

uniform_params! {
    /// The backward's block: rows laid out as the forward's (y, g and the output share
    /// one contiguous layout, so one set of strides).
    struct BackwardParams {
        rows: u32, len: u32, outer_rank: u32, dim_stride: u32,
        shape: [u32; 8],
        strides: [u32; 8],
    }
}

/// The WGSL module of the backward for element type `dtype`; `log` selects log-softmax.
pub fn backward_source(dtype: DType, log: bool) -> String {
    let bindings = shaders::io_bindings("T", &["out"], &["y", "g"]);
    let prelude =
        format!("{}alias T = {};\nconst LOG: bool = {log};\n{bindings}", BackwardParams::WGSL, wgsl_type(dtype));
    shaders::compose(&[dtype], &prelude, shaders::SOFTMAX_BACKWARD)
}

/// The input gradient of softmax (log-softmax when `log`) along `dim`, from the forward
/// output `y` and its gradient `g`: whole contiguous buffers of one `shape`. Returns a new
/// contiguous buffer of that shape.
pub fn softmax_backward(
    gpu: &GpuDevice,
    y: &PooledBuffer,
    g: &PooledBuffer,
    shape: &[usize],
    dtype: DType,
    dim: usize,
    log: bool,
) -> PooledBuffer {
    let l = Layout::contiguous(shape.to_vec());
    let out = gpu.output_buffer((l.numel() * dtype.size_in_bytes()) as u64);
    if l.numel() == 0 {
        return out;
    }
    let len = shape[dim];
    let rows = l.numel() / len;
    let others: Vec<usize> = (0..l.rank()).filter(|&d| d != dim).collect();
    let pick = |v: &[usize]| others.iter().map(|&d| v[d]).collect::<Vec<_>>();
    let outer = Layout::new(pick(l.dims()), pick(l.strides()), 0).collapsed();
    let params = BackwardParams {
        rows: to_u32(rows, "softmax backward"),
        len: to_u32(len, "softmax backward"),
        outer_rank: outer.rank() as u32,
        dim_stride: to_u32(l.strides()[dim], "softmax backward"),
        shape: pack8(outer.dims(), "softmax backward"),
        strides: pack8(outer.strides(), "softmax backward"),
    };
    gpu.launch(KernelLaunch::new(
        KernelKey::SoftmaxBackward { dtype, log },
        &params,
        &[&out, y, g],
        shaders::linear_workgroups(rows, 1),
    ));
    out
}
