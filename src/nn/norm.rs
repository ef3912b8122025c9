//! Normalisation layers: [`LayerNorm`], [`BatchNorm`] (nn.BatchNorm1d / 2d).

use super::{Buffer, Module, Parameter, TrainingFlag};
use crate::functional as F;
use crate::{DType, Device, Tensor};

/// Layer normalisation over the trailing `normalized_shape` dims (nn.LayerNorm), with
/// an elementwise affine weight (ones) and bias (zeros).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// The trailing dims normalised over.
    pub normalized_shape: Vec<usize>,
    /// Scale, `normalized_shape`; None without elementwise affine.
    pub weight: Option<Parameter>,
    /// Shift, `normalized_shape`; None without elementwise affine.
    pub bias: Option<Parameter>,
    /// Added to the variance.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalises the last dim of size `dim` (eps 1e-5, affine).
    pub fn new(dim: usize, device: &Device) -> LayerNorm {
        LayerNorm::with_shape(&[dim], 1e-5, true, device)
    }

    /// Normalises the trailing dims `shape`, with or without the affine parameters.
    pub fn with_shape(shape: &[usize], eps: f64, elementwise_affine: bool, device: &Device) -> LayerNorm {
        let param = |v: f64| elementwise_affine.then(|| Parameter::new(Tensor::full(shape, v, DType::F32, device)));
        LayerNorm { normalized_shape: shape.to_vec(), weight: param(1.0), bias: param(0.0), eps }
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let w = self.weight.as_ref().map(|p| p.tensor());
        let b = self.bias.as_ref().map(|p| p.tensor());
        F::layer_norm(x, &self.normalized_shape, w.as_ref(), b.as_ref(), self.eps)
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = Vec::new();
        out.extend(self.weight.iter().map(|p| ("weight".to_string(), p.clone())));
        out.extend(self.bias.iter().map(|p| ("bias".to_string(), p.clone())));
        out
    }
}

/// Batch normalisation over dim 1 of `[N, C, ...]` (nn.BatchNorm1d / 2d): batch
/// statistics in training (updating the running ones), running statistics in eval.
#[derive(Debug)]
pub struct BatchNorm {
    /// Scale `[C]` (ones).
    pub weight: Parameter,
    /// Shift `[C]` (zeros).
    pub bias: Parameter,
    /// Running mean `[C]` (zeros).
    pub running_mean: Buffer,
    /// Running (unbiased) variance `[C]` (ones).
    pub running_var: Buffer,
    /// Training batches seen, an i32 scalar (int64 in PyTorch; converted on load).
    pub num_batches_tracked: Buffer,
    /// Weight of the newest batch in the running statistics (0.1).
    pub momentum: f64,
    /// Added to the variance (1e-5).
    pub eps: f64,
    training: TrainingFlag,
}

/// nn.BatchNorm2d: [`BatchNorm`] over `[N, C, H, W]`.
pub type BatchNorm2d = BatchNorm;
/// nn.BatchNorm1d: [`BatchNorm`] over `[N, C]` or `[N, C, L]`.
pub type BatchNorm1d = BatchNorm;

impl BatchNorm {
    /// A layer for `channels` channels (momentum 0.1, eps 1e-5), in training mode.
    pub fn new(channels: usize, device: &Device) -> BatchNorm {
        let full = |v: f64| Tensor::full([channels], v, DType::F32, device);
        BatchNorm {
            weight: Parameter::new(full(1.0)),
            bias: Parameter::new(full(0.0)),
            running_mean: Buffer::new(full(0.0)),
            running_var: Buffer::new(full(1.0)),
            num_batches_tracked: Buffer::new(Tensor::zeros([], DType::I32, device)),
            momentum: 0.1,
            eps: 1e-5,
            training: TrainingFlag::default(),
        }
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training.get()
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let running = F::RunningStats { mean: self.running_mean.tensor(), var: self.running_var.tensor() };
        let (w, b) = (self.weight.tensor(), self.bias.tensor());
        let training = self.training.get();
        let (y, updated) = F::batch_norm(x, Some(&running), Some(&w), Some(&b), training, self.momentum, self.eps);
        if let Some(r) = updated {
            self.running_mean.set(r.mean);
            self.running_var.set(r.var);
            let n = self.num_batches_tracked.tensor();
            self.num_batches_tracked.set(crate::no_grad(|| n.add_scalar(1.0)));
        }
        y
    }

    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        vec![("weight".into(), self.weight.clone()), ("bias".into(), self.bias.clone())]
    }

    fn own_buffers(&self) -> Vec<(String, Buffer)> {
        vec![
            ("running_mean".into(), self.running_mean.clone()),
            ("running_var".into(), self.running_var.clone()),
            ("num_batches_tracked".into(), self.num_batches_tracked.clone()),
        ]
    }

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }
}
