//! Activations, normalisation and dropout (torch.nn.functional).

use crate::{rng, Tensor};
use wgrad_core::Dim;

/// ReLU.
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}

/// GELU, exact (erf) form.
pub fn gelu(x: &Tensor) -> Tensor {
    x.gelu()
}

/// Softmax along `dim`.
pub fn softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.softmax(dim)
}

/// Log-softmax along `dim`.
pub fn log_softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.log_softmax(dim)
}

/// Layer normalisation over the trailing dims `normalized_shape`, with optional
/// elementwise affine weight and bias of that shape (biased variance, as PyTorch).
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Tensor {
    let n = normalized_shape.len();
    assert!(
        x.rank() >= n && &x.dims()[x.rank() - n..] == normalized_shape,
        "layer_norm: normalized_shape {normalized_shape:?} does not match the trailing dims of input {}",
        x.shape()
    );
    let dims: Vec<isize> = (x.rank() - n..x.rank()).map(|d| d as isize).collect();
    let mean = x.mean_dims(&dims, true);
    let centered = x - &mean;
    let var = centered.mul(&centered).mean_dims(&dims, true);
    let mut y = centered.mul(&var.add_scalar(eps).rsqrt());
    if let Some(w) = weight {
        y = y.mul(w);
    }
    if let Some(b) = bias {
        y = y.add(b);
    }
    y
}

/// Dropout: in training, zeroes each element with probability `p` and scales the rest
/// by 1/(1-p); identity otherwise. The mask comes from the process-wide seed stream
/// ([`crate::manual_seed`]), so it is the same on every device.
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout: probability must be in [0, 1], got {p}");
    if !training || p == 0.0 {
        return x.clone();
    }
    if p == 1.0 {
        return x.mul_scalar(0.0);
    }
    let seed = rng::next_seed();
    let keep: Vec<f32> = (0..x.numel())
        .map(|i| if rng::uniform(seed, i as u64) >= p { (1.0 / (1.0 - p)) as f32 } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(keep, x.shape().clone(), x.device()).cast(x.dtype());
    x.mul(&mask)
}
