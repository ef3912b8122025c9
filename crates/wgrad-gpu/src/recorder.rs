//! The graph recorder: dispatches wait here until something needs their results.
//!
//! A dispatch is (pipeline, bind group, workgroup counts); a batch is a list of them;
//! flushing encodes the whole list into one compute pass of one command encoder and
//! submits it once. Each dispatch's small uniform parameter block is appended to a
//! host-side byte arena that is written to one GPU uniform buffer just before the
//! submit; every later `write_buffer` is ordered after this submit's commands, so the
//! same arena buffer serves every batch.

/// Flush once this many dispatches are pending (bounds the arena and latency).
pub const MAX_PENDING_DISPATCHES: usize = 256;

/// One recorded kernel launch.
pub struct Dispatch {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    pub workgroups: [u32; 3],
}

/// Pending work of one device.
pub struct Recorder {
    dispatches: Vec<Dispatch>,
    /// Uniform bytes of the pending dispatches, block `i` at `i * align`.
    params: Vec<u8>,
    align: u64,
    arena: wgpu::Buffer,
}

impl Recorder {
    /// A recorder whose parameter blocks are `align`-aligned (the device's
    /// min_uniform_buffer_offset_alignment, at least 256).
    pub fn new(device: &wgpu::Device, align: u64) -> Self {
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgrad params arena"),
            size: align * MAX_PENDING_DISPATCHES as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Recorder { dispatches: Vec::new(), params: Vec::new(), align, arena }
    }

    /// True when the next dispatch would overflow the arena.
    pub fn is_full(&self) -> bool {
        self.dispatches.len() >= MAX_PENDING_DISPATCHES
    }

    /// Number of dispatches waiting.
    pub fn pending(&self) -> usize {
        self.dispatches.len()
    }

    /// Reserves the next parameter block, fills it with `bytes`, and returns the binding
    /// that a bind group uses to read it.
    pub fn push_params(&mut self, bytes: &[u8]) -> wgpu::BufferBinding<'_> {
        assert!(bytes.len() as u64 <= self.align, "parameter block larger than the alignment");
        let offset = self.dispatches.len() as u64 * self.align;
        self.params.resize(offset as usize, 0);
        self.params.extend_from_slice(bytes);
        wgpu::BufferBinding { buffer: &self.arena, offset, size: wgpu::BufferSize::new(bytes.len().max(16) as u64) }
    }

    /// Appends a dispatch whose parameter block was just pushed.
    pub fn push(&mut self, dispatch: Dispatch) {
        self.dispatches.push(dispatch);
    }

    /// Encodes every pending dispatch into one compute pass of `encoder` and uploads the
    /// parameter arena. Returns how many dispatches were encoded.
    pub fn encode(&mut self, queue: &wgpu::Queue, encoder: &mut wgpu::CommandEncoder) -> usize {
        let n = self.dispatches.len();
        if n == 0 {
            return 0;
        }
        self.params.resize(self.params.len().next_multiple_of(4), 0);
        queue.write_buffer(&self.arena, 0, &self.params);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgrad batch"),
                timestamp_writes: None,
            });
            for d in &self.dispatches {
                pass.set_pipeline(&d.pipeline);
                pass.set_bind_group(0, &d.bind_group, &[]);
                pass.dispatch_workgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
            }
        }
        self.dispatches.clear();
        self.params.clear();
        n
    }
}
