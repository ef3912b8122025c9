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

use crate::PooledBuffer;
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

/// Every composed module the launchers can produce (name, WGSL), for validation by
/// `cargo xtask check-shaders` and the naga test.
pub fn all_variants() -> Vec<(String, String)> {
    use wgrad_core::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
    let floats = [DType::F32, DType::F16];
    let all = [DType::F32, DType::F16, DType::U32, DType::I32];
    let mut out = Vec::new();
    let map = |name: String, expr: &str, inputs: &[DType], out_dtype: DType| {
        let scalar_dtype = inputs.first().copied().unwrap_or(out_dtype);
        (name, elementwise::source_for(expr, inputs, out_dtype, scalar_dtype))
    };
    for d in all {
        for op in UnaryOp::ALL.into_iter().filter(|op| d.is_float() || op.supports_int()) {
            out.push(map(format!("unary {} {d}", op.name()), &elementwise::unary_expr(op, d), &[d], d));
        }
        if d.is_float() {
            for op in UnaryOp::ALL {
                out.push(map(format!("unary grad {} {d}", op.name()), elementwise::unary_grad_expr(op), &[d, d], d));
            }
        }
        for op in BinaryOp::ALL.into_iter().filter(|op| d.is_float() || *op != BinaryOp::Pow) {
            out.push(map(format!("binary {} {d}", op.name()), &elementwise::binary_expr(op, d, "b"), &[d, d], d));
            out.push(map(format!("scalar {} {d}", op.name()), &elementwise::binary_expr(op, d, "s"), &[d], d));
        }
        for op in CmpOp::ALL {
            out.push(map(format!("cmp {} {d}", op.name()), &elementwise::cmp_expr(op, d), &[d, d], DType::U32));
        }
        out.push(map(format!("where {d}"), &elementwise::where_expr(DType::U32), &[DType::U32, d, d], d));
        out.push(map(format!("where by {d}"), &elementwise::where_expr(d), &[d, DType::F32, DType::F32], DType::F32));
        out.push(map(format!("fill {d}"), "s", &[], d));
        for to in all {
            out.push(map(format!("cast {d}->{to}"), "a", &[d], to));
        }
        for op in ReduceOp::ALL.into_iter().filter(|op| d.is_float() || *op != ReduceOp::Mean) {
            for strategy in [reduce::Strategy::Workgroup, reduce::Strategy::Rows] {
                out.push((format!("reduce {} {d} {strategy:?}", op.name()), reduce::source(op, d, strategy)));
            }
        }
        for ids in [DType::U32, DType::I32] {
            out.push((format!("gather {d} by {ids}"), gather::source(d, ids)));
            if d.is_float() {
                out.push((format!("gather backward {d} by {ids}"), gather::backward_source(d, ids)));
                use index_add::Pass;
                for pass in [Pass::Count, Pass::Scan, Pass::Place, Pass::Sort, Pass::Sum] {
                    out.push((format!("index_add {pass:?} {d} by {ids}"), index_add::source(pass, d, ids)));
                }
            }
        }
        if d.is_float() {
            out.push((format!("lstm_cell {d}"), rnn::source(d)));
            out.push((format!("lstm_cell_backward {d}"), rnn::backward_source(d)));
            out.push((format!("gru_cell {d}"), rnn::gru_source(d)));
            out.push((format!("gru_cell_backward {d}"), rnn::gru_backward_source(d)));
            for m in [attention::MaskKind::None, attention::MaskKind::Keep, attention::MaskKind::Additive] {
                out.push((format!("attention {m:?} {d}"), attention::source(d, m)));
                if d == DType::F32 {
                    out.push((format!("attention_vec4 {m:?}"), attention::vec4_source(m)));
                }
                for pass in [attention_backward::Pass::Dq, attention_backward::Pass::DkDv] {
                    let name = format!("attention_backward {pass:?} {m:?} {d}");
                    out.push((name, attention_backward::source(pass, d, m, false)));
                    if d == DType::F32 {
                        let name = format!("attention_backward vec4 {pass:?} {m:?}");
                        out.push((name, attention_backward::source(pass, d, m, true)));
                    }
                }
            }
            for log in [false, true] {
                out.push((format!("softmax log={log} {d}"), softmax::source(d, log)));
                out.push((format!("softmax backward log={log} {d}"), softmax::backward_source(d, log)));
            }
        }
    }
    for d in floats {
        out.push((format!("matmul {d}"), matmul::source(d)));
        for rows in [1, 2, 4, 8] {
            out.push((format!("matmul FewRows rows={rows} {d}"), matmul::rows_source(d, rows)));
        }
    }
    for tensors in 1..=6 {
        out.push((format!("adam {tensors}"), optim::source(tensors)));
    }
    out.push(("layer_norm".into(), layer_norm::source()));
    for dtype in [DType::F32, DType::I32, DType::U32] {
        for flag in [false, true] {
            out.push((format!("sort_init {dtype:?} {flag}"), sort::init_source(dtype, flag)));
            out.push((format!("cumsum {dtype:?} {flag}"), scan::source(dtype, flag)));
        }
    }
    out.push(("sort_step".into(), sort::step_source()));
    out.push(("layer_norm backward".into(), layer_norm::backward_source()));
    out.extend(conv::variants());
    out.extend(conv_grad_weight::variants());
    out.extend(pool::variants());
    use matmul::Vec4Axis::{Outer, K};
    for (a, b) in [(K, Outer), (K, K), (Outer, Outer), (Outer, K)] {
        let blocked = matmul::Variant::RegisterBlocked;
        out.push((
            format!("matmul {blocked:?} {a:?} {b:?}"),
            matmul::vec4_source(blocked, a, b, matmul::Tile::DEFAULT),
        ));
        for tile in [matmul::Tile::DEFAULT, matmul::Tile { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 }] {
            let source = matmul::vec4_source(matmul::Variant::Tiled, a, b, tile);
            out.push((format!("matmul Tiled {a:?} {b:?} {tile:?}"), source));
        }
    }
    out
}

/// A new buffer of `len` elements of `dtype`, element `i` being the WGSL expression `expr`
/// of `i` and the scalar `s` (`scalar`'s bits, of `dtype`): fills, initial values and ones
/// made on the device, so a step uploads nothing (`"s"` is a fill).
pub fn generated(gpu: &crate::GpuDevice, len: usize, dtype: DType, expr: &str, scalar: u32) -> crate::PooledBuffer {
    let m = elementwise::Map { expr, inputs: &[], scalar_dtype: dtype, scalar };
    elementwise::map(gpu, &m, &[len], dtype)
}
