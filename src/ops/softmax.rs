//! Softmax and log-softmax along a dim: one fused kernel forward; on a GPU the backward
//! is one fused kernel too, on the CPU it is composed from tensor ops (the reference).

use super::require_float;
use crate::Tensor;
use wgrad_core::Dim;

impl Tensor {
    /// Softmax along `dim` (negative counts from the end); stable for large logits.
    #[track_caller]
    pub fn softmax(&self, dim: impl Dim) -> Tensor {
        self.softmax_impl(dim.resolve(self.rank(), "softmax"), false)
    }

    /// Log-softmax along `dim`; stable for large logits.
    #[track_caller]
    pub fn log_softmax(&self, dim: impl Dim) -> Tensor {
        self.softmax_impl(dim.resolve(self.rank(), "log_softmax"), true)
    }

    #[track_caller]
    fn softmax_impl(&self, dim: usize, log: bool) -> Tensor {
        let name = if log { "log_softmax" } else { "softmax" };
        require_float(name, self);
        let out = match self.device().gpu_runtime() {
            None => {
                Tensor::from_cpu(wgrad_cpu::softmax(self.cpu_storage(), self.layout(), dim, log), self.shape().clone())
            }
            Some(gpu) => {
                let buffer = wgrad_gpu::kernels::softmax::softmax(gpu, self.operand(), dim, log);
                Tensor::from_gpu(buffer, self.shape().clone(), self.dtype(), self.device())
            }
        };
        let y = out.detach();
        out.record(name, &[self], move |g| {
            if let (Some(gpu), crate::storage::Storage::Gpu(yb)) = (g.device().gpu_runtime(), y.storage()) {
                let g = g.contiguous();
                let crate::storage::Storage::Gpu(gb) = g.storage() else { unreachable!("g is on the GPU") };
                let fits = (y.numel() * y.dtype().size_in_bytes()) as u64 <= gpu.max_binding_bytes();
                if fits && y.layout().is_contiguous() && y.offset() == 0 && g.offset() == 0 {
                    let dx = wgrad_gpu::kernels::softmax::softmax_backward(gpu, yb, gb, y.dims(), y.dtype(), dim, log);
                    return vec![Some(Tensor::from_gpu(dx, y.shape().clone(), y.dtype(), y.device()))];
                }
            }
            let d = dim as isize;
            let grad = if log {
                // d log_softmax: g - softmax * sum(g)
                g.sub(&y.exp().mul(&g.sum_dims(&[d], true)))
            } else {
                // d softmax: y * (g - sum(g * y))
                y.mul(&g.sub(&g.mul(&y).sum_dims(&[d], true)))
            };
            vec![Some(grad)]
        })
    }
}
