//! Losses as modules (nn.MSELoss, nn.CrossEntropyLoss, nn.BCEWithLogitsLoss). They take
//! two inputs, so they are not [`super::Module`]s: call `loss.forward(&input, &target)`.

use crate::functional as F;
use crate::Tensor;

/// Mean squared error.
#[derive(Debug, Clone, Copy, Default)]
pub struct MSELoss {
    /// Mean (default), sum or none.
    pub reduction: F::Reduction,
}

impl MSELoss {
    /// The loss with mean reduction.
    pub fn new() -> MSELoss {
        MSELoss::default()
    }
    /// `F::mse_loss(input, target, reduction)`.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::mse_loss(input, target, self.reduction)
    }
}

/// Cross-entropy between logits `[N, C]` and class ids `[N]` (u32 or i32).
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss {
    /// Mean (default, over non-ignored samples), sum or none.
    pub reduction: F::Reduction,
    /// Weight of the uniform distribution mixed into the targets (0 = none).
    pub label_smoothing: f64,
    /// Samples with this target contribute no loss (PyTorch's default is -100; here None).
    pub ignore_index: Option<i64>,
}

impl CrossEntropyLoss {
    /// Mean reduction, no smoothing, nothing ignored.
    pub fn new() -> CrossEntropyLoss {
        CrossEntropyLoss::default()
    }
    /// `F::cross_entropy_ignore(logits, targets, ...)` with this loss's options.
    pub fn forward(&self, logits: &Tensor, targets: &Tensor) -> Tensor {
        F::cross_entropy_ignore(logits, targets, self.reduction, self.label_smoothing, self.ignore_index)
    }
}

/// Binary cross-entropy on logits, numerically stable.
#[derive(Debug, Clone, Copy, Default)]
pub struct BCEWithLogitsLoss {
    /// Mean (default), sum or none.
    pub reduction: F::Reduction,
}

impl BCEWithLogitsLoss {
    /// The loss with mean reduction.
    pub fn new() -> BCEWithLogitsLoss {
        BCEWithLogitsLoss::default()
    }
    /// `F::binary_cross_entropy_with_logits(logits, targets, reduction)`.
    pub fn forward(&self, logits: &Tensor, targets: &Tensor) -> Tensor {
        F::binary_cross_entropy_with_logits(logits, targets, self.reduction)
    }
}
