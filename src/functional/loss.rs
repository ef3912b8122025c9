//! Losses (torch.nn.functional): cross-entropy, binary cross-entropy with logits, MSE.

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

/// Cross-entropy between `logits` [N, C] (or [C]) and class ids `targets` [N] (or [])
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

/// Mean squared error.
#[track_caller]
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    let d = input - target;
    reduce(d.mul(&d), reduction)
}
