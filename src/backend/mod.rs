//! The one seam between the frontend and the backends.
//!
//! The frontend (`Tensor`'s ops, autograd, `functional`, `nn`) checks shapes and dtypes,
//! records gradients and never asks which device it is on: it calls the [`Backend`] of
//! the tensors' device ([`Device::backend`], the only place a device is matched), which
//! runs the op on its storage and returns an untracked tensor. [`cpu::Cpu`] runs the
//! reference kernels of `wgrad_cpu`; the GPU backend (`gpu.rs`, implemented for
//! `wgrad_gpu::GpuDevice`'s shared handle) records WGSL launches. A new backend (the browser's own, a
//! native CUDA or Metal path) implements this trait and adds one arm to
//! [`Device::backend`].
//!
//! Inputs arrive validated (same device, dtypes and shapes the op accepts); where a
//! method documents "contiguous", the frontend made them so. A method that returns
//! `None` has no fused kernel for those inputs, and the frontend composes the op from
//! others instead.

mod cpu;
mod gpu;

use crate::ops::{AdamStep, AdamUpdate};
use crate::{Device, DeviceStats, Tensor};
use std::future::Future;
use std::pin::Pin;
use wgrad_core::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
use wgrad_core::params::{Conv2dDims, Pool2d, Pooling};
use wgrad_core::{DType, Error, Result, Shape};
use wgrad_cpu::CpuStorage;

/// An elementwise op over inputs already broadcast to the output's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Map {
    /// `op(x, scalar)` (the scalar of powf, leaky_relu, elu; 0 otherwise).
    Unary(UnaryOp, f64),
    /// `grad * op'(x)` over `[x, grad]`: the backward of `Unary`.
    UnaryGrad(UnaryOp, f64),
    /// `a op b`.
    Binary(BinaryOp),
    /// `x op scalar`, the scalar in x's dtype.
    BinaryScalar(BinaryOp, f64),
    /// `a op b` as u32 0/1.
    Compare(CmpOp),
    /// `cond ? a : b` over `[cond, a, b]`.
    Where,
    /// The input converted to the output dtype.
    Cast,
}

/// A fused op's backward: the gradients of its inputs (in the order it was given them)
/// from its output's gradient.
pub(crate) type GradFn = Box<dyn FnOnce(&Tensor) -> Vec<Option<Tensor>> + Send + Sync>;

/// A readback in flight.
pub(crate) type HostFuture = Pin<Box<dyn Future<Output = Result<CpuStorage>> + Send>>;

/// The mask of a fused attention call.
#[derive(Clone, Copy)]
pub(crate) enum AttentionMask<'a> {
    /// No mask.
    None,
    /// Keep where non-zero (u32), broadcastable to [B, H, Lq, Lk].
    Keep(&'a Tensor),
    /// Added to the scores (f32), broadcastable to [B, H, Lq, Lk].
    Additive(&'a Tensor),
}

/// A fused attention call: q [B, H, Lq, E], k and v [B, H, Lk, E].
#[derive(Clone, Copy)]
pub(crate) struct Attention<'a> {
    pub q: &'a Tensor,
    pub k: &'a Tensor,
    pub v: &'a Tensor,
    pub mask: AttentionMask<'a>,
    pub causal: bool,
    pub scale: f64,
}

/// A fused layer norm call: rows of `d` elements of `x`, optional weight and bias [d].
#[derive(Clone, Copy)]
pub(crate) struct LayerNorm<'a> {
    pub x: &'a Tensor,
    pub d: usize,
    pub weight: Option<&'a Tensor>,
    pub bias: Option<&'a Tensor>,
    pub eps: f64,
    /// Whether the caller records the backward (else a backend may skip saving for it).
    pub needs_grad: bool,
}

/// What every backend implements: memory, then one method per op family.
pub(crate) trait Backend {
    // --- memory and the device ---

    /// Host data as a tensor of `shape` on `device`.
    fn upload(&self, device: &Device, host: CpuStorage, shape: Shape) -> Tensor;
    /// The elements as contiguous host storage, or the first pending error of this thread.
    fn read(&self, x: &Tensor) -> Result<CpuStorage>;
    /// [`Backend::read`] without blocking; the copy is submitted at the call.
    fn read_async(&self, x: &Tensor) -> HostFuture;
    /// `value` (converted to `dtype`) everywhere.
    fn full(&self, device: &Device, shape: Shape, value: f64, dtype: DType) -> Tensor;
    /// Dropout's f32 keep mask from the counter-based generator (`wgrad_cpu::random`):
    /// `scale` where the element's random bits reach `threshold`, else 0.
    fn keep_mask(&self, device: &Device, shape: Shape, seed: u32, threshold_scale: (u32, f32)) -> Tensor;
    /// A row-major copy.
    fn copy(&self, x: &Tensor) -> Tensor;
    /// `parts` joined along `dim` into `shape`.
    fn cat(&self, parts: &[&Tensor], dim: usize, shape: Shape) -> Tensor;
    /// Waits for recorded work; the first error this thread's ops reported since the last check.
    fn sync(&self) -> Result<()>;
    /// [`Backend::sync`] without blocking.
    fn sync_async(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;
    /// Reports `e` at this thread's next readback.
    fn record_error(&self, e: Error);
    /// Counters (zero where there is nothing to count).
    fn stats(&self) -> DeviceStats;
    /// True when the backend holds f16 tensors.
    fn supports_f16(&self) -> bool;

    // --- ops ---

    /// An elementwise op into a new tensor of `shape` and `out_dtype`.
    fn map(&self, op: Map, inputs: &[&Tensor], shape: &Shape, out_dtype: DType) -> Tensor;
    /// `op` over the sorted, distinct `dims`, kept as size-1 dims in `shape` or not.
    fn reduce(&self, x: &Tensor, op: ReduceOp, dims: &[usize], shape: Shape) -> Tensor;
    /// Batched product `[batch, m, k] @ [batch, k, n]` (any strides).
    fn matmul(&self, a: &Tensor, b: &Tensor) -> Tensor;
    /// Softmax (or log-softmax) along `dim`.
    fn softmax(&self, x: &Tensor, dim: usize, log: bool) -> Tensor;
    /// The fused softmax backward from the output `y` and its gradient `g`.
    fn softmax_backward(&self, y: &Tensor, g: &Tensor, dim: usize, log: bool) -> Option<Tensor>;
    /// torch.gather along `dim` (ids of the output's shape); bad ids are reported as `op`.
    fn gather(&self, x: &Tensor, dim: usize, ids: &Tensor, op: &'static str) -> Tensor;
    /// The gradient of gather: `g` scattered (summed) into `x_shape`.
    fn gather_backward(&self, g: &Tensor, dim: usize, ids: &Tensor, x_shape: &[usize]) -> Tensor;
    /// `out[v] = sum of src[l] over ids[l] == v`, `rows` rows of `src`'s row size.
    fn index_add_rows(&self, src: &Tensor, ids: &Tensor, rows: usize) -> Tensor;
    /// The stable sorting permutation of each row of a contiguous `[.., n]` tensor (u32).
    fn argsort_rows(&self, x: &Tensor, descending: bool) -> Tensor;
    /// Running sums of each row of a contiguous `[.., n]` tensor.
    fn cumsum_rows(&self, x: &Tensor, reverse: bool) -> Tensor;
    /// Fused Adam steps of contiguous `[param, grad, state]` triples.
    fn adam_step(&self, items: &[[Tensor; 3]], h: &AdamStep) -> Vec<AdamUpdate>;
    /// One LSTM step from contiguous gates [B, 4H] and c_prev [B, H]: hc [2, B, H].
    fn lstm_cell(&self, gates: &Tensor, c_prev: &Tensor) -> Tensor;
    /// Its backward: (d gates, d c_prev) from contiguous gates, c_prev and dhc.
    fn lstm_cell_backward(&self, gates: &Tensor, c_prev: &Tensor, dhc: &Tensor) -> (Tensor, Tensor);
    /// A whole LSTM layer's forward in one call, where the backend has one:
    /// (hc [T, 2, B, H], gates [T, B, 4H]).
    fn lstm_sequence(&self, xw: &Tensor, h0: &Tensor, c0: &Tensor, w_hh_t: &Tensor) -> Option<(Tensor, Tensor)>;
    /// One GRU step from contiguous xw, hw [B, 3H] and h_prev [B, H].
    fn gru_cell(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor) -> Tensor;
    /// Its backward: (d xw, d hw, d h_prev).
    fn gru_cell_backward(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor, dh: &Tensor) -> (Tensor, Tensor, Tensor);
    /// f32 2-D convolution (any strides).
    fn conv2d(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>, d: &Conv2dDims) -> Tensor;
    /// Its input gradient.
    fn conv2d_grad_input(&self, g: &Tensor, w: &Tensor, d: &Conv2dDims) -> Tensor;
    /// Its weight gradient.
    fn conv2d_grad_weight(&self, g: &Tensor, x: &Tensor, d: &Conv2dDims) -> Tensor;
    /// Max pooling of contiguous f32 planes: (values, u32 indices), both of `shape`.
    fn max_pool2d(&self, x: &Tensor, p: Pool2d, shape: Vec<usize>) -> (Tensor, Tensor);
    /// Its backward: contiguous f32 `g` and u32 `indices` into `input_shape`.
    fn max_pool2d_backward(&self, g: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor;
    /// Average (or adaptive average) pooling of contiguous f32 planes into `shape`.
    fn avg_pool2d(&self, x: &Tensor, pooling: Pooling, shape: Vec<usize>) -> Tensor;
    /// Its backward into `input_shape`.
    fn avg_pool2d_backward(&self, g: &Tensor, pooling: Pooling, input_shape: &[usize]) -> Tensor;
    /// Fused f32 attention of q [B, H, Lq, E], k, v [B, H, Lk, E]: the output and its
    /// backward (dq, dk, dv).
    fn attention(&self, call: &Attention) -> Option<(Tensor, GradFn)>;
    /// Fused layer norm of f32 rows of `d` elements with optional weight and bias [d]: the
    /// output and, when `needs_grad`, its backward (gradients of x and of the weight and
    /// bias given, in that order).
    fn layer_norm(&self, call: &LayerNorm) -> Option<(Tensor, Option<GradFn>)>;
}

impl Device {
    /// The backend that runs this device's ops: the only place a device is matched.
    pub(crate) fn backend(&self) -> &dyn Backend {
        match self {
            Device::Cpu => &cpu::Cpu,
            Device::Gpu(gpu) => gpu,
        }
    }
}

impl Tensor {
    /// The backend of this tensor's device.
    pub(crate) fn backend(&self) -> &dyn Backend {
        self.device().backend()
    }
}
