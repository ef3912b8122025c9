//! The model workloads of docs/BENCHMARKS.md: the training steps W6 (seed CNN), W7 (LSTM
//! classifier), W8 (transformer encoder) and W10 (BERT fine-tuning), each job one whole step
//! (forward, backward, optimizer update) returning the step's loss, read back; and W9, a
//! BERT forward pass.

use anyhow::Result;
use wgrad::functional as F;
use wgrad::nn::{self, Optimizer};
use wgrad::{Device, Tensor};

#[path = "../common/seed_cnn.rs"]
mod seed_cnn;

/// One training step as a job: `forward` gives the loss of the fixed batch.
fn step_job(opt: impl Optimizer + 'static, forward: impl Fn() -> Tensor + 'static) -> Box<dyn FnMut() -> Result<f64>> {
    let mut opt = opt;
    Box::new(move || {
        let loss = forward();
        let grads = loss.backward()?;
        opt.step(&grads)?;
        Ok(loss.to_scalar()?)
    })
}

/// Token ids in [0, vocab), seeded.
fn tokens(shape: [usize; 2], vocab: u32, seed: u64, dev: &Device) -> Tensor {
    let n = shape[0] * shape[1];
    let ids = (0..n as u64).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) % vocab as u64) as u32);
    Tensor::from_vec(ids.collect::<Vec<u32>>(), shape, dev)
}

/// W6: the seed CNN, batch 64 of 1x28x28, softmax cross-entropy, Adam lr 1e-3.
pub fn w6(dev: &Device) -> Option<Box<dyn FnMut() -> Result<f64>>> {
    nn::manual_seed(0);
    let model = seed_cnn::seed_cnn(dev);
    let opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: 1e-3, ..Default::default() });
    let x = Tensor::randn([64, 1, 28, 28], 1, dev);
    let y = Tensor::from_vec((0..64u32).map(|i| (i * 7) % 10).collect::<Vec<u32>>(), [64], dev);
    Some(step_job(opt, move || F::cross_entropy(&model.forward(&x), &y, F::Reduction::Mean, 0.0)))
}

/// W7: Embedding(10000, 64), LSTM(64 -> 64), last hidden -> Linear(64 -> 1), sigmoid
/// BCE, Adam; batch 32 of 100 token ids.
pub fn w7(dev: &Device) -> Option<Box<dyn FnMut() -> Result<f64>>> {
    nn::manual_seed(0);
    let embedding = nn::Embedding::new(10_000, 64, dev);
    let lstm = nn::Lstm::new(64, 64, 1, dev).batch_first(true);
    let head = nn::Linear::new(64, 1, dev);
    let params = [embedding.parameters(), lstm.parameters(), head.parameters()].concat();
    let opt = nn::Adam::new(params, nn::AdamConfig { lr: 1e-3, ..Default::default() });
    let x = tokens([32, 100], 10_000, 2, dev);
    let y = Tensor::from_vec((0..32).map(|i| (i % 2) as f32).collect::<Vec<f32>>(), [32, 1], dev);
    Some(step_job(opt, move || {
        let (_, (h_n, _)) = lstm.forward_with_state(&embedding.forward(&x), None);
        let logits = head.forward(&h_n.reshape([32, 64]));
        F::binary_cross_entropy_with_logits(&logits, &y, F::Reduction::Mean)
    }))
}

/// W8: token + learned position embeddings (vocab 10000, d 128), 2 post-norm encoder
/// layers (4 heads, ff 512), mean-pool -> Linear(128 -> 2), cross-entropy, AdamW;
/// batch 32 of 128 tokens.
pub fn w8(dev: &Device) -> Option<Box<dyn FnMut() -> Result<f64>>> {
    nn::manual_seed(0);
    let (batch, seq, d) = (32, 128, 128);
    let embedding = nn::Embedding::new(10_000, d, dev);
    let positions = nn::Embedding::new(seq, d, dev);
    let layers = (0..2).map(|_| nn::TransformerEncoderLayer::new(d, 4, 512, 0.1, dev).batch_first(true)).collect();
    let encoder = nn::TransformerEncoder::new(layers);
    let head = nn::Linear::new(d, 2, dev);
    let params = [embedding.parameters(), positions.parameters(), encoder.parameters(), head.parameters()].concat();
    let opt = nn::AdamW::new(params, nn::AdamWConfig { lr: 1e-3, ..Default::default() });
    encoder.train();
    let x = tokens([batch, seq], 10_000, 3, dev);
    let pos = Tensor::from_vec((0..seq as u32).collect::<Vec<u32>>(), [1, seq], dev);
    let y = Tensor::from_vec((0..batch as u32).map(|i| i % 2).collect::<Vec<u32>>(), [batch], dev);
    Some(step_job(opt, move || {
        let h = encoder.forward(&embedding.forward(&x).add(&positions.forward(&pos)));
        let pooled = h.mean(1, false);
        F::cross_entropy(&head.forward(&pooled), &y, F::Reduction::Mean, 0.0)
    }))
}

/// all-MiniLM-L6-v2's shape (random weights: the benchmark needs no download).
fn minilm(dev: &Device) -> nn::BertModel {
    let config = nn::BertConfig::from_json(
        r#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
            "intermediate_size": 1536, "hidden_act": "gelu", "layer_norm_eps": 1e-12}"#,
    )
    .expect("a valid config");
    nn::manual_seed(0);
    nn::BertModel::new(&config, false, dev)
}

/// W9: BertModel (all-MiniLM-L6-v2's shape) forward, batch 32 x 128 real tokens, no grad,
/// eval mode; the value is the sum of squares of last_hidden_state (its plain sum is a sum of
/// LayerNorm outputs, near zero, so a relative check of it compares rounding noise).
pub fn w9(dev: &Device) -> Option<Box<dyn FnMut() -> Result<f64>>> {
    let model = minilm(dev);
    model.eval();
    let x = tokens([32, 128], 30_522, 4, dev);
    Some(Box::new(move || Ok(wgrad::no_grad(|| model.forward_ids(&x).powf(2.0).sum_all()).to_scalar()?)))
}

/// W10: a fine-tuning step of the same model + mean pooling over real tokens + Linear(384
/// -> 2), batch 32 x 64 tokens with half the rows padded to length 32, cross-entropy,
/// AdamW in parameter groups (no decay on biases and LayerNorm weights), dropout on.
pub fn w10(dev: &Device) -> Option<Box<dyn FnMut() -> Result<f64>>> {
    let (batch, seq) = (32, 64);
    let bert = minilm(dev);
    let head = nn::Linear::new(384, 2, dev);
    let params = [bert.parameters(), head.parameters()].concat();
    let groups = nn::ParamGroup::split_decay(params, 0.01).to_vec();
    let opt = nn::AdamW::with_groups(groups, nn::AdamWConfig { lr: 5e-5, ..Default::default() });
    bert.train();
    let x = tokens([batch, seq], 30_522, 5, dev);
    let mask: Vec<u32> = (0..batch * seq).map(|i| u32::from((i / seq) % 2 == 0 || i % seq < 32)).collect();
    let mask = Tensor::from_vec(mask, [batch, seq], dev);
    let y = Tensor::from_vec((0..batch as u32).map(|i| i % 2).collect::<Vec<u32>>(), [batch], dev);
    Some(step_job(opt, move || {
        let hidden = bert.forward_with(&x, Some(&mask), None).last_hidden_state;
        let logits = head.forward(&nn::bert::mean_pool(&hidden, &mask));
        F::cross_entropy(&logits, &y, F::Reduction::Mean, 0.0)
    }))
}
