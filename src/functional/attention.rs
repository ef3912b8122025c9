//! Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention).
//!
//! On a GPU, the forward is one fused kernel (online softmax, no [Lq, Lk] matrix in
//! memory). The backward, the CPU path and the path that returns the attention weights
//! are the plain composition softmax(q k^T * scale + mask) v, which is also the reference
//! the fused kernel is tested against.

use crate::{DType, Tensor};
use wgrad_gpu::kernels::attention::{self as kernel, MaskKind, MAX_HEAD_DIM};

/// Which keys each query may attend to.
#[derive(Clone, Copy, Debug)]
pub enum AttnMask<'a> {
    /// Every key.
    None,
    /// Key j is visible to query i iff j <= i (top-left aligned, as PyTorch's is_causal).
    Causal,
    /// A u32 keep-mask (1 = attend) broadcastable to [B, H, Lq, Lk], e.g. [B, 1, 1, Lk].
    Keep(&'a Tensor),
    /// A keep-mask and causal masking together.
    KeepCausal(&'a Tensor),
    /// An f32 mask added to the scores (use -inf to hide), broadcastable to [B, H, Lq, Lk].
    Additive(&'a Tensor),
}

impl AttnMask<'_> {
    fn is_causal(&self) -> bool {
        matches!(self, AttnMask::Causal | AttnMask::KeepCausal(_))
    }
}

fn check(q: &Tensor, k: &Tensor, v: &Tensor) -> (usize, usize, usize, usize, usize) {
    assert!(
        q.rank() == 4 && k.rank() == 4 && v.rank() == 4,
        "scaled_dot_product_attention: expected q, k, v of rank 4 [B, H, L, E], got {}, {}, {}",
        q.shape(),
        k.shape(),
        v.shape()
    );
    let (b, h, lq, e) = (q.dims()[0], q.dims()[1], q.dims()[2], q.dims()[3]);
    let lk = k.dims()[2];
    assert!(
        k.dims() == [b, h, lk, e] && v.dims() == [b, h, lk, e],
        "scaled_dot_product_attention: k {} and v {} must be [B, H, Lk, E] matching q {}",
        k.shape(),
        v.shape(),
        q.shape()
    );
    (b, h, lq, lk, e)
}

/// softmax(q k^T * scale + mask) as tensor ops: the attention weights [B, H, Lq, Lk].
fn weights(q: &Tensor, k: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
    let (lq, lk) = (q.dims()[2], k.dims()[2]);
    let mut scores = q.matmul(&k.transpose(-1, -2)).mul_scalar(scale);
    let neg_inf = Tensor::full([], f64::NEG_INFINITY, q.dtype(), q.device());
    if let AttnMask::Keep(keep) | AttnMask::KeepCausal(keep) = mask {
        scores = keep.where_cond(&scores, &neg_inf);
    }
    if mask.is_causal() {
        let rows = Tensor::arange(0.0, lq as f64, DType::U32, q.device()).reshape([lq, 1]);
        let cols = Tensor::arange(0.0, lk as f64, DType::U32, q.device()).reshape([1, lk]);
        scores = rows.ge(&cols).where_cond(&scores, &neg_inf);
    }
    if let AttnMask::Additive(add) = mask {
        scores = scores.add(add);
    }
    scores.softmax(-1)
}

/// Attention output [B, H, Lq, E] for q [B, H, Lq, E], k and v [B, H, Lk, E];
/// `scale` None means 1/sqrt(E).
pub fn scaled_dot_product_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: Option<f64>) -> Tensor {
    let (b, h, lq, lk, e) = check(q, k, v);
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let Some(gpu) = q.device().gpu_runtime() else {
        return weights(q, k, mask, scale).matmul(v);
    };
    if e > MAX_HEAD_DIM || q.dtype() != DType::F32 || lk == 0 {
        return weights(q, k, mask, scale).matmul(v);
    }
    let (qc, kc, vc) = (q.contiguous(), k.contiguous(), v.contiguous());
    let mask_operand = match mask {
        AttnMask::Keep(m) | AttnMask::KeepCausal(m) => Some((m.cast(DType::U32), MaskKind::Keep)),
        AttnMask::Additive(m) => Some((m.cast(DType::F32), MaskKind::Additive)),
        AttnMask::None | AttnMask::Causal => None,
    }
    .map(|(m, kind)| (m.broadcast_to([b, h, lq, lk]), kind));
    let buffer = kernel::attention(
        gpu,
        qc.operand(),
        kc.operand(),
        vc.operand(),
        mask_operand.as_ref().map(|(m, kind)| (m.operand(), *kind)),
        mask.is_causal(),
        scale as f32,
    );
    let out = Tensor::from_gpu(buffer, [b, h, lq, e], q.dtype(), q.device());
    let (q, k, v) = (q.detach(), k.detach(), v.detach());
    let saved_mask = mask_operand.map(|(m, kind)| (m.detach(), kind));
    let causal = mask.is_causal();
    out.record("scaled_dot_product_attention", &[&qc, &kc, &vc], move |d_out| {
        // Recompute the weights, then the softmax-attention gradients.
        let mask = match (&saved_mask, causal) {
            (Some((m, MaskKind::Keep)), true) => AttnMask::KeepCausal(m),
            (Some((m, MaskKind::Keep)), false) => AttnMask::Keep(m),
            (Some((m, _)), _) => AttnMask::Additive(m),
            (None, true) => AttnMask::Causal,
            (None, false) => AttnMask::None,
        };
        let p = weights(&q, &k, mask, scale);
        let dv = p.transpose(-1, -2).matmul(d_out);
        let dp = d_out.matmul(&v.transpose(-1, -2));
        let ds = p.mul(&dp.sub(&dp.mul(&p).sum(-1, true)));
        let dq = ds.matmul(&k).mul_scalar(scale);
        let dk = ds.transpose(-1, -2).matmul(&q).mul_scalar(scale);
        vec![Some(dq), Some(dk), Some(dv)]
    })
}

/// Attention output and the weights [B, H, Lq, Lk] (for need_weights); always the
/// composed path, since the fused kernel never forms the weights.
pub fn scaled_dot_product_attention_with_weights(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: AttnMask,
    scale: Option<f64>,
) -> (Tensor, Tensor) {
    let (.., e) = check(q, k, v);
    let p = weights(q, k, mask, scale.unwrap_or(1.0 / (e as f64).sqrt()));
    (p.matmul(v), p)
}
