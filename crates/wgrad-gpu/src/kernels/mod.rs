//! Launchers, one module per kernel family in `shaders/`. Each composes its family's
//! WGSL for the dtypes and op at hand, packs the parameter block, and records a
//! dispatch on the [`GpuDevice`](crate::GpuDevice). The CPU reference for each lives
//! in wgrad-cpu under the same name.

pub mod attention;
pub mod attention_backward;
pub mod conv;
pub mod conv_grad_weight;
pub mod elementwise;
pub mod gather;
pub mod index_add;
pub mod layer_norm;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod rnn;
pub mod scan;
pub mod softmax;
pub mod sort;

use crate::{KernelKey, PooledBuffer};
use wgrad_core::{DType, Layout};

/// A kernel input: a buffer viewed through a layout.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub buffer: &'a PooledBuffer,
    pub layout: &'a Layout,
    pub dtype: DType,
}

/// Packs up to 8 dims into the `array<vec4<u32>, 2>` the shaders read; panics past 8.
pub(crate) fn pack8(values: &[usize], what: &str) -> [u32; 8] {
    assert!(values.len() <= 8, "{what}: more than 8 non-collapsible dims ({values:?})");
    let mut out = [0u32; 8];
    for (o, &v) in out.iter_mut().zip(values) {
        *o = to_u32(v, what);
    }
    out
}

/// Narrows an index or size to the u32 the shaders use; panics past 2^32.
pub(crate) fn to_u32(v: usize, what: &str) -> u32 {
    u32::try_from(v).unwrap_or_else(|_| panic!("{what}: {v} does not fit the GPU's 32-bit indexing"))
}

/// Every kernel the launchers can run: each op x dtype x variant, and representative
/// specialisations of the conv kernels, for validation by `cargo xtask check-shaders` and
/// the naga test.
pub fn all_kernels() -> Vec<KernelKey> {
    use wgrad_core::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
    use KernelKey as K;
    let floats = [DType::F32, DType::F16];
    let all = [DType::F32, DType::F16, DType::U32, DType::I32];
    let mut out = Vec::new();
    let map = |expr: &str, inputs: &[DType], out_dtype: DType| {
        let scalar_dtype = inputs.first().copied().unwrap_or(out_dtype);
        K::elementwise(expr, inputs.iter().copied(), out_dtype, scalar_dtype)
    };
    for d in all {
        for op in UnaryOp::ALL.into_iter().filter(|op| d.is_float() || op.supports_int()) {
            out.push(map(&elementwise::unary_expr(op, d), &[d], d));
        }
        if d.is_float() {
            for op in UnaryOp::ALL {
                out.push(map(elementwise::unary_grad_expr(op), &[d, d], d));
            }
        }
        for op in BinaryOp::ALL.into_iter().filter(|op| d.is_float() || *op != BinaryOp::Pow) {
            out.push(map(&elementwise::binary_expr(op, d, "b"), &[d, d], d));
            out.push(map(&elementwise::binary_expr(op, d, "s"), &[d], d));
        }
        for op in CmpOp::ALL {
            out.push(map(&elementwise::cmp_expr(op, d), &[d, d], DType::U32));
        }
        out.push(map(&elementwise::where_expr(DType::U32), &[DType::U32, d, d], d));
        out.push(map(&elementwise::where_expr(d), &[d, DType::F32, DType::F32], DType::F32));
        out.push(map("s", &[], d));
        for to in all {
            out.push(map("a", &[d], to));
        }
        for op in ReduceOp::ALL.into_iter().filter(|op| d.is_float() || *op != ReduceOp::Mean) {
            for strategy in [reduce::Strategy::Workgroup, reduce::Strategy::Rows] {
                out.push(K::Reduce { op, dtype: d, strategy });
            }
        }
        for ids in [DType::U32, DType::I32] {
            out.push(K::Gather { dtype: d, ids });
            if d.is_float() {
                out.push(K::GatherBackward { dtype: d, ids });
                use index_add::Pass;
                for pass in [Pass::Count, Pass::Scan, Pass::Place, Pass::Sort, Pass::Sum] {
                    out.push(K::IndexAdd { pass, dtype: d, ids });
                }
            }
        }
        if d.is_float() {
            out.extend([
                K::LstmCell { dtype: d },
                K::LstmCellBackward { dtype: d },
                K::GruCell { dtype: d },
                K::GruCellBackward { dtype: d },
            ]);
            for mask in [attention::MaskKind::None, attention::MaskKind::Keep, attention::MaskKind::Additive] {
                // The vec4 kernels are f32 only.
                for vec4 in [false, true].into_iter().filter(|&v| !v || d == DType::F32) {
                    out.push(K::Attention { dtype: d, mask, vec4 });
                    for pass in [attention_backward::Pass::Dq, attention_backward::Pass::DkDv] {
                        out.push(K::AttentionBackward { pass, dtype: d, mask, vec4 });
                    }
                }
            }
            for log in [false, true] {
                out.push(K::Softmax { dtype: d, log });
                out.push(K::SoftmaxBackward { dtype: d, log });
            }
        }
    }
    for d in floats {
        out.push(K::Matmul { dtype: d });
        for rows in [1, 2, 4, 8] {
            out.push(K::MatmulFewRows { dtype: d, rows });
        }
    }
    for tensors in 1..=6 {
        out.push(K::Adam { tensors });
    }
    out.extend([K::LayerNorm, K::LayerNormBackward, K::SortStep]);
    for dtype in [DType::F32, DType::I32, DType::U32] {
        for flag in [false, true] {
            out.push(K::SortInit { dtype, descending: flag });
            out.push(K::Cumsum { dtype, reverse: flag });
        }
    }
    out.extend(conv::variants());
    out.extend(conv_grad_weight::variants());
    out.extend(pool::variants());
    use matmul::Vec4Axis::{Outer, K as AlongK};
    for (a, b) in [(AlongK, Outer), (AlongK, AlongK), (Outer, Outer), (Outer, AlongK)] {
        out.push(K::MatmulRegisterBlocked { a, b });
        for tile in [matmul::Tile::DEFAULT, matmul::Tile { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 }] {
            out.push(K::MatmulTiled { a, b, tile });
        }
    }
    out
}

/// Every composed module the launchers can produce (name, WGSL): [`all_kernels`], named
/// by their keys.
pub fn all_variants() -> Vec<(String, String)> {
    all_kernels().into_iter().map(|k| (k.to_string(), k.source())).collect()
}

/// A new buffer of `len` elements of `dtype`, element `i` being the WGSL expression `expr`
/// of `i` and the scalar `s` (`scalar`'s bits, of `dtype`): fills, initial values and ones
/// made on the device, so a step uploads nothing (`"s"` is a fill).
pub fn generated(gpu: &crate::GpuDevice, len: usize, dtype: DType, expr: &str, scalar: u32) -> crate::PooledBuffer {
    let m = elementwise::Map { expr, inputs: &[], scalar_dtype: dtype, scalar };
    elementwise::map(gpu, &m, &[len], dtype)
}
