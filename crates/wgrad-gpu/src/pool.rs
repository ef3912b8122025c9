//! The buffer pool. Tensors come and go every op; wgpu buffers are expensive to create,
//! so a dropped tensor's buffer goes back to a free list of its size class.
//!
//! Reuse has one hazard: `queue.write_buffer` lands *before* the commands still waiting
//! in the recorder. A buffer released while recorded commands may still read it is
//! therefore fine to reuse as a kernel output (commands run in order) but not as an
//! upload target until the recorder has been submitted. Hence two free lists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Buffer usages of every pooled buffer: kernels read and write them, and they are
/// copied to staging buffers for readback and written by uploads.
const USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Released buffers above this many bytes are destroyed instead of kept.
const MAX_FREE_BYTES: u64 = 2 << 30;

/// The size class a request of `bytes` is served from: multiples of 256 B up to 64 KiB,
/// then steps of 1/8 of the largest power of two not above the size (at most 12.5% waste).
pub fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(16);
    if bytes <= 1 << 16 {
        return bytes.div_ceil(256) * 256;
    }
    let step = (1u64 << (63 - bytes.leading_zeros())) / 8;
    bytes.div_ceil(step) * step
}

/// Counters the pool keeps for [`crate::GpuStats`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolCounters {
    pub allocated: u64,
    pub reused: u64,
    pub live_bytes: u64,
    pub free_bytes: u64,
}

#[derive(Default)]
struct FreeLists {
    /// Safe for anything, including uploads.
    idle: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Released while recorded (unsubmitted) commands may still use them.
    in_flight: HashMap<u64, Vec<wgpu::Buffer>>,
    counters: PoolCounters,
}

/// A size-classed free list of storage buffers, shared by the device and every buffer
/// it handed out.
#[derive(Clone, Default)]
pub struct BufferPool {
    inner: Arc<Mutex<FreeLists>>,
}

/// A pooled storage buffer; dropping it returns the wgpu buffer to the pool.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    class: u64,
    pool: BufferPool,
}

impl PooledBuffer {
    /// The wgpu buffer.
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }
    /// Capacity in bytes (the size class, at least the requested size).
    pub fn capacity(&self) -> u64 {
        self.class
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.release(buffer, self.class);
        }
    }
}

impl std::fmt::Debug for PooledBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PooledBuffer({} bytes)", self.class)
    }
}

impl BufferPool {
    /// A buffer of at least `bytes`. `for_upload` asks for one that no recorded command
    /// can still touch. `bytes` must already be checked against the device limits.
    pub fn acquire(&self, device: &wgpu::Device, bytes: u64, for_upload: bool) -> PooledBuffer {
        let class = size_class(bytes);
        let mut lists = self.inner.lock().unwrap();
        let mut found = lists.idle.get_mut(&class).and_then(Vec::pop);
        if found.is_none() && !for_upload {
            found = lists.in_flight.get_mut(&class).and_then(Vec::pop);
        }
        let buffer = match found {
            Some(b) => {
                lists.counters.reused += 1;
                lists.counters.free_bytes -= class;
                b
            }
            None => {
                lists.counters.allocated += 1;
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgrad tensor"),
                    size: class,
                    usage: USAGE,
                    mapped_at_creation: false,
                })
            }
        };
        lists.counters.live_bytes += class;
        PooledBuffer { buffer: Some(buffer), class, pool: self.clone() }
    }

    fn release(&self, buffer: wgpu::Buffer, class: u64) {
        let mut lists = self.inner.lock().unwrap();
        lists.counters.live_bytes -= class;
        if lists.counters.free_bytes + class > MAX_FREE_BYTES {
            return; // dropped: wgpu frees it once the GPU is done with it
        }
        lists.counters.free_bytes += class;
        lists.in_flight.entry(class).or_default().push(buffer);
    }

    /// Called after a submit: every released buffer is now safe for uploads.
    pub fn on_submit(&self) {
        let mut lists = self.inner.lock().unwrap();
        let in_flight = std::mem::take(&mut lists.in_flight);
        for (class, buffers) in in_flight {
            lists.idle.entry(class).or_default().extend(buffers);
        }
    }

    /// Current counters.
    pub fn counters(&self) -> PoolCounters {
        self.inner.lock().unwrap().counters
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_bound_waste() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(257), 512);
        for bytes in [70_000u64, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let c = size_class(bytes);
            assert!(c >= bytes && (c - bytes) as f64 <= bytes as f64 * 0.125, "{bytes} -> {c}");
        }
    }
}
