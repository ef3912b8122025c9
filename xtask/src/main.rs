//! Project tasks: `cargo xtask ci | check-shaders | bench [args]`.

use anyhow::{bail, Context, Result};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("check-shaders") => check_shaders(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n  ci             fmt, clippy, shader validation, all tests (installs software \
                 Vulkan when root on Debian and no adapter exists)\n  check-shaders  validate every composed WGSL module \
                 with naga\n  bench [..]     run the benchmark workloads (see `cargo xtask bench --help`)"
            );
            bail!("unknown or missing task")
        }
    }
}

/// Runs a command, echoing it, and fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program).args(args).status().with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn ci() -> Result<()> {
    let started = std::time::Instant::now();
    ensure_gpu_adapter()?;
    quiet_mesa();
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    check_shaders()?;
    run("cargo", &["test", "--workspace"])?;
    eprintln!("xtask ci: all green in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Mesa prints an error at every start when XDG_RUNTIME_DIR is unset; give it a private one.
fn quiet_mesa() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join(format!("wgrad-xdg-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

/// GPU tests need an adapter. Without one, install Mesa's software Vulkan when we can
/// (root on Debian/Ubuntu), otherwise say what to install.
fn ensure_gpu_adapter() -> Result<()> {
    if std::env::var("WGRAD_SKIP_GPU").is_ok_and(|v| v == "1") {
        eprintln!("xtask ci: WGRAD_SKIP_GPU=1, GPU tests will be skipped");
        return Ok(());
    }
    let adapters = wgrad_gpu::list_adapters()?;
    if let Some(a) = adapters.first() {
        let info = a.get_info();
        eprintln!("xtask ci: GPU adapter: {} ({:?}, {:?})", info.name, info.backend, info.device_type);
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let has_apt = std::path::Path::new("/usr/bin/apt-get").exists();
    if is_root && has_apt {
        eprintln!("xtask ci: no GPU adapter; installing software Vulkan (mesa-vulkan-drivers)");
        run("apt-get", &["update", "-qq"])?;
        run("apt-get", &["install", "-y", "-qq", "mesa-vulkan-drivers"])?;
        return Ok(());
    }
    bail!(
        "no GPU adapter found. Install a Vulkan driver (Debian/Ubuntu without a GPU: \
         `apt-get install mesa-vulkan-drivers`), or set WGRAD_SKIP_GPU=1 to run only the CPU tests"
    )
}

fn check_shaders() -> Result<()> {
    use naga::valid::{Capabilities, ValidationFlags, Validator};
    let variants = wgrad_gpu::kernels::all_variants();
    let mut failures = 0;
    for (name, src) in &variants {
        let result = naga::front::wgsl::parse_str(src).map_err(|e| e.emit_to_string(src)).and_then(|module| {
            Validator::new(ValidationFlags::all(), Capabilities::all())
                .validate(&module)
                .map(|_| ())
                .map_err(|e| e.emit_to_string(src))
        });
        if let Err(msg) = result {
            failures += 1;
            eprintln!("{name}:\n{msg}");
        }
    }
    if failures > 0 {
        bail!("{failures} of {} shader modules failed validation", variants.len());
    }
    eprintln!("check-shaders: {} modules from {} files validate", variants.len(), wgrad_gpu::shaders::ALL.len());
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    quiet_mesa();
    let mut cmd_args = vec!["run", "--quiet", "--release", "--example", "bench", "--"];
    cmd_args.extend(args.iter().map(String::as_str));
    run("cargo", &cmd_args)
}
