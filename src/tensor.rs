//! [`Tensor`]: a strided view of device storage. Construction, readback, transfers.

use crate::autograd::Track;
use crate::storage::Storage;
use crate::{rng, Device};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wgrad_core::{DType, Layout, Result, Shape, WithDType};
use wgrad_cpu::CpuStorage;

/// An n-dimensional array on a [`Device`]. Cloning is cheap (shared storage); views
/// (reshape, transpose, narrow, expand, ...) share storage and only change the layout.
///
/// Every op returns a new tensor and leaves its inputs as they were, so a result that is
/// not used is a mistake (`x.requires_grad();` alone does nothing): the compiler says so.
#[derive(Clone)]
#[must_use = "tensor ops return a new tensor and leave `self` unchanged; use the result"]
pub struct Tensor(Arc<Inner>);

struct Inner {
    id: TensorId,
    storage: Storage,
    layout: Layout,
    dtype: DType,
    device: Device,
    /// How gradients reach this tensor: not at all, as a leaf, or through an op.
    track: Track,
}

/// A process-unique tensor identity; gradients are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    #[track_caller]
    fn next() -> TensorId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Debug for Tensor {
    #[track_caller]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor[{}, {}, {:?}]", self.shape(), self.dtype(), self.device())
    }
}

impl Tensor {
    #[track_caller]
    pub(crate) fn from_parts(storage: Storage, layout: Layout, dtype: DType, device: Device) -> Tensor {
        Tensor(Arc::new(Inner { id: TensorId::next(), storage, layout, dtype, device, track: Track::None }))
    }

    /// The same tensor (shared storage, new identity) with gradient tracking `track`.
    #[track_caller]
    pub(crate) fn with_track(&self, track: Track) -> Tensor {
        let i = &self.0;
        Tensor(Arc::new(Inner {
            id: TensorId::next(),
            storage: i.storage.clone(),
            layout: i.layout.clone(),
            dtype: i.dtype,
            device: i.device.clone(),
            track,
        }))
    }

    /// This tensor's identity (what [`crate::Gradients`] are keyed by).
    #[track_caller]
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    #[track_caller]
    pub(crate) fn track(&self) -> &Track {
        &self.0.track
    }

    /// A new contiguous tensor from host storage, placed on the CPU.
    #[track_caller]
    pub(crate) fn from_cpu(storage: CpuStorage, shape: impl Into<Shape>) -> Tensor {
        wgrad_cpu::memory::retain_freed_buffers();
        let dtype = storage.dtype();
        Tensor::from_parts(Storage::Cpu(Arc::new(storage)), Layout::contiguous(shape), dtype, Device::Cpu)
    }

    /// A new contiguous tensor over a GPU buffer.
    #[track_caller]
    pub(crate) fn from_gpu(
        buffer: wgrad_gpu::PooledBuffer,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Tensor {
        Tensor::from_parts(Storage::Gpu(Arc::new(buffer)), Layout::contiguous(shape), dtype, device.clone())
    }

    /// The same storage seen through another layout (no gradient tracking: view ops
    /// record their own backward rule).
    #[track_caller]
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout, self.0.dtype, self.0.device.clone())
    }

    #[track_caller]
    pub(crate) fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// Builds a tensor from host data. Panics if `data.len()` differs from the shape's
    /// element count, or if the device cannot hold the dtype (f16 without SHADER_F16).
    #[track_caller]
    pub fn from_vec<T: WithDType + wgrad_cpu::HostElem>(
        data: Vec<T>,
        shape: impl Into<Shape>,
        device: &Device,
    ) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            data.len(),
            shape.numel(),
            "from_vec: {} values do not fill shape {shape} ({} elements)",
            data.len(),
            shape.numel()
        );
        Tensor::from_host(CpuStorage::from_vec(data), shape, device)
    }

    /// Moves host storage to `device`. An upload that fails (too large) is reported by
    /// the next sync/readback and leaves a placeholder.
    #[track_caller]
    pub(crate) fn from_host(storage: CpuStorage, shape: Shape, device: &Device) -> Tensor {
        assert!(
            device.supports_f16() || storage.dtype() != DType::F16,
            "f16 tensors need an adapter with SHADER_F16; {} lacks it (cast to f32 instead)",
            device.name()
        );
        device.backend().upload(device, storage, shape)
    }

    /// A tensor of `shape` filled with `value` (converted to `dtype`). On a GPU the fill
    /// is a kernel: nothing is uploaded, however small.
    #[track_caller]
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType, device: &Device) -> Tensor {
        device.backend().full(device, shape.into(), value, dtype)
    }

    /// Zeros.
    #[track_caller]
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Tensor {
        Tensor::full(shape, 0.0, dtype, device)
    }

    /// Ones.
    #[track_caller]
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Tensor {
        Tensor::full(shape, 1.0, dtype, device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    #[track_caller]
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    #[track_caller]
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.shape(), self.dtype(), self.device())
    }

    /// `start, start + 1, ...` up to (not including) `end`, as a 1-D tensor of `dtype`.
    #[track_caller]
    pub fn arange(start: f64, end: f64, dtype: DType, device: &Device) -> Tensor {
        Tensor::arange_step(start, end, 1.0, dtype, device)
    }

    /// `start, start + step, ...` while below `end` (above, for a negative step).
    #[track_caller]
    pub fn arange_step(start: f64, end: f64, step: f64, dtype: DType, device: &Device) -> Tensor {
        assert!(step != 0.0, "arange: step must be non-zero");
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        Tensor::from_host(CpuStorage::arange(start, step, n, dtype), Shape::from([n]), device)
    }

    /// Standard normal f32 samples. The same seed gives the same values on every device.
    #[track_caller]
    pub fn randn(shape: impl Into<Shape>, seed: u64, device: &Device) -> Tensor {
        let shape = shape.into();
        Tensor::from_host(CpuStorage::F32(rng::normal(seed, shape.numel())), shape, device)
    }

    /// Uniform f32 samples in `[lo, hi)`. The same seed gives the same values everywhere.
    #[track_caller]
    pub fn rand_uniform(shape: impl Into<Shape>, lo: f64, hi: f64, seed: u64, device: &Device) -> Tensor {
        let shape = shape.into();
        Tensor::from_host(CpuStorage::F32(rng::uniform_range(seed, shape.numel(), lo, hi)), shape, device)
    }

    /// Dropout's keep mask (f32): `1 / (1 - p)` where element i is kept, 0 where dropped,
    /// drawn on `device` from `(seed, i)` by the same counter-based generator on every
    /// device (`wgrad_cpu::random`; `random_bits` in shaders/elementwise.wgsl), so a GPU
    /// step uploads nothing for it and both devices drop the same elements.
    pub(crate) fn keep_mask(shape: Shape, p: f64, seed: u32, device: &Device) -> Tensor {
        let threshold_scale = (wgrad_cpu::random::drop_threshold(p), (1.0 / (1.0 - p)) as f32);
        device.backend().keep_mask(device, shape, seed, threshold_scale)
    }

    /// The dims.
    #[track_caller]
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }
    /// The dims as a slice.
    #[track_caller]
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }
    /// Number of dims.
    #[track_caller]
    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }
    /// Number of elements.
    #[track_caller]
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    /// The element type.
    #[track_caller]
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// The device holding the storage.
    #[track_caller]
    pub fn device(&self) -> &Device {
        &self.0.device
    }
    /// The strided layout over the storage.
    #[track_caller]
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// Copies the elements to the host in row-major order. On a GPU this submits the
    /// recorded work and waits for it. Returns the first pending device error (bad index,
    /// wgpu error) and `Err` if `T` is not the tensor's dtype.
    #[track_caller]
    pub fn to_vec<T: WithDType + wgrad_cpu::HostElem>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(wgrad_core::Error::DTypeMismatch { expected: T::DTYPE, actual: self.dtype() });
        }
        Ok(host_vec(self.to_host()?))
    }

    /// The single value of a one-element tensor, as f64 (any dtype).
    #[track_caller]
    pub fn to_scalar(&self) -> Result<f64> {
        assert_eq!(self.numel(), 1, "to_scalar: tensor of shape {} has {} elements", self.shape(), self.numel());
        Ok(self.to_host()?.to_f64_vec(&Layout::contiguous([1]))[0])
    }

    /// [`Tensor::to_vec`] without blocking: the readback a browser allows (natively the
    /// future polls the GPU while it is awaited). The recorded work and the copy are
    /// submitted at the call, so the GPU runs meanwhile, and several reads may be in
    /// flight at once; the future owns what it needs (no borrow of the tensor).
    ///
    /// ```
    /// # use wgrad::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Device::cpu());
    /// let (a, b) = (x.exp().to_vec_async::<f32>(), x.sum_all().to_scalar_async());
    /// let (a, b) = pollster::block_on(async { (a.await, b.await) });
    /// assert_eq!(a?, x.exp().to_vec::<f32>()?);
    /// assert_eq!(b?, 3.0);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    pub fn to_vec_async<T: WithDType + wgrad_cpu::HostElem>(
        &self,
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'static {
        let dtype = self.dtype();
        let host = self.to_host_async();
        async move {
            if T::DTYPE != dtype {
                return Err(wgrad_core::Error::DTypeMismatch { expected: T::DTYPE, actual: dtype });
            }
            Ok(host_vec(host.await?))
        }
    }

    /// [`Tensor::to_scalar`] without blocking; see [`Tensor::to_vec_async`].
    #[track_caller]
    pub fn to_scalar_async(&self) -> impl Future<Output = Result<f64>> + Send + 'static {
        assert_eq!(self.numel(), 1, "to_scalar: tensor of shape {} has {} elements", self.shape(), self.numel());
        let host = self.to_host_async();
        async move { Ok(host.await?.to_f64_vec(&Layout::contiguous([1]))[0]) }
    }

    /// [`Tensor::to_host`] without blocking: a GPU copy is submitted now.
    fn to_host_async(&self) -> Pin<Box<dyn Future<Output = Result<CpuStorage>> + Send>> {
        self.backend().read_async(self)
    }

    /// The elements as contiguous host storage.
    #[track_caller]
    pub(crate) fn to_host(&self) -> Result<CpuStorage> {
        self.backend().read(self)
    }

    /// A copy on `device` (the same tensor if it is already there). Panics if the copy
    /// fails; use [`Tensor::try_to_device`] to handle that.
    #[track_caller]
    pub fn to_device(&self, device: &Device) -> Tensor {
        self.try_to_device(device).unwrap_or_else(|e| panic!("to_device: {e}"))
    }

    /// A copy on `device`, or the error that reading the source reported. A tracked
    /// tensor stays differentiable: its gradient flows back to the source device.
    #[track_caller]
    pub fn try_to_device(&self, device: &Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        let copy = Tensor::from_host(self.to_host()?, self.shape().clone(), device);
        let source = self.device().clone();
        Ok(copy.record("to_device", &[self], move |g| vec![Some(g.to_device(&source))]))
    }
}

/// Host storage as a `Vec<T>` (its dtype's element type: checked by the callers).
fn host_vec<T: WithDType + wgrad_cpu::HostElem>(storage: CpuStorage) -> Vec<T> {
    match storage {
        CpuStorage::F32(v) => bytemuck::cast_vec(v),
        CpuStorage::F16(v) => bytemuck::allocation::pod_collect_to_vec(&v),
        CpuStorage::U32(v) => bytemuck::cast_vec(v),
        CpuStorage::I32(v) => bytemuck::cast_vec(v),
    }
}
