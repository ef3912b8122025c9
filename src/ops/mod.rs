//! Tensor ops: each validates its inputs (shape rules from wgrad-core), then runs the
//! CPU kernel or records the GPU launch for the tensor's device.
//!
//! ```
//! use wgrad::{Device, Tensor};
//! let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0], [2, 2], &Device::cpu());
//! let y = x.neg().relu().matmul(&x.t()).sum(1, false); // [[0, 2], [0, 4]] @ x^T -> row sums
//! assert_eq!(y.to_vec::<f32>()?, [-12.0, -24.0]);
//! # Ok::<(), wgrad::Error>(())
//! ```

mod arith;
mod convenience;
mod elementwise;
mod index;
mod matmul;
mod optim;
mod reduce;
mod rnn;
mod softmax;
mod sort;

pub use optim::{AdamStep, AdamUpdate};
pub(crate) use rnn::{gru_cell_backward, lstm_cell_backward};

use crate::Tensor;

/// Panics unless every tensor is on the first one's device.
#[track_caller]
pub(crate) fn same_device(op: &str, tensors: &[&Tensor]) {
    let first = tensors[0].device();
    for t in &tensors[1..] {
        assert!(
            t.device() == first,
            "{op}: expected all tensors on the same device, got {:?} and {:?}",
            first,
            t.device()
        );
    }
}

/// Panics naming `op` when a float-only op meets an integer tensor.
#[track_caller]
pub(crate) fn require_float(op: &str, t: &Tensor) {
    assert!(t.dtype().is_float(), "{op}: not implemented for {} tensors (cast to f32 first)", t.dtype());
}
