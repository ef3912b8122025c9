//! Batch normalisation (torch.nn.functional.batch_norm, composed from tensor ops) and layer
//! normalisation (layer_norm: the backend's fused kernel where it has one, else composed).

use crate::backend::LayerNorm;
use crate::Tensor;
use wgrad_core::Shape;

/// Running statistics of a batch-norm layer: per-channel mean and variance.
#[derive(Clone, Debug)]
pub struct RunningStats {
    pub mean: Tensor,
    pub var: Tensor,
}

/// Batch norm over dim 1 (channels) of `x` [N, C, ...]. In training, normalises with the
/// batch's statistics (biased variance) and returns the updated running statistics
/// (`(1 - momentum) * old + momentum * batch`, unbiased variance, as PyTorch); in eval,
/// normalises with `running` (which must be given) and returns None.
#[track_caller]
pub fn batch_norm(
    x: &Tensor,
    running: Option<&RunningStats>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> (Tensor, Option<RunningStats>) {
    assert!(x.rank() >= 2, "batch_norm: expected [N, C, ...], got {}", x.shape());
    let c = x.dims()[1];
    // Per-channel parameters broadcast as [1, C, 1, ...].
    let mut bshape = vec![1; x.rank()];
    bshape[1] = c;
    let per_channel = |t: &Tensor| t.reshape(bshape.clone());
    let dims: Vec<isize> = (0..x.rank() as isize).filter(|&d| d != 1).collect();
    let count = x.numel() / c.max(1);
    let (mean, var, updated) = if training {
        assert!(count > 1, "batch_norm: expected more than 1 value per channel when training, got shape {}", x.shape());
        let mean = x.mean_dims(&dims, true);
        let centered = x - &mean;
        let var = centered.mul(&centered).mean_dims(&dims, true);
        let updated = running.map(|r| {
            crate::no_grad(|| {
                let batch_mean = mean.detach().reshape([c]);
                let unbiased = var.detach().reshape([c]).mul_scalar(count as f64 / (count - 1) as f64);
                RunningStats {
                    mean: r.mean.mul_scalar(1.0 - momentum).add(&batch_mean.mul_scalar(momentum)),
                    var: r.var.mul_scalar(1.0 - momentum).add(&unbiased.mul_scalar(momentum)),
                }
            })
        });
        (mean, var, updated)
    } else {
        let r = running.expect("batch_norm: eval mode needs running statistics");
        (per_channel(&r.mean), per_channel(&r.var), None)
    };
    let mut y = x.sub(&mean).mul(&var.add_scalar(eps).rsqrt());
    if let Some(w) = weight {
        y = y.mul(&per_channel(w));
    }
    if let Some(b) = bias {
        y = y.add(&per_channel(b));
    }
    (y, updated)
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
    // The backend gets untracked views: its copies and reshapes record nothing.
    let untracked = |t: &Tensor| t.detach().reshape([d]);
    let (xd, w, b) = (x.detach(), weight.map(untracked), bias.map(untracked));
    let call = LayerNorm { x: &xd, d, weight: w.as_ref(), bias: b.as_ref(), eps, needs_grad };
    let (y, backward) = x.backend().layer_norm(&call)?;
    let Some(backward) = backward else { return Some(y) };
    let shapes: Vec<Shape> = inputs.iter().map(|t| t.shape().clone()).collect();
    Some(y.record("layer_norm", &inputs, move |dy| {
        let grads = backward(dy);
        grads.into_iter().zip(&shapes).map(|(g, shape)| g.map(|g| g.reshape(shape.clone()))).collect()
    }))
}
