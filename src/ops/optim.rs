//! Fused optimizer updates: one kernel updates parameters and their state together, a
//! few parameters per launch (no autograd: optimizers run under no_grad).

use crate::Tensor;
use wgrad_core::DType;
pub use wgrad_gpu::kernels::optim::AdamStep;

/// Result of [`Tensor::adam_step`].
pub struct AdamUpdate {
    /// The updated parameter, shaped like the old one.
    pub param: Tensor,
    /// The new state `[2, n]` (`[3, n]` with amsgrad): m, v (, vmax); pass it to the next step.
    pub state: Tensor,
}

impl Tensor {
    /// One fused Adam/AdamW step of this f32 parameter with gradient `grad` and `state`
    /// (`[2, n]`, or `[3, n]` with amsgrad: m, v, vmax; zeros at step 1), as
    /// torch.optim.Adam / AdamW. One kernel on a GPU.
    #[track_caller]
    #[doc(hidden)]
    pub fn adam_step(&self, grad: &Tensor, state: &Tensor, h: &AdamStep) -> AdamUpdate {
        Tensor::adam_step_many(&[(self, grad, state)], h).pop().expect("one update per parameter")
    }

    /// [`Tensor::adam_step`] of many parameters `(param, grad, state)` with the same
    /// hyper-parameters and step: on a GPU, one launch per few tensors (a multi-tensor
    /// apply, as torch's `foreach` / `fused` Adam), the new values of each launch's
    /// tensors sharing one buffer.
    #[track_caller]
    #[doc(hidden)]
    pub fn adam_step_many(items: &[(&Tensor, &Tensor, &Tensor)], h: &AdamStep) -> Vec<AdamUpdate> {
        let rows = if h.amsgrad { 3 } else { 2 };
        let items: Vec<[Tensor; 3]> = items
            .iter()
            .map(|&(p, g, s)| {
                super::same_device("adam_step", &[p, g, s]);
                let n = p.numel();
                assert!(
                    p.dtype() == DType::F32 && g.dims() == p.dims() && s.dims() == [rows, n],
                    "adam_step: expected f32 param, grad of its shape {} and state [{rows}, {n}], got {} and {}",
                    p.shape(),
                    g.shape(),
                    s.shape()
                );
                [p.contiguous(), g.contiguous(), s.contiguous()]
            })
            .collect();
        let Some([first, ..]) = items.first() else { return Vec::new() };
        first.backend().adam_step(&items, h)
    }
}

impl AdamUpdate {
    /// The parameter (row 0, in `p`'s shape) and state (rows 1..) of an update block.
    #[track_caller]
    pub(crate) fn split(block: &Tensor, p: &Tensor, rows: usize) -> AdamUpdate {
        AdamUpdate { param: block.narrow(0, 0, 1).reshape(p.shape().clone()), state: block.narrow(0, 1, rows) }
    }
}
