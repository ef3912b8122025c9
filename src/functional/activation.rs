//! Activations and softmax (torch.nn.functional), and `normalize`.

use crate::Tensor;
use wgrad_core::Dim;

/// ReLU.
#[track_caller]
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}

/// GELU, exact (erf) form.
#[track_caller]
pub fn gelu(x: &Tensor) -> Tensor {
    x.gelu()
}

/// `x / max(‖x‖₂, eps)` along `dim` (torch.nn.functional.normalize with p = 2).
///
/// ```
/// # use wgrad::{functional as F, Device, Tensor};
/// let x = Tensor::from_vec(vec![3.0f32, 4.0, 0.0, 0.0], [2, 2], &Device::cpu());
/// assert_eq!(F::normalize(&x, 1, 1e-12).to_vec::<f32>()?, vec![0.6, 0.8, 0.0, 0.0]);
/// # Ok::<(), wgrad::Error>(())
/// ```
#[track_caller]
pub fn normalize(x: &Tensor, dim: impl Dim, eps: f64) -> Tensor {
    let dim = dim.resolve(x.rank(), "normalize");
    x.div(&x.mul(x).sum(dim, true).sqrt().clamp(Some(eps), None))
}

/// Softmax along `dim`.
#[track_caller]
pub fn softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.softmax(dim)
}

/// Log-softmax along `dim`.
#[track_caller]
pub fn log_softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.log_softmax(dim)
}
