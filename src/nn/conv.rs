//! [`Conv2d`] (nn.Conv2d), [`ConvTranspose2d`] (nn.ConvTranspose2d) and [`Conv1d`] (nn.Conv1d).

use super::module::params_setters;
use super::{init, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};

/// A convolution layer's weight and optional bias, initialised as PyTorch does (uniform in
/// `±1/√fan_in`, fan_in = weight dim 1 times the taps). The weight is `[out, in / groups,
/// kh, kw]`, or `[in, out / groups, kh, kw]` when `transposed`. Panics, naming `layer`,
/// unless `groups` divides both channel counts.
#[track_caller]
fn conv_parameters(
    (layer, transposed): (&str, bool),
    [in_channels, out_channels]: [usize; 2],
    [kh, kw]: [usize; 2],
    groups: usize,
    bias: bool,
    device: &Device,
) -> (Parameter, Option<Parameter>) {
    assert!(
        groups > 0 && in_channels.is_multiple_of(groups) && out_channels.is_multiple_of(groups),
        "{layer}: in_channels {in_channels} and out_channels {out_channels} must be divisible by groups {groups}"
    );
    let shape = match transposed {
        false => [out_channels, in_channels / groups, kh, kw],
        true => [in_channels, out_channels / groups, kh, kw],
    };
    let fan_in = shape[1] * kh * kw;
    let weight = Parameter::new(init::kaiming_uniform(shape, fan_in, device));
    (weight, bias.then(|| Parameter::new(init::kaiming_uniform([out_channels], fan_in, device))))
}

/// A 2-D convolution: weight `[out, in / groups, kh, kw]`, optional bias `[out]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Parameter,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Parameter>,
    /// Stride, padding, dilation and groups.
    pub params: F::Conv2d,
}

impl Conv2d {
    /// A `k` x `k` convolution with bias, stride 1 and no padding, initialised as PyTorch
    /// (uniform in `±1/√fan_in`, fan_in = in * k * k). Chain [`Conv2d::stride`],
    /// [`Conv2d::padding`], [`Conv2d::dilation`] to change those.
    pub fn new(in_channels: usize, out_channels: usize, k: usize, device: &Device) -> Conv2d {
        Conv2d::with_params(in_channels, out_channels, [k, k], F::Conv2d::default(), true, device)
    }

    /// A convolution with every option: kernel `[kh, kw]`, `params` (groups included)
    /// and whether it has a bias.
    pub fn with_params(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        params: F::Conv2d,
        bias: bool,
        device: &Device,
    ) -> Conv2d {
        let channels = [in_channels, out_channels];
        let (weight, bias) = conv_parameters(("Conv2d", false), channels, kernel, params.groups, bias, device);
        Conv2d { weight, bias, params }
    }

    params_setters! {
        stride: usize => |s| [s, s], "stride `s` on both axes";
        padding: usize => |p| [p, p], "zero padding `p` on both axes";
        dilation: usize => |d| [d, d], "dilation `d` on both axes";
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        let b = self.bias.as_ref().map(|b| b.tensor());
        F::conv2d(x, &self.weight.tensor(), b.as_ref(), self.params)
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out
    }
}

/// A transposed 2-D convolution (nn.ConvTranspose2d): weight `[in, out / groups, kh, kw]`,
/// optional bias `[out]`, with PyTorch's names and initialisation; upsamples by its stride.
///
/// ```
/// # use wgrad::{nn::{self, Module}, DType, Device, Tensor};
/// let up = nn::ConvTranspose2d::new(8, 4, 2, &Device::cpu()).stride(2);
/// let y = up.forward(&Tensor::zeros([1, 8, 5, 5], DType::F32, &Device::cpu()));
/// assert_eq!(y.dims(), [1, 4, 10, 10]);
/// ```
#[derive(crate::nn::Module)]
pub struct ConvTranspose2d {
    /// `[in_channels, out_channels / groups, kh, kw]`.
    pub weight: Parameter,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Parameter>,
    /// Stride, padding, dilation and groups (of the convolution this one transposes).
    #[module(skip)]
    pub params: F::Conv2d,
    /// Extra rows and columns on one side of the output (each below the stride).
    #[module(skip)]
    pub output_padding: [usize; 2],
}

impl ConvTranspose2d {
    /// A `k` x `k` transposed convolution with bias, stride 1, no padding, initialised as
    /// PyTorch (uniform in `±1/√fan_in`, fan_in = out / groups * k * k: weight dim 1 times
    /// the kernel, as torch computes it for this layout). Chain [`ConvTranspose2d::stride`],
    /// [`ConvTranspose2d::padding`], [`ConvTranspose2d::output_padding`] to change those.
    pub fn new(in_channels: usize, out_channels: usize, k: usize, device: &Device) -> ConvTranspose2d {
        ConvTranspose2d::with_params(in_channels, out_channels, [k, k], F::Conv2d::default(), [0, 0], true, device)
    }

    /// A transposed convolution with every option: kernel `[kh, kw]`, `params` (groups
    /// included) of the convolution it transposes, `output_padding`, and whether it has a
    /// bias.
    pub fn with_params(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        params: F::Conv2d,
        output_padding: [usize; 2],
        bias: bool,
        device: &Device,
    ) -> ConvTranspose2d {
        let channels = [in_channels, out_channels];
        let (weight, bias) = conv_parameters(("ConvTranspose2d", true), channels, kernel, params.groups, bias, device);
        ConvTranspose2d { weight, bias, params, output_padding }
    }

    params_setters! {
        stride: usize => |s| [s, s], "stride `s` on both axes";
        padding: usize => |p| [p, p], "padding `p` (of the convolution it transposes) on both axes";
    }

    /// The same layer with `p` extra output rows and columns.
    pub fn output_padding(mut self, p: usize) -> ConvTranspose2d {
        self.output_padding = [p, p];
        self
    }

    /// `F::conv_transpose2d` with this layer's weight, bias and options.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let b = self.bias.as_ref().map(|b| b.tensor());
        F::conv_transpose2d(x, &self.weight.tensor(), b.as_ref(), self.params, self.output_padding)
    }
}

/// 1-D convolution over `[N, C, L]` inputs (nn.Conv1d): weight `[out, in / groups, k]`,
/// optional bias `[out]`, with PyTorch's names and initialisation.
#[derive(crate::nn::Module)]
pub struct Conv1d {
    /// `[out_channels, in_channels / groups, k]`.
    pub weight: Parameter,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Parameter>,
    /// Step along L.
    #[module(skip)]
    pub stride: usize,
    /// Zeros added at both ends of L.
    #[module(skip)]
    pub padding: usize,
    /// Spacing of the kernel taps.
    #[module(skip)]
    pub dilation: usize,
    /// Channel groups.
    #[module(skip)]
    pub groups: usize,
}

impl Conv1d {
    /// A width-`k` convolution with bias, stride 1, no padding, dilation 1, one group,
    /// initialised as PyTorch (uniform in `±1/√fan_in`, fan_in = in * k). Set the public
    /// fields to change the options.
    pub fn new(in_channels: usize, out_channels: usize, k: usize, device: &Device) -> Conv1d {
        let fan_in = in_channels * k;
        let weight = init::kaiming_uniform([out_channels, in_channels, k], fan_in, device);
        let bias = Parameter::new(init::kaiming_uniform([out_channels], fan_in, device));
        Conv1d { weight: Parameter::new(weight), bias: Some(bias), stride: 1, padding: 0, dilation: 1, groups: 1 }
    }

    /// `F::conv1d` with this layer's weight, bias and options.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let b = self.bias.as_ref().map(|b| b.tensor());
        F::conv1d(x, &self.weight.tensor(), b.as_ref(), self.stride, self.padding, self.dilation, self.groups)
    }
}
