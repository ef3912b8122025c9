//! [`Adam`] and [`AdamW`] (torch.optim.Adam / AdamW, amsgrad included). f32 parameters
//! use the fused update kernel ([`Tensor::adam_step_many`], a few parameters per launch);
//! other dtypes, or `fused(false)`, compose the same update from tensor ops.

use super::{check_state, delegate_optimizer, gradient, place, read_step, step_name, step_tensor, ParamGroup};
use crate::nn::Parameter;
use crate::ops::AdamStep;
use crate::{no_grad, DType, Gradients, Result, Tensor};
use std::collections::HashMap;

/// Hyper-parameters of [`Adam`] (PyTorch's defaults; weight decay is an L2 penalty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (false).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, amsgrad: false }
    }
}

/// Hyper-parameters of [`AdamW`] (PyTorch's defaults; weight decay is decoupled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate (1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment estimates ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// Decoupled decay: `p *= 1 - lr * weight_decay` each step (1e-2).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (false).
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 1e-2, amsgrad: false }
    }
}

/// The shared Adam machinery; `decoupled` says whether weight decay is AdamW's.
struct AdamCore {
    params: Vec<Parameter>,
    /// Per parameter: its group's index in `groups`.
    group_of: Vec<usize>,
    /// Per group: (learning rate as a multiple of `config.lr`, weight decay).
    groups: Vec<(f64, f64)>,
    config: AdamConfig,
    /// The rate it was built with (what schedules scale).
    initial_lr: f64,
    decoupled: bool,
    fused: bool,
    /// Per parameter: steps taken and the state `[m; v]` (`[m; v; vmax]` with amsgrad)
    /// as one `[rows, numel]` tensor in the parameter's dtype, on its device.
    state: Vec<Option<(u64, Tensor)>>,
}

const ENTRIES: [&str; 3] = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

impl AdamCore {
    fn new(groups: Vec<ParamGroup>, config: AdamConfig, decoupled: bool) -> AdamCore {
        let (b1, b2) = config.betas;
        assert!(
            (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2) && config.lr >= 0.0 && config.eps >= 0.0,
            "Adam: invalid hyper-parameters {config:?}"
        );
        let (mut params, mut group_of, mut hyper) = (Vec::new(), Vec::new(), Vec::new());
        for (g, group) in groups.into_iter().enumerate() {
            // A group's own rate is kept as a multiple of the base rate that schedules set.
            let scale = match group.lr {
                None => 1.0,
                Some(lr) => {
                    assert!(
                        lr >= 0.0 && config.lr > 0.0,
                        "Adam: parameter group {g}'s rate {lr} needs a positive base rate (got {})",
                        config.lr
                    );
                    lr / config.lr
                }
            };
            hyper.push((scale, group.weight_decay.unwrap_or(config.weight_decay)));
            group_of.extend(std::iter::repeat_n(g, group.params.len()));
            params.extend(group.params);
        }
        let n = params.len();
        AdamCore {
            params,
            group_of,
            groups: hyper,
            config,
            initial_lr: config.lr,
            decoupled,
            fused: true,
            state: vec![None; n],
        }
    }

    fn rows(&self) -> usize {
        if self.config.amsgrad {
            3
        } else {
            2
        }
    }

    fn step(&mut self, grads: &Gradients) -> Result<()> {
        let mut work = Vec::new();
        for (i, param) in self.params.iter().enumerate() {
            let p = param.tensor();
            if let Some(g) = gradient(grads, &p, i)? {
                work.push((i, p, g));
            }
        }
        let rows = self.rows();
        let mut fused: Vec<(usize, u64, Tensor, Tensor, Tensor)> = Vec::new();
        for (i, p, g) in work {
            let (step, state) = match self.state[i].take() {
                Some((s, t)) => (s + 1, t),
                None => (1, Tensor::zeros([rows, p.numel()], p.dtype(), p.device())),
            };
            if self.fused && p.dtype() == DType::F32 {
                fused.push((i, step, p, g, state));
                continue;
            }
            let (new_p, new_state) = no_grad(|| self.composed(&p, &g, &state, step, self.group_of[i]));
            self.params[i].set(new_p);
            self.state[i] = Some((step, new_state));
        }
        // The fused kernel updates the parameters of one step count and group together
        // (all of a group, unless some went without gradients), a few per launch.
        let key = |item: &(usize, u64, Tensor, Tensor, Tensor)| (item.1, self.group_of[item.0]);
        fused.sort_by_key(key);
        for same_step in fused.chunk_by(|a, b| key(a) == key(b)) {
            let (step, group) = key(&same_step[0]);
            let items: Vec<_> = same_step.iter().map(|(_, _, p, g, s)| (p, g, s)).collect();
            let updates = no_grad(|| Tensor::adam_step_many(&items, &self.hyper(step, group)));
            for ((i, ..), u) in same_step.iter().zip(updates) {
                self.params[*i].set(u.param);
                self.state[*i] = Some((step, u.state));
            }
        }
        Ok(())
    }

    /// The learning rate and weight decay of `group`.
    fn group_hyper(&self, group: usize) -> (f64, f64) {
        let (scale, weight_decay) = self.groups[group];
        (self.config.lr * scale, weight_decay)
    }

    fn hyper(&self, step: u64, group: usize) -> AdamStep {
        let c = &self.config;
        let (lr, weight_decay) = self.group_hyper(group);
        let (wd, decoupled) = if self.decoupled { (0.0, weight_decay) } else { (weight_decay, 0.0) };
        AdamStep {
            lr: lr as f32,
            beta1: c.betas.0 as f32,
            beta2: c.betas.1 as f32,
            eps: c.eps as f32,
            weight_decay: wd as f32,
            decoupled_weight_decay: decoupled as f32,
            step,
            amsgrad: c.amsgrad,
        }
    }

    /// The update as torch.optim.Adam's single-tensor code writes it, from tensor ops.
    fn composed(&self, p: &Tensor, g: &Tensor, state: &Tensor, step: u64, group: usize) -> (Tensor, Tensor) {
        let c = &self.config;
        let (lr, weight_decay) = self.group_hyper(group);
        let (b1, b2) = c.betas;
        let shape = p.shape().clone();
        let row = |r: usize| state.narrow(0, r, 1).reshape(shape.clone());
        let mut p = p.clone();
        let mut g = g.clone();
        if weight_decay != 0.0 {
            if self.decoupled {
                p = p.mul_scalar(1.0 - lr * weight_decay);
            } else {
                g = g.add(&p.mul_scalar(weight_decay));
            }
        }
        let m = row(0).mul_scalar(b1).add(&g.mul_scalar(1.0 - b1));
        let v = row(1).mul_scalar(b2).add(&g.mul(&g).mul_scalar(1.0 - b2));
        let vmax = c.amsgrad.then(|| row(2).maximum(&v));
        let t = step as i32;
        let (bias1, bias2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let denom = vmax.as_ref().unwrap_or(&v).sqrt().div_scalar(bias2.sqrt()).add_scalar(c.eps);
        let new_p = p.sub(&m.div(&denom).mul_scalar(lr / bias1));
        let n = p.numel();
        let mut parts = vec![m.reshape([1, n]), v.reshape([1, n])];
        parts.extend(vmax.map(|x| x.reshape([1, n])));
        let refs: Vec<&Tensor> = parts.iter().collect();
        (new_p, Tensor::cat(&refs, 0))
    }

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, s) in self.state.iter().enumerate() {
            let Some((step, t)) = s else { continue };
            out.push((step_name(i), step_tensor(*step)));
            let shape = self.params[i].dims();
            for (r, name) in ENTRIES.iter().take(self.rows()).enumerate() {
                out.push((format!("state.{i}.{name}"), t.narrow(0, r, 1).reshape(shape.clone()).contiguous()));
            }
        }
        out
    }

    fn load_state_dict(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let rows = self.rows();
        check_state(state, &self.params, &ENTRIES[..rows])?;
        let mut loaded = vec![None; self.params.len()];
        for (i, param) in self.params.iter().enumerate() {
            let Some(s) = state.get(&step_name(i)) else { continue };
            let p = param.tensor();
            let n = p.numel();
            let parts = ENTRIES[..rows]
                .iter()
                .map(|e| place(&state[&format!("state.{i}.{e}")].reshape([1, n]), p.dtype(), p.device()))
                .collect::<Result<Vec<Tensor>>>()?;
            let refs: Vec<&Tensor> = parts.iter().collect();
            loaded[i] = Some((read_step(s)?, Tensor::cat(&refs, 0)));
        }
        self.state = loaded;
        Ok(())
    }
}

macro_rules! adam_optimizer {
    ($(#[$doc:meta])* $name:ident, $config:ident, $decoupled:expr) => {
        $(#[$doc])*
        pub struct $name(AdamCore);

        impl $name {
            /// An optimizer over `params` (usually `model.parameters()`).
            pub fn new(params: Vec<Parameter>, config: $config) -> $name {
                $name::with_groups(vec![ParamGroup::new(params)], config)
            }

            /// An optimizer over parameter groups, each with its own learning rate and
            /// weight decay where it sets them (PyTorch's list of dicts); `config` gives
            /// the rest. A schedule scales every group's rate by the same factor (it sets
            /// `lr()`, `config.lr`'s place). State-dict indices count through the groups.
            pub fn with_groups(groups: Vec<ParamGroup>, config: $config) -> $name {
                let c = AdamConfig {
                    lr: config.lr,
                    betas: config.betas,
                    eps: config.eps,
                    weight_decay: config.weight_decay,
                    amsgrad: config.amsgrad,
                };
                $name(AdamCore::new(groups, c, $decoupled))
            }

            /// Whether f32 parameters use the fused kernel (default) or the update composed
            /// from tensor ops (the reference; also what other dtypes always use).
            pub fn fused(mut self, on: bool) -> $name {
                self.0.fused = on;
                self
            }

            /// Updates every parameter that has a gradient in `grads`.
            pub fn step(&mut self, grads: &Gradients) -> Result<()> {
                self.0.step(grads)
            }

            /// The learning rate (of the parameters without a group rate of their own).
            pub fn lr(&self) -> f64 {
                self.0.config.lr
            }

            /// The learning rate of group `i` now.
            pub fn group_lr(&self, i: usize) -> f64 {
                self.0.group_hyper(i).0
            }

            /// Sets the learning rate.
            pub fn set_lr(&mut self, lr: f64) {
                self.0.config.lr = lr;
            }

            /// The learning rate it was built with (PyTorch's `initial_lr`).
            pub fn initial_lr(&self) -> f64 {
                self.0.initial_lr
            }

            /// `state.<i>.step`, `.exp_avg`, `.exp_avg_sq` (and `.max_exp_avg_sq` with
            /// amsgrad) per stepped parameter, shaped like it.
            pub fn state_dict(&self) -> Vec<(String, Tensor)> {
                self.0.state_dict()
            }

            /// Restores the output of `state_dict` (moved to each parameter's device).
            pub fn load_state_dict(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
                self.0.load_state_dict(state)
            }
        }

        delegate_optimizer!($name);
    };
}

adam_optimizer!(
    /// torch.optim.Adam: bias-corrected moment estimates, L2 weight decay, optional amsgrad.
    Adam,
    AdamConfig,
    false
);
adam_optimizer!(
    /// torch.optim.AdamW: Adam with decoupled weight decay (`p *= 1 - lr wd` each step).
    AdamW,
    AdamWConfig,
    true
);
