//! Fused optimizer updates: one kernel per parameter updates the parameter and its
//! state together (no autograd: optimizers run under no_grad).

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
    pub fn adam_step(&self, grad: &Tensor, state: &Tensor, h: &AdamStep) -> AdamUpdate {
        super::same_device("adam_step", &[self, grad, state]);
        let n = self.numel();
        let rows = if h.amsgrad { 3 } else { 2 };
        assert!(
            self.dtype() == DType::F32 && grad.dims() == self.dims() && state.dims() == [rows, n],
            "adam_step: expected f32 param, grad of its shape {} and state [{rows}, {n}], got {} and {}",
            self.shape(),
            grad.shape(),
            state.shape()
        );
        let (p, g, s) = (self.contiguous(), grad.contiguous(), state.contiguous());
        let out_rows = rows + 1;
        let out = match (p.storage(), g.storage(), s.storage()) {
            (Storage::Gpu(pb), Storage::Gpu(gb), Storage::Gpu(sb)) => {
                let gpu = self.device().gpu_runtime().expect("gpu device");
                let buf = wgrad_gpu::kernels::optim::adam_step(
                    gpu,
                    n,
                    (pb, p.offset()),
                    (gb, g.offset()),
                    (sb, s.offset()),
                    h,
                );
                Tensor::from_gpu(buf, [out_rows, n], DType::F32, self.device())
            }
            _ => {
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
                Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(v), [out_rows, n])
            }
        };
        AdamUpdate { param: out.narrow(0, 0, 1).reshape(self.shape().clone()), state: out.narrow(0, 1, rows) }
    }
}
