//! [`TransformerEncoderLayer`] (nn.TransformerEncoderLayer): self-attention and a
//! feed-forward block, each with a residual connection, dropout and layer norm.

use super::{Dropout, LayerNorm, Linear, Module, MultiheadAttention, ReLU};
use crate::functional as F;
use crate::{Device, Tensor};

/// PyTorch's encoder layer with its child names (`self_attn`, `linear1`, `linear2`,
/// `norm1`, `norm2`): post-norm by default, `norm_first` for pre-norm. Sequences are
/// `[L, N, E]` unless `batch_first`.
pub struct TransformerEncoderLayer {
    /// The self-attention block.
    pub self_attn: MultiheadAttention,
    /// d_model -> dim_feedforward.
    pub linear1: Linear,
    /// Dropout inside the feed-forward block.
    pub dropout: Dropout,
    /// dim_feedforward -> d_model.
    pub linear2: Linear,
    /// Norm of the attention block.
    pub norm1: LayerNorm,
    /// Norm of the feed-forward block.
    pub norm2: LayerNorm,
    /// Dropout on the attention output.
    pub dropout1: Dropout,
    /// Dropout on the feed-forward output.
    pub dropout2: Dropout,
    /// The feed-forward activation (ReLU).
    pub activation: Box<dyn Module>,
    /// Normalise before each block instead of after.
    pub norm_first: bool,
}

impl TransformerEncoderLayer {
    /// A layer of width `d_model` with `nhead` heads, a feed-forward block of
    /// `dim_feedforward` (PyTorch's default is 2048) and dropout `dropout` (0.1).
    pub fn new(d_model: usize, nhead: usize, dim_feedforward: usize, dropout: f64, device: &Device) -> Self {
        TransformerEncoderLayer {
            self_attn: MultiheadAttention::new(d_model, nhead, device),
            linear1: Linear::new(d_model, dim_feedforward, device),
            dropout: Dropout::new(dropout),
            linear2: Linear::new(dim_feedforward, d_model, device),
            norm1: LayerNorm::new(d_model, device),
            norm2: LayerNorm::new(d_model, device),
            dropout1: Dropout::new(dropout),
            dropout2: Dropout::new(dropout),
            activation: Box::new(ReLU),
            norm_first: false,
        }
    }

    /// The same layer taking and returning `[N, L, E]`.
    pub fn batch_first(mut self, on: bool) -> Self {
        self.self_attn.batch_first = on;
        self
    }

    /// The same layer in pre-norm form.
    pub fn norm_first(mut self, on: bool) -> Self {
        self.norm_first = on;
        self
    }

    /// The same layer with another feed-forward activation (e.g. `nn::GELU`).
    pub fn activation(mut self, m: impl Module + 'static) -> Self {
        self.activation = Box::new(m);
        self
    }

    /// The layer applied with an attention mask (see [`MultiheadAttention::attend`]).
    pub fn forward_with_mask(&self, x: &Tensor, mask: F::AttnMask) -> Tensor {
        let attn = |x: &Tensor| self.dropout1.forward(&self.self_attn.attend(x, x, x, mask));
        let ff = |x: &Tensor| {
            let hidden = self.dropout.forward(&self.activation.forward(&self.linear1.forward(x)));
            self.dropout2.forward(&self.linear2.forward(&hidden))
        };
        if self.norm_first {
            let x = x.add(&attn(&self.norm1.forward(x)));
            x.add(&ff(&self.norm2.forward(&x)))
        } else {
            let x = self.norm1.forward(&x.add(&attn(x)));
            self.norm2.forward(&x.add(&ff(&x)))
        }
    }
}

impl Module for TransformerEncoderLayer {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_mask(x, F::AttnMask::None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("self_attn".to_string(), &self.self_attn as &dyn Module),
            ("linear1".to_string(), &self.linear1),
            ("dropout".to_string(), &self.dropout),
            ("linear2".to_string(), &self.linear2),
            ("norm1".to_string(), &self.norm1),
            ("norm2".to_string(), &self.norm2),
            ("dropout1".to_string(), &self.dropout1),
            ("dropout2".to_string(), &self.dropout2),
            ("activation".to_string(), &*self.activation),
        ]
    }
}

/// A stack of encoder layers (nn.TransformerEncoder) with an optional final norm; state
/// dict names `layers.<i>.…` and `norm.…` as in PyTorch.
pub struct TransformerEncoder {
    /// The layers, applied in order.
    pub layers: Vec<TransformerEncoderLayer>,
    /// A norm applied to the last layer's output (PyTorch's `norm=`; usual with pre-norm).
    pub norm: Option<LayerNorm>,
}

impl TransformerEncoder {
    /// The stack of `layers` (PyTorch copies one layer `num_layers` times; build each
    /// here, e.g. `(0..n).map(|_| TransformerEncoderLayer::new(..)).collect()`, so each
    /// gets its own initialisation).
    pub fn new(layers: Vec<TransformerEncoderLayer>) -> Self {
        TransformerEncoder { layers, norm: None }
    }

    /// The same stack with a final norm.
    pub fn with_norm(mut self, norm: LayerNorm) -> Self {
        self.norm = Some(norm);
        self
    }

    /// The stack applied with an attention mask given to every layer.
    pub fn forward_with_mask(&self, x: &Tensor, mask: F::AttnMask) -> Tensor {
        let x = self.layers.iter().fold(x.clone(), |x, layer| layer.forward_with_mask(&x, mask));
        match &self.norm {
            Some(norm) => norm.forward(&x),
            None => x,
        }
    }
}

impl Module for TransformerEncoder {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_mask(x, F::AttnMask::None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> =
            self.layers.iter().enumerate().map(|(i, l)| (format!("layers.{i}"), l as &dyn Module)).collect();
        if let Some(norm) = &self.norm {
            out.push(("norm".to_string(), norm));
        }
        out
    }
}
