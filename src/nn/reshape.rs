//! Shape-only modules: [`Flatten`], [`Identity`].

use super::Module;
use crate::Tensor;

/// Flattens every dim from 1 on: `[N, ...] -> [N, prod(...)]` (nn.Flatten()).
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.flatten_from(1)
    }
}

/// Returns its input (nn.Identity).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }
}
