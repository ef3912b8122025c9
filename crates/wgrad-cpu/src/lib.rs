//! wgrad-cpu: the CPU reference backend. Kernels take host storage plus a
//! [`Layout`](wgrad_core::Layout) per input (any strides, offsets, broadcast dims) and
//! return new contiguous storage. They are written to be read first and fast second:
//! every GPU kernel is tested against them.

pub mod attention;
pub mod conv;
mod elementwise;
mod fastmath;
mod index;
mod matmul;
pub mod memory;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod random;
mod reduce;
pub mod rnn;
mod simd;
mod softmax;
pub mod sort;
mod storage;
mod strided;

pub use elementwise::{binary, binary_scalar, cast, cmp, copy_into, unary, unary_grad, where_cond};
pub use index::{gather, gather_backward, index_select};
pub use matmul::{matmul, MatmulDims};
pub use reduce::reduce;
pub use softmax::softmax;
pub use storage::{CpuStorage, HostElem};
