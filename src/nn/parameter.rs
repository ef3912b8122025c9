//! [`Parameter`] and [`Buffer`]: shared, settable cells holding a module's tensors.
//!
//! A module and the optimizers built from `module.parameters()` share each cell, so an
//! optimizer step (which replaces the tensor) is seen by the next forward pass. The
//! optimizer finds a parameter's gradient by the id of the tensor forward used:
//! `grads.get(&param.tensor())`.

use crate::{Device, Tensor};
use std::sync::{Arc, RwLock};

/// A trainable tensor: a tracked leaf (`requires_grad`) in a shared cell.
#[derive(Clone)]
pub struct Parameter(Arc<RwLock<Tensor>>);

impl Parameter {
    /// A parameter holding `t` as a fresh tracked leaf.
    pub fn new(t: Tensor) -> Parameter {
        Parameter(Arc::new(RwLock::new(t.detach().requires_grad())))
    }

    /// The current value: the tracked leaf that forward passes use and gradients are keyed by.
    pub fn tensor(&self) -> Tensor {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value with `t` as a new tracked leaf (a fresh id, so gradients of the
    /// old value are never applied to the new one).
    pub fn set(&self, t: Tensor) {
        let leaf = t.detach().requires_grad();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = leaf;
    }

    /// The dims of the current value.
    pub fn dims(&self) -> Vec<usize> {
        self.tensor().dims().to_vec()
    }

    /// The device of the current value.
    pub fn device(&self) -> Device {
        self.tensor().device().clone()
    }

    /// True when both handles share one cell.
    pub fn ptr_eq(&self, other: &Parameter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Parameter({:?})", self.tensor())
    }
}

/// A non-trainable tensor that belongs to a module's state (BatchNorm's running
/// statistics): saved and loaded with the parameters, never tracked.
#[derive(Clone)]
pub struct Buffer(Arc<RwLock<Tensor>>);

impl Buffer {
    /// A buffer holding `t` (untracked).
    pub fn new(t: Tensor) -> Buffer {
        Buffer(Arc::new(RwLock::new(t.detach())))
    }

    /// The current value.
    pub fn tensor(&self) -> Tensor {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value (detached).
    pub fn set(&self, t: Tensor) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = t.detach();
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({:?})", self.tensor())
    }
}
