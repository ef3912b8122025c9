//! Choosing an adapter and opening the wgpu device: the one expensive, once-per-process
//! step. Selection honours WGRAD_BACKEND and WGRAD_ADAPTER.

use wgrad_core::{Error, Result};

/// What kind of adapter this is, from wgpu's point of view.
pub use wgpu::DeviceType;

/// An opened adapter: the wgpu device and queue plus what we learned about it.
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// True when the device was opened with SHADER_F16.
    pub has_f16: bool,
}

fn backends_from_env() -> Result<wgpu::Backends> {
    match std::env::var("WGRAD_BACKEND") {
        Ok(value) => backend_named(&value),
        Err(_) => Ok(wgpu::Backends::all()),
    }
}

/// The wgpu backend a WGRAD_BACKEND value names.
fn backend_named(value: &str) -> Result<wgpu::Backends> {
    match value.to_ascii_lowercase().as_str() {
        "vulkan" => Ok(wgpu::Backends::VULKAN),
        "metal" => Ok(wgpu::Backends::METAL),
        "dx12" => Ok(wgpu::Backends::DX12),
        "gl" => Ok(wgpu::Backends::GL),
        _ => Err(Error::BadEnv { var: "WGRAD_BACKEND", value: value.into(), expected: "vulkan, metal, dx12, gl" }),
    }
}

/// Rank of an adapter type when picking the best: real GPUs first, software last.
fn preference(t: DeviceType) -> u8 {
    match t {
        DeviceType::DiscreteGpu => 0,
        DeviceType::IntegratedGpu => 1,
        DeviceType::VirtualGpu => 2,
        DeviceType::Other => 3,
        DeviceType::Cpu => 4,
    }
}

/// Every adapter wgpu can see on the allowed backends (WGRAD_BACKEND), best first.
pub fn list_adapters() -> Result<Vec<wgpu::Adapter>> {
    Ok(pollster::block_on(adapters_on(backends_from_env()?)))
}

/// Every adapter of one backend (`vulkan`, `metal`, `dx12`, `gl`), best first, whatever
/// WGRAD_BACKEND says.
pub fn list_adapters_of(backend: &str) -> Result<Vec<wgpu::Adapter>> {
    Ok(pollster::block_on(adapters_on(backend_named(backend)?)))
}

async fn adapters_on(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let mut adapters = instance.enumerate_adapters(backends).await;
    adapters.sort_by_key(|a| preference(a.get_info().device_type));
    adapters
}

impl GpuContext {
    /// Opens the best adapter (or the one WGRAD_ADAPTER names). The error lists each
    /// adapter seen and why it was not used, or says how to get one.
    pub fn open() -> Result<GpuContext> {
        pollster::block_on(Self::open_async())
    }

    /// [`GpuContext::open`] without blocking: the only way in a browser, where asking for
    /// an adapter and a device is asynchronous.
    pub async fn open_async() -> Result<GpuContext> {
        let adapters = adapters_on(backends_from_env()?).await;
        let wanted = std::env::var("WGRAD_ADAPTER").ok().map(|s| s.to_lowercase());
        let mut reasons = Vec::new();
        for adapter in adapters {
            let info = adapter.get_info();
            if let Some(w) = &wanted {
                if !info.name.to_lowercase().contains(w) {
                    reasons.push(format!("{} ({:?}): name does not match WGRAD_ADAPTER={w}", info.name, info.backend));
                    continue;
                }
            }
            match Self::open_adapter(adapter).await {
                Ok(ctx) => return Ok(ctx),
                Err(e) => reasons.push(format!("{} ({:?}): {e}", info.name, info.backend)),
            }
        }
        if reasons.is_empty() {
            reasons.push(
                "wgpu found no adapter on any backend (Vulkan, Metal, DX12, GL). Without a GPU, install a \
                 software Vulkan driver (Debian/Ubuntu: apt-get install mesa-vulkan-drivers) or use Device::cpu()"
                    .to_string(),
            );
        }
        Err(Error::NoAdapter { reasons: reasons.join("; ") })
    }

    async fn open_adapter(adapter: wgpu::Adapter) -> Result<GpuContext> {
        let info = adapter.get_info();
        // Ask for everything the adapter offers: the defaults (128/256 MiB buffers) are
        // lower than many adapters allow.
        let limits = adapter.limits();
        let has_f16 = adapter.features().contains(wgpu::Features::SHADER_F16);
        let required_features = if has_f16 { wgpu::Features::SHADER_F16 } else { wgpu::Features::empty() };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgrad"),
                required_features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("request_device failed: {e}")))?;
        Ok(GpuContext { adapter, device, queue, info, limits, has_f16 })
    }

    /// True for software rasterisers such as lavapipe or WARP.
    pub fn is_software(&self) -> bool {
        self.info.device_type == DeviceType::Cpu
    }
}
