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
        let out = F::scaled_dot_product_attention(&project(&q, 0), &project(&k, 1), &project(&v, 2), mask, None);
        let (n, lq) = (q.dims()[0], q.dims()[1]);
        let out = self.out_proj.forward(&out.permute(&[0, 2, 1, 3]).reshape([n, lq, e]));
        if self.batch_first {
            out
        } else {
            out.transpose(0, 1)
        }
    }
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
