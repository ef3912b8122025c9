//! wgrad-core: what every backend agrees on: dtypes, shapes, strided layouts,
//! broadcasting, the op enums and their shape rules, and the error type.
//! It knows nothing about tensors or devices.

mod dim;
mod dtype;
mod error;
mod layout;
pub mod ops;
pub mod params;
mod shape;

pub use dim::Dim;
pub use dtype::{DType, WithDType};
pub use error::{Error, Result};
pub use layout::Layout;
pub use shape::{broadcast_shapes, Shape};
