//! The flags every training demo takes.

use anyhow::Result;
use std::path::PathBuf;
use wgrad::Device;

/// `--device`, `--epochs`, `--batch-size`, `--lr`, `--seed`, `--data`, `--out`, `--limit`,
/// `--check-loss-falls`, `--resume`; flatten into a demo's own clap struct. Options without a value
/// take the demo's default (see the accessors).
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// best | cpu | gpu
    #[arg(long, default_value = "best")]
    pub device: String,
    /// Passes over the training data (demo default if not given)
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step (demo default if not given)
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate (demo default if not given)
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the initial weights and the shuffling
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory with the data (default: fetched into data/ on first use)
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where the checkpoint and the chart go (default runs/<demo>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use at most this many training (and test) examples (smoke runs)
    #[arg(long)]
    pub limit: Option<usize>,
    /// Fail unless the training loss fell (for CI smoke runs)
    #[arg(long)]
    pub check_loss_falls: bool,
    /// Continue from the training checkpoint in --out (written after every epoch)
    #[arg(long)]
    pub resume: bool,
}

/// The device a `--device` value names: best, cpu or gpu.
pub fn device(name: &str) -> Result<Device> {
    Ok(match name {
        "best" => Device::best(),
        "cpu" => Device::cpu(),
        "gpu" => Device::gpu()?,
        other => anyhow::bail!("unknown device {other}: best, cpu or gpu"),
    })
}

/// What a training demo starts with: its device, epochs, batch size, learning rate and
/// output directory, from the flags or the demo's defaults.
pub struct Run {
    pub dev: Device,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub out: PathBuf,
}

impl CommonArgs {
    /// The [`Run`] of demo `demo`, with its default `(epochs, batch size, learning rate)`.
    pub fn run(&self, demo: &str, (epochs, batch_size, lr): (usize, usize, f64)) -> Result<Run> {
        Ok(Run {
            dev: self.device()?,
            epochs: self.epochs(epochs),
            batch_size: self.batch_size(batch_size),
            lr: self.lr(lr),
            out: self.out_dir(demo)?,
        })
    }

    /// The device `--device` names.
    pub fn device(&self) -> Result<Device> {
        device(&self.device)
    }

    /// `--epochs`, else `default`.
    pub fn epochs(&self, default: usize) -> usize {
        self.epochs.unwrap_or(default)
    }

    /// `--batch-size`, else `default`.
    pub fn batch_size(&self, default: usize) -> usize {
        self.batch_size.unwrap_or(default).max(1)
    }

    /// `--lr`, else `default`.
    pub fn lr(&self, default: f64) -> f64 {
        self.lr.unwrap_or(default)
    }

    /// `--out`, else `runs/<demo>`; created.
    pub fn out_dir(&self, demo: &str) -> Result<PathBuf> {
        let dir = self.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(demo));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The data directory: `--data`, else `source` fetched into `data/` (sha256-checked)
    /// on first use.
    pub fn data_dir(&self, source: &wgrad_data::sources::Source) -> Result<PathBuf> {
        match &self.data {
            Some(dir) => Ok(dir.clone()),
            None => Ok(wgrad_data::fetch::prepare("data".as_ref(), source, false, &mut |m| println!("{m}"))?),
        }
    }

    /// At most `--limit` of `0..n`, a seeded random choice (the files may be sorted by class).
    pub fn limited(&self, n: usize) -> Vec<usize> {
        match self.limit {
            Some(limit) if limit < n => {
                let mut pick = wgrad_data::rng::permutation(n, 7)[..limit].to_vec();
                pick.sort_unstable();
                pick
            }
            _ => (0..n).collect(),
        }
    }
}
