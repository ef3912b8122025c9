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
    /// `x * sigmoid(x)` (nn.SiLU).
    SiLU => silu,
    /// `log(1 + e^x)` (nn.Softplus with beta 1, threshold 20).
    Softplus => softplus,
}

macro_rules! scalar_activation {
    ($(#[$doc:meta] $name:ident($default:expr) => $method:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy)]
        pub struct $name(pub f64);

        impl Default for $name {
            fn default() -> Self {
                $name($default)
            }
        }

        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Tensor {
                x.$method(self.0)
            }
        }
    )*};
}

scalar_activation! {
    /// `x` where positive, else `negative_slope * x` (nn.LeakyReLU; `Default` is 0.01).
    LeakyReLU(0.01) => leaky_relu,
    /// `x` where positive, else `alpha * (e^x - 1)` (nn.ELU; `Default` is alpha 1).
    ELU(1.0) => elu,
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
