//! The progress bar of one epoch and the history of a run: its summary lines, its `final:`
//! line, its chart, and the check that the loss fell.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;
use wgrad::Tensor;

/// One epoch of training as every demo runs it: an indicatif bar over its steps showing the
/// loss and the examples per second, and the mean of the losses it read. Reading a loss
/// waits for its step, so it reads one every few steps (10 unless
/// [`EpochBar::reading_every`] says otherwise) and at the last.
pub struct EpochBar {
    bar: ProgressBar,
    started: Instant,
    examples: usize,
    steps: usize,
    read_every: usize,
    losses: (f64, usize),
}

/// An epoch's training, finished: its mean loss read and when it started.
pub struct Trained {
    /// Mean training loss over the steps whose loss was read.
    pub train_loss: f64,
    started: Instant,
}

impl Trained {
    /// The epoch's numbers, with its held-out loss and metric; its seconds run until now
    /// (evaluation included).
    pub fn epoch(&self, test_loss: f64, metric: f64) -> Epoch {
        Epoch { train_loss: self.train_loss, test_loss, metric, seconds: self.started.elapsed().as_secs_f64() }
    }
}

impl EpochBar {
    /// A bar for epoch `epoch` of `epochs` with `steps` steps.
    pub fn new(epoch: usize, epochs: usize, steps: usize) -> EpochBar {
        Self::shown(epoch, epochs, steps, true)
    }

    /// [`EpochBar::new`], drawn only when `visible` (rank 0 of a distributed job).
    pub fn shown(epoch: usize, epochs: usize, steps: usize, visible: bool) -> EpochBar {
        let style = ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} {msg} [{elapsed}<{eta}]")
            .expect("valid progress template");
        let bar = if visible { ProgressBar::new(steps as u64) } else { ProgressBar::hidden() };
        let bar = bar.with_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        EpochBar { bar, started: Instant::now(), examples: 0, steps, read_every: 10, losses: (0.0, 0) }
    }

    /// Reads the loss every `steps` steps instead of every 10.
    pub fn reading_every(mut self, steps: usize) -> EpochBar {
        self.read_every = steps;
        self
    }

    /// Step `step` (from 0) of `examples` examples done with this `loss`. On the steps
    /// that read it, `mean` turns the value read into the one reported (every rank's mean
    /// in a distributed job; `Ok` otherwise), and `history` notes it.
    pub fn step(
        &mut self,
        step: usize,
        loss: &Tensor,
        examples: (usize, &str),
        history: &mut History,
        mean: impl FnOnce(f64) -> Result<f64>,
    ) -> Result<()> {
        self.examples += examples.0;
        if step.is_multiple_of(self.read_every) || step + 1 == self.steps {
            let l = mean(loss.to_scalar()?)?;
            history.saw_loss(l);
            self.losses = (self.losses.0 + l, self.losses.1 + 1);
            let rate = self.examples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            self.bar.set_message(format!("loss {l:.4} {rate:.0} {}/s", examples.1));
        }
        self.bar.inc(1);
        Ok(())
    }

    /// Removes the bar; the epoch's mean loss read.
    pub fn finish(self) -> Trained {
        self.bar.finish_and_clear();
        Trained { train_loss: self.losses.0 / self.losses.1.max(1) as f64, started: self.started }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Epoch {
    /// Mean training loss over the steps whose loss was read.
    pub train_loss: f64,
    /// Loss on the test (or validation) data.
    pub test_loss: f64,
    /// The demo's metric (accuracy in [0, 1], or bits per character).
    pub metric: f64,
    /// Seconds the epoch took, evaluation included.
    pub seconds: f64,
}

/// The run so far: the first loss read, each epoch's numbers, and the clock.
pub struct History {
    /// The metric's name in the summary, the `final:` line and the chart
    /// (`test_accuracy`, `val_bpc`, ...).
    pub metric: &'static str,
    /// Whether the metric is a fraction shown as a percentage.
    pub percent: bool,
    /// The first training loss read.
    pub first_loss: Option<f64>,
    /// Finished epochs.
    pub epochs: Vec<Epoch>,
    started: Instant,
}

impl History {
    /// An empty history of a run measuring `metric` (`percent`: a fraction shown in %).
    pub fn new(metric: &'static str, percent: bool) -> History {
        History { metric, percent, first_loss: None, epochs: Vec::new(), started: Instant::now() }
    }

    /// Notes a training loss read during the run (the first one is kept).
    pub fn saw_loss(&mut self, loss: f64) {
        self.first_loss.get_or_insert(loss);
    }

    /// The data the per-epoch loss and metric come from: `val` or `test`.
    pub fn held_out(&self) -> &'static str {
        if self.metric.starts_with("val") {
            "val"
        } else {
            "test"
        }
    }

    fn show(&self, v: f64) -> String {
        if self.percent {
            format!("{:.2}%", v * 100.0)
        } else {
            format!("{v:.4}")
        }
    }

    /// Records an epoch, prints its summary line and writes the chart to `out`/`chart.png`.
    pub fn push(&mut self, e: Epoch, out: &Path, title: &str) -> Result<()> {
        self.epochs.push(e);
        println!(
            "epoch {}: train loss {:.4}  {} loss {:.4}  {} {}  {:.1}s",
            self.epochs.len(),
            e.train_loss,
            self.held_out(),
            e.test_loss,
            self.metric,
            self.show(e.metric),
            e.seconds
        );
        super::chart::write(&out.join("chart.png"), title, self)
    }

    /// With `check`, fails unless the last epoch's training loss is below the first loss
    /// read; then prints `final: <metric>=... first_loss=... device=... seconds=...` with
    /// the last epoch's metric.
    pub fn finish(&self, check: bool, device: &str) -> Result<()> {
        let metric = self.epochs.last().map_or(f64::NAN, |e| e.metric);
        self.finish_with(check, device, self.metric, metric)
    }

    /// As [`History::finish`], reporting `value` as `name` on the `final:` line (a demo
    /// that chose its epoch on a validation set reports the chosen model's test metric).
    pub fn finish_with(&self, check: bool, device: &str, name: &str, value: f64) -> Result<()> {
        let last = self.epochs.last().map_or(f64::NAN, |e| e.train_loss);
        let first = self.first_loss.unwrap_or(f64::NAN);
        anyhow::ensure!(!check || last < first, "training loss did not fall: {first} -> {last}");
        println!(
            "final: {name}={value:.4} first_loss={first:.4} last_loss={last:.4} device={device} seconds={:.1}",
            self.started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// The epoch (1-based) with the highest metric so far (the first of equals), and
    /// that metric.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.epochs.iter().enumerate().fold(None, |best, (i, e)| match best {
            Some((_, m)) if e.metric > m => Some((i + 1, e.metric)),
            Some(_) => best,
            None => Some((i + 1, e.metric)),
        })
    }
}
