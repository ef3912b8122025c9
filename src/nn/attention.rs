//! [`MultiheadAttention`] (nn.MultiheadAttention) over `F::scaled_dot_product_attention`.

use super::{init, Linear, Module, Parameter};
use crate::functional as F;
use crate::{DType, Device, Tensor};

/// Multi-head attention with PyTorch's parameters: `in_proj_weight` `[3E, E]` (q, k, v
/// stacked), `in_proj_bias` `[3E]` and `out_proj` (E -> E). Sequences are `[L, N, E]`
/// unless `batch_first` (`[N, L, E]`), as PyTorch. Returns the output only (no weights).
#[derive(Debug, Clone)]
pub struct MultiheadAttention {
    /// `[3E, E]`: the q, k and v projections stacked.
    pub in_proj_weight: Parameter,
    /// `[3E]`.
    pub in_proj_bias: Option<Parameter>,
    /// The output projection.
    pub out_proj: Linear,
    /// Heads; `E` must be a multiple of it.
    pub num_heads: usize,
    /// Batch-major sequences.
    pub batch_first: bool,
}

impl MultiheadAttention {
    /// `num_heads` heads over `embed_dim` features, initialised as PyTorch: xavier-uniform
    /// input projection, zero biases, the output projection as a Linear.
    pub fn new(embed_dim: usize, num_heads: usize, device: &Device) -> MultiheadAttention {
        assert!(
            num_heads > 0 && embed_dim.is_multiple_of(num_heads),
            "MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}"
        );
        let bound = (6.0 / (embed_dim + 3 * embed_dim) as f64).sqrt();
        let out_proj = Linear::new(embed_dim, embed_dim, device);
        out_proj.bias.as_ref().expect("Linear::new has a bias").set(Tensor::zeros([embed_dim], DType::F32, device));
        MultiheadAttention {
            in_proj_weight: Parameter::new(init::uniform([3 * embed_dim, embed_dim], bound, device)),
            in_proj_bias: Some(Parameter::new(Tensor::zeros([3 * embed_dim], DType::F32, device))),
            out_proj,
            num_heads,
            batch_first: false,
        }
    }

    /// The same layer taking and returning `[N, L, E]`.
    pub fn batch_first(mut self, on: bool) -> MultiheadAttention {
        self.batch_first = on;
        self
    }

    /// Attention of `query` `[Lq, N, E]` to `key` / `value` `[Lk, N, E]` (batch-major
    /// with `batch_first`). `mask` is broadcast over `[N, heads, Lq, Lk]` (a keep-mask
    /// of 1 = attend, e.g. a key padding mask `[N, 1, 1, Lk]`, or causal).
    pub fn attend(&self, query: &Tensor, key: &Tensor, value: &Tensor, mask: F::AttnMask) -> Tensor {
        self.attend_with_weights(query, key, value, mask, false).0
    }

    /// PyTorch's `forward(query, key, value, key_padding_mask, need_weights, attn_mask,
    /// is_causal=...)`, with PyTorch's mask semantics (see [`MhaArgs`]). Returns the
    /// output and, with `need_weights`, the weights `[N, Lq, Lk]` averaged over heads.
    pub fn forward_qkv(&self, query: &Tensor, key: &Tensor, value: &Tensor, args: MhaArgs) -> (Tensor, Option<Tensor>) {
        let (n, lq, lk) = if self.batch_first {
            (query.dims()[0], query.dims()[1], key.dims()[1])
        } else {
            (query.dims()[1], query.dims()[0], key.dims()[0])
        };
        let heads = self.num_heads;
        let dev = query.device();
        let zero = |t: &Tensor| Tensor::zeros([], t.dtype(), dev);
        // Keep-masks (u32, 1 = attend) and an additive f32 mask, broadcast to [N, H, Lq, Lk].
        let mut keep: Option<Tensor> = args.key_padding_mask.map(|m| {
            assert_eq!(m.dims(), [n, lk], "MultiheadAttention: key_padding_mask must be [N, Lk] = [{n}, {lk}]");
            m.eq(&zero(m)).reshape([n, 1, 1, lk])
        });
        let mut additive = None;
        if let Some(m) = args.attn_mask {
            let m4 = match m.dims() {
                [a, b] if (*a, *b) == (lq, lk) => m.reshape([1, 1, lq, lk]),
                [nh, a, b] if (*nh, *a, *b) == (n * heads, lq, lk) => m.reshape([n, heads, lq, lk]),
                _ => panic!("MultiheadAttention: attn_mask must be [Lq, Lk] or [N * heads, Lq, Lk], got {}", m.shape()),
            };
            if m.dtype().is_float() {
                additive = Some(m4);
            } else {
                let k = m4.eq(&zero(&m4));
                keep = Some(match keep {
                    Some(prev) => prev.mul(&k),
                    None => k,
                });
            }
        }
        let causal_keep = || {
            let rows = Tensor::arange(0.0, lq as f64, DType::U32, dev).reshape([lq, 1]);
            rows.ge(&Tensor::arange(0.0, lk as f64, DType::U32, dev).reshape([1, lk]))
        };
        let mask_tensor;
        let mask = match (keep, additive, args.is_causal) {
            (keep, Some(add), causal) => {
                // Fold the keep-masks and causality into the additive mask.
                let neg_inf = Tensor::full([], f64::NEG_INFINITY, DType::F32, dev);
                let mut add = add.cast(DType::F32);
                if let Some(k) = keep {
                    add = k.where_cond(&add, &neg_inf);
                }
                if causal {
                    add = causal_keep().where_cond(&add, &neg_inf);
                }
                mask_tensor = add;
                F::AttnMask::Additive(&mask_tensor)
            }
            (Some(k), None, causal) => {
                mask_tensor = k;
                if causal {
                    F::AttnMask::KeepCausal(&mask_tensor)
                } else {
                    F::AttnMask::Keep(&mask_tensor)
                }
            }
            (None, None, true) => F::AttnMask::Causal,
            (None, None, false) => F::AttnMask::None,
        };
        let (out, weights) = self.attend_with_weights(query, key, value, mask, args.need_weights);
        (out, weights.map(|w| if args.per_head_weights { w } else { w.mean(1, false) }))
    }

    /// The output and, when `need_weights`, the per-head weights `[N, H, Lq, Lk]`.
    fn attend_with_weights(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: F::AttnMask,
        need_weights: bool,
    ) -> (Tensor, Option<Tensor>) {
        let batch_major = |t: &Tensor| if self.batch_first { t.clone() } else { t.transpose(0, 1) };
        let (q, k, v) = (batch_major(query), batch_major(key), batch_major(value));
        let e = self.in_proj_weight.dims()[1];
        assert!(
            q.rank() == 3 && q.dims()[2] == e && k.dims() == v.dims() && k.dims()[2] == e,
            "MultiheadAttention: expected query [.., .., {e}] and key, value of one shape, got {}, {}, {}",
            q.shape(),
            k.shape(),
            v.shape()
        );
        let (h, d) = (self.num_heads, e / self.num_heads);
        let w = self.in_proj_weight.tensor();
        let b = self.in_proj_bias.as_ref().map(Parameter::tensor);
        // Project, then split heads: [N, L, E] -> [N, H, L, D].
        let project = |x: &Tensor, i: usize| {
            let bi = b.as_ref().map(|b| b.narrow(0, i * e, e));
            let y = F::linear(x, &w.narrow(0, i * e, e), bi.as_ref());
            let (n, l) = (x.dims()[0], x.dims()[1]);
            y.reshape([n, l, h, d]).permute(&[0, 2, 1, 3])
        };
        let (qh, kh, vh) = (project(&q, 0), project(&k, 1), project(&v, 2));
        let (out, weights) = if need_weights {
            let (out, p) = F::scaled_dot_product_attention_with_weights(&qh, &kh, &vh, mask, None);
            (out, Some(p))
        } else {
            (F::scaled_dot_product_attention(&qh, &kh, &vh, mask, None), None)
        };
        let (n, lq) = (q.dims()[0], q.dims()[1]);
        let out = self.out_proj.forward(&out.permute(&[0, 2, 1, 3]).reshape([n, lq, e]));
        (if self.batch_first { out } else { out.transpose(0, 1) }, weights)
    }
}

/// PyTorch's keyword arguments of `nn.MultiheadAttention.forward`, with its semantics.
#[derive(Debug, Clone, Copy, Default)]
pub struct MhaArgs<'a> {
    /// `[N, Lk]`: nonzero (PyTorch's `True`) where a key is padding and must be ignored.
    pub key_padding_mask: Option<&'a Tensor>,
    /// Also return the attention weights `[N, Lq, Lk]`, averaged over heads.
    pub need_weights: bool,
    /// With `need_weights`: each head's weights, `[N, heads, Lq, Lk]`, instead of their
    /// average (PyTorch's `average_attn_weights=False`).
    pub per_head_weights: bool,
    /// `[Lq, Lk]` or `[N * heads, Lq, Lk]`: integer nonzero where attention is NOT
    /// allowed (PyTorch's bool mask), or f32 values added to the scores.
    pub attn_mask: Option<&'a Tensor>,
    /// Also hide every key after the query's position.
    pub is_causal: bool,
}

impl Module for MultiheadAttention {
    /// Self-attention without a mask.
    fn forward(&self, x: &Tensor) -> Tensor {
        self.attend(x, x, x, F::AttnMask::None)
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = vec![("in_proj_weight".to_string(), self.in_proj_weight.clone())];
        out.extend(self.in_proj_bias.iter().map(|b| ("in_proj_bias".to_string(), b.clone())));
        out
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("out_proj".to_string(), &self.out_proj)]
    }
}
