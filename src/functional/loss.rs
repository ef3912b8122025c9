//! Losses (torch.nn.functional): cross-entropy, negative log-likelihood, binary
//! cross-entropy with logits (optionally with `pos_weight`), MSE, L1, smooth L1.

use crate::{DType, Tensor};

/// How a loss reduces its per-element values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// No reduction: one loss per element / sample.
    None,
    /// The mean (over non-ignored samples for cross-entropy).
    #[default]
    Mean,
    /// The sum.
    Sum,
}

#[track_caller]
fn reduce(loss: Tensor, reduction: Reduction) -> Tensor {
    match reduction {
        Reduction::None => loss,
        Reduction::Mean => loss.mean_all(),
        Reduction::Sum => loss.sum_all(),
    }
}

/// Cross-entropy between `logits` `[N, C]` (or `[C]`) and class ids `targets` `[N]` (or [])
/// of dtype u32 or i32, with label smoothing. A class id >= C is an `Err` naming the
/// value at the next readback / sync.
#[track_caller]
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, reduction: Reduction, label_smoothing: f64) -> Tensor {
    cross_entropy_ignore(logits, targets, reduction, label_smoothing, None)
}

/// [`cross_entropy`] where samples whose target equals `ignore_index` contribute no
/// loss (and are not counted by the mean), as PyTorch's `ignore_index`.
#[track_caller]
pub fn cross_entropy_ignore(
    logits: &Tensor,
    targets: &Tensor,
    reduction: Reduction,
    label_smoothing: f64,
    ignore_index: Option<i64>,
) -> Tensor {
    if logits.rank() == 1 {
        let l =
            cross_entropy_ignore(&logits.unsqueeze(0), &targets.reshape([1]), reduction, label_smoothing, ignore_index);
        return if reduction == Reduction::None { l.reshape([]) } else { l };
    }
    assert!(
        logits.rank() == 2 && targets.rank() == 1 && targets.dims()[0] == logits.dims()[0],
        "cross_entropy: expected logits [N, C] and targets [N], got {} and {}",
        logits.shape(),
        targets.shape()
    );
    assert!(matches!(targets.dtype(), DType::U32 | DType::I32), "cross_entropy: targets must be u32 or i32 class ids");
    assert!((0.0..=1.0).contains(&label_smoothing), "cross_entropy: label_smoothing must be in [0, 1]");
    let classes = logits.dims()[1];
    let logp = logits.log_softmax(1);
    // Ignored samples gather class 0 (always valid) and are masked out afterwards.
    let keep = ignore_index.map(|i| targets.ne(&Tensor::full([], i as f64, targets.dtype(), targets.device())));
    let safe_targets = match &keep {
        Some(k) => k.where_cond(targets, &targets.zeros_like()),
        None => targets.clone(),
    };
    let picked = logp.gather_as(1, &safe_targets.unsqueeze(1), "cross_entropy").squeeze(1);
    let mut loss = picked.neg();
    if label_smoothing > 0.0 {
        let smooth = logp.mean(1, false).neg();
        loss = loss.mul_scalar(1.0 - label_smoothing).add(&smooth.mul_scalar(label_smoothing));
    }
    let _ = classes;
    match keep {
        None => reduce(loss, reduction),
        Some(k) => {
            let k = k.cast(loss.dtype());
            let loss = loss.mul(&k);
            match reduction {
                Reduction::Mean => loss.sum_all().div(&k.sum_all()),
                r => reduce(loss, r),
            }
        }
    }
}

/// Binary cross-entropy on logits: `max(x, 0) - x*y + log(1 + exp(-|x|))`, stable for
/// any |x|. `targets` are float probabilities of the logits' shape.
#[track_caller]
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor, reduction: Reduction) -> Tensor {
    assert_eq!(logits.dims(), targets.dims(), "binary_cross_entropy_with_logits: shapes differ");
    let loss = logits.relu() - logits.mul(targets) + logits.abs().neg().exp().add_scalar(1.0).log();
    reduce(loss, reduction)
}

/// [`binary_cross_entropy_with_logits`] with the positive samples of each class weighted
/// by `pos_weight` (broadcast over the logits; torch's `pos_weight`):
/// `(1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))`.
#[track_caller]
pub fn binary_cross_entropy_with_logits_pos_weight(
    logits: &Tensor,
    targets: &Tensor,
    pos_weight: &Tensor,
    reduction: Reduction,
) -> Tensor {
    assert_eq!(logits.dims(), targets.dims(), "binary_cross_entropy_with_logits: shapes differ");
    let softplus_neg = logits.abs().neg().exp().add_scalar(1.0).log() + logits.neg().relu(); // log(1 + e^-x)
    let weight = pos_weight.sub_scalar(1.0).mul(targets).add_scalar(1.0);
    let loss = targets.neg().add_scalar(1.0).mul(logits) + weight.mul(&softplus_neg);
    reduce(loss, reduction)
}

/// Cross-entropy with a weight per class (torch's `weight=`): sample `i`'s loss is
/// scaled by `weight[targets[i]]` (`weight` is `[C]`), and the mean divides by the sum of
/// those weights, as PyTorch does.
#[track_caller]
pub fn cross_entropy_weighted(logits: &Tensor, targets: &Tensor, weight: &Tensor, reduction: Reduction) -> Tensor {
    let classes = logits.dims()[logits.rank().max(1) - 1];
    assert_eq!(weight.dims(), &[classes], "cross_entropy: weight must be [C] = [{classes}], got {}", weight.shape());
    let loss = cross_entropy(logits, targets, Reduction::None, 0.0);
    let w =
        weight.index_select_as(0, &targets.reshape([targets.numel()]), "cross_entropy").reshape(loss.shape().clone());
    let weighted = loss.mul(&w);
    match reduction {
        Reduction::None => weighted,
        Reduction::Sum => weighted.sum_all(),
        Reduction::Mean => weighted.sum_all().div(&w.sum_all()),
    }
}

/// Negative log-likelihood of class ids `targets` `[N]` (u32/i32) under log-probabilities
/// `log_probs` [N, C] (torch's nll_loss; `cross_entropy` is this after `log_softmax`).
/// A class id >= C is an `Err` naming it at the next readback.
#[track_caller]
pub fn nll_loss(log_probs: &Tensor, targets: &Tensor, reduction: Reduction) -> Tensor {
    assert!(
        log_probs.rank() == 2 && targets.rank() == 1 && targets.dims()[0] == log_probs.dims()[0],
        "nll_loss: expected log-probabilities [N, C] and targets [N], got {} and {}",
        log_probs.shape(),
        targets.shape()
    );
    let picked = log_probs.gather_as(1, &targets.unsqueeze(1), "nll_loss").squeeze(1);
    reduce(picked.neg(), reduction)
}

/// Mean absolute error (torch's l1_loss).
#[track_caller]
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    reduce((input - target).abs(), reduction)
}

/// Huber-style smooth L1 (torch's smooth_l1_loss): `0.5 d^2 / beta` where `|d| < beta`,
/// else `|d| - 0.5 beta`, for `d = input - target`; `beta = 0` is the L1 loss.
#[track_caller]
pub fn smooth_l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction, beta: f64) -> Tensor {
    assert!(beta >= 0.0, "smooth_l1_loss: beta must be >= 0, got {beta}");
    let d = (input - target).abs();
    if beta == 0.0 {
        return reduce(d, reduction);
    }
    let quadratic = d.mul(&d).mul_scalar(0.5 / beta);
    let linear = d.sub_scalar(0.5 * beta);
    reduce(d.lt_scalar(beta).where_cond(&quadratic, &linear), reduction)
}

/// Mean squared error.
#[track_caller]
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    let d = input - target;
    reduce(d.mul(&d), reduction)
}
