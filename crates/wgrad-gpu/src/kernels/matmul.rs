//! Launcher for the matmul kernels: shaders/matmul.wgsl (any strides), matmul_vec4.wgsl
//! and matmul_tiled.wgsl (vec4-aligned operands, by adapter class) and matmul_rows.wgsl
//! (few rows, any strides). CPU reference: wgrad_cpu::matmul.

use super::{to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

/// The outputs each invocation of a block kernel computes (matmul_block.wgsl's entry),
/// and its workgroup shape: declared here once, for the WGSL prelude and the grid.
#[derive(Debug, Clone, Copy)]
struct BlockShape {
    rows: usize,
    cols: usize,
    wg: [usize; 2],
}

impl BlockShape {
    /// matmul.wgsl: 4 x 4 outputs per invocation.
    const GENERIC: BlockShape = BlockShape { rows: 4, cols: 4, wg: [8, 8] };
    /// matmul_vec4.wgsl: 16 x 32.
    const REGISTER_BLOCKED: BlockShape = BlockShape { rows: 16, cols: 32, wg: [8, 8] };

    /// matmul_rows.wgsl: `rows` x 4, in rows of 64 invocations along N.
    fn few_rows(rows: usize) -> BlockShape {
        BlockShape { rows, cols: 4, wg: [64, 1] }
    }

    /// The constants matmul_block.wgsl reads.
    fn prelude(&self) -> String {
        let BlockShape { rows, cols, wg: [x, y] } = self;
        format!("const BLOCK_ROWS: u32 = {rows}u;\nconst BLOCK_COLS: u32 = {cols}u;\nconst WG_X: u32 = {x}u;\nconst WG_Y: u32 = {y}u;\n")
    }

    /// Workgroups covering `batch` products of `m` x `n` outputs.
    fn grid(&self, batch: usize, m: usize, n: usize) -> [u32; 3] {
        [n.div_ceil(self.cols * self.wg[0]), m.div_ceil(self.rows * self.wg[1]), batch].map(|g| to_u32(g, "matmul"))
    }
}

uniform_params! {
    /// The block of every matmul kernel: a `batch` of `[m, k] @ [k, n]` products, each
    /// operand's element offset (in its bound window) and batch, row and column strides.
    struct Params {
        m: u32, n: u32, k: u32, batch: u32,
        a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,
        b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,
        // k_chunk: K per split of the tiled kernel (0: no split).
        k_chunk: u32,
    }
}

/// Which axis of an operand is contiguous, for the vec4 kernel: A is [m, k], B is [k, n].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vec4Axis {
    /// Contiguous along k (A row-major, or B transposed).
    K,
    /// Contiguous along m (A transposed) or n (B row-major).
    Outer,
}

/// Which kernel runs a product. RegisterBlocked and Tiled need operands that allow vec4
/// loads (otherwise matmul.wgsl runs); FewRows takes any layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// matmul_vec4.wgsl: registers only (what software adapters run fastest).
    RegisterBlocked,
    /// matmul_tiled.wgsl: workgroup-memory tiles (hardware GPUs).
    Tiled,
    /// matmul_rows.wgsl: up to 8 rows x 4 columns per invocation, a workgroup along N;
    /// chosen on every adapter when M <= [`FEW_ROWS_MAX`] and the operands do not allow
    /// the vec4 kernels (which beat it on lavapipe even at M = 32).
    FewRows,
}

/// Largest M (rows of the product) that picks [`Variant::FewRows`] by itself (for
/// operands the vec4 kernels cannot read).
pub const FEW_ROWS_MAX: usize = 32;

/// The variant for a product with `m` rows (`vec4`: its operands allow the vec4 kernels):
/// the device's [`crate::KernelPolicy`] if it names one, else few-rows for small `m` that
/// the vec4 kernels cannot take, else by adapter class. Measured on lavapipe: at M = 32
/// with vec4 operands the register-blocked kernel is ~4.8x faster than few-rows, at M = 1
/// few-rows is ~2x faster than matmul.wgsl.
fn variant(gpu: &GpuDevice, m: usize, vec4: bool) -> Variant {
    match gpu.policy().matmul {
        Some(v) => v,
        None if m <= FEW_ROWS_MAX && !vec4 => Variant::FewRows,
        None if gpu.ctx.is_software() => Variant::RegisterBlocked,
        None => Variant::Tiled,
    }
}

/// The tile shape of matmul_tiled.wgsl: a workgroup computes `bm x bn` outputs walking K
/// `bk` at a time, each of its `(bm / tm) * (bn / tn)` threads a `tm x tn` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Rows of the workgroup's output tile.
    pub bm: usize,
    /// Columns of the workgroup's output tile.
    pub bn: usize,
    /// Depth of the K slice staged in workgroup memory per step.
    pub bk: usize,
    /// Rows per thread.
    pub tm: usize,
    /// Columns per thread.
    pub tn: usize,
}

impl Tile {
    /// The tile hardware GPUs run: 64 x 64 outputs per workgroup of 128 threads, 8 x 4
    /// each, K in slices of 16. Measured on an NVIDIA H200 (Vulkan) against 20 other
    /// shapes (docs/PERFORMANCE.md): best or within 2% of best at 1024^3 (20.5 TFLOP/s),
    /// 4096^3 (32.7) and the BERT forward W9, where 128 x 128 tiles lose 40% at 1024^3
    /// (64 workgroups leave half the multiprocessors idle).
    pub const DEFAULT: Tile = Tile { bm: 64, bn: 64, bk: 16, tm: 8, tn: 4 };

    /// Parses `bm,bn,bk,tm,tn`; None unless every size is a multiple of 4, `tm | bm`,
    /// `tn | bn`, the workgroup has 32..=1024 threads and its tiles fit WebGPU's default
    /// 16 KiB of workgroup memory.
    pub fn parse(s: &str) -> Option<Tile> {
        let v: Vec<usize> = s.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
        let [bm, bn, bk, tm, tn] = v[..] else { return None };
        let t = Tile { bm, bn, bk, tm, tn };
        let ok = v.iter().all(|x| *x > 0 && x.is_multiple_of(4))
            && bm.is_multiple_of(tm)
            && bn.is_multiple_of(tn)
            && (32..=1024).contains(&t.threads())
            && (bm + bn) * bk * 4 <= 16384;
        ok.then_some(t)
    }

    /// Threads per workgroup.
    pub fn threads(&self) -> usize {
        (self.bm / self.tm) * (self.bn / self.tn)
    }
}

/// The tiled kernel splits K when a product has fewer tiles than this (about two per
/// multiprocessor of a large GPU)...
const SPLIT_K_WORKGROUPS: usize = 256;
/// ...keeping at least this much of K per split. Weight gradients ([in, tokens] @
/// [tokens, out]) are the case: W8's [128 x 4096] @ [4096 x 128] made 4 workgroups that
/// each walked all of K.
const SPLIT_K_MIN_DEPTH: usize = 128;

/// (splits, K per split) for a `batch x m x n x k` product on the tiled kernel: one split
/// (and 0) unless the product has too few tiles for the GPU.
fn k_splits(tile: Tile, batch: usize, m: usize, n: usize, k: usize) -> (usize, usize) {
    let tiles = batch * m.div_ceil(tile.bm) * n.div_ceil(tile.bn);
    let splits = (k / SPLIT_K_MIN_DEPTH).min(SPLIT_K_WORKGROUPS.div_ceil(tiles)).min(65535 / batch.max(1));
    if splits <= 1 {
        return (1, 0);
    }
    let chunk = k.div_ceil(splits).next_multiple_of(tile.bk);
    (k.div_ceil(chunk), chunk)
}

/// Rows per invocation of the few-rows kernel for a product with `m` rows.
fn few_rows_block(m: usize) -> usize {
    m.clamp(1, 8).next_power_of_two()
}

/// The WGSL module of the few-rows kernel for element type `dtype`, `rows` rows per
/// invocation (1, 2, 4 or 8).
pub fn rows_source(dtype: DType, rows: usize) -> String {
    let prelude = format!("{}{}", scalar_prelude(dtype), BlockShape::few_rows(rows).prelude());
    shaders::compose(&[dtype], &prelude, shaders::MATMUL_ROWS)
}

/// The WGSL module of the vec4 kernel `v` for operand orientations `a`, `b` (`tile`: the
/// tiled kernel's tile shape; the register-blocked kernel ignores it).
pub fn vec4_source(v: Variant, a: Vec4Axis, b: Vec4Axis, tile: Tile) -> String {
    let (load_a, load_b) = (vec4_load("a", a), vec4_load("b", b));
    let Tile { bm, bn, bk, tm, tn } = tile;
    let prelude = format!(
        "{params}const BM: u32 = {bm}u;\nconst BN: u32 = {bn}u;\nconst BK: u32 = {bk}u;\nconst TM: u32 = {tm}u;\nconst TN: u32 = {tn}u;\n\
         {bindings}\
         fn load_a(row0: u32, k: u32, base: u32) -> mat4x4<f32> {{\n    {load_a}\n}}\n\
         fn load_b(col0: u32, k: u32, base: u32) -> mat4x4<f32> {{\n    {load_b}\n}}\n",
        params = Params::WGSL,
        bindings = shaders::storage_bindings(&[
            ("out", "read_write", "f32"),
            ("a", "read", "vec4<f32>"),
            ("b", "read", "vec4<f32>")
        ])
    );
    let (file, prelude) = match v {
        Variant::RegisterBlocked => (shaders::MATMUL_VEC4, prelude + &BlockShape::REGISTER_BLOCKED.prelude()),
        Variant::Tiled => (shaders::MATMUL_TILED, prelude),
        Variant::FewRows => unreachable!("the few-rows kernel has no vec4 form (see rows_source)"),
    };
    shaders::compose(&[DType::F32], &prelude, file)
}

/// The body of `load_a` or `load_b` (`m`) for an operand of orientation `axis`: the 4x4
/// block at its outer index (A's row `row0`, B's column `col0`) and `k`, as four vec4 loads
/// along the contiguous axis `d` vectors apart, transposed where they ran along the other.
fn vec4_load(m: &str, axis: Vec4Axis) -> String {
    // A's outer axis is its rows (stride a_row, k along a_col); B's its columns (b_col, k along b_row).
    let (outer, outer_stride, k_stride) =
        if m == "a" { ("row0", "a_row", "a_col") } else { ("col0", "b_col", "b_row") };
    let (step, first) = match axis {
        Vec4Axis::K => (outer_stride, format!("{outer} * s + k")),
        Vec4Axis::Outer => (k_stride, format!("{outer} + k * s")),
    };
    let block = format!("mat4x4<f32>({m}[i], {m}[i + d], {m}[i + 2u * d], {m}[i + 3u * d])");
    // The kernel multiplies blocks whose columns are A's rows and B's k rows.
    let block = if (m == "a") == (axis == Vec4Axis::Outer) { format!("transpose({block})") } else { block };
    format!("let s = params.{step};\n    let i = (base + {first}) >> 2u;\n    let d = s >> 2u;\n    return {block};")
}

/// The orientation of an operand viewed `[batch, rows, cols]` if the vec4 kernel can
/// read it: one of the two matrix axes has stride 1, and every other stride, the offset
/// and the contiguous axis' size keep 4-element alignment.
fn vec4_axis(l: &wgrad_core::Layout, k_is_cols: bool) -> Option<Vec4Axis> {
    let (d, s) = (l.dims(), l.strides());
    let aligned = |v: usize| v.is_multiple_of(4);
    if !(aligned(d[1]) && aligned(d[2]) && aligned(l.offset()) && (d[0] == 1 || aligned(s[0]))) {
        return None;
    }
    let (k_stride, outer_stride) = if k_is_cols { (s[2], s[1]) } else { (s[1], s[2]) };
    if k_stride == 1 && aligned(outer_stride) {
        Some(Vec4Axis::K)
    } else if outer_stride == 1 && aligned(k_stride) {
        Some(Vec4Axis::Outer)
    } else {
        None
    }
}

/// The parameter block, `alias T` and the bindings out (1), a (2), b (3) of element type
/// `dtype`: the prelude of the kernels that read any strides.
fn scalar_prelude(dtype: DType) -> String {
    format!("{}alias T = {};\n{}", Params::WGSL, wgsl_type(dtype), shaders::io_bindings("T", &["out"], &["a", "b"]))
}

/// The WGSL module for element type `dtype`.
pub fn source(dtype: DType) -> String {
    let prelude = format!("{}{}", scalar_prelude(dtype), BlockShape::GENERIC.prelude());
    shaders::compose(&[dtype], &prelude, shaders::MATMUL)
}

/// `a @ b` with `a` viewed as `[batch, m, k]` and `b` as `[batch, k, n]` (rank-3
/// layouts, any strides). Returns a contiguous `[batch, m, n]` buffer.
pub fn matmul(gpu: &GpuDevice, a: Operand, b: Operand) -> PooledBuffer {
    let (la, lb) = (a.layout, b.layout);
    let [batch, m, k] = [la.dims()[0], la.dims()[1], la.dims()[2]];
    let n = lb.dims()[2];
    assert_eq!(lb.dims(), &[batch, k, n], "matmul launcher: operand layouts disagree");
    assert!(batch <= 65535, "matmul: batch {batch} exceeds the 65535 workgroups of one dispatch");
    let vec4 = match (a.dtype, vec4_axis(la, true), vec4_axis(lb, false)) {
        (DType::F32, Some(x), Some(y)) => Some((x, y)),
        _ => None,
    };
    let v = variant(gpu, m, vec4.is_some());
    let tile = gpu.policy().tile;
    // Split K: the kernel writes `splits` partial products, summed below.
    let (splits, k_chunk) = if v == Variant::Tiled && vec4.is_some() { k_splits(tile, batch, m, n, k) } else { (1, 0) };
    let out = gpu.output_buffer((splits * batch * m * n * a.dtype.size_in_bytes()) as u64);
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
    // Each operand is bound through the window its layout touches (tensors larger than
    // one binding are split by the caller so that every piece fits).
    let windows = [
        gpu.window(&out, a.dtype.size_in_bytes(), 0, splits * batch * m * n),
        gpu.window(a.buffer, a.dtype.size_in_bytes(), la.offset(), la.storage_extent()),
        gpu.window(b.buffer, b.dtype.size_in_bytes(), lb.offset(), lb.storage_extent()),
    ];
    let windows = match windows {
        [Ok(o), Ok(x), Ok(y)] => [o, x, y],
        [o, x, y] => {
            gpu.record_error(o.err().or(x.err()).or(y.err()).expect("one failed"));
            return out;
        }
    };
    let view = |l: &wgrad_core::Layout, w: &crate::Window| {
        let s = l.strides();
        [l.offset() - w.first_elem, s[0], s[1], s[2]].map(|v| to_u32(v, "matmul"))
    };
    let [a_offset, a_batch, a_row, a_col] = view(la, &windows[1]);
    let [b_offset, b_batch, b_row, b_col] = view(lb, &windows[2]);
    let params = Params {
        m: to_u32(m, "matmul"),
        n: to_u32(n, "matmul"),
        k: to_u32(k, "matmul"),
        batch: to_u32(batch, "matmul"),
        a_offset,
        a_batch,
        a_row,
        a_col,
        b_offset,
        b_batch,
        b_row,
        b_col,
        k_chunk: to_u32(k_chunk, "matmul"),
    };
    if v == Variant::FewRows {
        let rows = few_rows_block(m);
        gpu.launch_windowed(
            KernelLaunch::new(
                KernelKey::MatmulFewRows { dtype: a.dtype, rows: rows as u32 },
                &params,
                &[&out, a.buffer, b.buffer],
                BlockShape::few_rows(rows).grid(batch, m, n),
            ),
            &windows,
        );
        return out;
    }
    if let Some((ax, bx)) = vec4 {
        let (workgroups, key) = match v {
            Variant::RegisterBlocked => {
                (BlockShape::REGISTER_BLOCKED.grid(batch, m, n), KernelKey::MatmulRegisterBlocked { a: ax, b: bx })
            }
            Variant::Tiled => {
                let grid = [n.div_ceil(tile.bn), m.div_ceil(tile.bm), splits * batch].map(|g| to_u32(g, "matmul"));
                (grid, KernelKey::MatmulTiled { a: ax, b: bx, tile })
            }
            Variant::FewRows => unreachable!("launched above"),
        };
        gpu.launch_windowed(KernelLaunch::new(key, &params, &[&out, a.buffer, b.buffer], workgroups), &windows);
        if splits > 1 {
            let partials = wgrad_core::Layout::contiguous([splits, batch * m * n]);
            let operand = Operand { buffer: &out, layout: &partials, dtype: a.dtype };
            return super::reduce::reduce(gpu, wgrad_core::ops::ReduceOp::Sum, operand, &[0]);
        }
        return out;
    }
    let grid = BlockShape::GENERIC.grid(batch, m, n);
    gpu.launch_windowed(
        KernelLaunch::new(KernelKey::Matmul { dtype: a.dtype }, &params, &[&out, a.buffer, b.buffer], grid),
        &windows,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::Tile;

    #[test]
    fn tile_parse_accepts_valid_shapes_only() {
        assert_eq!(Tile::parse("64,64,16,8,4"), Some(Tile::DEFAULT));
        assert_eq!(Tile::parse(" 128, 128, 8, 8, 8 ").map(|t| t.threads()), Some(256));
        for bad in ["64,64,16,8", "64,64,16,8,4,4", "64,64,16,6,4", "64,64,0,8,4", "64,60,16,8,8", "8,8,4,8,8"] {
            assert_eq!(Tile::parse(bad), None, "{bad}");
        }
        // 2048 threads, and tiles needing 32 KiB of workgroup memory.
        assert_eq!(Tile::parse("256,128,4,4,4"), None);
        assert_eq!(Tile::parse("128,128,32,8,8"), None);
    }
}
