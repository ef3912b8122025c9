//! Reverse-mode automatic differentiation.
//!
//! Ops record, on their output, a [`Node`]: the tracked inputs and a backward rule (a
//! closure from the output's gradient to one gradient per input). Rules live next to
//! their forward op in `src/ops/`, written with tensor ops, so backward runs on the
//! tensor's own device and is batched by the recorder like the forward pass.
//! `loss.backward()` walks the graph in reverse topological order, accumulating
//! gradients, and frees each node's saved tensors as soon as its rule has run.

use crate::{Tensor, TensorId};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use wgrad_core::Result;

/// A backward rule: output gradient -> one optional gradient per recorded input.
pub(crate) type BackwardFn = Box<dyn FnOnce(&Tensor) -> Vec<Option<Tensor>> + Send + Sync>;

/// How gradients reach a tensor.
#[derive(Clone, Default)]
pub(crate) enum Track {
    /// Not tracked: a constant, or computed under `no_grad`.
    #[default]
    None,
    /// A leaf whose gradient the user wants (`requires_grad`).
    Leaf,
    /// The output of a recorded op.
    Node(Arc<Node>),
}

/// One recorded op.
pub(crate) struct Node {
    name: &'static str,
    inputs: Vec<Tensor>,
    /// Taken (and its saved tensors freed) when backward runs through this node.
    backward: Mutex<Option<BackwardFn>>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` without recording gradients (torch.no_grad), restoring the previous mode.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(previous);
    f()
}

/// True unless inside [`no_grad`].
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Gradients of a `backward()` call, by tensor: the leaves that require grad.
#[derive(Default, Debug)]
pub struct Gradients {
    map: HashMap<TensorId, Tensor>,
}

impl Gradients {
    /// The gradient of `t` (None if `t` did not contribute or does not require grad).
    pub fn get(&self, t: &Tensor) -> Option<Tensor> {
        self.map.get(&t.id()).cloned()
    }
    /// Gradient by id.
    pub fn get_id(&self, id: TensorId) -> Option<&Tensor> {
        self.map.get(&id)
    }
    /// Removes and returns the gradient of `t`.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.map.remove(&t.id())
    }
    /// Sets the gradient of `t` (used by gradient clipping and optimizers' tests).
    pub fn insert(&mut self, t: &Tensor, grad: Tensor) {
        self.map.insert(t.id(), grad);
    }
    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Every gradient with the id of its tensor (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (TensorId, &Tensor)> {
        self.map.iter().map(|(id, g)| (*id, g))
    }
    /// Adds `other`'s gradients to these, tensor by tensor: gradient accumulation over
    /// micro-batches, as PyTorch's `.grad` accumulates across `backward()` calls.
    ///
    /// ```
    /// # use wgrad::{Device, Gradients, Tensor};
    /// let w = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Device::cpu()).requires_grad();
    /// let mut total = Gradients::default();
    /// for scale in [1.0, 3.0] {
    ///     total.accumulate(w.mul_scalar(scale).sum_all().backward()?);
    /// }
    /// assert_eq!(total.get(&w).unwrap().to_vec::<f32>()?, vec![4.0, 4.0]);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    pub fn accumulate(&mut self, other: Gradients) {
        for (id, g) in other.map {
            let sum = match self.map.remove(&id) {
                Some(prev) => no_grad(|| prev.add(&g)),
                None => g,
            };
            self.map.insert(id, sum);
        }
    }
    /// Multiplies every gradient by `factor` (e.g. 1 / micro-batches after accumulating).
    pub fn scale(&mut self, factor: f64) {
        for g in self.map.values_mut() {
            *g = no_grad(|| g.mul_scalar(factor));
        }
    }
}

impl Tensor {
    /// A tracked leaf sharing this tensor's storage: `backward()` computes its gradient.
    /// It returns the tracked tensor and leaves `self` as it was, so the result must be
    /// used (unlike PyTorch's in-place `requires_grad_()`):
    ///
    /// ```compile_fail
    /// #![deny(unused_must_use)]
    /// let x = wgrad::Tensor::zeros([2], wgrad::DType::F32, &wgrad::Device::cpu());
    /// x.requires_grad(); // error: unused tensor that must be used
    /// ```
    pub fn requires_grad(&self) -> Tensor {
        assert!(
            self.dtype().is_float(),
            "requires_grad: only float tensors can require gradients, got {}",
            self.dtype()
        );
        self.with_track(Track::Leaf)
    }

    /// True if gradients flow to this tensor (a leaf that requires grad or an op output).
    pub fn is_tracked(&self) -> bool {
        !matches!(self.track(), Track::None)
    }

    /// The same values, cut from the graph.
    pub fn detach(&self) -> Tensor {
        self.with_track(Track::None)
    }

    /// Attaches a backward rule to `self`, a freshly computed op output, when any of
    /// `inputs` is tracked and gradients are enabled; otherwise returns `self` unchanged.
    pub(crate) fn record(
        self,
        name: &'static str,
        inputs: &[&Tensor],
        backward: impl FnOnce(&Tensor) -> Vec<Option<Tensor>> + Send + Sync + 'static,
    ) -> Tensor {
        if crate::anomaly::is_enabled() {
            crate::anomaly::check(&self, name, inputs);
        }
        if !is_grad_enabled() || !inputs.iter().any(|t| t.is_tracked()) || !self.dtype().is_float() {
            return self;
        }
        let node = Node {
            name,
            inputs: inputs.iter().map(|t| (*t).clone()).collect(),
            backward: Mutex::new(Some(Box::new(backward))),
        };
        self.with_track(Track::Node(Arc::new(node)))
    }

    /// Computes the gradients of this scalar (one-element) tensor with respect to every
    /// tracked leaf it depends on. `Err` if it depends on none (nothing requires grad, or
    /// it was computed under `no_grad`), as PyTorch raises. Records the backward ops and
    /// returns without waiting for the device: errors found on it (a bad id in the
    /// forward) reach the gradients' readback, so a GPU step waits on the host only where
    /// the program reads a value. The graph's saved tensors are freed as backward passes
    /// through them.
    #[track_caller]
    pub fn backward(&self) -> Result<Gradients> {
        assert_eq!(self.numel(), 1, "backward: expects a scalar loss, got shape {}", self.shape());
        if !self.is_tracked() {
            return Err(wgrad_core::Error::Autograd(
                "this value depends on no tensor that requires grad (call .requires_grad() on the \
                 inputs or parameters to differentiate, and compute it outside no_grad)"
                    .into(),
            ));
        }
        let order = topological_order(self);
        let mut pending: HashMap<TensorId, Tensor> = HashMap::new();
        pending.insert(self.id(), self.ones_like());
        let mut grads = Gradients::default();
        for t in order {
            let Some(grad) = pending.remove(&t.id()) else { continue };
            match t.track() {
                Track::None => {}
                Track::Leaf => {
                    grads.map.insert(t.id(), grad);
                }
                Track::Node(node) => {
                    let Some(rule) = node.backward.lock().unwrap().take() else {
                        panic!("backward: the graph through {} was already used by an earlier backward()", node.name)
                    };
                    let input_grads = no_grad(|| rule(&grad));
                    assert_eq!(input_grads.len(), node.inputs.len(), "{}: backward rule arity", node.name);
                    for (input, g) in node.inputs.iter().zip(input_grads) {
                        let Some(g) = g else { continue };
                        if !input.is_tracked() {
                            continue;
                        }
                        assert_eq!(
                            g.dims(),
                            input.dims(),
                            "{}: backward produced a gradient of shape {} for an input of shape {}",
                            node.name,
                            g.shape(),
                            input.shape()
                        );
                        let acc = match pending.remove(&input.id()) {
                            Some(prev) => no_grad(|| &prev + &g),
                            None => g,
                        };
                        pending.insert(input.id(), acc);
                    }
                }
            }
        }
        Ok(grads)
    }
}

/// Every tensor reachable from `root` through recorded nodes, outputs before inputs.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    // Iterative post-order DFS (graphs of long sequences are deep).
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<(Tensor, bool)> = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !visited.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Track::Node(node) = t.track() {
            for input in &node.inputs {
                if input.is_tracked() && !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order.reverse();
    order
}
