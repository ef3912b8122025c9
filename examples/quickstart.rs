//! Runs a 1024x1024 matrix product on the best device and checks it against the CPU.
//!
//! cargo run --release --example quickstart
//! WGRAD_DEVICE=gpu cargo run --release --example quickstart   # force the GPU (even software)

use anyhow::Result;
use std::time::Instant;
use wgrad::{Device, Tensor};

fn main() -> Result<()> {
    let dev = Device::best();
    println!("device: {}", dev.name());
    let n = 1024;
    let a = Tensor::randn([n, n], 1, &dev);
    let b = Tensor::randn([n, n], 2, &dev);

    // Warm up (pipeline compilation), then time one product including the readback.
    a.matmul(&b).sum_all().to_scalar()?;
    let start = Instant::now();
    let c = a.matmul(&b);
    let checksum = c.sum_all().to_scalar()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "matmul {n}x{n}x{n}: {:.1} ms, {:.1} GFLOP/s, checksum {checksum:.3}",
        secs * 1e3,
        2.0 * (n * n * n) as f64 / secs / 1e9
    );

    // The same product on the CPU reference backend must agree.
    let cpu = Device::cpu();
    let reference = a.to_device(&cpu).matmul(&b.to_device(&cpu));
    let diff = (&c.to_device(&cpu) - &reference).abs().max_all().to_scalar()?;
    println!("max |device - cpu reference| = {diff:.2e}");
    anyhow::ensure!(diff < 1e-2, "device result differs from the CPU reference by {diff}");
    println!("stats: {:?}", dev.stats());
    Ok(())
}
