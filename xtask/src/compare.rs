//! `cargo xtask bench --compare torch [--quick] [--filter W1,W9]`: each CPU workload timed by
//! wgrad's bench and then by PyTorch eager (benches/torch_workloads.py), alternating
//! workload by workload in one invocation, so both see the same machine state. Prints the
//! wgrad / PyTorch ratios and writes them to target/bench-compare.json.
//!
//! PyTorch lives in a virtual environment made once under target/torch-venv with pip
//! (`torch` and `transformers` at the pinned versions below); nothing of it enters the
//! library's build.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The versions the comparison was made with.
const TORCH: &str = "torch==2.15.0";
const TRANSFORMERS: &str = "transformers==5.24.0";

/// The venv's python, made (once) with torch and transformers.
fn torch_python() -> Result<PathBuf> {
    let venv = super::root().join("target/torch-venv");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p).args(["-c", "import torch, transformers"]).output().is_ok_and(|o| o.status.success())
    };
    if python.exists() && ready(&python) {
        return Ok(python);
    }
    eprintln!("bench --compare: making {} with {TORCH} {TRANSFORMERS} (once)", venv.display());
    super::run("python3", &["-m", "venv", &venv.to_string_lossy()])?;
    let py = python.to_string_lossy();
    super::run(&py, &["-m", "pip", "install", "--quiet", "--disable-pip-version-check", TORCH, TRANSFORMERS])?;
    if !ready(&python) {
        bail!("{} cannot import torch and transformers after installing them", python.display());
    }
    Ok(python)
}

/// One workload's medians.
struct Pair {
    workload: String,
    wgrad_ms: f64,
    torch_ms: f64,
}

pub fn torch(args: &[String]) -> Result<()> {
    let (mut quick, mut filter) = (false, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--filter" => filter = Some(it.next().context("--filter needs a list")?.clone()),
            other => bail!("bench --compare torch takes --quick and --filter, not `{other}`"),
        }
    }
    let python = torch_python()?;
    super::run("cargo", &["build", "--quiet", "--release", "--example", "bench"])?;
    let bench = super::root().join("target/release/examples/bench");
    let filter = match filter {
        Some(list) => list,
        None => String::from_utf8(Command::new(&bench).arg("--list").output()?.stdout)?.trim().to_string(),
    };
    let script = super::root().join("benches/torch_workloads.py");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads_arg = threads.to_string();
    let json = super::root().join("target/bench-compare-wgrad.json");
    let mut pairs = Vec::new();
    for w in filter.split(',') {
        let mut ours = vec!["--device", "cpu", "--filter", w, "--json", json.to_str().context("a UTF-8 path")?];
        let mut theirs = vec![script.to_str().context("a UTF-8 path")?, "--filter", w, "--threads", &threads_arg];
        if quick {
            ours.push("--quick");
            theirs.push("--quick");
        }
        let status = Command::new(&bench).args(&ours).stdout(std::process::Stdio::null()).status()?;
        anyhow::ensure!(status.success(), "wgrad's bench failed on {w}");
        let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        let wgrad_ms = rows
            .iter()
            .find(|r| r["device"] == "cpu")
            .and_then(|r| r["median_ms"].as_f64())
            .with_context(|| format!("no CPU row for {w}"))?;
        let out = Command::new(&python).args(&theirs).output()?;
        anyhow::ensure!(
            out.status.success(),
            "the PyTorch script failed on {w}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let row: Value = serde_json::from_str(line.lines().last().with_context(|| format!("no PyTorch row for {w}"))?)?;
        let torch_ms = row["median_ms"].as_f64().context("median_ms")?;
        eprintln!("{w}: wgrad {wgrad_ms:.2} ms, PyTorch {torch_ms:.2} ms, ratio {:.2}", wgrad_ms / torch_ms);
        pairs.push(Pair { workload: w.to_string(), wgrad_ms, torch_ms });
    }
    println!("| workload | wgrad cpu ms | PyTorch ms | wgrad / PyTorch |\n|---|---|---|---|");
    for p in &pairs {
        println!("| {} | {:.2} | {:.2} | {:.2} |", p.workload, p.wgrad_ms, p.torch_ms, p.wgrad_ms / p.torch_ms);
    }
    let body: Vec<Value> = pairs
        .iter()
        .map(|p| {
            serde_json::json!({"workload": p.workload, "wgrad_ms": p.wgrad_ms, "torch_ms": p.torch_ms,
                "ratio": p.wgrad_ms / p.torch_ms, "threads": threads, "torch": TORCH})
        })
        .collect();
    let path = super::root().join("target/bench-compare.json");
    std::fs::write(&path, serde_json::to_string_pretty(&body)? + "\n")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
