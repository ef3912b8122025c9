//! Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

use crate::nn::Parameter;
use crate::{no_grad, DType, Device, Gradients, Result, Tensor};

/// Scales the gradients of `params` in `grads` so that their global L2 norm is at most
/// `max_norm` (by `max_norm / (norm + 1e-6)` when it is larger) and returns the norm
/// before clipping. Parameters without a gradient are skipped. Costs one readback per
/// device (the norm).
pub fn clip_grad_norm(grads: &mut Gradients, params: &[Parameter], max_norm: f64) -> Result<f64> {
    let found: Vec<(Tensor, Tensor)> =
        params.iter().map(|p| p.tensor()).filter_map(|t| grads.get(&t).map(|g| (t, g))).collect();
    let mut sums: Vec<(Device, Tensor)> = Vec::new();
    no_grad(|| {
        for (_, g) in &found {
            let g = g.detach().cast(DType::F32);
            let sq = g.mul(&g).sum_all();
            match sums.iter_mut().find(|(d, _)| d == g.device()) {
                Some((_, acc)) => *acc = acc.add(&sq),
                None => sums.push((g.device().clone(), sq)),
            }
        }
    });
    let mut total = 0.0;
    for (_, s) in &sums {
        total += s.to_scalar()?;
    }
    let norm = total.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for (t, g) in found {
            grads.insert(&t, no_grad(|| g.mul_scalar(coef)));
        }
    }
    Ok(norm)
}

/// Clamps every gradient of `params` in `grads` to `[-clip, clip]`.
pub fn clip_grad_value(grads: &mut Gradients, params: &[Parameter], clip: f64) {
    for p in params {
        let t = p.tensor();
        if let Some(g) = grads.get(&t) {
            grads.insert(&t, no_grad(|| g.maximum_scalar(-clip).minimum_scalar(clip)));
        }
    }
}
