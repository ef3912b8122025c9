//! Project tasks: `cargo xtask ci | cross-check | gl-tests | check-shaders | bench [args] | data <name> |
//! demos [args] | ddp-check | web [--serve | --test | --screenshot PNG]`.

mod compare;
mod ddp;
mod demos;
mod web;

use anyhow::{bail, Context, Result};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("cross-check") => cross_check(),
        Some("gl-tests") => gl_tests(),
        Some("check-shaders") => check_shaders(),
        Some("bench") => bench(&args[1..]),
        Some("data") => data(&args[1..]),
        Some("demos") => demos::demos(&args[1..]),
        Some("ddp-check") => ddp::ddp_check(),
        Some("web") => web::web(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n  ci             fmt, clippy, doc, cross-check, all tests (shader validation included) (installs \
                 software Vulkan when root on Debian and no adapter exists)\n  cross-check    type-check the library \
                 and wgrad-data for Windows and macOS\n  gl-tests       the test suite on \
                 wgpu's GL backend (ci runs it after the Vulkan run)\n  check-shaders  validate every composed WGSL \
                 module with naga\n  bench [..]     run the benchmark workloads (see `cargo xtask bench --help`; `--compare torch` times PyTorch beside each CPU workload)\n  \
                 data <name>    fetch, verify and unpack a data set into data/<name>/ (see `cargo xtask data --help`)\n  \
                 demos [..]     run the demos with their README flags and compare with the README's figures \
                 (--quick: the short ones; --only NAME,...; --seeds N)\n  \
                 ddp-check      data-parallel training under `mpirun -np 2` on both devices (needs MPI)\n  \
                 web [..]       build the digits web page (--serve: on 127.0.0.1:8000; --test: in headless Chromium, \
                 with WebGPU and without, against the native run; --screenshot PNG)"
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

/// `args` (a cargo subcommand and its arguments) with wgrad's `distributed` feature on
/// when MPI is installed: CI's builds (clippy, doc, tests, demos, `ddp-check`) then share
/// one build of the library, and a machine without MPI still runs everything but
/// `ddp-check`.
fn cargo_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    static MPI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let mpi = *MPI.get_or_init(|| Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success()));
    let mut all = args[..1].to_vec();
    if mpi {
        all.extend(["--features", "wgrad/distributed"]);
    }
    all.extend(&args[1..]);
    all
}

/// The workspace's root directory (xtask lives one level below it).
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn ci() -> Result<()> {
    let started = std::time::Instant::now();
    quiet_mesa();
    // Each phase's time is printed at the end, to see where CI's minutes go.
    let phases: [(&str, &dyn Fn() -> Result<()>); 10] = [
        ("fmt", &|| run("cargo", &["fmt", "--all", "--", "--check"])),
        ("clippy", &|| run("cargo", &cargo_args(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))),
        ("doc", &docs_without_warnings),
        ("cross-check", &cross_check),
        ("test", &|| {
            ensure_gpu_adapter()?;
            run("cargo", &cargo_args(&["test", "--workspace"]))
        }),
        ("gl-tests", &gl_tests),
        ("demo-smoke", &demo_smoke),
        ("bench-check", &bench_check),
        ("ddp-check", &ddp::ddp_check),
        ("web", &|| web::web(&["--test".to_string()])),
    ];
    let mut times = Vec::new();
    for (name, phase) in phases {
        let t = std::time::Instant::now();
        phase()?;
        times.push(format!("{name} {:.0} s", t.elapsed().as_secs_f64()));
    }
    eprintln!("xtask ci: all green in {:.0} s ({})", started.elapsed().as_secs_f64(), times.join(", "));
    Ok(())
}

/// `cargo doc` of the workspace with every rustdoc warning an error (broken links, bad HTML).
fn docs_without_warnings() -> Result<()> {
    let args = cargo_args(&["doc", "--workspace", "--no-deps"]);
    eprintln!("$ RUSTDOCFLAGS=\"-D warnings\" cargo {}", args.join(" "));
    let status = Command::new("cargo").args(&args).env("RUSTDOCFLAGS", "-D warnings").status()?;
    anyhow::ensure!(status.success(), "cargo doc reports warnings");
    Ok(())
}

/// The foreign targets `cross-check` type-checks: the libraries (wgrad and wgrad-data),
/// where the platform-specific code is, for Windows (DX12, Vulkan) and macOS (Metal). The
/// tests and examples are the same Rust on every platform except for their Unix-only
/// paths, which the Linux build compiles. The browser (wasm32) is built and run for real
/// by `cargo xtask web --test`.
const CROSS_TARGETS: &[(&str, &[&str])] = &[
    ("x86_64-pc-windows-msvc", &["-p", "wgrad", "-p", "wgrad-data", "--lib"]),
    ("aarch64-apple-darwin", &["-p", "wgrad", "-p", "wgrad-data", "--lib"]),
];

/// `cargo xtask cross-check`: `cargo check` for each of [`CROSS_TARGETS`] (adding missing
/// targets with rustup), so platform-specific code cannot break the Windows, macOS or
/// browser build unseen. Nothing runs. Each target's artifacts live in
/// `target/<triple>/`, so the host build stays valid.
fn cross_check() -> Result<()> {
    for (target, what) in CROSS_TARGETS {
        let started = std::time::Instant::now();
        ensure_target(target)?;
        let mut args = vec!["check", "--target", target];
        args.extend(*what);
        run("cargo", &args).with_context(|| format!("cross-check: the build for {target} does not type-check"))?;
        eprintln!("cross-check: {target} type-checks ({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Adds Rust's standard library for `target` with rustup unless it is installed.
fn ensure_target(target: &str) -> Result<()> {
    let listed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let listed = listed.with_context(|| format!("rustup is needed to add the target {target}"))?;
    if !String::from_utf8_lossy(&listed.stdout).lines().any(|t| t.trim() == target) {
        run("rustup", &["target", "add", target]).with_context(|| format!("adding target {target}"))?;
    }
    Ok(())
}

/// The test suite again on wgpu's GL backend (Mesa's llvmpipe here), so a second backend
/// is exercised in CI, not only Vulkan: every GPU test runs on it, and tests of what GL
/// lacks (f16) say so on stderr. No GL adapter is a failure with the packages to install.
fn gl_tests() -> Result<()> {
    if gpu_skipped() {
        return Ok(());
    }
    let gl = adapters_of(Some("gl"))?;
    let Some(name) = gl.first() else {
        bail!(
            "no GL adapter for the second test run; on Debian/Ubuntu install libegl-mesa0 and \
             libgl1-mesa-dri (Mesa's llvmpipe), or set WGRAD_SKIP_GPU=1 to run only the CPU tests"
        )
    };
    eprintln!("xtask ci: the GPU tests again on the GL backend: {name}");
    eprintln!("$ WGRAD_BACKEND=gl cargo test --workspace");
    let status =
        Command::new("cargo").args(cargo_args(&["test", "--workspace"])).env("WGRAD_BACKEND", "gl").status()?;
    anyhow::ensure!(status.success(), "the tests failed on the GL backend ({name})");
    Ok(())
}

/// The adapters wgpu finds, best first (on one backend: `vulkan`, `gl`, ...; `None`: the
/// backends WGRAD_BACKEND allows), as the `device_info` example lists them. It is built
/// with CI's features, so the test build that follows reuses the library (xtask itself
/// does not link wgpu: its own build would be a second one).
fn adapters_of(backend: Option<&str>) -> Result<Vec<String>> {
    let args = cargo_args(&["run", "--quiet", "--example", "device_info", "--", "--names"]);
    eprintln!("$ cargo {}", args.join(" "));
    let mut cmd = Command::new("cargo");
    cmd.args(&args);
    if let Some(backend) = backend {
        cmd.env("WGRAD_BACKEND", backend);
    }
    let output = cmd.output().context("starting cargo")?;
    anyhow::ensure!(
        output.status.success(),
        "listing the adapters failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(String::from).collect())
}

/// True when WGRAD_SKIP_GPU=1 asks to run without a GPU adapter.
fn gpu_skipped() -> bool {
    std::env::var("WGRAD_SKIP_GPU").is_ok_and(|v| v == "1")
}

/// Every benchmark workload (`bench --quick --check --iters 1`, dev profile): each GPU
/// workload's first result must match the CPU's (1e-3 relative) and no iteration may
/// upload tensor data, so kernel and dispatch-count work cannot silently break what the
/// benchmarks measure. Its timings mean nothing here (unoptimised host code, one timed
/// iteration); `cargo xtask bench` measures.
fn bench_check() -> Result<()> {
    let device = if gpu_skipped() { "cpu" } else { "gpu" };
    let args = ["run", "--quiet", "--example", "bench", "--", "--quick", "--check", "--iters", "1", "--device", device];
    run("cargo", &cargo_args(&args))
}

/// The demos' smoke runs: one short epoch of each training demo on a small slice of its
/// real data (fetched on first use), on the CPU device and on the GPU, failing unless the
/// loss falls; then `device_info`.
/// Each takes well under a minute on two cores, lavapipe included.
const SMOKE_RUNS: &[(&str, &[&str])] = &[
    ("mnist", &["--limit", "768"]),
    ("sentiment_lstm", &["--limit", "1024", "--batch-size", "16", "--lr", "1e-2"]),
    ("speaker_lstm", &["--limit", "128"]),
    (
        "char_lstm",
        &[
            "--limit",
            "20000",
            "--steps",
            "12",
            "--seq-len",
            "32",
            "--hidden",
            "64",
            "--val-chars",
            "2048",
            "--sample-len",
            "40",
        ],
    ),
    // Sentences cut to 16 words: nearly every batch has the same shape.
    ("transformer", &["--limit", "768", "--batch-size", "8", "--max-len", "16", "--warmup", "8"]),
];

/// Runs every [`SMOKE_RUNS`] entry for one epoch on each device.
fn demo_smoke() -> Result<()> {
    let mut devices = vec!["cpu"];
    if !gpu_skipped() {
        devices.push("gpu");
    }
    let out = std::env::temp_dir().join(format!("wgrad-smoke-{}", std::process::id()));
    for (example, extra) in SMOKE_RUNS {
        for device in &devices {
            let dir = out.join(format!("{example}-{device}"));
            let dir = dir.to_string_lossy();
            let mut all = vec!["run", "--quiet", "--example", example, "--", "--device", device, "--epochs", "1"];
            all.extend(["--check-loss-falls", "--out", &dir]);
            all.extend(*extra);
            run("cargo", &cargo_args(&all))?;
        }
    }
    // BERT (the pretrained all-MiniLM-L6-v2, fetched on first use): embeddings, and a
    // fine-tuning epoch on a small slice with short sentences.
    for device in &devices {
        let dir = out.join(format!("bert-{device}"));
        let dir = dir.to_string_lossy();
        let mut args = vec!["run", "--quiet", "--example", "bert", "--", "finetune", "--device", device];
        args.extend(["--epochs", "1", "--limit", "128", "--batch-size", "16", "--max-tokens", "32"]);
        args.extend(["--check-loss-falls", "--out", &dir]);
        run("cargo", &cargo_args(&args))?;
        let embed = ["run", "--quiet", "--example", "bert", "--", "embed", "--device", device, "A fine film.", "Dull."];
        run("cargo", &cargo_args(&embed))?;
    }
    resume_smoke(&out)?;
    let _ = std::fs::remove_dir_all(&out);
    // The sixth demo lists the adapters and what Device::best() picks.
    run("cargo", &cargo_args(&["run", "--quiet", "--example", "device_info"]))
}

/// `--resume` continues exactly: 2 epochs in one run and 1 epoch + a resumed second give
/// the same `final:` numbers (the digits demo on the CPU, a small slice).
fn resume_smoke(out: &std::path::Path) -> Result<()> {
    let final_line = |dir: &str, epochs: &str, resume: bool| -> Result<String> {
        let mut args = vec!["run", "--quiet", "--example", "mnist", "--", "--device", "cpu", "--limit", "256"];
        args.extend(["--epochs", epochs, "--out", dir]);
        if resume {
            args.push("--resume");
        }
        eprintln!("$ cargo {}", args.join(" "));
        let output = Command::new("cargo").args(cargo_args(&args)).output().context("starting cargo")?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        anyhow::ensure!(output.status.success(), "`cargo {}` failed:\n{stdout}", args.join(" "));
        let line = stdout.lines().find(|l| l.starts_with("final:")).context("no final: line")?;
        // Everything but the wall-clock seconds must agree.
        Ok(line.split_whitespace().filter(|f| !f.starts_with("seconds=")).collect::<Vec<_>>().join(" "))
    };
    let (whole, parts) = (out.join("resume-whole"), out.join("resume-parts"));
    let (whole, parts) = (whole.to_string_lossy(), parts.to_string_lossy());
    let expected = final_line(&whole, "2", false)?;
    final_line(&parts, "1", false)?;
    let resumed = final_line(&parts, "2", true)?;
    anyhow::ensure!(resumed == expected, "--resume differs from the uninterrupted run:\n  {resumed}\n  {expected}");
    eprintln!("xtask ci: --resume continues exactly ({resumed})");
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
    if gpu_skipped() {
        eprintln!("xtask ci: WGRAD_SKIP_GPU=1, GPU tests will be skipped");
        return Ok(());
    }
    if let Some(name) = adapters_of(None)?.first() {
        eprintln!("xtask ci: GPU adapter: {name}");
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

/// `cargo xtask check-shaders`: every composed WGSL module parses and validates with naga
/// (the wgrad-gpu test that `cargo test` runs too).
fn check_shaders() -> Result<()> {
    run("cargo", &["test", "-p", "wgrad-gpu", "--test", "shaders_validate"])
}

fn bench(args: &[String]) -> Result<()> {
    quiet_mesa();
    if let Some(k) = args.iter().position(|a| a == "--compare") {
        anyhow::ensure!(args.get(k + 1).map(String::as_str) == Some("torch"), "--compare takes `torch`");
        let rest: Vec<String> = args[..k].iter().chain(&args[k + 2..]).cloned().collect();
        return compare::torch(&rest);
    }
    let mut cmd_args = vec!["run", "--quiet", "--release", "--example", "bench", "--"];
    cmd_args.extend(args.iter().map(String::as_str));
    run("cargo", &cmd_args)
}

/// `cargo xtask data <name> [--force] [--data DIR]`: the `data` example (fetch, verify and
/// unpack a data set into `data/<name>/`), built with CI's features so that it shares the
/// library's build (xtask itself links neither wgrad nor its data crate).
fn data(args: &[String]) -> Result<()> {
    let mut all = cargo_args(&["run", "--quiet", "--example", "data", "--"]);
    all.extend(args.iter().map(String::as_str));
    run("cargo", &all)
}
