//! Where a tensor's elements live: a host vector or a pooled GPU buffer. Storage is
//! immutable once written and shared between views.

use std::sync::Arc;
use wgrad_cpu::CpuStorage;
use wgrad_gpu::PooledBuffer;

/// A tensor's backing memory.
#[derive(Clone, Debug)]
pub(crate) enum Storage {
    Cpu(Arc<CpuStorage>),
    Gpu(Arc<PooledBuffer>),
}
