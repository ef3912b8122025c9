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

impl Storage {
    /// The host storage; panics for a GPU buffer (a tensor reached the wrong backend).
    #[track_caller]
    pub(crate) fn cpu(&self) -> &CpuStorage {
        match self {
            Storage::Cpu(s) => s,
            Storage::Gpu(_) => unreachable!("a GPU tensor reached the CPU backend"),
        }
    }

    /// The GPU buffer; panics for host storage (a tensor reached the wrong backend).
    #[track_caller]
    pub(crate) fn gpu(&self) -> &PooledBuffer {
        match self {
            Storage::Gpu(b) => b,
            Storage::Cpu(_) => unreachable!("a CPU tensor reached the GPU backend"),
        }
    }
}
