//! Benchmark workloads of shared/workloads.md (run through `cargo xtask bench`).
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
             \"max_ms\": {max:.3}, \"gflops\": {}, \"submits_per_iter\": {}}}",
            self.workload,
            self.device,
            self.adapter.replace('"', "'"),
            self.median(),
            opt(self.gflops()),
            opt(self.submits_per_iter)
        )
    }
}

/// Times `f` `iters` times after `warmup` calls; also counts submits per call.
fn time(
    dev: &Device,
    warmup: usize,
    iters: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(Vec<f64>, Option<f64>)> {
    for _ in 0..warmup {
        f()?;
    }
    let submits_before = dev.stats().submits;
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let submits = dev.is_gpu().then(|| (dev.stats().submits - submits_before) as f64 / iters as f64);
    Ok((times, submits))
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
    }
}

fn workload(name: &'static str, dev: &Device, iters: usize) -> Result<Option<Row>> {
    let (flops, times) = match name {
        "W1" => {
            let (a, b) = (Tensor::randn([1024, 1024], 1, dev), Tensor::randn([1024, 1024], 2, dev));
            (
                Some(2.0 * 1024f64.powi(3)),
                time(dev, 2, iters, || a.matmul(&b).sum_all().to_scalar().map(|_| ()).map_err(Into::into))?,
            )
        }
        "W1b" => {
            let (a, b) = (Tensor::randn([32, 256, 256], 1, dev), Tensor::randn([32, 256, 256], 2, dev));
            (
                Some(2.0 * 32.0 * 256f64.powi(3)),
                time(dev, 2, iters, || a.matmul(&b).sum_all().to_scalar().map(|_| ()).map_err(Into::into))?,
            )
        }
        "W2" | "W2b" => {
            use wgrad::functional::{conv2d, conv2d_grad_bias, conv2d_grad_input, conv2d_grad_weight, Conv2d};
            let x = Tensor::randn([64, 32, 28, 28], 1, dev);
            let w = Tensor::randn([64, 32, 3, 3], 2, dev).mul_scalar(0.1);
            let b = Tensor::randn([64], 3, dev);
            let p = Conv2d { padding: [1, 1], ..Default::default() };
            let fwd_flops = 2.0 * (64 * 64 * 28 * 28 * 32 * 9) as f64;
            if name == "W2" {
                (
                    Some(fwd_flops),
                    time(dev, 2, iters, || {
                        conv2d(&x, &w, Some(&b), p).sum_all().to_scalar().map(|_| ()).map_err(Into::into)
                    })?,
                )
            } else {
                // Gradients of sum(out): grad_out is all ones.
                (
                    Some(3.0 * fwd_flops),
                    time(dev, 1, iters, || {
                        let y = conv2d(&x, &w, Some(&b), p);
                        let g = y.ones_like();
                        let dx = conv2d_grad_input(&g, &w, [28, 28], p);
                        let dw = conv2d_grad_weight(&g, &x, [3, 3], p);
                        let db = conv2d_grad_bias(&g);
                        let total = y.sum_all().add(&dx.sum_all()).add(&dw.sum_all()).add(&db.sum_all());
                        total.to_scalar().map(|_| ()).map_err(Into::into)
                    })?,
                )
            }
        }
        "W3" => {
            use wgrad::functional::{max_pool2d, Pool2d};
            let x = Tensor::randn([64, 64, 28, 28], 1, dev);
            (
                None,
                time(dev, 2, iters, || {
                    max_pool2d(&x, Pool2d::square(2)).sum_all().to_scalar().map(|_| ()).map_err(Into::into)
                })?,
            )
        }
        "W5" | "W5c" => {
            use wgrad::functional::{scaled_dot_product_attention, AttnMask};
            let q = Tensor::randn([8, 8, 256, 64], 1, dev);
            let k = Tensor::randn([8, 8, 256, 64], 2, dev);
            let v = Tensor::randn([8, 8, 256, 64], 3, dev);
            let mask = if name == "W5c" { AttnMask::Causal } else { AttnMask::None };
            let flops = 4.0 * 8.0 * 8.0 * 256.0 * 256.0 * 64.0;
            (
                Some(flops),
                time(dev, 1, iters, || {
                    scaled_dot_product_attention(&q, &k, &v, mask, Some(0.125))
                        .sum_all()
                        .to_scalar()
                        .map(|_| ())
                        .map_err(Into::into)
                })?,
            )
        }
        "W5b" => {
            // W5 forward and backward: gradients of sum(out * w) for q, k, v.
            use wgrad::functional::{scaled_dot_product_attention, AttnMask};
            let q = Tensor::randn([8, 8, 256, 64], 1, dev).requires_grad();
            let k = Tensor::randn([8, 8, 256, 64], 2, dev).requires_grad();
            let v = Tensor::randn([8, 8, 256, 64], 3, dev).requires_grad();
            let w = Tensor::randn([8, 8, 256, 64], 4, dev);
            let flops = 3.0 * 4.0 * 8.0 * 8.0 * 256.0 * 256.0 * 64.0;
            (
                Some(flops),
                time(dev, 1, iters, || {
                    let out = scaled_dot_product_attention(&q, &k, &v, AttnMask::None, Some(0.125));
                    let grads = out.mul(&w).sum_all().backward()?;
                    let total = [&q, &k, &v]
                        .iter()
                        .map(|t| grads.get(t).expect("grad").sum_all())
                        .fold(out.sum_all(), |a, b| a.add(&b));
                    total.to_scalar().map(|_| ()).map_err(Into::into)
                })?,
            )
        }
        "MR32" | "MR1" => {
            // Few-rows products (WGRAD_MATMUL=blocked|tiled|rows picks the kernel): 20 per
            // iteration in one submit, [32, 256] @ [256, 1024] or [1, 512] @ [512, 2048].
            let (m, k, n) = if name == "MR32" { (32, 256, 1024) } else { (1, 512, 2048) };
            let a = Tensor::randn([m, k], 1, dev);
            let b = Tensor::randn([k, n], 2, dev);
            (
                Some(20.0 * 2.0 * (m * k * n) as f64),
                time(dev, 2, iters, || {
                    let mut last = a.matmul(&b);
                    for _ in 1..20 {
                        last = a.matmul(&b);
                    }
                    last.sum_all().to_scalar().map(|_| ()).map_err(Into::into)
                })?,
            )
        }
        "W4" => {
            use wgrad::functional::{lstm, RnnWeights};
            let x = Tensor::randn([64, 32, 128], 1, dev);
            let k = 1.0 / 16.0;
            let w = RnnWeights {
                w_ih: Tensor::rand_uniform([1024, 128], -k, k, 2, dev),
                w_hh: Tensor::rand_uniform([1024, 256], -k, k, 3, dev),
                b_ih: Some(Tensor::rand_uniform([1024], -k, k, 4, dev)),
                b_hh: Some(Tensor::rand_uniform([1024], -k, k, 5, dev)),
            };
            (
                None,
                time(dev, 1, iters, || {
                    lstm(&x, None, std::slice::from_ref(&w)).1 .0.sum_all().to_scalar().map(|_| ()).map_err(Into::into)
                })?,
            )
        }
        _ => return Ok(None),
    };
    let adapter = match dev {
        Device::Cpu => format!("cpu ({} threads)", std::thread::available_parallelism().map_or(1, |n| n.get())),
        Device::Gpu(_) => dev.name(),
    };
    let device = if dev.is_gpu() { "gpu" } else { "cpu" };
    Ok(Some(Row {
        workload: name,
        device: device.into(),
        adapter,
        times_ms: times.0,
        flops,
        submits_per_iter: times.1,
    }))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut quick = false;
    let mut filter: Vec<String> = ["W1", "W1b", "W2", "W2b", "W3", "W4", "W5", "W5b", "W5c"].map(String::from).to_vec();
    let mut devices = vec!["cpu".to_string(), "gpu".to_string()];
    let mut json = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--filter" => filter = it.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
            "--device" => devices = it.next().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default(),
            "--json" => json = it.next().cloned(),
            "--help" | "-h" => {
                println!("cargo xtask bench [--quick] [--filter W1,W1b] [--device cpu,gpu] [--json PATH]");
                return Ok(());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let iters = if quick { 5 } else { 15 };
    let mut rows = vec![ref_gemm(iters)];
    for d in &devices {
        let dev = match d.as_str() {
            "cpu" => Device::cpu(),
            "gpu" => Device::gpu()?,
            other => bail!("unknown device {other} (cpu or gpu)"),
        };
        for w in &filter {
            let name: &'static str = match w.as_str() {
                "W1" => "W1",
                "W1b" => "W1b",
                "W2" => "W2",
                "W2b" => "W2b",
                "W3" => "W3",
                "W4" => "W4",
                "W5" => "W5",
                "W5b" => "W5b",
                "MR32" => "MR32",
                "MR1" => "MR1",
                "W5c" => "W5c",
                other => {
                    eprintln!("{other}: not implemented yet, skipped");
                    continue;
                }
            };
            if let Some(row) = workload(name, &dev, iters)? {
                rows.push(row);
            }
        }
    }
    println!("| workload | device | adapter | median ms | min ms | GFLOP/s | x ref-gemm | submits/iter |");
    println!("|---|---|---|---|---|---|---|---|");
    let ref_ms = rows[0].median();
    for r in &rows {
        let min = r.times_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio = if r.workload == "W1" { format!("{:.2}", ref_ms / r.median()) } else { "-".into() };
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} | {ratio} | {} |",
            r.workload,
            r.device,
            r.adapter,
            r.median(),
            min,
            r.gflops().map_or("-".into(), |g| format!("{g:.1}")),
            r.submits_per_iter.map_or("-".into(), |s| format!("{s:.1}"))
        );
    }
    if let Some(path) = json {
        let body: Vec<String> = rows.iter().map(Row::json).collect();
        std::fs::write(&path, format!("[\n  {}\n]\n", body.join(",\n  ")))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
