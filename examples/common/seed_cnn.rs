//! The seed CNN of docs/BENCHMARKS.md W6 (Keras' MNIST example) for 1x28x28 inputs, with
//! PyTorch's layers, names and default initialisation. One definition, included by the
//! digits demo, the benchmark and the tests (`#[path]`).

use wgrad::{nn, Device};

/// Conv(1->32, 3x3) ReLU MaxPool2, Conv(32->64, 3x3) ReLU MaxPool2, Conv(64->64, 3x3) ReLU,
/// Flatten, Linear(576->64) ReLU, Linear(64->10).
pub fn seed_cnn(dev: &Device) -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Conv2d::new(1, 32, 3, dev))
        .add(nn::ReLU)
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(32, 64, 3, dev))
        .add(nn::ReLU)
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(64, 64, 3, dev))
        .add(nn::ReLU)
        .add(nn::Flatten)
        .add(nn::Linear::new(576, 64, dev))
        .add(nn::ReLU)
        .add(nn::Linear::new(64, 10, dev))
}
