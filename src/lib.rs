//! # wgrad
//!
//! Deep learning and GPU compute in Rust. A [`Tensor`] lives on a [`Device`]: the GPU
//! (any wgpu adapter: Vulkan, Metal, DX12, GL), where its ops run as WGSL compute
//! shaders batched by a graph recorder, or the CPU reference backend that every GPU
//! kernel is tested against. Names and semantics follow PyTorch.
//!
//! ```no_run
//! use wgrad::{Device, Tensor};
//! let dev = Device::best();
//! let a = Tensor::randn([64, 32], 0, &dev);
//! let b = Tensor::randn([32, 16], 1, &dev);
//! let c = a.matmul(&b).relu().sum_all();
//! println!("{:?}", c.to_vec::<f32>().unwrap());
//! ```

// `#[derive(Module)]` names `::wgrad`; this lets the library use it too.
extern crate self as wgrad;

mod anomaly;
mod autograd;
mod backend;
mod device;
mod display;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod functional;
pub mod io;
pub mod nn;
pub mod ops;
mod rng;
mod storage;
mod tensor;
mod view;

pub use anomaly::detect_anomaly;
pub use autograd::{is_grad_enabled, no_grad, Gradients};
pub use device::{Device, DeviceStats};
pub use rng::{get_rng_state, manual_seed, next_seed, set_rng_state};
pub use tensor::{Tensor, TensorId};
pub use wgrad_core::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
pub use wgrad_core::{DType, Dim, Error, Layout, Result, Shape, WithDType};
/// The wgpu runtime underneath GPU devices (recorder, pool, launchers), for advanced use.
pub use wgrad_gpu as gpu;
