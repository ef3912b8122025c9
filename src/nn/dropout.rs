//! [`Dropout`] (nn.Dropout) and [`Dropout2d`] (nn.Dropout2d).

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

/// In training mode zeroes whole channels of `[N, C, H, W]` (or `[C, H, W]`) inputs with
/// probability `p` and scales the rest by `1/(1-p)`; the identity in eval mode.
#[derive(Debug, Default)]
pub struct Dropout2d(Dropout);

impl Dropout2d {
    /// Channel dropout with probability `p` (in training mode, as PyTorch creates it).
    pub fn new(p: f64) -> Dropout2d {
        Dropout2d(Dropout::new(p))
    }
}

impl Module for Dropout2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::dropout2d(x, self.0.p, self.0.is_training())
    }

    fn set_training(&self, training: bool) {
        self.0.set_training(training);
    }
}
