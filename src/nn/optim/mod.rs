//! Optimizers (torch.optim): [`Sgd`], [`Adam`], [`AdamW`]; learning-rate schedules and
//! gradient clipping.
//!
//! An optimizer holds the model's [`Parameter`] cells. `step(&grads)` looks up each
//! parameter's gradient by the tensor the forward pass used (`grads.get(&p.tensor())`),
//! skips parameters without one, computes the update under `no_grad` on the parameter's
//! device, and stores the result with [`Parameter::set`] as a fresh leaf.
//!
//! ```
//! use wgrad::nn::{self, Module};
//! use wgrad::{functional as F, Device, Tensor};
//! let dev = Device::cpu();
//! let model = nn::Linear::new(2, 1, &dev);
//! let mut opt = nn::Sgd::new(model.parameters(), nn::SgdConfig { lr: 0.1, ..Default::default() });
//! let (x, y) = (Tensor::from_vec(vec![1.0f32, 2.0], [1, 2], &dev), Tensor::from_vec(vec![3.0f32], [1, 1], &dev));
//! let loss = |m: &nn::Linear| F::mse_loss(&m.forward(&x), &y, F::Reduction::Mean);
//! let before = loss(&model).to_scalar()?;
//! let grads = loss(&model).backward()?;
//! opt.step(&grads)?;
//! assert!(loss(&model).to_scalar()? < before);
//! # Ok::<(), wgrad::Error>(())
//! ```

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use schedule::{
    CosineAnnealingLR, LambdaLR, LinearLR, LrScheduler, OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR,
};
pub use sgd::{Sgd, SgdConfig};

use super::Parameter;
use crate::{io, DType, Device, Error, Gradients, Result, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Parameters that share hyper-parameters (an entry of PyTorch's `param_groups`): the
/// learning rate and weight decay it sets replace the optimizer's for these parameters.
///
/// ```
/// use wgrad::nn::{self, Module, ParamGroup};
/// let model = nn::Linear::new(4, 2, &wgrad::Device::cpu());
/// let (decay, no_decay): (Vec<_>, Vec<_>) =
///     model.named_parameters().into_iter().partition(|(name, _)| !name.ends_with("bias"));
/// let groups = vec![
///     ParamGroup::new(decay.into_iter().map(|(_, p)| p).collect()),
///     ParamGroup::new(no_decay.into_iter().map(|(_, p)| p).collect()).weight_decay(0.0).lr(1e-2),
/// ];
/// let opt = nn::AdamW::with_groups(groups, nn::AdamWConfig { lr: 1e-3, ..Default::default() });
/// assert_eq!((opt.group_lr(0), opt.group_lr(1)), (1e-3, 1e-2));
///
/// // The usual transformer split in one call: matrices decay, biases and norm weights not.
/// let [decay, no_decay] = ParamGroup::split_decay(model.parameters(), 0.01);
/// assert_eq!((decay.params.len(), no_decay.weight_decay), (1, Some(0.0)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ParamGroup {
    /// The parameters.
    pub params: Vec<Parameter>,
    /// Their learning rate (the optimizer's if None).
    pub lr: Option<f64>,
    /// Their weight decay (the optimizer's if None).
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group of `params` with the optimizer's hyper-parameters.
    pub fn new(params: Vec<Parameter>) -> ParamGroup {
        ParamGroup { params, lr: None, weight_decay: None }
    }

    /// The same group with its own learning rate.
    pub fn lr(mut self, lr: f64) -> ParamGroup {
        self.lr = Some(lr);
        self
    }

    /// The same group with its own weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> ParamGroup {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// `params` in two groups, as transformer fine-tuning recipes split them: the matrices
    /// (rank >= 2: weights, embeddings) with `weight_decay`, and the vectors (biases,
    /// LayerNorm weights) without. For BERT this is exactly transformers' rule by name
    /// (`bias` and `LayerNorm.weight` undecayed). Order within each group is kept.
    pub fn split_decay(params: Vec<Parameter>, weight_decay: f64) -> [ParamGroup; 2] {
        let (decay, no_decay) = params.into_iter().partition(|p| p.tensor().rank() >= 2);
        [ParamGroup::new(decay).weight_decay(weight_decay), ParamGroup::new(no_decay).weight_decay(0.0)]
    }
}

/// What every optimizer does; schedules and training loops can take `&mut dyn Optimizer`.
/// The optimizers also have these as inherent methods, so no import is needed to call them.
pub trait Optimizer {
    /// Updates every parameter that has a gradient in `grads`.
    fn step(&mut self, grads: &Gradients) -> Result<()>;
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (what schedules call).
    fn set_lr(&mut self, lr: f64);
    /// The learning rate it was built with, which schedules scale (PyTorch's
    /// `initial_lr`): several schedules built from one optimizer share it.
    fn initial_lr(&self) -> f64;
    /// The per-parameter state by name (`state.<i>.exp_avg`, `state.<i>.step`, ...), `i`
    /// being the parameter's position in the list the optimizer was built from.
    fn state_dict(&self) -> Vec<(String, Tensor)>;
    /// Restores state saved by [`Optimizer::state_dict`]; `Err` lists every bad name and
    /// changes nothing then.
    fn load_state_dict(&mut self, state: &HashMap<String, Tensor>) -> Result<()>;

    /// Saves the state as a safetensors file (atomically).
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        io::save_safetensors(path, &self.state_dict())
    }

    /// Loads state saved by [`Optimizer::save`]; errors name the file.
    fn load(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        let state = io::load_safetensors(path, &Device::cpu())?;
        self.load_state_dict(&state).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
    }
}

/// Implements [`Optimizer`] by delegating to the inherent methods of the same names.
macro_rules! delegate_optimizer {
    ($ty:ty) => {
        impl $crate::nn::optim::Optimizer for $ty {
            fn step(&mut self, grads: &$crate::Gradients) -> $crate::Result<()> {
                <$ty>::step(self, grads)
            }
            fn lr(&self) -> f64 {
                <$ty>::lr(self)
            }
            fn set_lr(&mut self, lr: f64) {
                <$ty>::set_lr(self, lr)
            }
            fn initial_lr(&self) -> f64 {
                <$ty>::initial_lr(self)
            }
            fn state_dict(&self) -> Vec<(String, $crate::Tensor)> {
                <$ty>::state_dict(self)
            }
            fn load_state_dict(
                &mut self,
                state: &std::collections::HashMap<String, $crate::Tensor>,
            ) -> $crate::Result<()> {
                <$ty>::load_state_dict(self, state)
            }
        }
    };
}
pub(crate) use delegate_optimizer;

/// The gradient of `p` (the current leaf of parameter `i`), untracked and in `p`'s
/// dtype; None if it has none. A gradient of another shape or device is an `Err`.
fn gradient(grads: &Gradients, p: &Tensor, i: usize) -> Result<Option<Tensor>> {
    let Some(g) = grads.get(p) else { return Ok(None) };
    if g.dims() != p.dims() || g.device() != p.device() {
        return Err(Error::Format(format!(
            "optimizer: parameter {i} is {} on {:?} but its gradient is {} on {:?}",
            p.shape(),
            p.device(),
            g.shape(),
            g.device()
        )));
    }
    Ok(Some(g.detach().cast(p.dtype())))
}

/// Checks a loaded optimizer state against the expected `(name, shape)` entries of
/// each parameter that has state: every name present in `state` must be expected, and
/// each expected group must be complete with the right shapes. Returns the problems.
fn check_state(state: &HashMap<String, Tensor>, params: &[Parameter], entries: &[&str]) -> Result<()> {
    let mut problems = Vec::new();
    let mut known = Vec::new();
    for (i, p) in params.iter().enumerate() {
        let dims = p.dims();
        let names: Vec<String> = entries.iter().map(|e| format!("state.{i}.{e}")).collect();
        let present =
            names.iter().filter(|n| state.contains_key(*n)).count() + state.contains_key(&step_name(i)) as usize;
        if present == 0 {
            continue;
        }
        match state.get(&step_name(i)) {
            None => problems.push(format!("missing {}", step_name(i))),
            Some(t) if t.numel() != 1 => problems.push(format!("wrong shape: {} ({})", step_name(i), t.shape())),
            Some(_) => {}
        }
        for n in &names {
            match state.get(n) {
                None => problems.push(format!("missing {n}")),
                Some(t) if t.dims() != dims.as_slice() || !t.dtype().is_float() => problems.push(format!(
                    "wrong shape or dtype: {n} ({} {}, parameter {:?})",
                    t.dtype(),
                    t.shape(),
                    dims
                )),
                Some(_) => {}
            }
        }
        known.extend(names);
        known.push(step_name(i));
    }
    let mut unexpected: Vec<&String> = state.keys().filter(|k| !known.contains(k)).collect();
    unexpected.sort();
    problems.extend(unexpected.into_iter().map(|k| format!("unexpected {k}")));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Format(format!("optimizer state does not match (nothing was loaded): {}", problems.join(", "))))
    }
}

fn step_name(i: usize) -> String {
    format!("state.{i}.step")
}

/// A step count as saved in a state dict: an i32 scalar.
fn step_tensor(step: u64) -> Tensor {
    Tensor::from_vec(vec![step.min(i32::MAX as u64) as i32], [], &Device::cpu())
}

/// Reads a saved step count (one host read per parameter, at load time only).
fn read_step(t: &Tensor) -> Result<u64> {
    let v = t.to_scalar()?;
    if !(v >= 0.0 && v.fract() == 0.0) {
        return Err(Error::Format(format!("optimizer state: step count {v} is not a count")));
    }
    Ok(v as u64)
}

/// `t` as `dtype` on `device`, untracked.
fn place(t: &Tensor, dtype: DType, device: &Device) -> Result<Tensor> {
    t.detach().cast(dtype).try_to_device(device)
}
