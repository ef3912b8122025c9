//! [`KernelKey`]: which composed WGSL module a launch runs, as a value.

use crate::kernels::{
    attention, attention_backward, conv, conv_grad_weight, elementwise, gather, index_add, layer_norm, matmul, optim,
    pool, reduce, rnn, scan, softmax, sort,
};
use std::fmt;
use std::sync::Arc;
use wgrad_core::ops::ReduceOp;
use wgrad_core::DType;

/// Identifies one composed kernel module: one variant per kernel (a family file and what
/// its launcher generates in front of it), carrying exactly what selects the source, so
/// that equal keys always mean equal modules. The device caches one pipeline per key,
/// [`KernelKey::source`] composes the module on a cache miss, and `Display` names it in
/// pipeline labels and in [`crate::GpuDevice::profile`].
///
/// Only the elementwise variant allocates (its expression, shared by clones); every other
/// key is a few bytes of plain data.
///
/// [`KernelKind`] (generated) names the variants without their data, and lists them all
/// (`KernelKind::iter()`): the naga test checks that [`crate::kernels::all_kernels`] has a
/// key of each.
#[derive(Clone, Debug, PartialEq, Eq, Hash, strum::EnumDiscriminants)]
#[strum_discriminants(name(KernelKind), derive(Hash, strum::EnumIter))]
#[strum_discriminants(doc = "A [`KernelKey`] variant without its data: which kernel family a key runs.")]
pub enum KernelKey {
    /// elementwise.wgsl: `out = expr(a, b, c, s)` with inputs of `inputs` (up to three,
    /// in order), output `out`, scalar `s` of `scalar`.
    Elementwise { expr: Arc<str>, inputs: [Option<DType>; 3], out: DType, scalar: DType },
    /// reduce.wgsl with reduce_workgroup.wgsl or reduce_rows.wgsl.
    Reduce { op: ReduceOp, dtype: DType, strategy: reduce::Strategy },
    /// matmul.wgsl (any strides).
    Matmul { dtype: DType },
    /// matmul_rows.wgsl, `rows` rows per invocation (1, 2, 4 or 8).
    MatmulFewRows { dtype: DType, rows: u32 },
    /// matmul_vec4.wgsl (f32) for operand orientations `a`, `b`.
    MatmulRegisterBlocked { a: matmul::Vec4Axis, b: matmul::Vec4Axis },
    /// matmul_tiled.wgsl (f32) for operand orientations `a`, `b` and a tile shape.
    MatmulTiled { a: matmul::Vec4Axis, b: matmul::Vec4Axis, tile: matmul::Tile },
    /// gather.wgsl.
    Gather { dtype: DType, ids: DType },
    /// gather_backward.wgsl.
    GatherBackward { dtype: DType, ids: DType },
    /// One pass of index_add.wgsl.
    IndexAdd { pass: index_add::Pass, dtype: DType, ids: DType },
    /// sort_init.wgsl.
    SortInit { dtype: DType, descending: bool },
    /// sort_step.wgsl.
    SortStep,
    /// cumsum.wgsl.
    Cumsum { dtype: DType, reverse: bool },
    /// softmax.wgsl (`log`: log-softmax).
    Softmax { dtype: DType, log: bool },
    /// softmax_backward.wgsl.
    SoftmaxBackward { dtype: DType, log: bool },
    /// layer_norm.wgsl (f32).
    LayerNorm,
    /// layer_norm_backward.wgsl (f32).
    LayerNormBackward,
    /// attention.wgsl, or attention_vec4.wgsl (f32 only) when `vec4`.
    Attention { dtype: DType, mask: attention::MaskKind, vec4: bool },
    /// One pass of the attention backward (attention_backward_*.wgsl), `vec4` as above.
    AttentionBackward { pass: attention_backward::Pass, dtype: DType, mask: attention::MaskKind, vec4: bool },
    /// adam.wgsl with bindings for `tensors` tensors.
    Adam { tensors: u32 },
    /// lstm_cell.wgsl.
    LstmCell { dtype: DType },
    /// lstm_cell_backward.wgsl.
    LstmCellBackward { dtype: DType },
    /// gru_cell.wgsl.
    GruCell { dtype: DType },
    /// gru_cell_backward.wgsl.
    GruCellBackward { dtype: DType },
    /// conv2d.wgsl specialised on `Consts`.
    Conv2d(conv::Consts),
    /// conv2d_pack.wgsl.
    Conv2dPack,
    /// conv2d_grad_weight.wgsl specialised on `Consts`.
    Conv2dGradWeight(conv::Consts),
    /// pad_rows.wgsl.
    PadRows,
    /// pool2d.wgsl, max pooling (with indices) or average.
    Pool2d { max: bool },
    /// pool2d_backward.wgsl (average pooling).
    Pool2dBackward,
    /// max_pool2d_bounds.wgsl.
    MaxPool2dBounds,
    /// max_pool2d_backward.wgsl.
    MaxPool2dBackward,
}

impl KernelKey {
    /// The key of an elementwise map of `expr` over inputs of the dtypes `inputs` (at most
    /// three).
    pub fn elementwise(expr: &str, inputs: impl IntoIterator<Item = DType>, out: DType, scalar: DType) -> KernelKey {
        let mut slots = [None; 3];
        for (k, d) in inputs.into_iter().enumerate() {
            assert!(k < 3, "elementwise: at most three inputs");
            slots[k] = Some(d);
        }
        KernelKey::Elementwise { expr: expr.into(), inputs: slots, out, scalar }
    }

    /// The WGSL module this key names (composed by its launcher module).
    pub fn source(&self) -> String {
        use KernelKey as K;
        match self {
            K::Elementwise { expr, inputs, out, scalar } => {
                let inputs: Vec<DType> = inputs.iter().flatten().copied().collect();
                elementwise::source_for(expr, &inputs, *out, *scalar)
            }
            K::Reduce { op, dtype, strategy } => reduce::source(*op, *dtype, *strategy),
            K::Matmul { dtype } => matmul::source(*dtype),
            K::MatmulFewRows { dtype, rows } => matmul::rows_source(*dtype, *rows as usize),
            K::MatmulRegisterBlocked { a, b } => {
                matmul::vec4_source(matmul::Variant::RegisterBlocked, *a, *b, matmul::Tile::DEFAULT)
            }
            K::MatmulTiled { a, b, tile } => matmul::vec4_source(matmul::Variant::Tiled, *a, *b, *tile),
            K::Gather { dtype, ids } => gather::source(*dtype, *ids),
            K::GatherBackward { dtype, ids } => gather::backward_source(*dtype, *ids),
            K::IndexAdd { pass, dtype, ids } => index_add::source(*pass, *dtype, *ids),
            K::SortInit { dtype, descending } => sort::init_source(*dtype, *descending),
            K::SortStep => sort::step_source(),
            K::Cumsum { dtype, reverse } => scan::source(*dtype, *reverse),
            K::Softmax { dtype, log } => softmax::source(*dtype, *log),
            K::SoftmaxBackward { dtype, log } => softmax::backward_source(*dtype, *log),
            K::LayerNorm => layer_norm::source(),
            K::LayerNormBackward => layer_norm::backward_source(),
            K::Attention { dtype, mask, vec4 } => attention::source(*dtype, *mask, *vec4),
            K::AttentionBackward { pass, dtype, mask, vec4 } => attention_backward::source(*pass, *dtype, *mask, *vec4),
            K::Adam { tensors } => optim::source(*tensors as usize),
            K::LstmCell { dtype } => rnn::source(*dtype),
            K::LstmCellBackward { dtype } => rnn::backward_source(*dtype),
            K::GruCell { dtype } => rnn::gru_source(*dtype),
            K::GruCellBackward { dtype } => rnn::gru_backward_source(*dtype),
            K::Conv2d(k) => conv::source(*k),
            K::Conv2dPack => conv::pack_source(),
            K::Conv2dGradWeight(k) => conv_grad_weight::source(*k),
            K::PadRows => conv_grad_weight::pad_rows_source(),
            K::Pool2d { max } => pool::source(*max),
            K::Pool2dBackward => pool::backward_source(),
            K::MaxPool2dBounds => pool::max_bounds_source(),
            K::MaxPool2dBackward => pool::max_backward_source(),
        }
    }
}

/// `family|what selects the module`, e.g. `reduce|sum|f32|Workgroup`.
impl fmt::Display for KernelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KernelKey as K;
        match self {
            K::Elementwise { expr, inputs, out, scalar } => {
                write!(f, "elementwise|{expr}|")?;
                for (k, d) in inputs.iter().flatten().enumerate() {
                    write!(f, "{}{d}", if k == 0 { "" } else { "," })?;
                }
                write!(f, "|{out}|{scalar}")
            }
            K::Reduce { op, dtype, strategy } => write!(f, "reduce|{}|{dtype}|{strategy:?}", op.name()),
            K::Matmul { dtype } => write!(f, "matmul|{dtype}"),
            K::MatmulFewRows { dtype, rows } => write!(f, "matmul|FewRows|{rows}|{dtype}"),
            K::MatmulRegisterBlocked { a, b } => write!(f, "matmul|RegisterBlocked|{a:?}|{b:?}"),
            K::MatmulTiled { a, b, tile } => {
                let matmul::Tile { bm, bn, bk, tm, tn } = tile;
                write!(f, "matmul|Tiled|{a:?}|{b:?}|{bm},{bn},{bk},{tm},{tn}")
            }
            K::Gather { dtype, ids } => write!(f, "gather|{dtype}|{ids}"),
            K::GatherBackward { dtype, ids } => write!(f, "gather_backward|{dtype}|{ids}"),
            K::IndexAdd { pass, dtype, ids } => write!(f, "index_add|{pass:?}|{dtype}|{ids}"),
            K::SortInit { dtype, descending } => write!(f, "sort_init|{dtype}|descending={descending}"),
            K::SortStep => f.write_str("sort_step"),
            K::Cumsum { dtype, reverse } => write!(f, "cumsum|{dtype}|reverse={reverse}"),
            K::Softmax { dtype, log } => write!(f, "softmax|{dtype}|log={log}"),
            K::SoftmaxBackward { dtype, log } => write!(f, "softmax_backward|{dtype}|log={log}"),
            K::LayerNorm => f.write_str("layer_norm"),
            K::LayerNormBackward => f.write_str("layer_norm_backward"),
            K::Attention { dtype, mask, vec4 } => write!(f, "attention|{dtype}|{mask:?}|vec4={vec4}"),
            K::AttentionBackward { pass, dtype, mask, vec4 } => {
                write!(f, "attention_backward|{pass:?}|{dtype}|{mask:?}|vec4={vec4}")
            }
            K::Adam { tensors } => write!(f, "adam|{tensors}"),
            K::LstmCell { dtype } => write!(f, "lstm_cell|{dtype}"),
            K::LstmCellBackward { dtype } => write!(f, "lstm_cell_backward|{dtype}"),
            K::GruCell { dtype } => write!(f, "gru_cell|{dtype}"),
            K::GruCellBackward { dtype } => write!(f, "gru_cell_backward|{dtype}"),
            K::Conv2d(k) => write!(f, "conv2d|{k}"),
            K::Conv2dPack => f.write_str("conv2d_pack"),
            K::Conv2dGradWeight(k) => write!(f, "conv2d_grad_weight|{k}"),
            K::PadRows => f.write_str("pad_rows"),
            K::Pool2d { max } => write!(f, "pool2d|max={max}"),
            K::Pool2dBackward => f.write_str("pool2d_backward"),
            K::MaxPool2dBounds => f.write_str("max_pool2d_bounds"),
            K::MaxPool2dBackward => f.write_str("max_pool2d_backward"),
        }
    }
}
