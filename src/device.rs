//! Devices: the CPU reference backend, or the process-wide GPU runtime.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Once, OnceLock};
use wgrad_core::{Error, Result};
use wgrad_gpu::{DeviceType, GpuDevice};

/// Where tensors live and ops run. Cheap to clone; all GPU handles share one wgpu
/// device per process (creating one costs 0.1-0.5 s).
#[derive(Clone)]
pub enum Device {
    /// The CPU reference backend.
    Cpu,
    /// A wgpu adapter.
    Gpu(Arc<GpuDevice>),
}

/// Counters that show batching and buffer reuse; all zero on the CPU.
pub type DeviceStats = wgrad_gpu::GpuStats;

static GPU: OnceLock<std::result::Result<Arc<GpuDevice>, String>> = OnceLock::new();
static ANNOUNCE: Once = Once::new();
thread_local! {
    /// The first error a CPU kernel found in data (bad ids) on this thread, returned by
    /// this thread's next readback or sync, the same way GPU kernels report them.
    static CPU_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Gpu(a), Device::Gpu(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Device {
    /// The CPU reference backend.
    pub fn cpu() -> Device {
        Device::Cpu
    }

    /// The best wgpu adapter (honouring WGRAD_BACKEND and WGRAD_ADAPTER), opened once per
    /// process. `Err` lists each adapter's problem, or how to get one when there is none.
    pub fn gpu() -> Result<Device> {
        let shared = GPU.get_or_init(|| GpuDevice::open().map(Arc::new).map_err(|e| e.to_string()));
        match shared {
            Ok(gpu) => Ok(Device::Gpu(gpu.clone())),
            Err(reasons) => Err(Error::NoAdapter { reasons: reasons.clone() }),
        }
    }

    /// [`Device::gpu`] without blocking: the way to open the GPU in a browser (WebGPU's
    /// adapter and device requests are asynchronous), and usable natively from async code.
    /// The adapter is opened once per process, by whichever of the two calls comes first.
    ///
    /// ```no_run
    /// # async fn demo() -> wgrad::Result<()> {
    /// let dev = wgrad::Device::gpu_async().await?;
    /// let x = wgrad::Tensor::arange(0.0, 4.0, wgrad::DType::F32, &dev);
    /// assert_eq!(x.mul_scalar(2.0).to_vec_async::<f32>().await?, [0.0, 2.0, 4.0, 6.0]);
    /// # Ok(()) }
    /// ```
    pub async fn gpu_async() -> Result<Device> {
        if GPU.get().is_none() {
            let opened = GpuDevice::open_async().await.map(Arc::new).map_err(|e| e.to_string());
            let _ = GPU.set(opened); // a concurrent first call may have won: keep its device
        }
        Self::gpu()
    }

    /// The device to use by default: WGRAD_DEVICE=cpu|gpu if set; otherwise a hardware GPU
    /// (discrete, integrated or virtual) if one works, else the CPU. A software adapter
    /// (lavapipe) is only used when asked for: it is slower than the CPU backend. Says
    /// once on stderr which device was chosen and why. Panics if WGRAD_DEVICE is invalid
    /// or names a GPU that cannot be opened.
    pub fn best() -> Device {
        let (device, why) = Self::choose().unwrap_or_else(|e| panic!("Device::best: {e}"));
        ANNOUNCE.call_once(|| eprintln!("wgrad: using {} ({why})", device.name()));
        device
    }

    fn choose() -> Result<(Device, String)> {
        match std::env::var("WGRAD_DEVICE").as_deref() {
            Ok("cpu") => return Ok((Device::cpu(), "WGRAD_DEVICE=cpu".into())),
            Ok("gpu") => return Ok((Device::gpu()?, "WGRAD_DEVICE=gpu".into())),
            Ok(other) => return Err(Error::BadEnv { var: "WGRAD_DEVICE", value: other.into(), expected: "cpu, gpu" }),
            Err(_) => {}
        }
        match Device::gpu() {
            Ok(Device::Gpu(g)) if g.ctx.info.device_type != DeviceType::Cpu => {
                Ok((Device::Gpu(g), "hardware GPU found".into()))
            }
            Ok(_) => Ok((
                Device::cpu(),
                "only a software GPU adapter was found; the CPU backend is faster (WGRAD_DEVICE=gpu to use it)".into(),
            )),
            Err(e) => Ok((Device::cpu(), format!("no GPU: {e}"))),
        }
    }

    /// "cpu" or the adapter's name, backend and type.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Gpu(g) => format!("gpu: {}", g.describe()),
        }
    }

    /// True for a GPU device.
    pub fn is_gpu(&self) -> bool {
        matches!(self, Device::Gpu(_))
    }

    /// Waits until all recorded work is done. Returns the first error reported since the
    /// last check in ops this thread recorded: a bad index found by a kernel, a wgpu
    /// error, an oversized tensor. Other threads' errors stay theirs.
    pub fn sync(&self) -> Result<()> {
        self.backend().sync()
    }

    /// [`Device::sync`] without blocking (browsers; natively the future polls the GPU).
    /// Pending work is submitted at the call.
    pub fn sync_async(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        self.backend().sync_async()
    }

    /// Caps the bytes live tensors may hold on a GPU device (`None` removes the cap; like
    /// PyTorch's `set_per_process_memory_fraction`). Past it, new tensors are an
    /// `Error::OutOfMemory` (asked-for and live bytes) from the next `sync`/readback, and
    /// the device keeps working. No effect on the CPU device.
    pub fn set_memory_limit(&self, bytes: Option<u64>) {
        if let Device::Gpu(g) = self {
            g.set_memory_limit(bytes.unwrap_or(0));
        }
    }

    /// Dispatches, submits, pipelines compiled, buffers allocated vs reused, live bytes.
    pub fn stats(&self) -> DeviceStats {
        self.backend().stats()
    }

    /// True when the device can hold f16 tensors.
    pub fn supports_f16(&self) -> bool {
        self.backend().supports_f16()
    }

    /// Which kernels the GPU device runs where an op has several
    /// ([`wgrad_gpu::KernelPolicy`], read from `WGRAD_MATMUL` and `WGRAD_MATMUL_TILE` when
    /// it opens); None on the CPU device, which has one kernel per op.
    ///
    /// ```
    /// assert_eq!(wgrad::Device::cpu().kernel_policy(), None);
    /// ```
    pub fn kernel_policy(&self) -> Option<wgrad_gpu::KernelPolicy> {
        match self {
            Device::Cpu => None,
            Device::Gpu(g) => Some(g.policy()),
        }
    }

    /// Replaces the GPU device's [`Device::kernel_policy`], for tests and benchmarks that
    /// compare kernels on one adapter (the device is shared by every thread: set it where
    /// nothing else runs meanwhile). No effect on the CPU device.
    pub fn set_kernel_policy(&self, policy: wgrad_gpu::KernelPolicy) {
        if let Device::Gpu(g) = self {
            g.set_policy(policy);
        }
    }
}

/// Records an error found by a CPU kernel on this thread (the first one wins).
pub(crate) fn record_cpu_error(e: Error) {
    CPU_ERROR.with_borrow_mut(|slot| {
        slot.get_or_insert(e);
    });
}

/// Returns (and clears) this thread's first pending CPU error.
pub(crate) fn take_cpu_error() -> Result<()> {
    match CPU_ERROR.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
