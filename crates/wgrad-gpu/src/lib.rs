//! wgrad-gpu: the wgpu runtime. One [`GpuDevice`] per process owns the wgpu device,
//! a [`BufferPool`], a pipeline cache by [`KernelKey`] and the graph [`recorder`].
//! Launchers (one module per kernel family under `kernels/`) name the kernel they run by
//! its key (which composes its WGSL from `shaders/`), take pooled output buffers and
//! append dispatches; nothing is submitted until a readback,
//! `sync()`, or a full batch.

mod completion;
mod context;
mod device;
pub mod kernels;
mod key;
mod policy;
mod pool;
pub mod recorder;
pub mod shaders;
mod uniforms;

pub use context::{list_adapters, list_adapters_of, DeviceType, GpuContext};
pub use device::{GpuDevice, GpuStats, KernelLaunch, ProfileEntry, Window};
pub use key::{KernelKey, KernelKind};
pub use policy::KernelPolicy;
pub use pool::{size_class, BufferPool, PooledBuffer};
pub use wgpu::Features;
