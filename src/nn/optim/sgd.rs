//! [`Sgd`]: stochastic gradient descent with momentum, dampening, Nesterov momentum and
//! L2 weight decay (torch.optim.SGD).

use super::{check_state, delegate_optimizer, gradient, place, read_step, step_name, step_tensor};
use crate::nn::Parameter;
use crate::{no_grad, Gradients, Result, Tensor};
use std::collections::HashMap;

/// Hyper-parameters of [`Sgd`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (1e-3).
    pub lr: f64,
    /// Momentum factor (0).
    pub momentum: f64,
    /// Dampening of the momentum's new gradient (0).
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 1e-3, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0 }
    }
}

/// torch.optim.SGD: `g += wd p; buf = momentum buf + (1 - dampening) g` (buf = g at the
/// first step); `g = g + momentum buf` (Nesterov) or `buf`; `p -= lr g`.
pub struct Sgd {
    params: Vec<Parameter>,
    config: SgdConfig,
    /// The rate it was built with (what schedules scale).
    initial_lr: f64,
    /// Momentum buffer per parameter, created at its first step.
    momentum: Vec<Option<Tensor>>,
    /// Steps taken per parameter.
    steps: Vec<u64>,
}

impl Sgd {
    /// An optimizer over `params` (usually `model.parameters()`).
    pub fn new(params: Vec<Parameter>, config: SgdConfig) -> Sgd {
        assert!(
            !config.nesterov || (config.momentum > 0.0 && config.dampening == 0.0),
            "Sgd: Nesterov momentum requires a momentum and zero dampening"
        );
        let n = params.len();
        Sgd { params, config, initial_lr: config.lr, momentum: vec![None; n], steps: vec![0; n] }
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// Updates every parameter that has a gradient in `grads`.
    pub fn step(&mut self, grads: &Gradients) -> Result<()> {
        let c = self.config;
        // Every gradient is checked before any parameter changes.
        let mut work = Vec::new();
        for (i, param) in self.params.iter().enumerate() {
            let p = param.tensor();
            if let Some(g) = gradient(grads, &p, i)? {
                work.push((i, p, g));
            }
        }
        for (i, p, g) in work {
            let new = no_grad(|| {
                let mut d = if c.weight_decay != 0.0 { g.add(&p.mul_scalar(c.weight_decay)) } else { g };
                if c.momentum != 0.0 {
                    let buf = match self.momentum[i].take() {
                        None => d.clone(),
                        Some(b) => b.mul_scalar(c.momentum).add(&d.mul_scalar(1.0 - c.dampening)),
                    };
                    d = if c.nesterov { d.add(&buf.mul_scalar(c.momentum)) } else { buf.clone() };
                    self.momentum[i] = Some(buf);
                }
                p.sub(&d.mul_scalar(c.lr))
            });
            self.params[i].set(new);
            self.steps[i] += 1;
        }
        Ok(())
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The learning rate it was built with (PyTorch's `initial_lr`).
    pub fn initial_lr(&self) -> f64 {
        self.initial_lr
    }

    /// `state.<i>.step` and, with momentum, `state.<i>.momentum_buffer` per stepped parameter.
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, &step) in self.steps.iter().enumerate() {
            if step == 0 {
                continue;
            }
            out.push((step_name(i), step_tensor(step)));
            if let Some(b) = &self.momentum[i] {
                out.push((format!("state.{i}.momentum_buffer"), b.clone()));
            }
        }
        out
    }

    /// Restores [`Sgd::state_dict`]'s output (moved to each parameter's device).
    pub fn load_state_dict(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let entries: &[&str] = if self.config.momentum != 0.0 { &["momentum_buffer"] } else { &[] };
        check_state(state, &self.params, entries)?;
        let mut momentum = vec![None; self.params.len()];
        let mut steps = vec![0; self.params.len()];
        for (i, param) in self.params.iter().enumerate() {
            let Some(s) = state.get(&step_name(i)) else { continue };
            steps[i] = read_step(s)?;
            if let Some(b) = state.get(&format!("state.{i}.momentum_buffer")) {
                let p = param.tensor();
                momentum[i] = Some(place(b, p.dtype(), p.device())?);
            }
        }
        (self.momentum, self.steps) = (momentum, steps);
        Ok(())
    }
}

delegate_optimizer!(Sgd);
