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
pub(crate) use rnn::{gru_cell_backward, lstm_cell_backward, lstm_sequence_cpu};

use crate::storage::Storage;
use crate::Tensor;
use wgrad_core::{DType, Layout, Shape};
use wgrad_cpu::CpuStorage;
use wgrad_gpu::kernels::{elementwise as ew, Operand};

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

/// Runs one elementwise op over `inputs` (already broadcast to `shape`): `cpu` on the
/// CPU backend, the WGSL expression `expr` on the GPU.
#[track_caller]
pub(crate) fn elementwise(
    inputs: &[&Tensor],
    shape: &Shape,
    out_dtype: DType,
    cpu: impl FnOnce(&[(&CpuStorage, &Layout)]) -> CpuStorage,
    expr: &str,
    scalar: (DType, u32),
) -> Tensor {
    let device = inputs[0].device();
    match device.gpu_runtime() {
        None => {
            let args: Vec<(&CpuStorage, &Layout)> = inputs
                .iter()
                .map(|t| match t.storage() {
                    Storage::Cpu(s) => (&**s, t.layout()),
                    Storage::Gpu(_) => unreachable!("checked by same_device"),
                })
                .collect();
            Tensor::from_cpu(cpu(&args), shape.clone())
        }
        Some(gpu) => {
            let operands: Vec<Operand> = inputs.iter().map(|t| t.operand()).collect();
            let m = ew::Map { expr, inputs: &operands, scalar_dtype: scalar.0, scalar: scalar.1 };
            Tensor::from_gpu(ew::map(gpu, &m, shape, out_dtype), shape.clone(), out_dtype, device)
        }
    }
}

impl Tensor {
    /// This tensor as a GPU kernel operand; panics for CPU tensors.
    #[track_caller]
    pub(crate) fn operand(&self) -> Operand<'_> {
        match self.storage() {
            Storage::Gpu(b) => Operand { buffer: b, layout: self.layout(), dtype: self.dtype() },
            Storage::Cpu(_) => unreachable!("operand() of a CPU tensor"),
        }
    }

    /// The host storage; panics for GPU tensors.
    #[track_caller]
    pub(crate) fn cpu_storage(&self) -> &CpuStorage {
        match self.storage() {
            Storage::Cpu(s) => s,
            Storage::Gpu(_) => unreachable!("cpu_storage() of a GPU tensor"),
        }
    }
}
