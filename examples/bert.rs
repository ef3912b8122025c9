//! A pretrained BERT (sentence-transformers' all-MiniLM-L6-v2) from its Hugging Face files:
//! sentence embeddings, and fine-tuning on the movie-review sentences.
//!
//! cargo run --release --example bert -- embed "A great film." "A dull film."   # similarity table
//! cargo run --release --example bert -- embed --json "Hello world"             # one JSON object per text
//! cargo run --release --example bert -- finetune                               # 3 epochs, ~85% test accuracy
//! cargo run --release --example bert -- finetune --device gpu --limit 256 --epochs 1   # smoke run
//!
//! The model is fetched on first use (`data/minilm`: config.json, model.safetensors,
//! tokenizer.json). Embeddings are sentence-transformers': BertModel's last hidden states
//! averaged over the real tokens, L2-normalised. Fine-tuning puts a Linear(384 -> 2) on that
//! mean (not normalised) and trains everything with AdamW in parameter groups (no weight
//! decay on biases and LayerNorm weights, the head at its own rate), a linear warm-up then
//! linear decay, and gradient-norm clipping at 1; the data is the sentiment demo's split.

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use common::{CommonArgs, EpochBar, History, Run};
use std::path::{Path, PathBuf};
use wgrad::functional as F;
use wgrad::nn::{self, bert, BertModel, LrScheduler, Module, ParamGroup};
use wgrad::{DType, Device, Tensor};
use wgrad_data::tokenizer::{TokenBatch, Tokenizer};
use wgrad_data::DataLoader;

#[derive(Parser, Debug)]
#[command(about = "A pretrained BERT (all-MiniLM-L6-v2): sentence embeddings and fine-tuning")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print each text's token ids and normalised embedding, and their cosine similarities
    Embed(EmbedArgs),
    /// Fine-tune the model with a linear head on the movie-review sentiment split
    Finetune(FinetuneArgs),
}

#[derive(clap::Args, Debug)]
struct EmbedArgs {
    /// best | cpu | gpu
    #[arg(long, default_value = "best")]
    device: String,
    /// A Hugging Face BERT directory (default: all-MiniLM-L6-v2, fetched into data/minilm)
    #[arg(long)]
    model: Option<PathBuf>,
    /// One JSON object per text and line: {"text", "input_ids", "embedding"}
    #[arg(long)]
    json: bool,
    /// Texts embedded per forward pass
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// The texts
    #[arg(required = true)]
    texts: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct FinetuneArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A Hugging Face BERT directory (default: all-MiniLM-L6-v2, fetched into data/minilm)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Sentences are cut to this many tokens, [CLS] and [SEP] included
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Learning rate of the classification head (the encoder's is --lr)
    #[arg(long, default_value_t = 1e-3)]
    head_lr: f64,
    /// Decoupled weight decay of the weights (biases and LayerNorm weights get none)
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Fraction of the steps spent warming the rates up linearly from 0
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Embed(args) => embed(&args),
        Command::Finetune(args) => finetune(&args),
    }
}

/// The model directory: `--model`, else all-MiniLM-L6-v2 fetched into data/ (progress on
/// stderr, so `--json` output stays clean).
fn model_dir(model: &Option<PathBuf>) -> Result<PathBuf> {
    match model {
        Some(dir) => Ok(dir.clone()),
        None => Ok(wgrad_data::fetch::prepare("data".as_ref(), &wgrad_data::sources::MINILM, false, &mut |m| {
            eprintln!("{m}")
        })?),
    }
}

/// The tokenizer of `dir`, cutting at sentence-transformers' `max_seq_length` when the
/// directory says (256 for all-MiniLM-L6-v2), else at the model's positions.
fn tokenizer(dir: &Path, model: &BertModel) -> Result<Tokenizer> {
    #[derive(serde::Deserialize)]
    struct SentenceBert {
        max_seq_length: usize,
    }
    let positions = model.config.max_position_embeddings;
    let max = match std::fs::read_to_string(dir.join("sentence_bert_config.json")) {
        Ok(text) => serde_json::from_str::<SentenceBert>(&text)
            .with_context(|| format!("{}/sentence_bert_config.json", dir.display()))?
            .max_seq_length
            .min(positions),
        Err(_) => positions,
    };
    Ok(Tokenizer::from_file(dir.join("tokenizer.json"))?.with_max_length(max))
}

/// sentence-transformers' embeddings `[N, hidden]` of one tokenised batch.
fn sentence_embeddings(model: &BertModel, batch: &TokenBatch, dev: &Device) -> Tensor {
    let (ids, mask, types) = batch.tensors(dev);
    let hidden = model.forward_with(&ids, Some(&mask), Some(&types)).last_hidden_state;
    F::normalize(&bert::mean_pool(&hidden, &mask), 1, 1e-12)
}

fn embed(args: &EmbedArgs) -> Result<()> {
    let dev = common::device(&args.device)?;
    let dir = model_dir(&args.model)?;
    let model = BertModel::from_pretrained(&dir, &dev)?;
    model.eval();
    let tok = tokenizer(&dir, &model)?;
    let (mut ids, mut rows) = (Vec::new(), Vec::new());
    for chunk in args.texts.chunks(args.batch_size.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let batch = tok.encode_batch(&texts)?;
        let embeddings = wgrad::no_grad(|| sentence_embeddings(&model, &batch, &dev)).to_vec::<f32>()?;
        let width = embeddings.len() / texts.len();
        ids.extend((0..texts.len()).map(|i| batch.tokens(i).to_vec()));
        rows.extend(embeddings.chunks(width).map(<[f32]>::to_vec));
    }
    if args.json {
        for ((text, ids), e) in args.texts.iter().zip(&ids).zip(&rows) {
            println!("{}", serde_json::json!({ "text": text, "input_ids": ids, "embedding": e }));
        }
        return Ok(());
    }
    println!("{} on {}", dir.display(), dev.name());
    for (i, ((text, ids), e)) in args.texts.iter().zip(&ids).zip(&rows).enumerate() {
        let head: Vec<String> = e.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        println!("[{i}] {text:?}\n    ids {ids:?}\n    embedding [{}, ...] ({} values)", head.join(", "), e.len());
    }
    println!("\ncosine similarity");
    print!("{:>6}", "");
    (0..rows.len()).for_each(|j| print!("{:>7}", format!("[{j}]")));
    println!();
    for (i, a) in rows.iter().enumerate() {
        print!("{:>6}", format!("[{i}]"));
        for b in &rows {
            print!("{:>7.3}", a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>());
        }
        println!();
    }
    Ok(())
}

/// BERT, mean pooling over the real tokens, and a linear head.
#[derive(Module)]
#[module(no_forward)]
struct Classifier {
    bert: BertModel,
    head: nn::Linear,
}

impl Classifier {
    /// Logits `[N, 2]` of a tokenised batch.
    fn logits(&self, batch: &TokenBatch, dev: &Device) -> Tensor {
        let (ids, mask, types) = batch.tensors(dev);
        let hidden = self.bert.forward_with(&ids, Some(&mask), Some(&types)).last_hidden_state;
        self.head.forward(&bert::mean_pool(&hidden, &mask))
    }

    /// The parameter groups: BERT's weights with decay, its biases and LayerNorm weights
    /// without, and the head at its own rate.
    fn groups(&self, weight_decay: f64, head_lr: f64) -> Vec<ParamGroup> {
        let [decay, no_decay] = ParamGroup::split_decay(self.bert.parameters(), weight_decay);
        vec![decay, no_decay, ParamGroup::new(self.head.parameters()).lr(head_lr).weight_decay(0.0)]
    }
}

/// Shuffled (or ordered) tokenised batches with labels, prepared on a background thread.
fn batches(
    data: &[(String, u32)],
    tok: &Tokenizer,
    batch_size: usize,
    seed: Option<u64>,
) -> impl Iterator<Item = wgrad_data::Result<(TokenBatch, Vec<u32>)>> {
    let tok = tok.clone();
    let loader = DataLoader::new(data.to_vec(), batch_size).collate(move |samples: Vec<(String, u32)>| {
        let texts: Vec<&str> = samples.iter().map(|(t, _)| t.as_str()).collect();
        let labels = samples.iter().map(|&(_, label)| label).collect();
        tok.encode_batch(&texts).map(|batch| (batch, labels))
    });
    match seed {
        Some(seed) => loader.shuffle(seed).epoch(0),
        None => loader.epoch(0),
    }
}

/// Test loss (mean) and accuracy, in evaluation mode.
fn evaluate(model: &Classifier, data: &[(String, u32)], tok: &Tokenizer, dev: &Device) -> Result<(f64, f64)> {
    model.eval();
    let (mut loss_sum, mut correct) = (0.0, 0.0);
    for batch in batches(data, tok, 128, None) {
        let (batch, labels) = batch?;
        let y = Tensor::from_vec(labels, [batch.rows()], dev);
        let logits = wgrad::no_grad(|| model.logits(&batch, dev));
        loss_sum += F::cross_entropy(&logits, &y, F::Reduction::Sum, 0.0).to_scalar()?;
        correct += logits.argmax(1, false).eq(&y).cast(DType::F32).sum_all().to_scalar()?;
    }
    model.train();
    Ok((loss_sum / data.len() as f64, correct / data.len() as f64))
}

fn finetune(args: &FinetuneArgs) -> Result<()> {
    let c = &args.common;
    let Run { dev, epochs, batch_size, lr, out } = c.run("bert", (3, 32, 5e-5))?;
    let sentences_dir = c.data_dir(&wgrad_data::sources::SENTIMENT)?;
    let (train, test) = wgrad_data::text::load_movie_reviews(&sentences_dir)?.split(0.2, 1234);
    let (train, test) = (train.subset(&c.limited(train.len())), test.subset(&c.limited(test.len())));
    let pairs =
        |s: &wgrad_data::text::Sentences| s.texts.iter().cloned().zip(s.labels.iter().copied()).collect::<Vec<_>>();
    let (train, test) = (pairs(&train), pairs(&test));
    println!("movie reviews: {} training and {} test sentences", train.len(), test.len());

    let dir = model_dir(&args.model)?;
    nn::manual_seed(c.seed);
    let mut bert = BertModel::from_pretrained(&dir, &dev)?;
    bert.pooler = None; // the head reads the mean of the hidden states
    let tok = Tokenizer::from_file(dir.join("tokenizer.json"))?.with_max_length(args.max_tokens);
    let head = nn::Linear::new(bert.config.hidden_size, 2, &dev);
    let model = Classifier { bert, head };
    model.train();
    println!(
        "fine-tuning {} ({} parameters) on {}",
        dir.display(),
        model.parameters().iter().map(|p| p.tensor().numel()).sum::<usize>(),
        dev.name()
    );

    let mut opt = nn::AdamW::with_groups(
        model.groups(args.weight_decay, args.head_lr),
        nn::AdamWConfig { lr, weight_decay: args.weight_decay, ..Default::default() },
    );
    let steps_per_epoch = train.len().div_ceil(batch_size);
    let total = epochs * steps_per_epoch;
    let warmup = (args.warmup * total as f64).round() as usize;
    // transformers' get_linear_schedule_with_warmup.
    let mut schedule = nn::LambdaLR::new(&mut opt, move |step| {
        if step < warmup {
            step as f64 / warmup.max(1) as f64
        } else {
            (total.saturating_sub(step)) as f64 / (total - warmup).max(1) as f64
        }
    });
    let mut history = History::new("test_accuracy", true);
    let (first_epoch, step) = common::resume::restore(c.resume, &out, &model, &mut opt, &mut history)?;
    schedule.set_last_step(step as usize);
    for epoch in first_epoch..=epochs {
        let mut bar = EpochBar::new(epoch, epochs, steps_per_epoch);
        for (step, batch) in batches(&train, &tok, batch_size, Some(c.seed * 1000 + epoch as u64)).enumerate() {
            let (batch, labels) = batch?;
            let y = Tensor::from_vec(labels, [batch.rows()], &dev);
            let loss = F::cross_entropy(&model.logits(&batch, &dev), &y, F::Reduction::Mean, 0.0);
            let mut grads = loss.backward()?;
            nn::clip_grad_norm(&mut grads, &model.parameters(), 1.0)?;
            opt.step(&grads)?;
            schedule.step(&mut opt);
            bar.step(step, &loss, (batch.rows(), "sentences"), &mut history, Ok)?;
        }
        let trained = bar.finish();
        let (test_loss, accuracy) = evaluate(&model, &test, &tok, &dev)?;
        history.push(trained.epoch(test_loss, accuracy), &out, "BERT fine-tuning (all-MiniLM-L6-v2)")?;
        common::resume::save(&out, epoch, schedule.last_step() as u64, &model, &opt, &history)?;
    }
    history.finish(c.check_loss_falls, &dev.name())
}
