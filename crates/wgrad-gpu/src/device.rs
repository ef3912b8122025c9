//! [`GpuDevice`]: the process-wide GPU runtime that launchers record into.

use crate::completion::Completion;
use crate::pool::{BufferPool, PooledBuffer};
use crate::recorder::{Dispatch, Recorder};
use crate::{GpuContext, KernelKey, KernelPolicy};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use wgrad_core::{Error, Result};

/// Counters that prove batching and reuse (see `Device::stats` in wgrad).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GpuStats {
    /// Kernel dispatches recorded.
    pub dispatches: u64,
    /// Queue submits.
    pub submits: u64,
    /// Host-to-device writes of tensor data ([`GpuDevice::upload`]); parameter blocks,
    /// which every dispatch carries, are not counted.
    pub uploads: u64,
    /// Bytes those uploads carried.
    pub upload_bytes: u64,
    /// Compute pipelines compiled (cache misses).
    pub pipelines_compiled: u64,
    /// Storage buffers created.
    pub buffers_allocated: u64,
    /// Storage buffer requests served from the pool.
    pub buffers_reused: u64,
    /// Bytes of storage buffers currently held by tensors.
    pub live_buffer_bytes: u64,
}

/// The part of a buffer one binding covers (see [`GpuDevice::window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Byte offset of the binding.
    pub offset: u64,
    /// Byte size of the binding.
    pub size: u64,
    /// Element index (of the buffer) where the binding starts.
    pub first_elem: usize,
}

/// Codes a kernel writes to the device error buffer (word 0).
pub mod error_code {
    /// An index read by gather / index_select / embedding was out of range. Word 1: the
    /// largest such id that is not negative; word 2: the dimension's size; word 3: the
    /// magnitude of the most negative one (i32 ids), or 0.
    pub const INDEX_OUT_OF_RANGE: u32 = 1;
}

/// One kernel launch, as a launcher describes it.
pub struct KernelLaunch<'a> {
    /// The kernel: the device's pipeline cache key, whose [`KernelKey::source`] composes
    /// the module on a miss.
    pub key: KernelKey,
    /// Uniform parameter block (binding 0).
    pub params: &'a [u8],
    /// Storage buffers at bindings 1, 2, ... in the order the shader declares them.
    pub buffers: &'a [&'a PooledBuffer],
    /// `Some(op)` if the shader validates ids and declares its error words at binding 15;
    /// an error it reports names `op` and reaches the recording thread's next readback.
    pub checks_ids: Option<&'static str>,
    /// Workgroup counts.
    pub workgroups: [u32; 3],
}

impl<'a> KernelLaunch<'a> {
    /// A launch of `key` with parameter block `params` over `buffers` (bindings 1, 2, ...)
    /// and `workgroups`, checking no ids.
    pub fn new(
        key: KernelKey,
        params: &'a impl bytemuck::Pod,
        buffers: &'a [&'a PooledBuffer],
        workgroups: [u32; 3],
    ) -> KernelLaunch<'a> {
        KernelLaunch { key, params: bytemuck::bytes_of(params), buffers, checks_ids: None, workgroups }
    }

    /// The same launch, for a shader that validates ids: an error it reports names `op`.
    pub fn checking_ids(self, op: &'static str) -> KernelLaunch<'a> {
        KernelLaunch { checks_ids: Some(op), ..self }
    }
}

struct State {
    recorder: Recorder,
    pipelines: HashMap<KernelKey, wgpu::ComputePipeline>,
    staging: Option<wgpu::Buffer>,
    stats: GpuStats,
    /// Per recording thread, the first error found (by a launcher, or in a kernel's
    /// error words), returned by that thread's next readback or sync and no other.
    errors: HashMap<ThreadId, Error>,
    /// The error-word slots of launches not yet read back: which thread recorded each
    /// and for which op (`None`: free).
    slots: Vec<Option<SlotOwner>>,
    /// With WGRAD_PROFILE=1: every dispatch runs alone and is timed, by kernel and grid.
    profile: Option<HashMap<(KernelKey, [u32; 3]), ProfileEntry>>,
}

/// A readback submitted and not yet read: its staging buffer, how many bytes it copies
/// (the data first, then 16 per error slot), and the error slots it carries.
struct Readback {
    staging: wgpu::Buffer,
    total: u64,
    data_size: u64,
    owned: Vec<(usize, SlotOwner)>,
}

/// The 4-byte aligned range `[start, end)` covering `len` bytes at `offset` (copies must
/// start and end on 4-byte boundaries).
fn covering(offset: u64, len: u64) -> (u64, u64) {
    (offset / 4 * 4, (offset + len).next_multiple_of(4))
}

/// Who recorded the launch that owns an error-word slot.
#[derive(Clone, Copy)]
struct SlotOwner {
    thread: ThreadId,
    op: &'static str,
}

/// Error-word slots: launches that validate ids and may be recorded between two
/// readbacks before the next one has to wait for the GPU to free them.
const ERROR_SLOTS: usize = 256;

/// Dispatches of one kernel key and grid size, and their time (WGRAD_PROFILE=1).
#[derive(Debug, Clone, Default)]
pub struct ProfileEntry {
    /// Dispatches.
    pub count: u64,
    /// Wall time of submitting each alone and waiting for it, summed.
    pub total: std::time::Duration,
}

/// The GPU runtime of one adapter. Thread-safe; wgrad keeps one per process.
pub struct GpuDevice {
    pub ctx: GpuContext,
    pool: BufferPool,
    state: Mutex<State>,
    /// [`ERROR_SLOTS`] slots of [code, value, limit, negative magnitude], one per launch
    /// that validates ids (atomicMax), `error_slot_stride` bytes apart.
    error_buffer: wgpu::Buffer,
    error_slot_stride: u64,
    /// Errors wgpu reported outside of any scope (validation, out of memory).
    uncaptured: Arc<Mutex<Option<String>>>,
    /// Whether shader modules are created with runtime bounds checks.
    checked_shaders: bool,
    /// Most bytes live tensors may hold (0: no cap); see [`GpuDevice::set_memory_limit`].
    memory_limit: std::sync::atomic::AtomicU64,
    /// Which kernels run where an op has several; see [`GpuDevice::set_policy`].
    policy: Mutex<KernelPolicy>,
}

impl GpuDevice {
    /// Opens the best adapter; see [`GpuContext::open`].
    pub fn open() -> Result<GpuDevice> {
        Self::with_context(GpuContext::open()?)
    }

    /// [`GpuDevice::open`] without blocking; see [`GpuContext::open_async`].
    pub async fn open_async() -> Result<GpuDevice> {
        Self::with_context(GpuContext::open_async().await?)
    }

    /// The runtime of an opened adapter, with the environment's [`KernelPolicy`].
    fn with_context(ctx: GpuContext) -> Result<GpuDevice> {
        let policy = Mutex::new(KernelPolicy::from_env()?);
        let align = (ctx.limits.min_uniform_buffer_offset_alignment as u64).max(256);
        let recorder = Recorder::new(&ctx.device, align);
        let error_slot_stride = (ctx.limits.min_storage_buffer_offset_alignment as u64).max(16);
        let error_buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgrad kernel errors"),
            size: ERROR_SLOTS as u64 * error_slot_stride,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let uncaptured = Arc::new(Mutex::new(None));
        let sink = uncaptured.clone();
        ctx.device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap();
            if slot.is_none() {
                *slot = Some(e.to_string());
            }
        }));
        let checked_shaders = std::env::var("WGRAD_SHADER_CHECKS").is_ok_and(|v| v == "1");
        let state = State {
            recorder,
            pipelines: HashMap::new(),
            staging: None,
            stats: GpuStats::default(),
            errors: HashMap::new(),
            slots: vec![None; ERROR_SLOTS],
            profile: std::env::var("WGRAD_PROFILE").is_ok_and(|v| v == "1").then(HashMap::new),
        };
        Ok(GpuDevice {
            ctx,
            pool: BufferPool::default(),
            state: Mutex::new(state),
            error_buffer,
            error_slot_stride,
            uncaptured,
            checked_shaders,
            memory_limit: std::sync::atomic::AtomicU64::new(0),
            policy,
        })
    }

    /// Which kernels this device runs where an op has several.
    pub fn policy(&self) -> KernelPolicy {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces [`GpuDevice::policy`] (tests and benchmarks comparing kernels on one
    /// adapter): launches from now on follow it; pipelines built before stay cached
    /// under their own keys.
    pub fn set_policy(&self, policy: KernelPolicy) {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// The adapter's name and backend, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)".
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.ctx.info.name, self.ctx.info.backend, self.ctx.info.device_type)
    }

    /// The device's limits (the adapter's, which were all requested).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.ctx.limits
    }

    /// Largest range a single kernel binding may cover (a multiple of 4).
    pub fn max_binding_bytes(&self) -> u64 {
        self.ctx.limits.max_storage_buffer_binding_size.min(self.ctx.limits.max_buffer_size) / 4 * 4
    }

    /// The window a kernel binds to read or write elements `first..end` (of `elem_size`
    /// bytes) of `buffer`, and the element index where the window starts (to subtract
    /// from the kernel's offsets). Buffers within the binding limit are bound whole;
    /// larger ones (tensors above max_storage_buffer_binding_size) get an aligned window,
    /// and `Err` if the range itself exceeds the limit.
    pub fn window(&self, buffer: &PooledBuffer, elem_size: usize, first: usize, end: usize) -> Result<Window> {
        let limit = self.max_binding_bytes();
        if buffer.capacity() <= limit {
            return Ok(Window { offset: 0, size: buffer.capacity(), first_elem: 0 });
        }
        let align = (self.ctx.limits.min_storage_buffer_offset_alignment as u64).max(4);
        let start = (first * elem_size) as u64 / align * align;
        let stop = ((end * elem_size) as u64).next_multiple_of(4).max(start + 4);
        if stop - start > limit {
            return Err(Error::TooLarge {
                what: format!(
                    "one kernel's view of {} elements (split it, or make it contiguous in parts)",
                    end - first
                ),
                bytes: stop - start,
                limit,
            });
        }
        Ok(Window { offset: start, size: stop - start, first_elem: start as usize / elem_size })
    }

    fn check_size(&self, bytes: u64, what: &str) -> Result<()> {
        let limit = self.ctx.limits.max_buffer_size;
        if bytes > limit {
            return Err(Error::TooLarge { what: what.to_string(), bytes, limit });
        }
        // Every allocation passes here: read the pool's counters only when a cap is set.
        let budget = self.memory_limit.load(std::sync::atomic::Ordering::Relaxed);
        if budget > 0 {
            let live = self.pool.counters().live_bytes;
            if live + crate::size_class(bytes) > budget {
                return Err(Error::OutOfMemory { requested: bytes, live, limit: budget });
            }
        }
        Ok(())
    }

    /// Caps the bytes live tensors may hold on this device (like PyTorch's
    /// `set_per_process_memory_fraction`); 0 removes the cap. A tensor that would pass it
    /// is an `Error::OutOfMemory` from the next fallible call, as when the driver runs out.
    pub fn set_memory_limit(&self, bytes: u64) {
        self.memory_limit.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// A pooled buffer for a kernel output of `bytes`. Too large: the error is recorded
    /// (returned by the next sync/readback) and a small placeholder comes back.
    pub fn output_buffer(&self, bytes: u64) -> PooledBuffer {
        if let Err(e) = self.check_size(bytes, "a tensor") {
            self.record_error(e);
            return self.pool.acquire(&self.ctx.device, 16, false);
        }
        self.pool.acquire(&self.ctx.device, bytes, false)
    }

    /// A new buffer holding `data` (padded to 4 bytes). The write reaches the GPU before
    /// any later-recorded dispatch runs.
    pub fn upload(&self, data: &[u8]) -> Result<PooledBuffer> {
        self.check_size(data.len() as u64, "a tensor")?;
        let buffer = self.pool.acquire(&self.ctx.device, data.len() as u64, true);
        {
            let mut st = self.state.lock().unwrap();
            st.stats.uploads += 1;
            st.stats.upload_bytes += data.len() as u64;
        }
        if data.len().is_multiple_of(4) {
            self.ctx.queue.write_buffer(buffer.raw(), 0, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(data.len().next_multiple_of(4), 0);
            self.ctx.queue.write_buffer(buffer.raw(), 0, &padded);
        }
        Ok(buffer)
    }

    /// Remembers the calling thread's first error: its next readback or sync returns it.
    pub fn record_error(&self, e: Error) {
        let mut st = self.state.lock().unwrap();
        st.errors.entry(std::thread::current().id()).or_insert(e);
    }

    fn pipeline(&self, st: &mut State, key: &KernelKey) -> wgpu::ComputePipeline {
        if let Some(p) = st.pipelines.get(key) {
            return p.clone();
        }
        let label = key.to_string();
        let desc =
            wgpu::ShaderModuleDescriptor { label: Some(&label), source: wgpu::ShaderSource::Wgsl(key.source().into()) };
        let module = if self.checked_shaders {
            self.ctx.device.create_shader_module(desc)
        } else {
            // Safety: every kernel guards its own indexing against the sizes in its
            // parameter block (tested against the CPU reference at odd sizes); runtime
            // checks cost up to 17x on loop kernels on software adapters.
            unsafe { self.ctx.device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
        };
        let pipeline = self.ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        st.stats.pipelines_compiled += 1;
        st.pipelines.insert(key.clone(), pipeline.clone());
        pipeline
    }

    /// Records one kernel launch, binding each buffer whole (up to the binding limit).
    /// Empty launches (a zero workgroup count) are skipped, and so is everything the
    /// thread records while it has an error pending: its buffers may be placeholders.
    pub fn launch(&self, k: KernelLaunch<'_>) {
        let limit = self.max_binding_bytes();
        let windows: Vec<Window> =
            k.buffers.iter().map(|b| Window { offset: 0, size: b.capacity().min(limit), first_elem: 0 }).collect();
        self.launch_windowed(k, &windows);
    }

    /// [`GpuDevice::launch`] with an explicit window per buffer.
    pub fn launch_windowed(&self, k: KernelLaunch<'_>, windows: &[Window]) {
        assert_eq!(windows.len(), k.buffers.len(), "one window per buffer");
        if k.workgroups.contains(&0) {
            return;
        }
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        // Checked only when some thread has an error pending (almost never).
        if !st.errors.is_empty() && st.errors.contains_key(&std::thread::current().id()) {
            return;
        }
        let slot = k.checks_ids.map(|op| self.claim_slot(st, op));
        if st.recorder.is_full() {
            self.submit(st);
        }
        let pipeline = self.pipeline(st, &k.key);
        let layout = pipeline.get_bind_group_layout(0);
        let params = st.recorder.push_params(k.params);
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(params) }];
        for (i, (b, w)) in k.buffers.iter().zip(windows).enumerate() {
            let binding =
                wgpu::BufferBinding { buffer: b.raw(), offset: w.offset, size: wgpu::BufferSize::new(w.size) };
            entries
                .push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: wgpu::BindingResource::Buffer(binding) });
        }
        if let Some(slot) = slot {
            let words = wgpu::BufferBinding {
                buffer: &self.error_buffer,
                offset: slot as u64 * self.error_slot_stride,
                size: wgpu::BufferSize::new(16),
            };
            entries.push(wgpu::BindGroupEntry { binding: 15, resource: wgpu::BindingResource::Buffer(words) });
        }
        let bind_group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        st.recorder.push(Dispatch { pipeline, bind_group, workgroups: k.workgroups });
        st.stats.dispatches += 1;
        if st.profile.is_some() {
            self.profile_dispatch(st, k.key, k.workgroups);
        }
    }

    /// A free error-word slot, now owned by the calling thread's launch of `op`. When all
    /// are taken, reads the pending ones back first (a wait, once per [`ERROR_SLOTS`]
    /// validating launches without a readback).
    fn claim_slot(&self, st: &mut State, op: &'static str) -> usize {
        if !st.slots.iter().any(Option::is_none) {
            let _ = self.submit_and_read(st, None);
        }
        let slot = st.slots.iter().position(Option::is_none).expect("readback frees every slot");
        st.slots[slot] = Some(SlotOwner { thread: std::thread::current().id(), op });
        slot
    }

    /// Runs everything pending (the launch just recorded last) and charges the time to
    /// `key` at this grid size. Serialises the GPU: for finding slow kernels, not speed.
    fn profile_dispatch(&self, st: &mut State, key: KernelKey, workgroups: [u32; 3]) {
        let start = std::time::Instant::now();
        self.submit(st);
        let _ = self.wait(); // errors surface through the normal paths
        let elapsed = start.elapsed();
        let entry = st.profile.as_mut().unwrap().entry((key, workgroups)).or_default();
        entry.count += 1;
        entry.total += elapsed;
    }

    /// The WGRAD_PROFILE=1 table so far, slowest first (empty when not profiling): rows
    /// named `{kernel key} {workgroups:?}`.
    pub fn profile(&self) -> Vec<(String, ProfileEntry)> {
        let st = self.state.lock().unwrap();
        let rows = st.profile.iter().flatten();
        let mut rows: Vec<_> = rows.map(|((key, grid), e)| (format!("{key} {grid:?}"), e.clone())).collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.total));
        rows
    }

    /// Encodes pending work and submits it.
    fn submit(&self, st: &mut State) {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        st.recorder.encode(&self.ctx.queue, &mut encoder);
        self.finish_submit(st, encoder);
    }

    fn finish_submit(&self, st: &mut State, encoder: wgpu::CommandEncoder) {
        self.ctx.queue.submit([encoder.finish()]);
        self.pool.on_submit();
        st.stats.submits += 1;
    }

    /// Submits pending work together with a copy of `data` (buffer, start, size) and of
    /// the error words of every launch that validated ids since the last check, all into
    /// the staging buffer; waits once; returns the data bytes. A readback is therefore one
    /// submit and one wait, error check included. Each error found goes to the thread
    /// that recorded its launch.
    fn submit_and_read(&self, st: &mut State, data: Option<(&wgpu::Buffer, u64, u64)>) -> Result<Vec<u8>> {
        match self.submit_readback(st, data, true) {
            None => {
                self.wait()?;
                Ok(Vec::new())
            }
            Some(readback) => {
                let bytes = self.map_read(&readback.staging, readback.total)?;
                Ok(self.finish_readback(st, &readback, bytes))
            }
        }
    }

    /// Submits pending work with copies of `data` and of the pending error words into a
    /// staging buffer (the shared one when `shared`: the caller keeps the state locked
    /// until it has read it), then clears the error words, so that their slots are free
    /// for the next launches at once. `None` (after submitting any pending work) when
    /// there is nothing to copy.
    fn submit_readback(
        &self,
        st: &mut State,
        data: Option<(&wgpu::Buffer, u64, u64)>,
        shared: bool,
    ) -> Option<Readback> {
        let data_size = data.map_or(0, |d| d.2);
        let owned: Vec<(usize, SlotOwner)> =
            st.slots.iter_mut().enumerate().filter_map(|(i, s)| Some((i, s.take()?))).collect();
        let total = data_size + 16 * owned.len() as u64;
        if total == 0 {
            if st.recorder.pending() > 0 {
                self.submit(st);
            }
            return None;
        }
        let staging = if shared { self.staging(st, total) } else { self.staging_buffer(total) };
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        st.recorder.encode(&self.ctx.queue, &mut encoder);
        if let Some((src, start, size)) = data {
            encoder.copy_buffer_to_buffer(src, start, &staging, 0, size);
        }
        for (k, (slot, _)) in owned.iter().enumerate() {
            let from = *slot as u64 * self.error_slot_stride;
            encoder.copy_buffer_to_buffer(&self.error_buffer, from, &staging, data_size + 16 * k as u64, 16);
        }
        if !owned.is_empty() {
            // Every slot was either owned here or free (zero): clear them all in one go.
            encoder.clear_buffer(&self.error_buffer, 0, None);
        }
        self.finish_submit(st, encoder);
        Some(Readback { staging, total, data_size, owned })
    }

    /// Hands the error words of a mapped readback to their threads; returns its data bytes.
    fn finish_readback(&self, st: &mut State, readback: &Readback, mut bytes: Vec<u8>) -> Vec<u8> {
        let data_size = readback.data_size as usize;
        for (k, (_, owner)) in readback.owned.iter().enumerate() {
            let at = data_size + 16 * k;
            self.record_kernel_error(st, *owner, bytemuck::pod_collect_to_vec(&bytes[at..at + 16]));
        }
        bytes.truncate(data_size);
        bytes
    }

    /// Submits pending work and waits for the GPU; returns the calling thread's first
    /// pending error.
    pub fn sync(&self) -> Result<()> {
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        self.submit_and_read(st, None)?;
        self.take_errors(st)
    }

    /// [`GpuDevice::sync`] without blocking (the browser's way; natively the future polls
    /// the device). Pending work is submitted at the call; the future resolves once the GPU
    /// has done it, with the calling thread's first pending error.
    pub fn sync_async(self: &Arc<Self>) -> impl Future<Output = Result<()>> + Send + 'static {
        let (caller, gpu) = (std::thread::current().id(), self.clone());
        let readback = self.submit_readback(&mut self.state.lock().unwrap(), None, false);
        let done = Completion::new(&self.ctx.device);
        if readback.is_none() {
            let finished = done.callback();
            self.ctx.queue.on_submitted_work_done(move || finished(()));
        }
        async move {
            match &readback {
                Some(r) => {
                    let bytes = gpu.mapped(&r.staging, r.total).await?;
                    gpu.finish_readback(&mut gpu.state.lock().unwrap(), r, bytes);
                }
                None => done.await,
            }
            gpu.take_errors_of(&mut gpu.state.lock().unwrap(), caller)
        }
    }

    fn wait(&self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))
    }

    /// Submits pending work, then copies `len` bytes at `offset` of `buffer` to the host.
    pub fn read(&self, buffer: &PooledBuffer, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        let (start, end) = covering(offset, len);
        let data = (end > start).then_some((buffer.raw(), start, end - start));
        let bytes = self.submit_and_read(st, data)?;
        self.take_errors(st)?;
        let skip = (offset - start) as usize;
        Ok(bytes[skip..skip + len as usize].to_vec())
    }

    /// [`GpuDevice::read`] without blocking (the browser's way; natively the future polls
    /// the device). The work and the copy are submitted at the call, so the GPU runs while
    /// the caller does other things, and several reads may be in flight at once (each has
    /// a staging buffer of its own). Errors of launches recorded by the calling thread
    /// before the call come back here.
    pub fn read_async(
        self: &Arc<Self>,
        buffer: &PooledBuffer,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send + 'static {
        let (caller, gpu) = (std::thread::current().id(), self.clone());
        let (start, end) = covering(offset, len);
        let data = (end > start).then_some((buffer.raw(), start, end - start));
        let readback = self.submit_readback(&mut self.state.lock().unwrap(), data, false);
        async move {
            let bytes = match &readback {
                Some(r) => {
                    let bytes = gpu.mapped(&r.staging, r.total).await?;
                    gpu.finish_readback(&mut gpu.state.lock().unwrap(), r, bytes)
                }
                None => Vec::new(),
            };
            gpu.take_errors_of(&mut gpu.state.lock().unwrap(), caller)?;
            let skip = (offset - start) as usize;
            Ok(bytes[skip..skip + len as usize].to_vec())
        }
    }

    /// The shared staging buffer, grown to hold at least `size` bytes.
    fn staging(&self, st: &mut State, size: u64) -> wgpu::Buffer {
        if let Some(s) = &st.staging {
            if s.size() >= size {
                return s.clone();
            }
        }
        let s = self.staging_buffer(size);
        st.staging = Some(s.clone());
        s
    }

    /// A new staging buffer of at least `size` bytes.
    fn staging_buffer(&self, size: u64) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgrad staging"),
            size: crate::pool::size_class(size),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// [`GpuDevice::map_read`] without blocking.
    async fn mapped(&self, staging: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        let mapping = Completion::new(&self.ctx.device);
        staging.map_async(wgpu::MapMode::Read, 0..size, mapping.callback());
        mapping.await.map_err(|e| Error::Gpu(format!("mapping a buffer for readback failed: {e}")))?;
        Self::copy_out(staging, size)
    }

    /// Maps `size` bytes of a staging buffer after the GPU has written them. The GPU
    /// works asynchronously: map_async only queues the request, and polling the device
    /// until it completes is what makes the bytes visible to the host.
    fn map_read(&self, staging: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, 0..size, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|_| Error::Gpu("buffer mapping was cancelled".into()))?
            .map_err(|e| Error::Gpu(format!("mapping a buffer for readback failed: {e}")))?;
        Self::copy_out(staging, size)
    }

    /// The first `size` bytes of a mapped staging buffer, which is then unmapped.
    fn copy_out(staging: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        let bytes = staging
            .get_mapped_range(0..size)
            .map_err(|e| Error::Gpu(format!("reading a mapped buffer failed: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// Turns the error words a launch wrote into its slot ([code, value, limit, negative
    /// magnitude]) into its owner's pending error (the readback cleared them on the device).
    fn record_kernel_error(&self, st: &mut State, owner: SlotOwner, words: Vec<u32>) {
        if words[0] == 0 {
            return;
        }
        if words[0] == error_code::INDEX_OUT_OF_RANGE {
            // Word 1: the largest bad id >= 0; word 3: the magnitude of the most negative
            // bad i32 id, if any (named first).
            let index = if words[3] != 0 { -(words[3] as i64) } else { words[1] as i64 };
            let e = Error::IndexOutOfRange { op: owner.op, index, size: words[2] as u64 };
            st.errors.entry(owner.thread).or_insert(e);
        }
    }

    /// Returns (and clears) the calling thread's first recorded or kernel-reported error,
    /// or an error wgpu reported outside any scope (those name no thread).
    fn take_errors(&self, st: &mut State) -> Result<()> {
        self.take_errors_of(st, std::thread::current().id())
    }

    /// [`GpuDevice::take_errors`] for the thread `caller`.
    fn take_errors_of(&self, st: &mut State, caller: ThreadId) -> Result<()> {
        if let Some(msg) = self.uncaptured.lock().unwrap().take() {
            // The driver's out-of-memory report does not say how much is in use: add it.
            let live = self.pool.counters().live_bytes;
            let msg = if msg.to_lowercase().contains("memory") {
                format!("{msg} ({live} bytes live in tensors)")
            } else {
                msg
            };
            st.errors.entry(caller).or_insert(Error::Gpu(msg));
        }
        match st.errors.remove(&caller) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Counters for tests and benchmarks.
    pub fn stats(&self) -> GpuStats {
        let pool = self.pool.counters();
        let st = self.state.lock().unwrap();
        GpuStats {
            buffers_allocated: pool.allocated,
            buffers_reused: pool.reused,
            live_buffer_bytes: pool.live_bytes,
            ..st.stats
        }
    }
}
