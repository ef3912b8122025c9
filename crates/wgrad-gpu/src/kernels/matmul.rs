//! Launcher for shaders/matmul.wgsl (CPU reference: wgrad_cpu::matmul).

use super::{to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::{GpuDevice, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 8;
const TILE: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a: [u32; 4],
    b: [u32; 4],
}

/// The WGSL module for element type `dtype`.
pub fn source(dtype: DType) -> String {
    let prelude = format!(
        "alias T = {};\n\
         @group(0) @binding(1) var<storage, read_write> out: array<T>;\n\
         @group(0) @binding(2) var<storage, read> a: array<T>;\n\
         @group(0) @binding(3) var<storage, read> b: array<T>;\n",
        wgsl_type(dtype)
    );
    shaders::compose(&[dtype], &prelude, shaders::MATMUL)
}

/// `a @ b` with `a` viewed as `[batch, m, k]` and `b` as `[batch, k, n]` (rank-3
/// layouts, any strides). Returns a contiguous `[batch, m, n]` buffer.
pub fn matmul(gpu: &GpuDevice, a: Operand, b: Operand) -> PooledBuffer {
    let (la, lb) = (a.layout, b.layout);
    let [batch, m, k] = [la.dims()[0], la.dims()[1], la.dims()[2]];
    let n = lb.dims()[2];
    assert_eq!(lb.dims(), &[batch, k, n], "matmul launcher: operand layouts disagree");
    let out = gpu.output_buffer((batch * m * n * a.dtype.size_in_bytes()) as u64);
    if batch * m * n == 0 {
        return out;
    }
    if k == 0 {
        super::elementwise::map_into(
            gpu,
            &super::elementwise::Map { expr: "0.0", inputs: &[], scalar_dtype: DType::F32, scalar: 0 },
            &out,
            &wgrad_core::Layout::contiguous([batch * m * n]),
            a.dtype,
        );
        return out;
    }
    let view = |l: &wgrad_core::Layout| {
        let s = l.strides();
        [l.offset(), s[0], s[1], s[2]].map(|v| to_u32(v, "matmul"))
    };
    let params = Params {
        m: to_u32(m, "matmul"),
        n: to_u32(n, "matmul"),
        k: to_u32(k, "matmul"),
        batch: to_u32(batch, "matmul"),
        a: view(la),
        b: view(lb),
    };
    assert!(batch <= 65535, "matmul: batch {batch} exceeds the 65535 workgroups of one dispatch");
    let groups_x = n.div_ceil(TILE).div_ceil(WG as usize) as u32;
    let groups_y = m.div_ceil(TILE).div_ceil(WG as usize) as u32;
    gpu.launch(KernelLaunch {
        key: format!("matmul|{}", a.dtype.name()),
        source: &|| source(a.dtype),
        params: bytemuck::bytes_of(&params),
        buffers: &[&out, a.buffer, b.buffer],
        uses_errors: false,
        workgroups: [groups_x, groups_y, batch as u32],
    });
    out
}
