//! Launcher for shaders/index_add.wgsl: the deterministic row scatter-add behind the
//! backward of embedding lookups (CPU reference: wgrad_cpu::gather_backward).

use super::{elementwise, to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::{DType, Layout};

const WG: u32 = 256;

uniform_params! {
    /// `ids` (L) ids into a table of `rows` (V) rows of `width` (D) values; the ids' and
    /// the `[L, D]` gradient's offsets and strides.
    struct Params {
        ids: u32, rows: u32, width: u32, id_offset: u32,
        id_stride: u32, g_offset: u32, g_row_stride: u32, g_col_stride: u32,
    }
}

/// The passes, in order (see the shader file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    Count,
    Scan,
    Place,
    Sort,
    Sum,
}

const READ_IDS: &str = "fn id_at(l: u32) -> u32 { return u32(ids[params.id_offset + l * params.id_stride]); }\n";

/// The WGSL module of one pass for gradient type `dtype` and id type `id_dtype`.
pub fn source(pass: Pass, dtype: DType, id_dtype: DType) -> String {
    let b = |n: u32, name: &str, access: &str, ty: &str| {
        format!("@group(0) @binding({n}) var<storage, {access}> {name}: array<{ty}>;\n")
    };
    let id_ty = wgsl_type(id_dtype);
    let body = match pass {
        Pass::Count => {
            b(1, "counts", "read_write", "atomic<u32>")
                + &b(2, "ids", "read", id_ty)
                + READ_IDS
                + "fn run(i: u32, lid: u32) {\n    if (i >= params.ids) { return; }\n    let v = id_at(i);\n    \
                   if (v < params.rows) { atomicAdd(&counts[v], 1u); }\n}\n"
        }
        Pass::Scan => {
            b(1, "starts", "read_write", "u32")
                + &b(2, "counts", "read", "u32")
                + "var<workgroup> totals: array<u32, 256>;\n\
                   fn run(i: u32, lid: u32) {\n    let n = params.rows + 1u;\n    let chunk = (n + WG - 1u) / WG;\n    \
                   let lo = min(lid * chunk, n);\n    let hi = min(lo + chunk, n);\n    var s = 0u;\n    \
                   for (var r = lo; r < hi; r++) { s += counts[r]; }\n    totals[lid] = s;\n    workgroupBarrier();\n    \
                   if (lid == 0u) {\n        var acc = 0u;\n        for (var t = 0u; t < WG; t++) { let c = totals[t]; totals[t] = acc; acc += c; }\n    }\n    \
                   workgroupBarrier();\n    var acc = totals[lid];\n    \
                   for (var r = lo; r < hi; r++) { starts[r] = acc; acc += counts[r]; }\n}\n"
        }
        Pass::Place => {
            b(1, "order", "read_write", "u32")
                + &b(2, "cursor", "read_write", "atomic<u32>")
                + &b(3, "starts", "read", "u32")
                + &b(4, "ids", "read", id_ty)
                + READ_IDS
                + "fn run(i: u32, lid: u32) {\n    if (i >= params.ids) { return; }\n    let v = id_at(i);\n    \
                   if (v < params.rows) { order[starts[v] + atomicAdd(&cursor[v], 1u)] = i; }\n}\n"
        }
        Pass::Sort => {
            b(1, "order", "read_write", "u32")
                + &b(2, "starts", "read", "u32")
                + "fn run(i: u32, lid: u32) {\n    if (i >= params.rows) { return; }\n    \
                   let lo = starts[i];\n    let hi = starts[i + 1u];\n    \
                   for (var a = lo + 1u; a < hi; a++) {\n        let key = order[a];\n        var b = a;\n        \
                   while (b > lo && order[b - 1u] > key) { order[b] = order[b - 1u]; b -= 1u; }\n        \
                   order[b] = key;\n    }\n}\n"
        }
        Pass::Sum => {
            format!("alias T = {};\n", wgsl_type(dtype))
                + &b(1, "out", "read_write", "T")
                + &b(2, "order", "read", "u32")
                + &b(3, "starts", "read", "u32")
                + &b(4, "g", "read", "T")
                + "fn run(i: u32, lid: u32) {\n    if (i >= params.rows * params.width) { return; }\n    \
                   let v = i / params.width;\n    let d = i % params.width;\n    var acc = 0.0;\n    \
                   for (var k = starts[v]; k < starts[v + 1u]; k++) {\n        \
                   acc += f32(g[params.g_offset + order[k] * params.g_row_stride + d * params.g_col_stride]);\n    }\n    \
                   out[i] = T(acc);\n}\n"
        }
    };
    shaders::compose(&[dtype, id_dtype], &format!("{}{body}", Params::WGSL), shaders::INDEX_ADD)
}

fn zeros(gpu: &GpuDevice, n: usize) -> PooledBuffer {
    super::generated(gpu, n, DType::U32, "s", 0)
}

/// `out[v, :] = sum of g[l, :] over ids[l] == v` (in increasing l) for a table of `rows`
/// rows; `g` is a `[L, D]` view, `ids` a `[L]` view of u32/i32 (validated by the forward).
pub fn index_add_rows(gpu: &GpuDevice, g: Operand, ids: Operand, rows: usize) -> PooledBuffer {
    let (l, width) = (g.layout.dims()[0], g.layout.dims()[1]);
    let out = gpu.output_buffer((rows * width * g.dtype.size_in_bytes()) as u64);
    if rows * width == 0 {
        return out;
    }
    if l == 0 {
        let m = elementwise::Map { expr: "s", inputs: &[], scalar_dtype: g.dtype, scalar: 0 };
        elementwise::map_into(gpu, &m, &out, &Layout::contiguous([rows * width]), g.dtype);
        return out;
    }
    let u = |v: usize| to_u32(v, "index_add");
    let params = Params {
        ids: u(l),
        rows: u(rows),
        width: u(width),
        id_offset: u(ids.layout.offset()),
        id_stride: u(ids.layout.strides()[0]),
        g_offset: u(g.layout.offset()),
        g_row_stride: u(g.layout.strides()[0]),
        g_col_stride: u(g.layout.strides()[1]),
    };
    let counts = zeros(gpu, rows + 1);
    let starts = gpu.output_buffer(((rows + 1) * 4) as u64);
    let order = gpu.output_buffer((l * 4) as u64);
    let run = |pass: Pass, buffers: &[&PooledBuffer], n: usize| {
        gpu.launch(KernelLaunch::new(
            KernelKey::IndexAdd { pass, dtype: g.dtype, ids: ids.dtype },
            &params,
            buffers,
            shaders::linear_workgroups(n, WG),
        ));
    };
    run(Pass::Count, &[&counts, ids.buffer], l);
    run(Pass::Scan, &[&starts, &counts], 1);
    let cursor = zeros(gpu, rows + 1);
    run(Pass::Place, &[&order, &cursor, &starts, ids.buffer], l);
    run(Pass::Sort, &[&order, &starts], rows);
    run(Pass::Sum, &[&out, &order, &starts, g.buffer], rows * width);
    out
}
