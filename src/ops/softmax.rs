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
        let out = self.backend().softmax(self, dim, log);
        let y = out.detach();
        out.record(name, &[self], move |g| {
            if let Some(dx) = y.backend().softmax_backward(&y, g, dim, log) {
                return vec![Some(dx)];
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
