//! Lists every adapter wgpu can see, with backend, type, features and key limits, and
//! which device `Device::best()` would choose. With `--names`, only each adapter's name,
//! backend and type, one per line, best first (nothing when there is none): what
//! `cargo xtask ci` reads.

use wgrad::Device;

fn main() -> anyhow::Result<()> {
    let adapters = wgrad::gpu::list_adapters()?;
    if std::env::args().nth(1).as_deref() == Some("--names") {
        for a in &adapters {
            let info = a.get_info();
            println!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        }
        return Ok(());
    }
    if adapters.is_empty() {
        println!("no GPU adapters (install a Vulkan driver; without a GPU: apt-get install mesa-vulkan-drivers)");
    }
    for a in &adapters {
        let info = a.get_info();
        let l = a.limits();
        println!(
            "{} ({:?}, {:?}, driver {} {})",
            info.name, info.backend, info.device_type, info.driver, info.driver_info
        );
        println!("  shader f16: {}", a.features().contains(wgrad::gpu::Features::SHADER_F16));
        println!(
            "  max buffer {} MiB, max storage binding {} MiB, workgroup storage {} KiB, invocations/workgroup {}",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup
        );
    }
    println!("Device::best() -> {}", Device::best().name());
    Ok(())
}
