//! Speaker identification with an LSTM over cepstral frames (the seeds' "speech
//! recognition with LSTM on cepstral features").
//!
//! cargo run --release --example speaker_lstm                  # fetches the data on first use
//! cargo run --release --example speaker_lstm -- --device gpu --limit 96 --epochs 1   # smoke run
//!
//! JapaneseVowels (Kudo, Toyama & Shimbo 1999; PyPI aeon 1.6.0): 9 speakers saying "ae",
//! 12 LPC cepstrum coefficients per frame, 7-29 frames; the official 270 training and 370
//! test utterances. Frames are normalised with the training set's per-coefficient mean and
//! deviation and padded to the batch's longest utterance; LSTM(12 -> 64, batch_first) ->
//! the hidden state at the last real frame -> Linear(64 -> 9); cross-entropy; Adam.

#[path = "common/mod.rs"]
mod common;

use anyhow::Result;
use clap::Parser;
use common::{CommonArgs, EpochBar, History, Run};
use std::sync::Arc;
use wgrad::functional as F;
use wgrad::nn::{self, Module};
use wgrad::{DType, Device, Tensor};
use wgrad_data::batch::Prefetch;
use wgrad_data::ts::{self, TsData};
use wgrad_data::DataLoader;

#[derive(Parser, Debug)]
#[command(about = "Train an LSTM speaker classifier on JapaneseVowels")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// LSTM hidden size
    #[arg(long, default_value_t = 64)]
    hidden: usize,
}

/// LSTM -> last real hidden state -> Linear, with PyTorch's child names.
#[derive(Module)]
struct SpeakerLstm {
    lstm: nn::Lstm,
    fc: nn::Linear,
    #[module(skip)]
    hidden: usize,
}

impl SpeakerLstm {
    /// Logits of unpadded `[B, T, dims]` frames.
    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, t) = (x.dims()[0], x.dims()[1]);
        let last: Vec<u32> = (0..b).map(|i| (i * t + t - 1) as u32).collect();
        self.logits(x, &Tensor::from_vec(last, [b], x.device()))
    }

    fn new(dims: usize, hidden: usize, classes: usize, dev: &Device) -> SpeakerLstm {
        SpeakerLstm {
            lstm: nn::Lstm::new(dims, hidden, 1, dev).batch_first(true),
            fc: nn::Linear::new(hidden, classes, dev),
            hidden,
        }
    }

    /// Logits `[B, classes]` of padded frames `[B, T, dims]`, reading the LSTM output at
    /// `last` (the flat `[B * T]` row of each utterance's last real frame).
    fn logits(&self, x: &Tensor, last: &Tensor) -> Tensor {
        let (b, t) = (x.dims()[0], x.dims()[1]);
        let out = self.lstm.forward(x);
        self.fc.forward(&out.reshape([b * t, self.hidden]).index_select(0, last))
    }
}

/// A batch: frames `[B, T, dims]` (flat), T, last-frame rows, labels.
type Batch = (Vec<f32>, usize, Vec<u32>, Vec<u32>);

/// Batches of `data` in a `seed`ed order (or stored order), assembled on a background thread.
fn batches(data: &Arc<TsData>, batch_size: usize, seed: Option<u64>) -> Prefetch<Batch> {
    // The samples are the series' indices; the collate pads a batch of them.
    let data = data.clone();
    let loader = DataLoader::new((0..data.len()).collect::<Vec<usize>>(), batch_size).collate(move |idx| {
        let (x, t, lengths) = data.padded_batch(&idx);
        let last = lengths.iter().enumerate().map(|(b, &l)| (b * t + l - 1) as u32).collect();
        (x, t, last, idx.iter().map(|&i| data.labels[i]).collect())
    });
    match seed {
        Some(seed) => loader.shuffle(seed).epoch(0),
        None => loader.epoch(0),
    }
}

fn tensors((x, t, last, y): &Batch, dims: usize, dev: &Device) -> (Tensor, Tensor, Tensor) {
    let b = y.len();
    (
        Tensor::from_vec(x.clone(), [b, *t, dims], dev),
        Tensor::from_vec(last.clone(), [b], dev),
        Tensor::from_vec(y.clone(), [b], dev),
    )
}

/// Test loss (mean) and accuracy.
fn evaluate(model: &SpeakerLstm, data: &Arc<TsData>, dev: &Device) -> Result<(f64, f64)> {
    let (mut loss_sum, mut correct) = (0.0, 0.0);
    for batch in batches(data, 128, None) {
        let (x, last, y) = tensors(&batch, data.dims, dev);
        let logits = wgrad::no_grad(|| model.logits(&x, &last));
        loss_sum += F::cross_entropy(&logits, &y, F::Reduction::Sum, 0.0).to_scalar()?;
        correct += logits.argmax(1, false).eq(&y).cast(DType::F32).sum_all().to_scalar()?;
    }
    Ok((loss_sum / data.len() as f64, correct / data.len() as f64))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let c = &args.common;
    let Run { dev, epochs, batch_size, lr, out } = c.run("speaker_lstm", (30, 16, 3e-3))?;
    let dir = c.data_dir(&wgrad_data::sources::VOWELS)?;
    let mut train = ts::load_ts(&dir.join("JapaneseVowels_TRAIN.ts"))?;
    let mut test = ts::load_ts(&dir.join("JapaneseVowels_TEST.ts"))?;
    (train, test) = (train.subset(&c.limited(train.len())), test.subset(&c.limited(test.len())));
    let (mean, std) = train.moments();
    train.normalize(&mean, &std);
    test.normalize(&mean, &std);
    let (train, test) = (Arc::new(train), Arc::new(test));
    println!(
        "JapaneseVowels: {} training and {} test utterances, {} speakers, {} coefficients per frame, on {}",
        train.len(),
        test.len(),
        train.classes.len(),
        train.dims,
        dev.name()
    );
    nn::manual_seed(c.seed);
    let model = SpeakerLstm::new(train.dims, args.hidden, train.classes.len(), &dev);
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr, ..Default::default() });
    let mut history = History::new("test_accuracy", true);
    let (first_epoch, _step) = common::resume::restore(c.resume, &out, &model, &mut opt, &mut history)?;
    for epoch in first_epoch..=epochs {
        let steps = train.len().div_ceil(batch_size);
        let mut bar = EpochBar::new(epoch, epochs, steps).reading_every(5);
        for (step, batch) in batches(&train, batch_size, Some(c.seed * 1000 + epoch as u64)).enumerate() {
            let (x, last, y) = tensors(&batch, train.dims, &dev);
            let loss = F::cross_entropy(&model.logits(&x, &last), &y, F::Reduction::Mean, 0.0);
            opt.step(&loss.backward()?)?;
            bar.step(step, &loss, (batch.3.len(), "utterances"), &mut history, Ok)?;
        }
        let trained = bar.finish();
        let (test_loss, accuracy) = evaluate(&model, &test, &dev)?;
        model.save(out.join("speaker_lstm.safetensors"))?;
        history.push(trained.epoch(test_loss, accuracy), &out, "speaker LSTM (JapaneseVowels)")?;
        common::resume::save(&out, epoch, 0, &model, &opt, &history)?;
    }
    history.finish(c.check_loss_falls, &dev.name())
}
