//! Batch normalisation (torch.nn.functional.batch_norm), composed from tensor ops.

use crate::Tensor;

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
