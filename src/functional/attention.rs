//! Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention).
//!
//! Both backends fuse it where they can ([`Backend::attention`](crate::backend::Backend)):
//! on a GPU the forward is one kernel (online softmax, no [Lq, Lk] matrix in memory) that
//! also saves each row's logsumexp, and the backward is two (FlashAttention-2 style: the
//! weights are recomputed tile by tile from the logsumexp); on the CPU both passes work a
//! block of query rows at a time. Everything else, and the path that returns the
//! attention weights, is the plain composition softmax(q k^T * scale + mask) v with a
//! composed backward, which is also the reference the fused kernels are tested against.

use crate::backend::{Attention, AttentionMask};
use crate::{DType, Tensor};

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
    #[track_caller]
    fn is_causal(&self) -> bool {
        matches!(self, AttnMask::Causal | AttnMask::KeepCausal(_))
    }
}

#[track_caller]
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

/// q k^T * scale with the mask applied (hidden scores -inf) as tensor ops: [B, H, Lq, Lk].
#[track_caller]
fn scores(q: &Tensor, k: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
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
    scores
}

/// softmax(q k^T * scale + mask) as tensor ops: the attention weights [B, H, Lq, Lk].
#[track_caller]
fn weights(q: &Tensor, k: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
    scores(q, k, mask, scale).softmax(-1)
}

/// The mask with its tensor owned, for a backward closure.
enum SavedMask {
    None,
    Causal,
    Keep(Tensor),
    KeepCausal(Tensor),
    Additive(Tensor),
}

impl SavedMask {
    #[track_caller]
    fn new(mask: AttnMask) -> SavedMask {
        match mask {
            AttnMask::None => SavedMask::None,
            AttnMask::Causal => SavedMask::Causal,
            AttnMask::Keep(m) => SavedMask::Keep(m.detach()),
            AttnMask::KeepCausal(m) => SavedMask::KeepCausal(m.detach()),
            AttnMask::Additive(m) => SavedMask::Additive(m.detach()),
        }
    }

    #[track_caller]
    fn get(&self) -> AttnMask<'_> {
        match self {
            SavedMask::None => AttnMask::None,
            SavedMask::Causal => AttnMask::Causal,
            SavedMask::Keep(m) => AttnMask::Keep(m),
            SavedMask::KeepCausal(m) => AttnMask::KeepCausal(m),
            SavedMask::Additive(m) => AttnMask::Additive(m),
        }
    }
}

/// The reference backward, composed from tensor ops (the CPU's, and the GPU's when the
/// fused kernel does not apply): recomputes the weights P and returns (dq, dk, dv, dS),
/// dS being the gradient of the masked scores (that of an additive mask, broadcast).
/// A query row that sees no key (its output is NaN) contributes zero gradients, as in
/// the fused kernel, instead of spreading NaN over every key.
#[track_caller]
fn reference_backward(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64, d_out: &Tensor) -> [Tensor; 4] {
    let s = scores(q, k, mask, scale);
    let lowest = Tensor::full([], f64::from(f32::MIN), q.dtype(), q.device());
    let seen = s.max(-1, true).gt(&lowest);
    let zero = Tensor::zeros([], q.dtype(), q.device());
    let p = seen.where_cond(&s.softmax(-1), &zero);
    let d_out = seen.where_cond(d_out, &zero);
    let dv = p.transpose(-1, -2).matmul(&d_out);
    let dp = d_out.matmul(&v.transpose(-1, -2));
    let ds = p.mul(&dp.sub(&dp.mul(&p).sum(-1, true)));
    let dq = ds.matmul(k).mul_scalar(scale);
    let dk = ds.transpose(-1, -2).matmul(q).mul_scalar(scale);
    [dq, dk, dv, ds]
}

/// The composed path: forward softmax(q k^T * scale + mask) v, backward
/// [`reference_backward`] (gradients for q, k, v and an additive mask).
#[track_caller]
fn composed(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
    let out = crate::no_grad(|| weights(q, k, mask, scale).matmul(v));
    let mut inputs = vec![q, k, v];
    if let AttnMask::Additive(add) = mask {
        inputs.push(add);
    }
    let (qs, ks, vs, saved_mask) = (q.detach(), k.detach(), v.detach(), SavedMask::new(mask));
    out.record("scaled_dot_product_attention", &inputs, move |d_out| {
        let [dq, dk, dv, ds] = reference_backward(&qs, &ks, &vs, saved_mask.get(), scale, d_out);
        let mut grads = vec![Some(dq), Some(dk), Some(dv)];
        if let SavedMask::Additive(add) = &saved_mask {
            grads.push(Some(ds.sum_to(add.dims())));
        }
        grads
    })
}

/// The backend's fused attention, recorded with its backward; None where the backend has
/// no fused kernel for these inputs.
#[track_caller]
fn fused(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64) -> Option<Tensor> {
    let backend_mask = match mask {
        AttnMask::Keep(m) | AttnMask::KeepCausal(m) => AttentionMask::Keep(m),
        AttnMask::Additive(m) => AttentionMask::Additive(m),
        AttnMask::None | AttnMask::Causal => AttentionMask::None,
    };
    // The backend gets untracked views: its copies and casts record nothing.
    let (qd, kd, vd) = (q.detach(), k.detach(), v.detach());
    let call = Attention { q: &qd, k: &kd, v: &vd, mask: backend_mask, causal: mask.is_causal(), scale };
    let (out, backward) = q.backend().attention(&call)?;
    Some(out.record("scaled_dot_product_attention", &[q, k, v], backward))
}

/// Attention output [B, H, Lq, E] for q [B, H, Lq, E], k and v [B, H, Lk, E];
/// `scale` None means 1/sqrt(E). f32 runs the backend's fused kernels (forward and
/// backward; on a GPU for E <= 128); everything else, and a tracked additive mask (whose
/// gradient the fused backward never forms), runs the composed reference.
#[track_caller]
pub fn scaled_dot_product_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: Option<f64>) -> Tensor {
    let (.., e) = check(q, k, v);
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let mask_tracked = matches!(mask, AttnMask::Additive(m) if m.is_tracked());
    if !mask_tracked {
        if let Some(out) = fused(q, k, v, mask, scale) {
            return out;
        }
    }
    composed(q, k, v, mask, scale)
}

/// Attention output and the weights [B, H, Lq, Lk] (for need_weights); always the
/// composed path, since the fused kernel never forms the weights.
#[track_caller]
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
