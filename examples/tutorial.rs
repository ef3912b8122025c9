//! A tutorial-style program as a PyTorch user writes it with wgrad: a text classifier
//! that is a `#[derive(Module)]` struct, fed by a `DataLoader`, with a bidirectional LSTM
//! over padded batches and their lengths (what PyTorch does with pack_padded_sequence),
//! trained with AdamW. Synthetic data: a sequence is positive when it contains token 3.
//!
//!     cargo run --release --example tutorial

use wgrad::nn::{self, Module};
use wgrad::{functional as F, Device, Tensor};
use wgrad_data::rng::SplitMix64;
use wgrad_data::{DataLoader, TensorDataset};

#[derive(Module)]
#[module(no_forward)] // its forward takes the lengths too
struct Classifier {
    embed: nn::Embedding,
    lstm: nn::Lstm,
    head: nn::Linear,
}

impl Classifier {
    fn new(vocab: usize, dev: &Device) -> Classifier {
        Classifier {
            embed: nn::Embedding::new(vocab, 16, dev),
            lstm: nn::Lstm::new_bidirectional(16, 32, 1, dev).batch_first(true),
            head: nn::Linear::new(64, 2, dev),
        }
    }

    /// Logits `[B, 2]` for token ids `[B, T]` padded past each of `lengths`.
    fn forward(&self, ids: &Tensor, lengths: &[usize]) -> Tensor {
        let x = self.embed.forward(ids);
        let (_, (h, _)) = self.lstm.forward_packed(&x, lengths, None); // h: [2 directions, B, 32]
        self.head.forward(&Tensor::cat(&[&h.select(0, 0), &h.select(0, 1)], 1))
    }
}

/// `n` sequences of up to `t` tokens in 4..20 (0 pads), half of them holding a 3.
fn data(n: usize, t: usize, dev: &Device) -> (Tensor, Tensor, Tensor) {
    let mut rng = SplitMix64::new(1);
    let (mut ids, mut lengths, mut labels) = (vec![0u32; n * t], Vec::new(), Vec::new());
    for i in 0..n {
        let len = 3 + rng.below(t as u64 - 2) as usize;
        for j in 0..len {
            ids[i * t + j] = 4 + rng.below(16) as u32;
        }
        let positive = i % 2 == 0;
        if positive {
            ids[i * t + rng.below(len as u64) as usize] = 3;
        }
        lengths.push(len as u32);
        labels.push(u32::from(positive));
    }
    let ids = Tensor::from_vec(ids, [n, t], dev);
    (ids, Tensor::from_vec(lengths, [n], dev), Tensor::from_vec(labels, [n], dev))
}

fn main() -> wgrad::Result<()> {
    let dev = Device::best();
    wgrad::manual_seed(0);
    let model = Classifier::new(20, &dev);
    let mut opt = nn::AdamW::new(model.parameters(), nn::AdamWConfig { lr: 1e-2, ..Default::default() });
    let (ids, lengths, labels) = data(512, 12, &dev);
    let loader = DataLoader::tensors(TensorDataset::new(vec![ids, lengths, labels]), 32).shuffle(7);
    for epoch in 0..4 {
        let (mut total, mut correct, mut seen) = (0.0, 0.0, 0.0);
        for batch in loader.epoch(epoch) {
            let lengths: Vec<usize> = batch[1].to_vec::<u32>()?.into_iter().map(|l| l as usize).collect();
            let logits = model.forward(&batch[0], &lengths);
            let loss = F::cross_entropy(&logits, &batch[2], F::Reduction::Mean, 0.0);
            opt.step(&loss.backward()?)?;
            let hits = logits.argmax(1, false).eq(&batch[2]).cast(wgrad::DType::F32).sum_all().to_scalar()?;
            (total, correct, seen) = (total + loss.to_scalar()?, correct + hits, seen + lengths.len() as f64);
        }
        println!("epoch {epoch}: loss {:.4}  accuracy {:.1}%", total / loader.len() as f64, 100.0 * correct / seen);
    }
    Ok(())
}
