//! Activations as modules (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.Softmax, ...).

use super::Module;
use crate::Tensor;

macro_rules! activation {
    ($(#[$doc:meta] $name:ident => $method:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Tensor {
                x.$method()
            }
        }
    )*};
}

activation! {
    /// `max(x, 0)`.
    ReLU => relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid => sigmoid,
    /// `tanh(x)`.
    Tanh => tanh,
    /// GELU, exact (erf) form.
    GELU => gelu,
    /// GELU, tanh approximation (nn.GELU(approximate="tanh")).
    GeluTanh => gelu_tanh,
}

/// Softmax along `dim` (nn.Softmax(dim)).
#[derive(Debug, Clone, Copy)]
pub struct Softmax(pub isize);

impl Module for Softmax {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.softmax(self.0)
    }
}

/// Log-softmax along `dim` (nn.LogSoftmax(dim)).
#[derive(Debug, Clone, Copy)]
pub struct LogSoftmax(pub isize);

impl Module for LogSoftmax {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.log_softmax(self.0)
    }
}
