//! Learning-rate schedules (torch.optim.lr_scheduler): [`StepLR`], [`CosineAnnealingLR`],
//! [`LinearLR`] (linear warm-up), [`OneCycleLR`], [`LambdaLR`], [`SequentialLR`] (warm-up
//! then decay), and [`ReduceLROnPlateau`] (driven by a metric). Each is a pure function of the step
//! ([`LrScheduler::lr_at`]) plus a counter: call [`LrScheduler::step`] once per
//! optimizer step (or epoch) after `opt.step`, as in PyTorch.
//!
//! As in PyTorch, a scheduler is built from the optimizer: it takes the rate the optimizer
//! was built with as its base rate (so several schedules of one optimizer agree) and sets the optimizer to the schedule's rate at step 0
//! at once, so the first step already runs at the scheduled rate.
//!
//! ```
//! use wgrad::{nn, Device};
//! use wgrad::nn::{LrScheduler, Module, Optimizer};
//! let model = nn::Linear::new(4, 2, &Device::cpu());
//! let mut opt = nn::AdamW::new(model.parameters(), nn::AdamWConfig { lr: 1e-3, ..Default::default() });
//! let mut warmup = nn::LinearLR::warmup(&mut opt, 10);
//! assert!((opt.lr() - 1e-4).abs() < 1e-12); // step 0 runs at base_lr / 10
//! for _ in 0..10 {
//!     warmup.step(&mut opt); // after each optimizer step
//! }
//! assert!((opt.lr() - 1e-3).abs() < 1e-12);
//! ```

use super::Optimizer;
use std::f64::consts::PI;

/// A learning-rate schedule.
pub trait LrScheduler {
    /// The learning rate after `step` scheduler steps (step 0: the initial rate).
    fn lr_at(&self, step: usize) -> f64;
    /// The scheduler steps taken so far.
    fn last_step(&self) -> usize;
    /// Advances the counter (used by [`LrScheduler::step`]).
    fn advance(&mut self);
    /// Sets the counter, as when resuming from a [`crate::nn::TrainingCheckpoint`]
    /// (schedulers stepped once per optimizer step resume at its `step`).
    fn set_last_step(&mut self, step: usize);

    /// Advances one step and sets the optimizer's learning rate; returns it.
    fn step(&mut self, opt: &mut dyn Optimizer) -> f64 {
        self.advance();
        let lr = self.lr_at(self.last_step());
        opt.set_lr(lr);
        lr
    }

    /// The current learning rate.
    fn lr(&self) -> f64 {
        self.lr_at(self.last_step())
    }
}

/// Sets `opt` to `sched`'s rate at its current step and returns `sched` (what every
/// constructor does, as PyTorch's schedulers do when they are created).
fn bound<S: LrScheduler>(sched: S, opt: &mut dyn Optimizer) -> S {
    opt.set_lr(sched.lr());
    sched
}

macro_rules! counter {
    () => {
        fn last_step(&self) -> usize {
            self.last_step
        }
        fn advance(&mut self) {
            self.last_step += 1;
        }
        fn set_last_step(&mut self, step: usize) {
            self.last_step = step;
        }
    };
}

/// `base_lr * gamma^(step / step_size)` (integer division).
#[derive(Debug, Clone)]
pub struct StepLR {
    /// The rate at step 0.
    pub base_lr: f64,
    /// Steps between decays.
    pub step_size: usize,
    /// Decay factor.
    pub gamma: f64,
    last_step: usize,
}

impl StepLR {
    /// Decays the optimizer's rate by `gamma` every `step_size` steps.
    pub fn new(opt: &mut dyn Optimizer, step_size: usize, gamma: f64) -> StepLR {
        assert!(step_size > 0, "StepLR: step_size must be positive");
        bound(StepLR { base_lr: opt.initial_lr(), step_size, gamma, last_step: 0 }, opt)
    }
}

impl LrScheduler for StepLR {
    fn lr_at(&self, step: usize) -> f64 {
        self.base_lr * self.gamma.powi((step / self.step_size) as i32)
    }
    counter!();
}

/// `eta_min + (base_lr - eta_min) (1 + cos(π step / t_max)) / 2` (the closed form).
#[derive(Debug, Clone)]
pub struct CosineAnnealingLR {
    /// The rate at step 0.
    pub base_lr: f64,
    /// Steps of the half cosine.
    pub t_max: usize,
    /// The rate at `t_max`.
    pub eta_min: f64,
    last_step: usize,
}

impl CosineAnnealingLR {
    /// Anneals from the optimizer's rate to `eta_min` over `t_max` steps.
    pub fn new(opt: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> CosineAnnealingLR {
        assert!(t_max > 0, "CosineAnnealingLR: t_max must be positive");
        bound(CosineAnnealingLR { base_lr: opt.initial_lr(), t_max, eta_min, last_step: 0 }, opt)
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn lr_at(&self, step: usize) -> f64 {
        let x = PI * step as f64 / self.t_max as f64;
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + x.cos()) / 2.0
    }
    counter!();
}

/// Linear warm-up (torch's LinearLR): the factor goes linearly from `start_factor` to
/// `end_factor` over `total_iters` steps, then stays: `base_lr * factor`.
#[derive(Debug, Clone)]
pub struct LinearLR {
    /// The rate the factors multiply.
    pub base_lr: f64,
    /// Factor at step 0.
    pub start_factor: f64,
    /// Factor from `total_iters` on.
    pub end_factor: f64,
    /// Steps of the ramp.
    pub total_iters: usize,
    last_step: usize,
}

impl LinearLR {
    /// A ramp of `base_lr * start_factor` to `base_lr * end_factor` over `total_iters`
    /// steps, `base_lr` being the optimizer's rate.
    pub fn new(opt: &mut dyn Optimizer, start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLR {
        bound(LinearLR { base_lr: opt.initial_lr(), start_factor, end_factor, total_iters, last_step: 0 }, opt)
    }

    /// A warm-up from `base_lr / warmup_steps` to `base_lr` (the optimizer's rate) over
    /// `warmup_steps` steps.
    pub fn warmup(opt: &mut dyn Optimizer, warmup_steps: usize) -> LinearLR {
        LinearLR::new(opt, 1.0 / warmup_steps.max(1) as f64, 1.0, warmup_steps)
    }
}

impl LrScheduler for LinearLR {
    fn lr_at(&self, step: usize) -> f64 {
        let frac =
            if self.total_iters == 0 { 1.0 } else { step.min(self.total_iters) as f64 / self.total_iters as f64 };
        self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)
    }
    counter!();
}

/// The one-cycle policy (torch's OneCycleLR, cosine annealing, two phases): from
/// `max_lr / div_factor` up to `max_lr` over the first `pct_start` of `total_steps`,
/// then down to `initial / final_div_factor` at step `total_steps - 1`.
/// (Momentum cycling is not done.)
#[derive(Debug, Clone)]
pub struct OneCycleLR {
    /// The peak rate.
    pub max_lr: f64,
    /// Steps in the cycle.
    pub total_steps: usize,
    /// Fraction of the cycle spent increasing (0.3).
    pub pct_start: f64,
    /// `initial = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min = initial / final_div_factor` (1e4).
    pub final_div_factor: f64,
    last_step: usize,
}

impl OneCycleLR {
    /// A cycle peaking at `max_lr` over `total_steps` steps, with PyTorch's defaults.
    pub fn new(opt: &mut dyn Optimizer, max_lr: f64, total_steps: usize) -> OneCycleLR {
        assert!(total_steps > 1, "OneCycleLR: total_steps must be at least 2");
        let sched =
            OneCycleLR { max_lr, total_steps, pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4, last_step: 0 };
        bound(sched, opt)
    }
}

/// Cosine interpolation from `start` (pct 0) to `end` (pct 1).
fn anneal_cos(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl LrScheduler for OneCycleLR {
    fn lr_at(&self, step: usize) -> f64 {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let peak = self.pct_start * self.total_steps as f64 - 1.0;
        let end = (self.total_steps - 1) as f64;
        let s = step as f64;
        if peak > 0.0 && s <= peak {
            anneal_cos(initial, self.max_lr, s / peak)
        } else {
            anneal_cos(self.max_lr, min, ((s - peak) / (end - peak)).min(1.0))
        }
    }
    counter!();
}

/// `base_lr * factor(step)` for a function of the step (torch's LambdaLR).
pub struct LambdaLR {
    /// The rate `factor` multiplies.
    pub base_lr: f64,
    factor: Box<dyn Fn(usize) -> f64 + Send + Sync>,
    last_step: usize,
}

impl LambdaLR {
    /// The optimizer's rate times `factor(step)`.
    pub fn new(opt: &mut dyn Optimizer, factor: impl Fn(usize) -> f64 + Send + Sync + 'static) -> LambdaLR {
        bound(LambdaLR { base_lr: opt.initial_lr(), factor: Box::new(factor), last_step: 0 }, opt)
    }
}

impl LrScheduler for LambdaLR {
    fn lr_at(&self, step: usize) -> f64 {
        self.base_lr * (self.factor)(step)
    }
    counter!();
}

/// Schedules one after another (torch's SequentialLR): `schedules[i]` runs from
/// `milestones[i - 1]` on, counting its own steps from 0 there, e.g. a linear warm-up
/// for 100 steps, then a cosine decay.
pub struct SequentialLR {
    schedules: Vec<Box<dyn LrScheduler + Send + Sync>>,
    milestones: Vec<usize>,
    last_step: usize,
}

impl SequentialLR {
    /// Chains `schedules` (built from the same optimizer) at `milestones` (one fewer,
    /// increasing), and sets the optimizer to the first one's rate at step 0.
    ///
    /// # Panics
    /// If there is not exactly one milestone fewer than schedules, or they decrease.
    pub fn new(
        opt: &mut dyn Optimizer,
        schedules: Vec<Box<dyn LrScheduler + Send + Sync>>,
        milestones: Vec<usize>,
    ) -> SequentialLR {
        assert!(
            !schedules.is_empty() && milestones.len() + 1 == schedules.len(),
            "SequentialLR: expected one milestone fewer than schedules, got {} and {}",
            milestones.len(),
            schedules.len()
        );
        assert!(milestones.windows(2).all(|w| w[0] <= w[1]), "SequentialLR: milestones must increase");
        bound(SequentialLR { schedules, milestones, last_step: 0 }, opt)
    }
}

impl LrScheduler for SequentialLR {
    fn lr_at(&self, step: usize) -> f64 {
        let i = self.milestones.iter().take_while(|&&m| step >= m).count();
        let start = if i == 0 { 0 } else { self.milestones[i - 1] };
        self.schedules[i].lr_at(step - start)
    }
    counter!();
}

/// Lowers the rate when a metric stops improving (torch's ReduceLROnPlateau, mode "min",
/// relative threshold): after more than `patience` epochs without a value below
/// `best * (1 - threshold)`, the rate is multiplied by `factor` (not below `min_lr`).
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    /// Multiplies the rate at each reduction (0.1).
    pub factor: f64,
    /// Epochs without improvement that are tolerated (10).
    pub patience: usize,
    /// Relative improvement that counts (1e-4).
    pub threshold: f64,
    /// The lowest rate (0).
    pub min_lr: f64,
    best: f64,
    bad_epochs: usize,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau {
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            min_lr: 0.0,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }
}

impl ReduceLROnPlateau {
    /// PyTorch's defaults.
    pub fn new() -> ReduceLROnPlateau {
        ReduceLROnPlateau::default()
    }

    /// Takes this epoch's `metric` (lower is better: a validation loss) and lowers the
    /// optimizer's rate when it has stalled; returns the rate.
    pub fn step(&mut self, metric: f64, opt: &mut dyn Optimizer) -> f64 {
        if metric < self.best * (1.0 - self.threshold) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.patience {
            opt.set_lr((opt.lr() * self.factor).max(self.min_lr));
            self.bad_epochs = 0;
        }
        opt.lr()
    }
}
