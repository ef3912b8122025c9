//! Dropout (torch.nn.functional.dropout, dropout2d): masks drawn on the tensor's device
//! from the process-wide seed stream, the same on every device.

use crate::{rng, Tensor};

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
