//! Fused optimizer updates: one kernel updates parameters and their state together, a
//! few parameters per launch (no autograd: optimizers run under no_grad).

use crate::storage::Storage;
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
        let Some(gpu) = first.device().gpu_runtime() else {
            return items.iter().map(|[p, g, s]| cpu_adam_step(p, g, s, h)).collect();
        };
        let mut updates = Vec::with_capacity(items.len());
        for chunk in items.chunks(wgrad_gpu::kernels::optim::max_tensors(gpu)) {
            let tensors: Vec<_> = chunk
                .iter()
                .map(|[p, g, s]| {
                    let (Storage::Gpu(pb), Storage::Gpu(gb), Storage::Gpu(sb)) =
                        (p.storage(), g.storage(), s.storage())
                    else {
                        unreachable!("checked by same_device")
                    };
                    wgrad_gpu::kernels::optim::AdamTensor {
                        n: p.numel(),
                        p: (pb, p.offset()),
                        g: (gb, g.offset()),
                        state: (sb, s.offset()),
                    }
                })
                .collect();
            let (buffer, offsets) = wgrad_gpu::kernels::optim::adam_step(gpu, &tensors, h);
            let total: usize = tensors.iter().map(|t| (rows + 1) * t.n).sum();
            let all = Tensor::from_gpu(buffer, [total], DType::F32, first.device());
            for ([p, ..], offset) in chunk.iter().zip(offsets) {
                let n = p.numel();
                updates.push(split_update(&all.narrow(0, offset, (rows + 1) * n).reshape([rows + 1, n]), p, rows));
            }
        }
        updates
    }
}

/// The CPU reference step of one parameter.
#[track_caller]
fn cpu_adam_step(p: &Tensor, g: &Tensor, s: &Tensor, h: &AdamStep) -> AdamUpdate {
    let t = h.step.max(1) as i32;
    let v = wgrad_cpu::optim::adam_step(
        p.host_f32(),
        g.host_f32(),
        s.host_f32(),
        h.lr,
        (h.beta1, h.beta2),
        h.eps,
        (h.weight_decay, h.decoupled_weight_decay),
        (1.0 - h.beta1.powi(t), 1.0 - h.beta2.powi(t)),
        h.amsgrad,
    );
    let rows = s.dims()[0];
    split_update(&Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(v), [rows + 1, p.numel()]), p, rows)
}

/// The parameter (row 0, in `p`'s shape) and state (rows 1..) of an update block.
#[track_caller]
fn split_update(block: &Tensor, p: &Tensor, rows: usize) -> AdamUpdate {
    AdamUpdate { param: block.narrow(0, 0, 1).reshape(p.shape().clone()), state: block.narrow(0, 1, rows) }
}
