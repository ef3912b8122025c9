//! wgrad-core: what every backend agrees on: dtypes, shapes, strided layouts,
//! broadcasting, the op enums and their shape rules, and the error type.
//! It knows nothing about tensors or devices.
//!
//! ```
//! use wgrad_core::{broadcast_shapes, Layout, Shape};
//! let l = Layout::contiguous([2, 3]);
//! assert_eq!(l.strides(), [3, 1]);
//! let t = l.transpose(0, 1); // a view: the same storage, strides swapped
//! assert_eq!((t.dims(), t.strides(), t.is_contiguous()), (&[3, 2][..], &[1, 3][..], false));
//! assert_eq!(broadcast_shapes(&[4, 1, 3], &[5, 1], "add").dims(), [4, 5, 3]);
//! assert_eq!(Shape::from([4, 5, 3]).numel(), 60);
//! # Ok::<(), wgrad_core::Error>(())
//! ```

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
