//! Launcher for shaders/reduce.wgsl (CPU reference: wgrad_cpu::reduce).

use super::{pack8, to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::ops::ReduceOp;
use wgrad_core::{DType, Layout};

uniform_params! {
    /// `outer` outputs, each reducing a run of `inner` elements: the kept dims (the first
    /// `outer_rank` of `shape`/`strides`) then the reduced ones, `rank` in all, from `offset`.
    struct Params {
        outer: u32, inner: u32, outer_rank: u32, rank: u32,
        shape: [u32; 8],
        strides: [u32; 8],
        // scale: 1 / inner, for mean.
        // splits: workgroups (or invocations) per output: each reduces `chunk` consecutive r.
        offset: u32, scale: f32, splits: u32, chunk: u32,
    }
}

/// Most elements one workgroup reduces: longer runs are split over several workgroups
/// and finished by a second launch (GPUs need many workgroups; lavapipe also loses
/// partial results when threads loop ~21k times before a barrier).
const MAX_CHUNK: usize = 1 << 14;

/// Runs at most this long are reduced by one invocation each (reduce_rows.wgsl) when
/// there are at least [`ROWS_MIN_OUTPUTS`] of them; lavapipe ends invocations that loop
/// 65535 times.
const ROWS_MAX_INNER: usize = 4096;
/// Enough outputs to keep a GPU busy with one invocation each.
const ROWS_MIN_OUTPUTS: usize = 1024;
/// The rows strategy splits runs longer than this into chunks, one invocation each...
const ROWS_CHUNK: usize = 64;
/// ...until there are this many invocations: a column sum of a [2048, 1536] gradient
/// otherwise runs 1536 invocations of 2048 dependent loads each (2.2 ms on an H200,
/// measured; a GPU holds ~270k threads).
const ROWS_TARGET_INVOCATIONS: usize = 1 << 16;

/// How a launch reduces: a workgroup per output (long runs) or an invocation per output
/// (many short runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// reduce_workgroup.wgsl.
    Workgroup,
    /// reduce_rows.wgsl.
    Rows,
}

impl Strategy {
    fn pick(n_out: usize, n_in: usize) -> Strategy {
        if n_in <= ROWS_MAX_INNER && n_out >= ROWS_MIN_OUTPUTS {
            Strategy::Rows
        } else {
            Strategy::Workgroup
        }
    }

    /// Pieces each run is split into (each reduced by its own workgroup or invocation,
    /// then the partials by a second launch); 1 for arg reductions, whose partials would
    /// lose their indices.
    fn splits(self, op: ReduceOp, n_out: usize, n_in: usize) -> usize {
        if op.is_arg() {
            return 1;
        }
        match self {
            Strategy::Workgroup => n_in.div_ceil(MAX_CHUNK).max(1),
            Strategy::Rows => n_in.div_ceil(ROWS_CHUNK).min(ROWS_TARGET_INVOCATIONS.div_ceil(n_out.max(1))).max(1),
        }
    }
}

/// Output dtype of a reduction of `dtype`.
pub fn output_dtype(op: ReduceOp, dtype: DType) -> DType {
    if op.is_arg() {
        DType::U32
    } else {
        dtype
    }
}

fn prelude(op: ReduceOp, dtype: DType) -> String {
    let v = if dtype.is_float() { "f32" } else { wgsl_type(dtype) };
    let nan = if dtype.is_float() { "is_nan" } else { "no_nan" };
    let out = wgsl_type(output_dtype(op, dtype));
    // The identity's value is 0; for max/min its index NONE marks it empty instead.
    let (combine, finish) = match op {
        ReduceOp::Sum | ReduceOp::Mean => (
            "return Pair(a.v + b.v, 0u);".to_string(),
            if op == ReduceOp::Mean { "return O(p.v * params.scale);" } else { "return O(p.v);" },
        ),
        ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let cmp = if matches!(op, ReduceOp::Max | ReduceOp::ArgMax) { ">" } else { "<" };
            // Should `b` replace `a`? Empty loses, NaN wins (it propagates), ties keep the smaller index.
            let combine = format!(
                "if (b.i == NONE) {{ return a; }}\n    if (a.i == NONE) {{ return b; }}\n    \
                 let an = {nan}(a.v);\n    let bn = {nan}(b.v);\n    var take_b = b.v {cmp} a.v;\n    \
                 if (an != bn) {{ take_b = bn; }} else if (an || a.v == b.v) {{ take_b = b.i < a.i; }}\n    \
                 if (take_b) {{ return b; }}\n    return a;"
            );
            let finish = if op.is_arg() { "return O(p.i);" } else { "return O(p.v);" };
            (combine, finish)
        }
    };
    format!(
        "{params}alias T = {t};\nalias V = {v};\nalias O = {out};\n\
         @group(0) @binding(1) var<storage, read_write> out: array<O>;\n\
         @group(0) @binding(2) var<storage, read> x: array<T>;\n\
         const IDENTITY_V: V = V(0);\n\
         fn no_nan(x: V) -> bool {{ return false; }}\n\
         fn combine(a: Pair, b: Pair) -> Pair {{\n    {combine}\n}}\n\
         fn finish(p: Pair) -> O {{ {finish} }}\n",
        params = Params::WGSL,
        t = wgsl_type(dtype)
    )
}

/// The WGSL module of a reduction, for launching and for validation.
pub fn source(op: ReduceOp, dtype: DType, strategy: Strategy) -> String {
    let main = match strategy {
        Strategy::Workgroup => shaders::REDUCE_WORKGROUP,
        Strategy::Rows => shaders::REDUCE_ROWS,
    };
    shaders::compose(&[dtype], &prelude(op, dtype), main)
}

/// Reduces `dims` of `x` into a new contiguous buffer holding the kept dims in order.
pub fn reduce(gpu: &GpuDevice, op: ReduceOp, x: Operand, dims: &[usize]) -> PooledBuffer {
    let l = x.layout;
    let kept: Vec<usize> = (0..l.rank()).filter(|d| !dims.contains(d)).collect();
    let outer_dims: Vec<usize> = kept.iter().map(|&d| l.dims()[d]).collect();
    let inner_dims: Vec<usize> = dims.iter().map(|&d| l.dims()[d]).collect();
    let outer_strides: Vec<usize> = kept.iter().map(|&d| l.strides()[d]).collect();
    let inner_strides: Vec<usize> = dims.iter().map(|&d| l.strides()[d]).collect();
    let outer = Layout::new(outer_dims, outer_strides, 0).collapsed();
    let inner = Layout::new(inner_dims, inner_strides, 0).collapsed();
    let (n_out, n_in) = (outer.numel(), inner.numel());
    let out_dtype = output_dtype(op, x.dtype);
    let strategy = Strategy::pick(n_out, n_in);
    let splits = strategy.splits(op, n_out, n_in);
    if splits > 1 && n_out > 0 {
        // Pass 1: partials [n_out, splits] (sums for a mean); pass 2 reduces each row.
        let first = if op == ReduceOp::Mean { ReduceOp::Sum } else { op };
        let partials = launch(gpu, first, x, &outer, &inner, strategy, splits);
        let layout = Layout::contiguous([n_out, splits]);
        let pass2 = Operand { buffer: &partials, layout: &layout, dtype: out_dtype };
        let result = reduce(gpu, if op == ReduceOp::Mean { ReduceOp::Sum } else { op }, pass2, &[1]);
        if op != ReduceOp::Mean {
            return result;
        }
        let mean = Operand { buffer: &result, layout: &Layout::contiguous([n_out]), dtype: out_dtype };
        let m = super::elementwise::Map {
            expr: "a * s",
            inputs: &[mean],
            scalar_dtype: DType::F32,
            scalar: (1.0 / n_in as f32).to_bits(),
        };
        return super::elementwise::map(gpu, &m, &[n_out], out_dtype);
    }
    launch(gpu, op, x, &outer, &inner, strategy, 1)
}

/// One launch: `splits` workgroups (or invocations) per output, writing `n_out * splits`
/// values (output o's partial p at o * splits + p).
fn launch(
    gpu: &GpuDevice,
    op: ReduceOp,
    x: Operand,
    outer: &Layout,
    inner: &Layout,
    strategy: Strategy,
    splits: usize,
) -> PooledBuffer {
    let l = x.layout;
    let (n_out, n_in) = (outer.numel(), inner.numel());
    let out_dtype = output_dtype(op, x.dtype);
    let out = gpu.output_buffer((n_out * splits * out_dtype.size_in_bytes()) as u64);
    if n_out == 0 {
        return out;
    }
    let dims_all: Vec<usize> = outer.dims().iter().chain(inner.dims()).copied().collect();
    let strides_all: Vec<usize> = outer.strides().iter().chain(inner.strides()).copied().collect();
    let params = Params {
        outer: to_u32(n_out, "reduce"),
        inner: to_u32(n_in, "reduce"),
        outer_rank: outer.rank() as u32,
        rank: dims_all.len() as u32,
        shape: pack8(&dims_all, "reduce"),
        strides: pack8(&strides_all, "reduce"),
        offset: 0,
        scale: 1.0 / n_in as f32,
        splits: to_u32(splits, "reduce"),
        chunk: to_u32(n_in.div_ceil(splits).max(1), "reduce"),
    };
    let (out_w, x_w) = match (
        gpu.window(&out, out_dtype.size_in_bytes(), 0, n_out * splits),
        gpu.window(x.buffer, x.dtype.size_in_bytes(), l.offset(), l.storage_extent()),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            gpu.record_error(e);
            return out;
        }
    };
    let params = Params { offset: to_u32(l.offset() - x_w.first_elem, "reduce"), ..params };
    let workgroups = match strategy {
        Strategy::Workgroup => shaders::linear_workgroups(n_out * splits, 1),
        Strategy::Rows => shaders::linear_workgroups(n_out * splits, 256),
    };
    gpu.launch_windowed(
        KernelLaunch::new(KernelKey::Reduce { op, dtype: x.dtype, strategy }, &params, &[&out, x.buffer], workgroups),
        &[out_w, x_w],
    );
    out
}
