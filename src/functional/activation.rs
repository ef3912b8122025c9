//! Activations, normalisation and dropout (torch.nn.functional).

use crate::{rng, Tensor};
use wgrad_core::{Dim, Shape};

/// ReLU.
#[track_caller]
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}

/// GELU, exact (erf) form.
#[track_caller]
pub fn gelu(x: &Tensor) -> Tensor {
    x.gelu()
}

/// `x / max(‖x‖₂, eps)` along `dim` (torch.nn.functional.normalize with p = 2).
///
/// ```
/// # use wgrad::{functional as F, Device, Tensor};
/// let x = Tensor::from_vec(vec![3.0f32, 4.0, 0.0, 0.0], [2, 2], &Device::cpu());
/// assert_eq!(F::normalize(&x, 1, 1e-12).to_vec::<f32>()?, vec![0.6, 0.8, 0.0, 0.0]);
/// # Ok::<(), wgrad::Error>(())
/// ```
#[track_caller]
pub fn normalize(x: &Tensor, dim: impl Dim, eps: f64) -> Tensor {
    let dim = dim.resolve(x.rank(), "normalize");
    x.div(&x.mul(x).sum(dim, true).sqrt().clamp(Some(eps), None))
}

/// Softmax along `dim`.
#[track_caller]
pub fn softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.softmax(dim)
}

/// Log-softmax along `dim`.
#[track_caller]
pub fn log_softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.log_softmax(dim)
}

/// Layer normalisation over the trailing dims `normalized_shape`, with optional
/// elementwise affine weight and bias of that shape (biased variance, as PyTorch).
#[track_caller]
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
    if let Some(y) = fused_layer_norm(x, normalized_shape, weight, bias, eps) {
        return y;
    }
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

/// The backend's fused layer norm (one pass per row), recorded with its backward; None
/// where the backend has none for these inputs and the composed version runs instead.
#[track_caller]
fn fused_layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Option<Tensor> {
    let d: usize = normalized_shape.iter().product();
    let mut inputs = vec![x];
    inputs.extend(weight);
    inputs.extend(bias);
    let needs_grad = crate::is_grad_enabled() && inputs.iter().any(|t| t.is_tracked());
    let (w, b) = (weight.map(|w| w.reshape([d])), bias.map(|b| b.reshape([d])));
    let (y, backward) = x.backend().layer_norm(x, d, w.as_ref(), b.as_ref(), eps, needs_grad)?;
    let Some(backward) = backward else { return Some(y) };
    let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape().clone()).collect();
    Some(y.record("layer_norm", &inputs, move |dy| {
        let grads = backward(dy);
        grads.into_iter().zip(&shapes).map(|(g, shape)| g.map(|g| g.reshape(shape.clone()))).collect()
    }))
}

/// Dropout: in training, zeroes each element with probability `p` and scales the rest
/// by 1/(1-p); identity otherwise. The mask comes from the process-wide seed stream
/// ([`crate::manual_seed`]), so it is the same on every device.
#[track_caller]
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout: probability must be in [0, 1], got {p}");
    if !training || p == 0.0 {
        return x.clone();
    }
    if p == 1.0 {
        return x.mul_scalar(0.0);
    }
    x.mul(&keep_mask(x.dims().to_vec(), p, x))
}

/// Channel dropout (torch's dropout2d): in training, zeroes whole channels (the last two
/// dims of `x`, `[N, C, H, W]` or `[C, H, W]`) with probability `p`, scaling the rest by
/// `1/(1-p)`; the identity otherwise.
#[track_caller]
pub fn dropout2d(x: &Tensor, p: f64, training: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout2d: probability must be in [0, 1], got {p}");
    assert!(x.rank() >= 3, "dropout2d: expected [N, C, H, W] or [C, H, W], got {}", x.shape());
    if !training || p == 0.0 {
        return x.clone();
    }
    if p == 1.0 {
        return x.mul_scalar(0.0);
    }
    let mut channels = x.dims().to_vec();
    let rank = channels.len();
    channels[rank - 2..].fill(1);
    x.mul(&keep_mask(channels, p, x))
}

/// A mask of `shape` (broadcast against `x`): `1/(1-p)` where kept, 0 where dropped, drawn
/// on `x`'s device from the next seed of the process-wide stream (the same on every device).
fn keep_mask(shape: Vec<usize>, p: f64, x: &Tensor) -> Tensor {
    Tensor::keep_mask(shape.into(), p, rng::next_seed32(), x.device()).cast(x.dtype())
}
