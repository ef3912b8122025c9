//! [`Embedding`] (nn.Embedding).

use super::{init, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};

/// A lookup table `[num_embeddings, dim]`: forward maps u32/i32 ids of any shape to
/// `ids.shape + [dim]`.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`, standard normal at creation (as PyTorch).
    pub weight: Parameter,
    /// A row that stays zero and receives no gradient.
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// A table of `num_embeddings` rows of size `dim`, N(0, 1) initialised.
    pub fn new(num_embeddings: usize, dim: usize, device: &Device) -> Embedding {
        Embedding { weight: Parameter::new(init::normal([num_embeddings, dim], device)), padding_idx: None }
    }

    /// The same table with row `idx` zeroed and excluded from gradients.
    pub fn with_padding_idx(self, idx: usize) -> Embedding {
        let w = self.weight.tensor();
        let rows = w.dims()[0];
        assert!(idx < rows, "Embedding: padding_idx {idx} out of range for {rows} rows");
        let mut keep = vec![1.0f32; rows];
        keep[idx] = 0.0;
        let mask = Tensor::from_vec(keep, [rows, 1], w.device()).cast(w.dtype());
        self.weight.set(crate::no_grad(|| w.mul(&mask)));
        Embedding { padding_idx: Some(idx), ..self }
    }

    /// A table holding `weight` `[num_embeddings, dim]`.
    pub fn from_tensor(weight: Tensor) -> Embedding {
        Embedding { weight: Parameter::new(weight), padding_idx: None }
    }
}

impl Module for Embedding {
    fn forward(&self, ids: &Tensor) -> Tensor {
        F::embedding(ids, &self.weight.tensor(), self.padding_idx)
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
