//! `--resume`: after every epoch the demo writes a training checkpoint (model, optimizer,
//! progress, random-stream position and the history so far) to `<out>/checkpoint.safetensors`,
//! atomically; `--resume` restores it and the run continues where it stopped, as if it
//! had not been interrupted (the data order depends only on the seed and the epoch).

use super::progress::{Epoch, History};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use wgrad::nn::{Module, Optimizer, TrainingCheckpoint};

/// The run's checkpoint in `out`.
pub fn path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

/// Saves the state after `epoch` epochs and `step` optimizer steps (the step a schedule
/// resumes from; 0 for demos without one).
pub fn save<M: Module, O: Optimizer>(
    out: &Path,
    epoch: usize,
    step: u64,
    model: &M,
    opt: &O,
    history: &History,
) -> Result<()> {
    let mut ckpt = TrainingCheckpoint::new(epoch as u64, step);
    let epochs: Vec<String> =
        history.epochs.iter().map(|e| format!("{},{},{},{}", e.train_loss, e.test_loss, e.metric, e.seconds)).collect();
    ckpt.extra.insert("history".into(), epochs.join(";"));
    if let Some(first) = history.first_loss {
        ckpt.extra.insert("first_loss".into(), first.to_string());
    }
    ckpt.save(path(out), model, opt)?;
    Ok(())
}

/// With `resume` (the `--resume` flag): restores the checkpoint in `out` into `model`, `opt` and `history`
/// and returns (the first epoch to run, the optimizer steps taken). Without it: (1, 0).
pub fn restore<M: Module, O: Optimizer>(
    resume: bool,
    out: &Path,
    model: &M,
    opt: &mut O,
    history: &mut History,
) -> Result<(usize, u64)> {
    if !resume {
        return Ok((1, 0));
    }
    let file = path(out);
    let ckpt = TrainingCheckpoint::load(&file, model, opt)
        .with_context(|| format!("--resume: cannot restore {} (run without --resume to start over)", file.display()))?;
    let parse = |s: &str| s.parse::<f64>().with_context(|| format!("{}: bad history entry {s:?}", file.display()));
    history.first_loss = ckpt.extra.get("first_loss").map(|s| parse(s)).transpose()?;
    history.epochs.clear();
    for e in ckpt.extra.get("history").map(String::as_str).unwrap_or("").split(';').filter(|e| !e.is_empty()) {
        let v: Vec<f64> = e.split(',').map(parse).collect::<Result<_>>()?;
        anyhow::ensure!(v.len() == 4, "{}: bad history entry {e:?}", file.display());
        history.epochs.push(Epoch { train_loss: v[0], test_loss: v[1], metric: v[2], seconds: v[3] });
    }
    println!("resumed from {} after epoch {} (step {})", file.display(), ckpt.epoch, ckpt.step);
    Ok((ckpt.epoch as usize + 1, ckpt.step))
}
