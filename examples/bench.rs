//! Benchmark workloads of docs/BENCHMARKS.md (run through `cargo xtask bench`).
//!
//! cargo xtask bench [--quick] [--filter W1,W1b] [--device cpu,gpu] [--json PATH]
//!
//! Each workload is timed to completion (the result is read back), medians after
//! warm-up. A `ref-gemm` row times the same 1024^3 product through the CPU GEMM crate
//! directly, so ratios hold on a noisy machine.

use anyhow::{bail, Result};
use std::time::Instant;
use wgrad::{Device, Tensor};

struct Row {
    workload: &'static str,
    device: String,
    adapter: String,
    times_ms: Vec<f64>,
    flops: Option<f64>,
    submits_per_iter: Option<f64>,
    dispatches_per_iter: Option<f64>,
    /// Bytes of tensor data written from the host per iteration (GPU only).
    upload_bytes_per_iter: Option<f64>,
    /// With --check: relative difference of the first iteration's value from the CPU's.
    check_rel_diff: Option<f64>,
}

impl Row {
    fn median(&self) -> f64 {
        let mut t = self.times_ms.clone();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }
    fn gflops(&self) -> Option<f64> {
        self.flops.map(|f| f / (self.median() / 1e3) / 1e9)
    }
    fn json(&self) -> String {
        let min = self.times_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.times_ms.iter().copied().fold(0.0, f64::max);
        let opt = |v: Option<f64>| v.map_or("null".to_string(), |x| format!("{x:.3}"));
        format!(
            "{{\"workload\": \"{}\", \"device\": \"{}\", \"adapter\": \"{}\", \"median_ms\": {:.3}, \"min_ms\": {min:.3}, \
             \"max_ms\": {max:.3}, \"gflops\": {}, \"submits_per_iter\": {}, \"dispatches_per_iter\": {}, \
             \"upload_bytes_per_iter\": {}}}",
            self.workload,
            self.device,
            self.adapter.replace('"', "'"),
            self.median(),
            opt(self.gflops()),
            opt(self.submits_per_iter),
            opt(self.dispatches_per_iter),
            opt(self.upload_bytes_per_iter)
        )
    }
}

/// A workload ready to run: each call does one iteration to completion and returns a
/// scalar of its output (a sum, or a training step's loss) for the correctness check.
struct Job {
    flops: Option<f64>,
    warmup: usize,
    run: Box<dyn FnMut() -> Result<f64>>,
}

/// What timing a job gives: times, the first call's value, submits, dispatches and
/// uploaded bytes per call.
struct Timed {
    times_ms: Vec<f64>,
    first_value: f64,
    submits: Option<f64>,
    dispatches: Option<f64>,
    upload_bytes: Option<f64>,
}

/// Times `job` `iters` times after its warm-up calls; counts submits, dispatches and
/// uploaded bytes.
fn time(dev: &Device, mut job: Job, iters: usize) -> Result<Timed> {
    let first_value = (job.run)()?;
    for _ in 1..job.warmup {
        (job.run)()?;
    }
    let before = dev.stats();
    let mut times_ms = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        (job.run)()?;
        times_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let after = dev.stats();
    let per_iter = |a: u64, b: u64| dev.is_gpu().then(|| (a - b) as f64 / iters as f64);
    Ok(Timed {
        times_ms,
        first_value,
        submits: per_iter(after.submits, before.submits),
        dispatches: per_iter(after.dispatches, before.dispatches),
        upload_bytes: per_iter(after.upload_bytes, before.upload_bytes),
    })
}

fn ref_gemm(iters: usize) -> Row {
    let n = 1024;
    let a = vec![1.0f32; n * n];
    let b = vec![0.5f32; n * n];
    let mut c = vec![0.0f32; n * n];
    let mut times = Vec::new();
    for i in 0..iters + 2 {
        let t = Instant::now();
        // Safety: all three buffers are n x n row-major.
        unsafe {
            gemm::gemm(
                n,
                n,
                n,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                n as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            )
        };
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Row {
        workload: "W1",
        device: "ref-gemm".into(),
        adapter: "gemm crate".into(),
        times_ms: times,
        flops: Some(2.0 * (n * n * n) as f64),
        submits_per_iter: None,
        dispatches_per_iter: None,
        upload_bytes_per_iter: None,
        check_rel_diff: None,
    }
}

/// Reads a tensor's sum back: completes the work and gives a value to check.
fn total(t: &Tensor) -> Result<f64> {
    Ok(t.sum_all().to_scalar()?)
}

/// The workload `name` of docs/BENCHMARKS.md on `dev`, or None if there is no such one.
fn job(name: &str, dev: &Device) -> Option<Job> {
    let dev = dev.clone();
    let job =
        |flops: Option<f64>, warmup: usize, run: Box<dyn FnMut() -> Result<f64>>| Some(Job { flops, warmup, run });
    match name {
        "W1" => {
            let (a, b) = (Tensor::randn([1024, 1024], 1, &dev), Tensor::randn([1024, 1024], 2, &dev));
            job(Some(2.0 * 1024f64.powi(3)), 2, Box::new(move || total(&a.matmul(&b))))
        }
        "W1b" => {
            let (a, b) = (Tensor::randn([32, 256, 256], 1, &dev), Tensor::randn([32, 256, 256], 2, &dev));
            job(Some(2.0 * 32.0 * 256f64.powi(3)), 2, Box::new(move || total(&a.matmul(&b))))
        }
        "W2" | "W2b" => {
            use wgrad::functional::grad::{conv2d_grad_bias, conv2d_grad_input, conv2d_grad_weight};
            use wgrad::functional::{conv2d, Conv2d};
            let x = Tensor::randn([64, 32, 28, 28], 1, &dev);
            let w = Tensor::randn([64, 32, 3, 3], 2, &dev).mul_scalar(0.1);
            let b = Tensor::randn([64], 3, &dev);
            let p = Conv2d { padding: [1, 1], ..Default::default() };
            let fwd_flops = 2.0 * (64 * 64 * 28 * 28 * 32 * 9) as f64;
            if name == "W2" {
                job(Some(fwd_flops), 2, Box::new(move || total(&conv2d(&x, &w, Some(&b), p))))
            } else {
                // Gradients of sum(out): grad_out is all ones.
                job(
                    Some(3.0 * fwd_flops),
                    1,
                    Box::new(move || {
                        let y = conv2d(&x, &w, Some(&b), p);
                        let g = y.ones_like();
                        let dx = conv2d_grad_input(&g, &w, [28, 28], p);
                        let dw = conv2d_grad_weight(&g, &x, [3, 3], p);
                        let db = conv2d_grad_bias(&g);
                        total(&y.sum_all().add(&dx.sum_all()).add(&dw.sum_all()).add(&db.sum_all()))
                    }),
                )
            }
        }
        "W3" => {
            use wgrad::functional::{max_pool2d, Pool2d};
            let x = Tensor::randn([64, 64, 28, 28], 1, &dev);
            job(None, 2, Box::new(move || total(&max_pool2d(&x, Pool2d::square(2)))))
        }
        "W4" | "W4b" => {
            use wgrad::functional::{lstm, RnnWeights};
            let x = Tensor::randn([64, 32, 128], 1, &dev);
            let k = 1.0 / 16.0;
            let w = RnnWeights {
                w_ih: Tensor::rand_uniform([1024, 128], -k, k, 2, &dev),
                w_hh: Tensor::rand_uniform([1024, 256], -k, k, 3, &dev),
                b_ih: Some(Tensor::rand_uniform([1024], -k, k, 4, &dev)),
                b_hh: Some(Tensor::rand_uniform([1024], -k, k, 5, &dev)),
            };
            if name == "W4" {
                job(None, 1, Box::new(move || total(&lstm(&x, None, std::slice::from_ref(&w)).1 .0)))
            } else {
                // Gradient of sum(h_T) with respect to every weight and the input.
                let x = x.requires_grad();
                let w = RnnWeights {
                    w_ih: w.w_ih.requires_grad(),
                    w_hh: w.w_hh.requires_grad(),
                    b_ih: w.b_ih.map(|b| b.requires_grad()),
                    b_hh: w.b_hh.map(|b| b.requires_grad()),
                };
                job(
                    None,
                    1,
                    Box::new(move || {
                        let h_t = lstm(&x, None, std::slice::from_ref(&w)).1 .0.sum_all();
                        let grads = h_t.backward()?;
                        let g = |t: &Tensor| grads.get(t).expect("every input has a gradient").sum_all();
                        let all = [&x, &w.w_ih, &w.w_hh, w.b_ih.as_ref().unwrap(), w.b_hh.as_ref().unwrap()];
                        total(&all.iter().fold(h_t.detach(), |acc, t| acc.add(&g(t))))
                    }),
                )
            }
        }
        "W5" | "W5c" => {
            use wgrad::functional::{scaled_dot_product_attention, AttnMask};
            let q = Tensor::randn([8, 8, 256, 64], 1, &dev);
            let k = Tensor::randn([8, 8, 256, 64], 2, &dev);
            let v = Tensor::randn([8, 8, 256, 64], 3, &dev);
            let causal = name == "W5c";
            let flops = 4.0 * 8.0 * 8.0 * 256.0 * 256.0 * 64.0;
            job(
                Some(flops),
                1,
                Box::new(move || {
                    let mask = if causal { AttnMask::Causal } else { AttnMask::None };
                    total(&scaled_dot_product_attention(&q, &k, &v, mask, Some(0.125)))
                }),
            )
        }
        "W5b" => {
            // W5 forward and backward: gradients of sum(out * w) for q, k, v.
            use wgrad::functional::{scaled_dot_product_attention, AttnMask};
            let q = Tensor::randn([8, 8, 256, 64], 1, &dev).requires_grad();
            let k = Tensor::randn([8, 8, 256, 64], 2, &dev).requires_grad();
            let v = Tensor::randn([8, 8, 256, 64], 3, &dev).requires_grad();
            let w = Tensor::randn([8, 8, 256, 64], 4, &dev);
            let flops = 3.0 * 4.0 * 8.0 * 8.0 * 256.0 * 256.0 * 64.0;
            job(
                Some(flops),
                1,
                Box::new(move || {
                    let out = scaled_dot_product_attention(&q, &k, &v, AttnMask::None, Some(0.125));
                    let grads = out.mul(&w).sum_all().backward()?;
                    let g = |t: &Tensor| grads.get(t).expect("every input has a gradient").sum_all();
                    total(&[&q, &k, &v].iter().fold(out.sum_all(), |acc, t| acc.add(&g(t))))
                }),
            )
        }
        "MR32" | "MR1" | "MM1024" | "MM4096" => {
            // Products back to back in one submit, one readback: a matmul kernel's
            // throughput. MR*: few rows (WGRAD_MATMUL=blocked|tiled|rows picks the kernel);
            // MM*: square, for tuning tiles on real GPUs (WGRAD_MATMUL_TILE).
            let ((m, k, n), reps) = match name {
                "MR32" => ((32, 256, 1024), 20),
                "MR1" => ((1, 512, 2048), 20),
                "MM1024" => ((1024, 1024, 1024), 20),
                _ => ((4096, 4096, 4096), 5),
            };
            let (a, b) = (Tensor::randn([m, k], 1, &dev), Tensor::randn([k, n], 2, &dev));
            job(
                Some(reps as f64 * 2.0 * (m * k * n) as f64),
                2,
                Box::new(move || {
                    let mut last = a.matmul(&b);
                    for _ in 1..reps {
                        last = a.matmul(&b);
                    }
                    total(&last)
                }),
            )
        }
        "W6" => training::w6(&dev).map(|run| Job { flops: None, warmup: 2, run }),
        "W7" => training::w7(&dev).map(|run| Job { flops: None, warmup: 2, run }),
        "W8" => training::w8(&dev).map(|run| Job { flops: None, warmup: 2, run }),
        "W9" => training::w9(&dev).map(|run| Job { flops: None, warmup: 1, run }),
        "W10" => training::w10(&dev).map(|run| Job { flops: None, warmup: 2, run }),
        _ => None,
    }
}

#[path = "bench/training.rs"]
mod training;

/// The adapter's name as the JSON reports it.
fn adapter(dev: &Device) -> String {
    match dev {
        Device::Cpu => format!("cpu ({} threads)", std::thread::available_parallelism().map_or(1, |n| n.get())),
        Device::Gpu(_) => dev.name(),
    }
}

/// With WGRAD_PROFILE=1: the slowest kernels so far (cumulative over workloads).
fn print_profile(name: &str, rows: &[(String, wgrad::gpu::ProfileEntry)]) {
    let total: f64 = rows.iter().map(|(_, e)| e.total.as_secs_f64()).sum();
    eprintln!("profile after {name}: {:.1} ms in {} kernel/grid pairs", total * 1e3, rows.len());
    let shown: usize = std::env::var("WGRAD_PROFILE_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    for (key, e) in rows.iter().take(shown) {
        eprintln!("  {:>9.1} ms {:>6}x  {key}", e.total.as_secs_f64() * 1e3, e.count);
    }
}

/// Relative difference of two checked values (1e-6 absolute floor).
fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-6)
}

const ALL: [&str; 15] =
    ["W1", "W1b", "W2", "W2b", "W3", "W4", "W4b", "W5", "W5b", "W5c", "W6", "W7", "W8", "W9", "W10"];
/// Extra workloads run only when named in --filter: few-rows matmuls.
const EXTRA: [&str; 4] = ["MR32", "MR1", "MM1024", "MM4096"];
const USAGE: &str =
    "cargo xtask bench [--quick] [--iters N] [--check] [--filter W1,W6] [--device cpu,gpu] [--json PATH] [--list]\n  \
    --list    print the default workloads' names, comma-separated, and exit\n  \
    --quick   3 timed iterations after 1 warm-up (default 15 after 1-2)\n  \
    --iters N N timed iterations\n  \
    --check   also run each GPU workload's first iteration on the CPU and fail unless the values agree,\n            \
    and fail when a GPU iteration uploads tensor data from the host";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut quick, mut check) = (false, false);
    let mut filter: Vec<String> = ALL.map(String::from).to_vec();
    let mut devices = vec!["cpu".to_string(), "gpu".to_string()];
    let mut json = None;
    let mut iters = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--check" => check = true,
            "--filter" => filter = it.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
            "--device" => devices = it.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
            "--json" => json = it.next().cloned(),
            "--iters" => match it.next().and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n > 0 => iters = Some(n),
                _ => bail!("--iters takes a positive count\n{USAGE}"),
            },
            "--list" => {
                println!("{}", ALL.join(","));
                return Ok(());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if let Some(unknown) = filter.iter().find(|w| !ALL.contains(&w.as_str()) && !EXTRA.contains(&w.as_str())) {
        bail!("unknown workload {unknown} (one of {}, {})", ALL.join(", "), EXTRA.join(", "));
    }
    let iters = iters.unwrap_or(if quick { 3 } else { 15 });
    let mut rows = vec![ref_gemm(iters)];
    let mut failures = Vec::new();
    for d in &devices {
        let dev = match d.as_str() {
            "cpu" => Device::cpu(),
            "gpu" => Device::gpu()?,
            other => bail!("unknown device {other} (cpu or gpu)"),
        };
        for name in ALL.iter().chain(&EXTRA).filter(|w| filter.iter().any(|f| f == *w)) {
            let mut work = job(name, &dev).expect("every listed name has a job");
            if quick {
                work.warmup = 1;
            }
            let flops = work.flops;
            let timed = time(&dev, work, iters)?;
            if let (Device::Gpu(g), true) = (&dev, std::env::var("WGRAD_PROFILE").is_ok_and(|v| v == "1")) {
                print_profile(name, &g.profile());
            }
            let mut checked = None;
            if check && dev.is_gpu() {
                let mut reference = job(name, &Device::cpu()).expect("every listed name has a job");
                let want = (reference.run)()?;
                let diff = rel_diff(timed.first_value, want);
                // f32 sums of 10^5-10^6 terms, and losses after one step: 1e-3 relative.
                if diff > 1e-3 || !timed.first_value.is_finite() {
                    failures.push(format!(
                        "{name}: gpu {} vs cpu {want} (relative difference {diff:.2e})",
                        timed.first_value
                    ));
                }
                checked = Some(diff);
                // Every workload's inputs are made once, before timing: an iteration that
                // writes tensor data from the host (a constant, a mask, a state) would be a
                // host trip that a training step must not take.
                if let Some(bytes) = timed.upload_bytes.filter(|&b| b > 0.0) {
                    failures
                        .push(format!("{name}: uploads {bytes:.0} bytes from the host per iteration (expected none)"));
                }
            }
            rows.push(Row {
                workload: name,
                device: if dev.is_gpu() { "gpu" } else { "cpu" }.into(),
                adapter: adapter(&dev),
                times_ms: timed.times_ms,
                flops,
                submits_per_iter: timed.submits,
                dispatches_per_iter: timed.dispatches,
                upload_bytes_per_iter: timed.upload_bytes,
                check_rel_diff: checked,
            });
        }
    }
    println!("| workload | device | adapter | median ms | min ms | GFLOP/s | x ref-gemm | submits/iter | dispatches/iter | upload B/iter | check vs cpu |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let ref_ms = rows[0].median();
    for r in &rows {
        let min = r.times_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio = if r.workload == "W1" { format!("{:.2}", ref_ms / r.median()) } else { "-".into() };
        let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".to_string(), f);
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} | {ratio} | {} | {} | {} | {} |",
            r.workload,
            r.device,
            r.adapter,
            r.median(),
            min,
            opt(r.gflops(), |g| format!("{g:.1}")),
            opt(r.submits_per_iter, |s| format!("{s:.1}")),
            opt(r.dispatches_per_iter, |s| format!("{s:.0}")),
            opt(r.upload_bytes_per_iter, |b| format!("{b:.0}")),
            opt(r.check_rel_diff, |d| format!("{d:.1e}")),
        );
    }
    if let Some(path) = json {
        let body: Vec<String> = rows.iter().map(Row::json).collect();
        std::fs::write(&path, format!("[\n  {}\n]\n", body.join(",\n  ")))?;
        eprintln!("wrote {path}");
    }
    if !failures.is_empty() {
        bail!("GPU checks failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}
