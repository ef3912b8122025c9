//! The graph recorder batches dispatches into few submits, and the buffer pool reuses
//! buffers. These tests read process-wide device counters, so they run one at a time
//! (this binary holds nothing else).

mod common;
use std::sync::Mutex;
use wgrad::{Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

fn chain(x: &Tensor, n: usize) -> Tensor {
    let mut y = x.clone();
    for i in 0..n {
        y = match i % 4 {
            0 => &y * 0.5,
            1 => &y + 1.0,
            2 => y.tanh(),
            _ => (&y - &x.sigmoid()).abs(),
        };
    }
    y
}

#[test]
fn a_chain_of_100_elementwise_ops_read_once_is_one_submit() {
    let _serial = SERIAL.lock().unwrap();
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    let x = Tensor::randn([37, 29], 3, &gpu);
    gpu.sync().unwrap();
    let before = gpu.stats();
    let y = chain(&x, 100);
    let values = y.to_vec::<f32>().unwrap();
    let after = gpu.stats();
    assert_eq!(after.submits - before.submits, 1, "100 ops + one readback must be one submit: {after:?}");
    assert!(after.dispatches - before.dispatches >= 100, "{after:?}");
    let expected = chain(&x.to_device(&cpu), 100).to_vec::<f32>().unwrap();
    for (a, e) in values.iter().zip(&expected) {
        assert!((a - e).abs() <= 1e-5 + 1e-5 * e.abs(), "{a} vs {e}");
    }
}

#[test]
fn long_chains_flush_at_the_pending_threshold() {
    let _serial = SERIAL.lock().unwrap();
    let Some(gpu) = common::gpu() else { return };
    let x = Tensor::randn([8], 4, &gpu);
    gpu.sync().unwrap();
    let before = gpu.stats();
    chain(&x, 600).to_vec::<f32>().unwrap();
    let after = gpu.stats();
    let dispatches = after.dispatches - before.dispatches;
    let submits = after.submits - before.submits;
    let max_pending = wgrad::gpu::recorder::MAX_PENDING_DISPATCHES as u64;
    assert_eq!(submits, dispatches.div_ceil(max_pending), "{dispatches} dispatches in {submits} submits");
}

#[test]
fn a_training_like_loop_reuses_buffers_and_frees_them() {
    let _serial = SERIAL.lock().unwrap();
    let Some(gpu) = common::gpu() else { return };
    let w = Tensor::randn([64, 32], 5, &gpu);
    let step = |i: u64| {
        let x = Tensor::randn([16, 64], 100 + i, &gpu);
        x.matmul(&w).relu().sum_all().to_scalar().unwrap()
    };
    step(0);
    step(1);
    let warm = gpu.stats();
    for i in 2..22 {
        step(i);
    }
    let after = gpu.stats();
    assert_eq!(after.buffers_allocated, warm.buffers_allocated, "no new buffers after warm-up: {after:?}");
    assert!(after.buffers_reused - warm.buffers_reused >= 60, "{after:?}");
    assert_eq!(after.live_buffer_bytes, warm.live_buffer_bytes, "live bytes stay flat");
    assert_eq!(after.submits - warm.submits, 20, "one submit per step");
}

#[test]
fn a_readback_after_an_index_lookup_is_still_one_submit() {
    // Kernels that validate ids write an error word; reading it must ride along with the
    // data copy, not cost a second submit and wait.
    let _serial = SERIAL.lock().unwrap();
    let Some(gpu) = common::gpu() else { return };
    let logits = Tensor::randn([8, 5], 6, &gpu);
    let targets = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 0, 1, 2], [8], &gpu);
    gpu.sync().unwrap();
    let before = gpu.stats();
    let loss = wgrad::functional::cross_entropy(&logits, &targets, wgrad::functional::Reduction::Mean, 0.0);
    assert!(loss.to_scalar().unwrap() > 0.0);
    assert_eq!(gpu.stats().submits - before.submits, 1, "loss readback with an id check");
}

#[test]
fn training_steps_upload_nothing_once_their_batch_is_on_the_device() {
    // Fills, loss seeds, pooling bounds, split-sum ones and narrow's zero padding are made
    // by kernels: a step's only host writes are its batch (made here once, before timing).
    let _serial = SERIAL.lock().unwrap();
    let Some(gpu) = common::gpu() else { return };
    wgrad::nn::manual_seed(0);
    let cnn = common::seed_cnn::seed_cnn(&gpu);
    let encoder = wgrad::nn::TransformerEncoderLayer::new(16, 2, 32, 0.1, &gpu).batch_first(true);
    encoder.train();
    let params = [cnn.parameters(), encoder.parameters()].concat();
    let mut opt = wgrad::nn::Adam::new(params, wgrad::nn::AdamConfig { lr: 1e-3, ..Default::default() });
    let images = Tensor::randn([8, 1, 28, 28], 1, &gpu);
    let labels = Tensor::from_vec((0..8u32).collect::<Vec<u32>>(), [8], &gpu);
    let tokens = Tensor::randn([4, 6, 16], 2, &gpu);
    let mut step = || {
        let logits = cnn.forward(&images);
        let ce = wgrad::functional::cross_entropy(&logits, &labels, wgrad::functional::Reduction::Mean, 0.0);
        let loss = &ce + &encoder.forward(&tokens).narrow(1, 1, 3).powf(2.0).mean_all();
        opt.step(&loss.backward().unwrap()).unwrap();
        loss.to_scalar().unwrap()
    };
    step(); // the optimizer's state is made in the first step
    let before = gpu.stats();
    let loss = step();
    let after = gpu.stats();
    assert!(loss.is_finite());
    assert_eq!(
        after.uploads - before.uploads,
        0,
        "{} bytes uploaded in a step",
        after.upload_bytes - before.upload_bytes
    );
}
