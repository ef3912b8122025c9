//! Pooling layers: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`].

use super::module::params_setters;
use super::Module;
use crate::functional as F;
use crate::Tensor;

/// Max pooling over `[N, C, H, W]` (nn.MaxPool2d).
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    /// Window, stride, padding, ceil mode.
    pub params: F::Pool2d,
}

impl MaxPool2d {
    /// A `k` x `k` window with stride `k` (PyTorch's default stride) and no padding.
    pub fn new(k: usize) -> MaxPool2d {
        MaxPool2d { params: F::Pool2d::square(k) }
    }
    params_setters! {
        stride: usize => |s| [s, s], "stride `s` on both axes";
        padding: usize => |p| [p, p], "padding `p` on both axes";
        dilation: usize => |d| [d, d], "its taps `d` apart on both axes (dilation)";
        ceil_mode: bool => |on| on, "ceil mode on or off";
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::max_pool2d(x, self.params)
    }
}

/// Average pooling over `[N, C, H, W]` (nn.AvgPool2d).
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    /// Window, stride, padding, ceil mode.
    pub params: F::Pool2d,
    /// Whether padded zeros count in the average (PyTorch's default: true).
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// A `k` x `k` window with stride `k` and no padding.
    pub fn new(k: usize) -> AvgPool2d {
        AvgPool2d { params: F::Pool2d::square(k), count_include_pad: true }
    }
    params_setters! {
        stride: usize => |s| [s, s], "stride `s` on both axes";
        padding: usize => |p| [p, p], "padding `p` on both axes";
        ceil_mode: bool => |on| on, "ceil mode on or off";
    }
    /// The same layer counting (true) or not counting padded zeros.
    pub fn count_include_pad(mut self, on: bool) -> AvgPool2d {
        self.count_include_pad = on;
        self
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::avg_pool2d(x, self.params, self.count_include_pad)
    }
}

/// Average pooling to a fixed output size `[oh, ow]` (nn.AdaptiveAvgPool2d).
#[derive(Debug, Clone, Copy)]
pub struct AdaptiveAvgPool2d {
    /// The output's spatial size.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools to `[oh, ow]` (`[1, 1]` is global average pooling).
    pub fn new(output_size: [usize; 2]) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output_size }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        F::adaptive_avg_pool2d(x, self.output_size)
    }
}
