//! Losses as modules (nn.MSELoss, nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.L1Loss,
//! nn.NLLLoss, nn.SmoothL1Loss). They take
//! two inputs, so they are not [`super::Module`]s: call `loss.forward(&input, &target)`.

use crate::functional as F;
use crate::Tensor;

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

/// Losses of two tensors whose only option is the reduction.
macro_rules! reduction_loss {
    ($($(#[$doc:meta])* $name:ident => $f:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name {
            /// Mean (default), sum or none.
            pub reduction: F::Reduction,
        }

        impl $name {
            /// The loss with mean reduction.
            pub fn new() -> $name {
                $name::default()
            }
            #[doc = concat!("`F::", stringify!($f), "(input, target, reduction)`.")]
            pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
                F::$f(input, target, self.reduction)
            }
        }
    )*};
}

reduction_loss! {
    /// Mean squared error (nn.MSELoss).
    MSELoss => mse_loss,
    /// Mean absolute error (nn.L1Loss).
    L1Loss => l1_loss,
    /// Negative log-likelihood of class ids `[N]` under log-probabilities `[N, C]` (nn.NLLLoss).
    NLLLoss => nll_loss,
}

/// Smooth L1 (nn.SmoothL1Loss): quadratic below `beta`, linear above.
#[derive(Debug, Clone, Copy)]
pub struct SmoothL1Loss {
    /// Mean (default), sum or none.
    pub reduction: F::Reduction,
    /// Where the quadratic part ends (1).
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss { reduction: F::Reduction::Mean, beta: 1.0 }
    }
}

impl SmoothL1Loss {
    /// Mean reduction, beta 1.
    pub fn new() -> SmoothL1Loss {
        SmoothL1Loss::default()
    }
    /// `F::smooth_l1_loss(input, target, reduction, beta)`.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        F::smooth_l1_loss(input, target, self.reduction, self.beta)
    }
}
