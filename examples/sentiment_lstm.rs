//! An LSTM sentiment classifier on movie-review sentences (the seeds' text LSTM).
//!
//! cargo run --release --example sentiment_lstm                 # fetches the data on first use
//! cargo run --release --example sentiment_lstm -- --device gpu --limit 512 --epochs 1   # smoke run
//!
//! Embedding(vocab, 64) -> LSTM(64 -> 64, batch_first) -> the hidden state at each
//! sentence's last real word -> Linear(64 -> 1); BCE with logits; Adam. Data: the 10,605
//! movie-review sentences of Hutto & Gilbert (PyPI vaderSentiment 3.3.2), positive when
//! the mean human rating is above 0, a seeded 20% held out for testing.

#[path = "common/mod.rs"]
mod common;

use anyhow::Result;
use clap::Parser;
use common::{sentences, CommonArgs, EpochBar, History, Run};
use wgrad::functional as F;
use wgrad::nn::{self, Module};
use wgrad::{DType, Device, Tensor};
use wgrad_data::text::Padded;

#[derive(Parser, Debug)]
#[command(about = "Train an LSTM sentiment classifier on movie-review sentences")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    sentences: sentences::SentenceArgs,
}

/// Embedding -> LSTM -> last real hidden state -> Linear, with PyTorch's child names.
#[derive(Module)]
struct SentimentLstm {
    embedding: nn::Embedding,
    lstm: nn::Lstm,
    fc: nn::Linear,
}

impl SentimentLstm {
    /// Logits of unpadded `[B, T]` ids (the last column is every sentence's last word).
    fn forward(&self, ids: &Tensor) -> Tensor {
        let (b, t) = (ids.dims()[0], ids.dims()[1]);
        let last: Vec<u32> = (0..b).map(|i| (i * t + t - 1) as u32).collect();
        self.logits(ids, &Tensor::from_vec(last, [b], ids.device()))
    }

    fn new(vocab: usize, dev: &Device) -> SentimentLstm {
        SentimentLstm {
            embedding: nn::Embedding::new(vocab, 64, dev).with_padding_idx(0),
            lstm: nn::Lstm::new(64, 64, 1, dev).batch_first(true),
            fc: nn::Linear::new(64, 1, dev),
        }
    }

    /// Logits `[B]` of padded ids `[B, T]`, reading the LSTM output at `last` (the flat
    /// `[B * T]` row of each sentence's last real word).
    fn logits(&self, ids: &Tensor, last: &Tensor) -> Tensor {
        let (b, t) = (ids.dims()[0], ids.dims()[1]);
        let out = self.lstm.forward(&self.embedding.forward(ids)); // [B, T, 64]
        let h = out.reshape([b * t, 64]).index_select(0, last); // [B, 64]
        self.fc.forward(&h).reshape([b])
    }
}

/// The tensors of a batch: ids `[B, T]`, last positions `[B]`, float labels `[B]`.
fn tensors(p: &Padded, labels: &[u32], dev: &Device) -> (Tensor, Tensor, Tensor) {
    let b = labels.len();
    let y: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    (
        Tensor::from_vec(p.ids.clone(), [b, p.len], dev),
        Tensor::from_vec(p.last_positions(), [b], dev),
        Tensor::from_vec(y, [b], dev),
    )
}

/// Test loss (mean) and accuracy.
fn evaluate(model: &SentimentLstm, data: &sentences::Encoded, cap: usize, dev: &Device) -> Result<(f64, f64)> {
    let (mut loss_sum, mut correct) = (0.0, 0.0);
    for (p, labels) in data.batches(256, cap, None) {
        let (ids, last, y) = tensors(&p, &labels, dev);
        let logits = wgrad::no_grad(|| model.logits(&ids, &last));
        loss_sum += F::binary_cross_entropy_with_logits(&logits, &y, F::Reduction::Sum).to_scalar()?;
        let predicted = logits.gt(&Tensor::zeros([1], DType::F32, dev)).cast(DType::F32);
        correct += predicted.eq(&y).cast(DType::F32).sum_all().to_scalar()?;
    }
    Ok((loss_sum / data.len() as f64, correct / data.len() as f64))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let c = &args.common;
    let Run { dev, epochs, batch_size, lr, out } = c.run("sentiment_lstm", (3, 32, 2e-3))?;
    let (tok, train, test) = sentences::load(c, args.sentences.vocab)?;
    println!("training on {}", dev.name());
    nn::manual_seed(c.seed);
    let model = SentimentLstm::new(tok.len(), &dev);
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr, ..Default::default() });
    let mut history = History::new("test_accuracy", true);
    let (first_epoch, _step) = common::resume::restore(c.resume, &out, &model, &mut opt, &mut history)?;
    for epoch in first_epoch..=epochs {
        let steps = train.len().div_ceil(batch_size);
        let mut bar = EpochBar::new(epoch, epochs, steps);
        for (step, (p, labels)) in
            train.batches(batch_size, args.sentences.max_len, Some(c.seed * 1000 + epoch as u64)).enumerate()
        {
            let (ids, last, y) = tensors(&p, &labels, &dev);
            let loss = F::binary_cross_entropy_with_logits(&model.logits(&ids, &last), &y, F::Reduction::Mean);
            opt.step(&loss.backward()?)?;
            bar.step(step, &loss, (labels.len(), "sentences"), &mut history, Ok)?;
        }
        let trained = bar.finish();
        let (test_loss, accuracy) = evaluate(&model, &test, args.sentences.max_len, &dev)?;
        model.save(out.join("sentiment_lstm.safetensors"))?;
        history.push(trained.epoch(test_loss, accuracy), &out, "sentiment LSTM")?;
        common::resume::save(&out, epoch, 0, &model, &opt, &history)?;
    }
    history.finish(c.check_loss_falls, &dev.name())
}
