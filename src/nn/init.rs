//! Seeded initialisation (torch.nn.init). Every draw takes the next seed of the
//! process-wide stream, so models built after the same [`crate::manual_seed`] are equal.
//!
//! ```
//! use wgrad::{nn::init, Device};
//! wgrad::manual_seed(0);
//! let a = init::kaiming_uniform([64, 32], 32, &Device::cpu());
//! wgrad::manual_seed(0);
//! let b = init::kaiming_uniform([64, 32], 32, &Device::cpu());
//! assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?); // same seed, same weights
//! assert!(a.abs().max_all().to_scalar()? <= 1.0 / 32f64.sqrt());
//! # Ok::<(), wgrad::Error>(())
//! ```

use crate::{next_seed, Device, Shape, Tensor};

/// Uniform samples in `[-bound, bound)`.
pub fn uniform(shape: impl Into<Shape>, bound: f64, device: &Device) -> Tensor {
    Tensor::rand_uniform(shape, -bound, bound, next_seed(), device)
}

/// PyTorch's default for Linear and Conv weights, kaiming_uniform(a = √5): uniform in
/// `±1/√fan_in`. Their biases use the same bound.
pub fn kaiming_uniform(shape: impl Into<Shape>, fan_in: usize, device: &Device) -> Tensor {
    uniform(shape, 1.0 / (fan_in.max(1) as f64).sqrt(), device)
}

/// Standard normal samples (nn.Embedding's default).
pub fn normal(shape: impl Into<Shape>, device: &Device) -> Tensor {
    Tensor::randn(shape, next_seed(), device)
}

/// Normal samples with mean 0 and standard deviation `std` (`nn.init.normal_(t, 0, std)`;
/// BERT's weights use 0.02).
pub fn normal_std(shape: impl Into<Shape>, std: f64, device: &Device) -> Tensor {
    normal(shape, device).mul_scalar(std)
}
