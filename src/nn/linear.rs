//! [`Linear`]: `y = x W^T + b` (nn.Linear).

use super::{init, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};

/// A fully connected layer: weight `[out, in]`, optional bias `[out]`.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Parameter,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Parameter>,
}

impl Linear {
    /// A layer with bias, initialised as PyTorch: weight and bias uniform in `±1/√in`.
    pub fn new(in_features: usize, out_features: usize, device: &Device) -> Linear {
        let mut l = Linear::new_no_bias(in_features, out_features, device);
        l.bias = Some(Parameter::new(init::kaiming_uniform([out_features], in_features, device)));
        l
    }

    /// A layer without bias.
    pub fn new_no_bias(in_features: usize, out_features: usize, device: &Device) -> Linear {
        let weight = init::kaiming_uniform([out_features, in_features], in_features, device);
        Linear { weight: Parameter::new(weight), bias: None }
    }

    /// A layer holding the given weight `[out, in]` and bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Linear {
        Linear { weight: Parameter::new(weight), bias: bias.map(Parameter::new) }
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        let b = self.bias.as_ref().map(|b| b.tensor());
        F::linear(x, &self.weight.tensor(), b.as_ref())
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out
    }
}
