//! [`Dropout`] (nn.Dropout).

use super::{Module, TrainingFlag};
use crate::functional as F;
use crate::Tensor;

/// In training mode zeroes each element with probability `p` and scales the rest by
/// `1/(1-p)`; the identity in eval mode. Masks come from the process-wide seed stream.
#[derive(Debug, Default)]
pub struct Dropout {
    /// The drop probability.
    pub p: f64,
    training: TrainingFlag,
}

impl Dropout {
    /// Dropout with probability `p` (in training mode, as PyTorch creates it).
    pub fn new(p: f64) -> Dropout {
        assert!((0.0..=1.0).contains(&p), "Dropout: probability must be in [0, 1], got {p}");
        Dropout { p, training: TrainingFlag::default() }
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training.get()
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::dropout(x, self.p, self.training.get())
    }

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }
}
