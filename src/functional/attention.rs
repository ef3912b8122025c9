//! Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention).
//!
//! On a GPU, the forward is one fused kernel (online softmax, no [Lq, Lk] matrix in
//! memory) that also saves each row's logsumexp, and the backward is two fused kernels
//! (FlashAttention-2 style: the weights are recomputed tile by tile from the logsumexp).
//! The CPU path and the path that returns the attention weights are the plain composition
//! softmax(q k^T * scale + mask) v with a composed backward, which is also the reference
//! the fused kernels are tested against.

use crate::storage::Storage;
use crate::{DType, Tensor};
use wgrad_gpu::kernels::attention::{self as kernel, MaskKind, MAX_HEAD_DIM};
use wgrad_gpu::kernels::attention_backward as backward;
use wgrad_gpu::GpuDevice;

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
    with_reference_backward(out, q, k, v, mask, scale)
}

/// The CPU path for f32: the fused forward and backward of wgrad_cpu (a block of query
/// rows at a time, no [B, H, Lq, Lk] tensor); the composed backward when an additive mask
/// needs its own gradient.
#[track_caller]
fn cpu_fused(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
    let (batch, heads, lq, lk, e) = check(q, k, v);
    let (qc, kc, vc) = (q.contiguous(), k.contiguous(), v.contiguous());
    let bias = match mask {
        AttnMask::Keep(keep) | AttnMask::KeepCausal(keep) => {
            let zero = Tensor::zeros([], DType::F32, q.device());
            let neg_inf = Tensor::full([], f64::NEG_INFINITY, DType::F32, q.device());
            Some(keep.where_cond(&zero, &neg_inf))
        }
        AttnMask::Additive(add) => Some(add.detach().cast(DType::F32)),
        AttnMask::None | AttnMask::Causal => None,
    }
    .map(|b| b.broadcast_to([batch, heads, lq, lk]));
    let dims = wgrad_cpu::attention::AttentionDims { batch, heads, lq, lk, e };
    let (causal, scale32) = (mask.is_causal(), scale as f32);
    let out = wgrad_cpu::attention::attention(
        qc.host_f32(),
        kc.host_f32(),
        vc.host_f32(),
        dims,
        score_bias(&bias),
        causal,
        scale32,
    );
    let out = Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(out), [batch, heads, lq, e]);
    if matches!(mask, AttnMask::Additive(m) if m.is_tracked()) {
        return with_reference_backward(out, q, k, v, mask, scale);
    }
    let (qs, ks, vs) = (qc.detach(), kc.detach(), vc.detach());
    out.record("scaled_dot_product_attention", &[q, k, v], move |d_out| {
        let d_out = d_out.contiguous();
        let grads = wgrad_cpu::attention::attention_backward(
            qs.host_f32(),
            ks.host_f32(),
            vs.host_f32(),
            d_out.host_f32(),
            dims,
            score_bias(&bias),
            causal,
            scale32,
        );
        let [dq, dk, dv] = grads.map(wgrad_cpu::CpuStorage::F32);
        vec![
            Some(Tensor::from_cpu(dq, [batch, heads, lq, e])),
            Some(Tensor::from_cpu(dk, [batch, heads, lk, e])),
            Some(Tensor::from_cpu(dv, [batch, heads, lk, e])),
        ]
    })
}

/// The CPU kernels' view of a mask tensor [B, H, Lq, Lk] (f32, any strides).
#[track_caller]
fn score_bias(bias: &Option<Tensor>) -> Option<wgrad_cpu::attention::ScoreBias<'_>> {
    bias.as_ref().map(|b| wgrad_cpu::attention::ScoreBias {
        data: b.cpu_storage().as_slice::<f32>().expect("f32 mask"),
        layout: b.layout(),
    })
}

/// Records `out` (computed without tracking) as attention of q, k, v with
/// [`reference_backward`] as its backward.
#[track_caller]
fn with_reference_backward(out: Tensor, q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
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

/// The fused GPU path: one forward kernel that also saves each row's logsumexp, and the
/// fused backward (two kernels; no [Lq, Lk] matrix in memory on either pass).
#[track_caller]
fn fused(gpu: &GpuDevice, q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: f64) -> Tensor {
    let (b, h, lq, lk, e) = check(q, k, v);
    let (qc, kc, vc) = (q.contiguous(), k.contiguous(), v.contiguous());
    let mask_operand = match mask {
        AttnMask::Keep(m) | AttnMask::KeepCausal(m) => Some((m.cast(DType::U32), MaskKind::Keep)),
        AttnMask::Additive(m) => Some((m.cast(DType::F32), MaskKind::Additive)),
        AttnMask::None | AttnMask::Causal => None,
    }
    .map(|(m, kind)| (m.broadcast_to([b, h, lq, lk]).detach(), kind));
    let causal = mask.is_causal();
    let (out, stats) = kernel::attention(
        gpu,
        qc.operand(),
        kc.operand(),
        vc.operand(),
        mask_operand.as_ref().map(|(m, kind)| (m.operand(), *kind)),
        causal,
        scale as f32,
    );
    let out = Tensor::from_gpu(out, [b, h, lq, e], q.dtype(), q.device());
    let stats = Tensor::from_gpu(stats, [b, h, lq, 2], DType::F32, q.device());
    let (qs, ks, vs, os) = (qc.detach(), kc.detach(), vc.detach(), out.detach());
    let composed_backward = composed_forced(true);
    let saved_mask = SavedMask::new(mask);
    out.record("scaled_dot_product_attention", &[&qc, &kc, &vc], move |d_out| {
        if composed_backward {
            let [dq, dk, dv, _] = reference_backward(&qs, &ks, &vs, saved_mask.get(), scale, d_out);
            return vec![Some(dq), Some(dk), Some(dv)];
        }
        let d_out = d_out.contiguous();
        let gpu = d_out.device().gpu_runtime().expect("the fused attention backward runs on the GPU");
        let Storage::Gpu(out_buffer) = os.storage() else { unreachable!("fused attention output on the CPU") };
        let Storage::Gpu(stats_buffer) = stats.storage() else { unreachable!("attention statistics on the CPU") };
        let saved = backward::AttentionSaved {
            q: qs.operand(),
            k: ks.operand(),
            v: vs.operand(),
            out: out_buffer,
            stats: stats_buffer,
            mask: mask_operand.as_ref().map(|(m, kind)| (m.operand(), *kind)),
            causal,
            scale: scale as f32,
        };
        let [dq, dk, dv] = backward::attention_backward(gpu, &saved, d_out.operand());
        let dev = d_out.device();
        vec![
            Some(Tensor::from_gpu(dq, [b, h, lq, e], qs.dtype(), dev)),
            Some(Tensor::from_gpu(dk, [b, h, lk, e], ks.dtype(), dev)),
            Some(Tensor::from_gpu(dv, [b, h, lk, e], vs.dtype(), dev)),
        ]
    })
}

/// `WGRAD_ATTENTION=composed` (the CPU's forward) and `WGRAD_ATTENTION_BACKWARD=composed`
/// (the GPU's backward) select the composed path for comparisons; read once per process,
/// not on every call.
#[track_caller]
fn composed_forced(backward: bool) -> bool {
    use std::sync::OnceLock;
    static FORWARD: OnceLock<bool> = OnceLock::new();
    static BACKWARD: OnceLock<bool> = OnceLock::new();
    let (cell, var) = if backward { (&BACKWARD, "WGRAD_ATTENTION_BACKWARD") } else { (&FORWARD, "WGRAD_ATTENTION") };
    *cell.get_or_init(|| std::env::var(var).is_ok_and(|v| v == "composed"))
}

/// Attention output [B, H, Lq, E] for q [B, H, Lq, E], k and v [B, H, Lk, E];
/// `scale` None means 1/sqrt(E). On a GPU, f32 with E <= 128 runs the fused kernels
/// (forward and backward); everything else runs the composed reference.
/// `WGRAD_ATTENTION_BACKWARD=composed` keeps the fused forward but runs the composed
/// backward on the GPU (for comparisons and benchmarks).
#[track_caller]
pub fn scaled_dot_product_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, scale: Option<f64>) -> Tensor {
    let (.., lk, e) = check(q, k, v);
    let scale = scale.unwrap_or(1.0 / (e as f64).sqrt());
    // A tracked additive mask needs dS, which the fused backward never forms.
    let mask_tracked = matches!(mask, AttnMask::Additive(m) if m.is_tracked());
    let mask_numel = match mask {
        AttnMask::Keep(m) | AttnMask::KeepCausal(m) | AttnMask::Additive(m) => m.numel(),
        AttnMask::None | AttnMask::Causal => 0,
    };
    match q.device().gpu_runtime() {
        // The kernels bind every operand whole, so each must fit one binding.
        Some(gpu)
            if e <= MAX_HEAD_DIM
                && q.dtype() == DType::F32
                && lk > 0
                && !mask_tracked
                && [q.numel(), k.numel(), mask_numel].iter().all(|&n| (n * 4) as u64 <= gpu.max_binding_bytes()) =>
        {
            fused(gpu, q, k, v, mask, scale)
        }
        None if q.dtype() == DType::F32 && !composed_forced(false) => cpu_fused(q, k, v, mask, scale),
        _ => composed(q, k, v, mask, scale),
    }
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
