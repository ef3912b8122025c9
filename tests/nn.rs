//! nn modules: forward against the functional composition on every device, state-dict
//! names, initialisation, train/eval, and an MLP learning XOR.

mod common;
use common::{assert_close, conform, conformed, devices, values, Rng};
use std::sync::{Mutex, MutexGuard};
use wgrad::functional as F;
use wgrad::nn::{self, Module};
use wgrad::{DType, Device, Tensor};

/// Held for the whole of every test in this file: layers draw their initial weights and
/// dropout its masks from the process-wide seed stream, so a test that builds a layer
/// while another runs between its `manual_seed` and its draws would change that test's
/// numbers (seen on a fast GPU, where the tests' timings interleave differently).
fn rng_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds under `manual_seed(seed)` (the caller holds [`rng_lock`]).
fn seeded<T>(seed: u64, f: impl FnOnce() -> T) -> T {
    nn::manual_seed(seed);
    f()
}

fn input(shape: &[usize], seed: u64, dev: &Device) -> Tensor {
    Rng::new(seed).tensor(shape, DType::F32, -2.0, 2.0).to_device(dev)
}

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn linear_is_x_wt_plus_b_and_matches_across_devices() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let out = conformed("Linear", 1e-5, 1e-5, |dev| {
        let lin = seeded(1, || nn::Linear::new(5, 3, dev));
        lin.forward(&input(&[4, 5], 2, dev))
    });
    // By hand on the host from the same (seeded) weights.
    let lin = seeded(1, || nn::Linear::new(5, 3, &cpu));
    let (w, b) = (lin.weight.tensor().to_vec::<f32>().unwrap(), lin.bias.unwrap().tensor().to_vec::<f32>().unwrap());
    let x = input(&[4, 5], 2, &cpu).to_vec::<f32>().unwrap();
    let mut want = vec![0.0f32; 12];
    for i in 0..4 {
        for o in 0..3 {
            want[i * 3 + o] = b[o] + (0..5).map(|k| x[i * 5 + k] * w[o * 5 + k]).sum::<f32>();
        }
    }
    assert_close(&out, &Tensor::from_vec(want, [4, 3], &cpu), 1e-5, 1e-5, "Linear by hand");
    // Any leading dims, and no bias.
    for dev in devices() {
        let lin = seeded(3, || nn::Linear::new_no_bias(5, 2, &dev));
        let x = input(&[2, 3, 5], 4, &dev);
        let y = lin.forward(&x);
        assert_eq!(y.dims(), [2, 3, 2]);
        assert_close(&y, &x.matmul(&lin.weight.tensor().t()), 1e-6, 1e-6, "Linear without bias");
    }
}

#[test]
fn linear_with_leading_dims_has_the_gradients_of_the_flattened_product() {
    let _rng = rng_lock();
    // Odd sizes, a size-1 dim and a non-contiguous input (a transpose).
    for dev in devices() {
        for (shape, inner, out) in [(vec![3usize, 1, 7], 7usize, 5usize), (vec![2, 4, 3, 6], 6, 1)] {
            let lin = seeded(8, || nn::Linear::new(inner, out, &dev));
            let mut t_shape = shape.clone();
            let r = t_shape.len();
            t_shape.swap(0, r - 2);
            let x = nn::Parameter::new(input(&t_shape, 9, &dev).transpose(0, -2));
            assert_eq!(x.tensor().dims(), shape.as_slice());
            let y = lin.forward(&x.tensor());
            let g = y.mul(&input(y.dims(), 10, &dev)).sum_all().backward().unwrap();
            // The same by hand on the flattened rows.
            let rows = shape.iter().product::<usize>() / inner;
            let x2 = x.tensor().reshape([rows, inner]);
            let gy = input(y.dims(), 10, &dev).reshape([rows, out]);
            let w = lin.weight.tensor();
            assert_close(
                &y.reshape([rows, out]),
                &x2.matmul(&w.t()).add(&lin.bias.as_ref().unwrap().tensor()),
                1e-5,
                1e-5,
                "linear forward",
            );
            assert_close(&g.get(&w).unwrap(), &gy.t().matmul(&x2), 1e-4, 1e-4, "linear weight grad");
            assert_close(
                &g.get(&x.tensor()).unwrap().reshape([rows, inner]),
                &gy.matmul(&w),
                1e-4,
                1e-4,
                "linear input grad",
            );
            let gb = g.get(&lin.bias.as_ref().unwrap().tensor()).unwrap();
            assert_close(&gb, &gy.sum(0, false), 1e-4, 1e-4, "linear bias grad");
        }
    }
}

#[test]
fn activations_flatten_and_sequential_equal_their_compositions() {
    let _rng = rng_lock();
    for dev in devices() {
        let x = input(&[3, 2, 4], 5, &dev);
        let cases: Vec<(Box<dyn Module>, Tensor)> = vec![
            (Box::new(nn::ReLU), x.relu()),
            (Box::new(nn::Sigmoid), x.sigmoid()),
            (Box::new(nn::Tanh), x.tanh()),
            (Box::new(nn::GELU), x.gelu()),
            (Box::new(nn::GeluTanh), x.gelu_tanh()),
            (Box::new(nn::Softmax(-1)), x.softmax(-1)),
            (Box::new(nn::LogSoftmax(1)), x.log_softmax(1)),
            (Box::new(nn::Flatten), x.reshape([3, 8])),
            (Box::new(nn::Identity), x.clone()),
        ];
        for (i, (m, want)) in cases.iter().enumerate() {
            assert_close(&m.forward(&x), want, 0.0, 0.0, &format!("activation {i} on {dev:?}"));
        }
        let (model, l1, l2) = seeded(6, || {
            let (l1, l2) = (nn::Linear::new(4, 6, &dev), nn::Linear::new(6, 2, &dev));
            let model = nn::Sequential::new().add(l1.clone()).add(nn::ReLU).add(l2.clone());
            (model, l1, l2)
        });
        let x = input(&[5, 4], 7, &dev);
        let want = F::linear(&l1.forward(&x).relu(), &l2.weight.tensor(), Some(&l2.bias.unwrap().tensor()));
        assert_close(&model.forward(&x), &want, 0.0, 0.0, "Sequential");
        assert_eq!(model.len(), 3);
        assert_eq!(model.parameters().len(), 4);
    }
}

#[test]
fn conv_and_pool_layers_call_the_functionals() {
    let _rng = rng_lock();
    conform("Conv2d + pools", 1e-4, 1e-4, |dev| {
        let conv = seeded(8, || nn::Conv2d::new(2, 3, 3, dev).padding(1).stride(2));
        let x = input(&[2, 2, 7, 7], 9, dev);
        let y = conv.forward(&x);
        let b = conv.bias.as_ref().unwrap().tensor();
        let p = F::Conv2d { stride: [2, 2], padding: [1, 1], ..Default::default() };
        assert_close(&y, &F::conv2d(&x, &conv.weight.tensor(), Some(&b), p), 0.0, 0.0, "Conv2d");
        assert_eq!(y.dims(), [2, 3, 4, 4]);
        let max = nn::MaxPool2d::new(2).forward(&y);
        assert_close(&max, &F::max_pool2d(&y, F::Pool2d::square(2)), 0.0, 0.0, "MaxPool2d");
        let avg = nn::AvgPool2d::new(3).stride(1).padding(1).count_include_pad(false).forward(&y);
        let pa = F::Pool2d { kernel: [3, 3], stride: [1, 1], padding: [1, 1], ceil_mode: false, dilation: [1, 1] };
        assert_close(&avg, &F::avg_pool2d(&y, pa, false), 0.0, 0.0, "AvgPool2d");
        let ad = nn::AdaptiveAvgPool2d::new([1, 1]).forward(&y);
        assert_close(&ad, &y.mean_dims(&[2, 3], true), 1e-6, 1e-5, "AdaptiveAvgPool2d");
        Tensor::cat(&[&max.flatten_from(0), &avg.flatten_from(0), &ad.flatten_from(0)], 0)
    });
    // Groups and no bias.
    let cpu = Device::cpu();
    let p = F::Conv2d { groups: 2, ..Default::default() };
    let conv = seeded(10, || nn::Conv2d::with_params(4, 6, [3, 2], p, false, &cpu));
    assert_eq!(conv.weight.dims(), [6, 2, 3, 2]);
    assert!(conv.bias.is_none());
    assert_eq!(names(&conv), ["weight"]);
}

#[test]
fn embedding_layer_norm_and_losses_equal_the_functionals() {
    let _rng = rng_lock();
    for dev in devices() {
        let emb = seeded(11, || nn::Embedding::new(10, 4, &dev).with_padding_idx(0));
        let ids = Tensor::from_vec(vec![3u32, 0, 9, 3], [2, 2], &dev);
        let y = emb.forward(&ids);
        assert_close(&y, &F::embedding(&ids, &emb.weight.tensor(), Some(0)), 0.0, 0.0, "Embedding");
        assert_eq!(y.dims(), [2, 2, 4]);
        assert!(y.narrow(1, 1, 1).to_vec::<f32>().unwrap()[..4].iter().all(|&v| v == 0.0), "padding row is zero");

        let ln = nn::LayerNorm::new(4, &dev);
        let x = input(&[3, 4], 12, &dev);
        let w = ln.weight.as_ref().unwrap().tensor();
        let want = F::layer_norm(&x, &[4], Some(&w), Some(&ln.bias.as_ref().unwrap().tensor()), 1e-5);
        assert_close(&ln.forward(&x), &want, 0.0, 0.0, "LayerNorm");
        assert_eq!(names(&ln), ["weight", "bias"]);

        let t = input(&[3, 4], 13, &dev);
        let mse = nn::MSELoss::new().forward(&x, &t);
        assert_close(&mse, &F::mse_loss(&x, &t, F::Reduction::Mean), 0.0, 0.0, "MSELoss");
        let sum = nn::MSELoss { reduction: F::Reduction::Sum }.forward(&x, &t);
        assert_close(&sum, &F::mse_loss(&x, &t, F::Reduction::Sum), 0.0, 0.0, "MSELoss sum");
        let probs = t.sigmoid();
        let bce = nn::BCEWithLogitsLoss::new().forward(&x, &probs);
        let want = F::binary_cross_entropy_with_logits(&x, &probs, F::Reduction::Mean);
        assert_close(&bce, &want, 0.0, 0.0, "BCEWithLogitsLoss");
        let targets = Tensor::from_vec(vec![1i32, -100, 3], [3], &dev);
        let ce = nn::CrossEntropyLoss { label_smoothing: 0.1, ignore_index: Some(-100), ..Default::default() };
        let want = F::cross_entropy_ignore(&x, &targets, F::Reduction::Mean, 0.1, Some(-100));
        assert_close(&ce.forward(&x, &targets), &want, 0.0, 0.0, "CrossEntropyLoss");
    }
}

#[test]
fn batch_norm_uses_batch_stats_in_training_and_running_stats_in_eval() {
    let _rng = rng_lock();
    for dev in devices() {
        let bn = nn::BatchNorm2d::new(3, &dev);
        let x = input(&[4, 3, 2, 2], 14, &dev);
        let (w, b) = (bn.weight.tensor(), bn.bias.tensor());
        let fresh = F::RunningStats { mean: bn.running_mean.tensor(), var: bn.running_var.tensor() };
        let (want, updated) = F::batch_norm(&x, Some(&fresh), Some(&w), Some(&b), true, 0.1, 1e-5);
        assert_close(&bn.forward(&x), &want, 0.0, 0.0, "BatchNorm train");
        let updated = updated.unwrap();
        assert_close(&bn.running_mean.tensor(), &updated.mean, 0.0, 0.0, "running mean");
        assert_close(&bn.running_var.tensor(), &updated.var, 0.0, 0.0, "running var");
        assert_eq!(bn.num_batches_tracked.tensor().to_vec::<i32>().unwrap(), [1]);
        bn.eval();
        assert!(!bn.is_training());
        let (want, none) = F::batch_norm(&x, Some(&updated), Some(&w), Some(&b), false, 0.1, 1e-5);
        assert!(none.is_none());
        assert_close(&bn.forward(&x), &want, 0.0, 0.0, "BatchNorm eval");
        assert_eq!(bn.num_batches_tracked.tensor().to_vec::<i32>().unwrap(), [1], "eval does not count");
        let sd: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(sd, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    }
}

#[test]
fn train_and_eval_reach_nested_dropout() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let inner = nn::Sequential::new().add(nn::Dropout::new(0.5));
    let model = nn::Sequential::new().add(nn::Linear::new(8, 8, &cpu)).add(inner);
    let x = Tensor::ones([64, 8], DType::F32, &cpu);
    let drop = model.get(1).unwrap();
    let y = drop.forward(&x).to_vec::<f32>().unwrap();
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!(zeros > 150 && zeros < 362, "about half dropped in training: {zeros} of 512");
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0), "survivors scaled by 1/(1-p)");
    model.eval();
    assert_close(&drop.forward(&x), &x, 0.0, 0.0, "Dropout in eval is the identity");
    model.train();
    assert!(drop.forward(&x).to_vec::<f32>().unwrap().contains(&0.0), "training again");
}

#[test]
fn state_dict_names_follow_pytorch() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let model = nn::Sequential::new()
        .add(nn::Conv2d::new(1, 4, 3, &cpu))
        .add(nn::ReLU)
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten)
        .add(nn::Linear::new(4 * 13 * 13, 10, &cpu));
    assert_eq!(names(&model), ["0.weight", "0.bias", "4.weight", "4.bias"]);
    let x = input(&[2, 1, 28, 28], 15, &cpu);
    assert_eq!(model.forward(&x).dims(), [2, 10]);
    let nested = nn::Sequential::new()
        .add(nn::Sequential::new().add(nn::Linear::new(2, 2, &cpu)).add(nn::BatchNorm1d::new(2, &cpu)))
        .add(nn::Embedding::new(3, 2, &cpu));
    let sd: Vec<String> = nested.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        sd,
        [
            "0.0.weight",
            "0.0.bias",
            "0.1.weight",
            "0.1.bias",
            "1.weight",
            "0.1.running_mean",
            "0.1.running_var",
            "0.1.num_batches_tracked"
        ]
    );
    // Boxed and shared modules are modules too.
    let boxed: Box<dyn Module> = Box::new(nested);
    assert_eq!(boxed.parameters().len(), 5);
    let shared = std::sync::Arc::new(nn::Linear::new(2, 2, &cpu));
    assert_eq!(names(&shared), ["weight", "bias"]);
}

#[test]
fn initialisation_is_bounded_seeded_and_device_independent() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let lin = seeded(20, || nn::Linear::new(100, 50, &cpu));
    let w = lin.weight.tensor().to_vec::<f32>().unwrap();
    let bound = 0.1f32; // 1 / sqrt(100)
    assert!(w.iter().all(|v| v.abs() <= bound), "weights within ±1/√fan_in");
    assert!(w.iter().any(|&v| v > 0.09) && w.iter().any(|&v| v < -0.09), "and spread over it");
    let b = lin.bias.as_ref().unwrap().tensor().to_vec::<f32>().unwrap();
    assert!(b.iter().all(|v| v.abs() <= bound) && b.iter().any(|&v| v.abs() > 0.05));
    let conv = seeded(20, || nn::Conv2d::new(3, 8, 3, &cpu));
    let cb = 1.0 / 27f32.sqrt();
    assert!(conv.weight.tensor().to_vec::<f32>().unwrap().iter().all(|v| v.abs() <= cb));
    assert!(conv.bias.unwrap().tensor().to_vec::<f32>().unwrap().iter().all(|v| v.abs() <= cb));
    assert!(lin.weight.tensor().is_tracked(), "parameters are tracked leaves");

    let build = |seed, dev: &Device| {
        seeded(seed, || {
            let m = nn::Sequential::new().add(nn::Linear::new(3, 4, dev)).add(nn::Linear::new(4, 2, dev));
            m.state_dict().into_iter().map(|(_, t)| t.to_device(&cpu)).collect::<Vec<_>>()
        })
    };
    let (a, b, c) = (build(7, &cpu), build(7, &cpu), build(8, &cpu));
    for (x, y) in a.iter().zip(&b) {
        assert_close(x, y, 0.0, 0.0, "same seed, same model");
    }
    assert_ne!(a[0].to_vec::<f32>().unwrap(), c[0].to_vec::<f32>().unwrap(), "another seed, another model");
    assert_ne!(a[1].to_vec::<f32>().unwrap(), a[2].to_vec::<f32>().unwrap()[..4], "each draw has its own seed");
    if let Some(gpu) = common::gpu() {
        for (x, y) in a.iter().zip(&build(7, &gpu)) {
            assert_close(y, x, 0.0, 0.0, "the GPU model equals the CPU model");
        }
    }
}

#[test]
fn gradients_reach_parameters_through_their_current_tensor() {
    let _rng = rng_lock();
    for dev in devices() {
        let lin = seeded(21, || nn::Linear::new(3, 2, &dev));
        let x = input(&[4, 3], 22, &dev);
        let grads = lin.forward(&x).sum_all().backward().unwrap();
        // d(sum)/dW = column sums of x, for each output row; d/db = batch size.
        let gw = grads.get(&lin.weight.tensor()).expect("weight gradient");
        let colsum = x.sum(0, true).broadcast_to([2, 3]).contiguous();
        assert_close(&gw, &colsum, 1e-5, 1e-5, "dL/dW");
        let gb = grads.get(&lin.bias.as_ref().unwrap().tensor()).unwrap();
        assert_close(&gb, &Tensor::full([2], 4.0, DType::F32, &dev), 1e-6, 0.0, "dL/db");
        let y = wgrad::no_grad(|| lin.forward(&x));
        assert!(!y.is_tracked(), "no_grad forward records nothing");
    }
}

#[test]
fn mlp_learns_xor_with_adam_on_every_device() {
    let _rng = rng_lock();
    for dev in devices() {
        let x = Tensor::from_vec(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2], &dev);
        let y = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0], [4, 1], &dev);
        let model = seeded(30, || {
            nn::Sequential::new().add(nn::Linear::new(2, 16, &dev)).add(nn::Tanh).add(nn::Linear::new(16, 1, &dev))
        });
        let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: 0.05, ..Default::default() });
        let loss_fn = nn::BCEWithLogitsLoss::new();
        let mut last = f64::INFINITY;
        for step in 0..200 {
            let loss = loss_fn.forward(&model.forward(&x), &y);
            let grads = loss.backward().unwrap();
            opt.step(&grads).unwrap();
            if step % 50 == 49 {
                last = loss.to_scalar().unwrap();
            }
        }
        let logits = wgrad::no_grad(|| model.forward(&x)).to_vec::<f32>().unwrap();
        let predicted: Vec<f32> = logits.iter().map(|&l| if l > 0.0 { 1.0 } else { 0.0 }).collect();
        assert_eq!(predicted, [0.0, 1.0, 1.0, 0.0], "XOR on {dev:?}: logits {logits:?}, loss {last}");
        assert!(last < 0.1, "loss {last} on {dev:?}");
    }
}

#[test]
fn recurrent_layers_wrap_the_functionals_with_pytorch_names() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let lstm = seeded(40, || nn::Lstm::new(3, 5, 2, &cpu));
    assert_eq!(
        names(&lstm),
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_ih_l1",
            "weight_hh_l1",
            "bias_ih_l1",
            "bias_hh_l1"
        ]
    );
    assert_eq!(lstm.layers()[0].w_ih.dims(), [20, 3]);
    assert_eq!(lstm.layers()[1].w_ih.dims(), [20, 5]);
    let bound = 1.0 / 5f64.sqrt();
    for p in lstm.parameters() {
        assert!(values(&p.tensor()).iter().all(|v| v.abs() <= bound), "±1/√hidden");
    }
    assert_eq!(names(&nn::Gru::new(3, 4, 1, &cpu).no_bias()), ["weight_ih_l0", "weight_hh_l0"]);
    conform("recurrent layers", 1e-5, 1e-4, |dev| {
        let x = input(&[4, 2, 3], 41, dev);
        let (lstm, gru, rnn) =
            seeded(42, || (nn::Lstm::new(3, 5, 2, dev), nn::Gru::new(3, 5, 1, dev), nn::Rnn::new(3, 5, 2, dev)));
        let weights = |m: &dyn Module, gates: usize| -> Vec<F::RnnWeights> {
            let p: Vec<Tensor> = m.parameters().iter().map(|p| p.tensor()).collect();
            assert!(p[0].dims()[0].is_multiple_of(gates));
            p.chunks(4)
                .map(|c| F::RnnWeights {
                    w_ih: c[0].clone(),
                    w_hh: c[1].clone(),
                    b_ih: Some(c[2].clone()),
                    b_hh: Some(c[3].clone()),
                })
                .collect()
        };
        let (out, (h, c)) = lstm.forward_with_state(&x, None);
        let (want, (wh, wc)) = F::lstm(&x, None, &weights(&lstm, 4));
        assert_close(&out, &want, 0.0, 0.0, "Lstm");
        assert_close(&h, &wh, 0.0, 0.0, "Lstm h_n");
        assert_close(&c, &wc, 0.0, 0.0, "Lstm c_n");
        assert_eq!(h.dims(), [2, 2, 5]);
        let (g, _) = gru.forward_with_state(&x, None);
        assert_close(&g, &F::gru(&x, None, &weights(&gru, 3)).0, 0.0, 0.0, "Gru");
        let r = rnn.forward(&x);
        assert_close(&r, &F::rnn_tanh(&x, None, &weights(&rnn, 1)).0, 0.0, 0.0, "Rnn");
        let bf = lstm.clone().batch_first(true).forward(&x.transpose(0, 1).contiguous());
        assert_close(&bf, &out.transpose(0, 1), 0.0, 0.0, "batch_first");
        Tensor::cat(&[&out.flatten_from(0), &g.flatten_from(0), &r.flatten_from(0)], 0)
    });
}

/// Multi-head attention written out: per batch and head, softmax(q k^T / √d) v.
fn attention_by_hand(mha: &nn::MultiheadAttention, x: &Tensor) -> Tensor {
    let (n, e) = (x.dims()[0], x.dims()[2]);
    let (h, d) = (mha.num_heads, e / mha.num_heads);
    let w = mha.in_proj_weight.tensor();
    let b = mha.in_proj_bias.as_ref().unwrap().tensor();
    let mut rows = Vec::new();
    for bi in 0..n {
        let xb = x.narrow(0, bi, 1).squeeze(0);
        let proj = |i: usize| xb.matmul(&w.narrow(0, i * e, e).t()).add(&b.narrow(0, i * e, e));
        let (q, k, v) = (proj(0), proj(1), proj(2));
        let heads: Vec<Tensor> = (0..h)
            .map(|hi| {
                let (qh, kh, vh) = (q.narrow(1, hi * d, d), k.narrow(1, hi * d, d), v.narrow(1, hi * d, d));
                qh.matmul(&kh.t()).mul_scalar(1.0 / (d as f64).sqrt()).softmax(-1).matmul(&vh)
            })
            .collect();
        let refs: Vec<&Tensor> = heads.iter().collect();
        rows.push(mha.out_proj.forward(&Tensor::cat(&refs, 1)));
    }
    let refs: Vec<&Tensor> = rows.iter().collect();
    Tensor::stack(&refs, 0)
}

#[test]
fn multihead_attention_matches_the_written_out_composition() {
    let _rng = rng_lock();
    let cpu = Device::cpu();
    let mha = nn::MultiheadAttention::new(8, 2, &cpu);
    assert_eq!(names(&mha), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    assert!(values(&mha.in_proj_bias.as_ref().unwrap().tensor()).iter().all(|&v| v == 0.0));
    assert!(values(&mha.out_proj.bias.as_ref().unwrap().tensor()).iter().all(|&v| v == 0.0));
    conform("MultiheadAttention", 1e-5, 1e-4, |dev| {
        let mha = seeded(43, || nn::MultiheadAttention::new(8, 2, dev)).batch_first(true);
        let x = input(&[2, 5, 8], 44, dev);
        let y = mha.forward(&x);
        assert_close(&y, &attention_by_hand(&mha, &x), 1e-5, 1e-4, "MultiheadAttention by hand");
        // Sequence-major input gives the transposed result.
        let seq = nn::MultiheadAttention { batch_first: false, ..mha.clone() };
        assert_close(&seq.forward(&x.transpose(0, 1)), &y.transpose(0, 1), 1e-6, 1e-5, "[L, N, E]");
        // Causal: the first position ignores the rest of the sequence.
        let causal = mha.attend(&x, &x, &x, F::AttnMask::Causal);
        let changed = Tensor::cat(&[&x.narrow(1, 0, 1), &x.narrow(1, 1, 4).mul_scalar(3.0)], 1);
        let causal2 = mha.attend(&changed, &changed, &changed, F::AttnMask::Causal);
        assert_close(&causal2.narrow(1, 0, 1), &causal.narrow(1, 0, 1), 1e-6, 1e-5, "causal");
        y
    });
}

#[test]
fn transformer_encoder_layer_has_pytorch_names_and_composition() {
    let _rng = rng_lock();
    for dev in devices() {
        let layer = seeded(45, || nn::TransformerEncoderLayer::new(8, 2, 16, 0.1, &dev)).batch_first(true);
        let expected_names = [
            "self_attn.in_proj_weight",
            "self_attn.in_proj_bias",
            "self_attn.out_proj.weight",
            "self_attn.out_proj.bias",
            "linear1.weight",
            "linear1.bias",
            "linear2.weight",
            "linear2.bias",
            "norm1.weight",
            "norm1.bias",
            "norm2.weight",
            "norm2.bias",
        ];
        assert_eq!(names(&layer), expected_names);
        let x = input(&[2, 3, 8], 46, &dev);
        layer.eval();
        let attn = layer.self_attn.forward(&x);
        let h = layer.norm1.forward(&x.add(&attn));
        let ff = layer.linear2.forward(&layer.linear1.forward(&h).relu());
        let want = layer.norm2.forward(&h.add(&ff));
        assert_close(&layer.forward(&x), &want, 1e-6, 1e-5, &format!("post-norm on {dev:?}"));
        let pre = layer.norm_first(true);
        let h = x.add(&pre.self_attn.forward(&pre.norm1.forward(&x)));
        let want = h.add(&pre.linear2.forward(&pre.linear1.forward(&pre.norm2.forward(&h)).relu()));
        assert_close(&pre.forward(&x), &want, 1e-6, 1e-5, &format!("pre-norm on {dev:?}"));
        pre.train();
        assert!(pre.dropout1.is_training(), "train() reaches the dropouts");
        let grads = pre.forward(&x).sum_all().backward().unwrap();
        assert_eq!(pre.parameters().iter().filter(|p| grads.get(&p.tensor()).is_some()).count(), 12);
    }
}

#[test]
fn transformer_encoder_stacks_its_layers_then_the_norm() {
    let _rng = rng_lock();
    for dev in devices() {
        let layers = seeded(47, || {
            (0..2).map(|_| nn::TransformerEncoderLayer::new(8, 2, 16, 0.0, &dev).batch_first(true)).collect()
        });
        let enc = nn::TransformerEncoder::new(layers).with_norm(seeded(48, || nn::LayerNorm::new(8, &dev)));
        let got_names = names(&enc);
        assert_eq!(got_names.len(), 2 * 12 + 2);
        assert_eq!(got_names[0], "layers.0.self_attn.in_proj_weight");
        assert_eq!(got_names[12], "layers.1.self_attn.in_proj_weight");
        assert_eq!(&got_names[24..], ["norm.weight", "norm.bias"]);
        enc.eval();
        let x = input(&[2, 5, 8], 49, &dev);
        let keep = Tensor::from_vec(vec![1u32, 1, 1, 0, 0, 1, 1, 1, 1, 1], [2, 1, 1, 5], &dev);
        let mask = F::AttnMask::Keep(&keep);
        let by_hand = enc.layers[1].forward_with_mask(&enc.layers[0].forward_with_mask(&x, mask), mask);
        let want = enc.norm.as_ref().unwrap().forward(&by_hand);
        assert_close(&enc.forward_with_mask(&x, mask), &want, 1e-6, 1e-5, &format!("encoder on {dev:?}"));
        assert!(!enc.layers[1].dropout.is_training(), "eval() reaches every layer");
    }
}

#[test]
fn recurrent_dropout_applies_between_layers_in_training_only() {
    let _rng = rng_lock();
    let dev = Device::cpu();
    let x = input(&[5, 2, 3], 61, &dev);
    let lstm = seeded(62, || nn::Lstm::new(3, 4, 2, &dev)).dropout(0.5);
    let gru = seeded(63, || nn::Gru::new(3, 4, 2, &dev)).dropout(0.5);
    let plain_lstm = seeded(62, || nn::Lstm::new(3, 4, 2, &dev));
    let plain_gru = seeded(63, || nn::Gru::new(3, 4, 2, &dev));
    assert_eq!(names(&lstm), names(&plain_lstm), "dropout adds no state-dict entries");
    for (m, plain) in [(&lstm as &dyn Module, &plain_lstm as &dyn Module), (&gru, &plain_gru)] {
        m.eval();
        assert_close(&m.forward(&x), &plain.forward(&x), 0.0, 0.0, "eval: no dropout");
        m.train();
        let (a, b) = (m.forward(&x), plain.forward(&x));
        let diff = a.sub(&b).abs().max_all().to_scalar().unwrap();
        assert!(diff > 1e-3, "train: the first layer's output is dropped before the second ({diff})");
        // The last layer's output is not dropped: no exact zeros beyond chance.
        let zeros = a.to_vec::<f32>().unwrap().iter().filter(|v| **v == 0.0).count();
        assert_eq!(zeros, 0);
    }
    let (out, (h, c)) = lstm.forward_with_state(&x, None);
    assert_eq!((out.dims(), h.dims(), c.dims()), (&[5usize, 2, 4][..], &[2usize, 2, 4][..], &[2usize, 2, 4][..]));
}

#[test]
fn multihead_attention_takes_pytorch_masks_and_returns_weights() {
    let _rng = rng_lock();
    for dev in devices() {
        let mha = seeded(71, || nn::MultiheadAttention::new(8, 2, &dev)).batch_first(true);
        let x = input(&[2, 5, 8], 72, &dev);
        // Batch 0 has 3 real tokens, batch 1 all 5 (PyTorch: True = padding).
        let pad = Tensor::from_vec(vec![0u32, 0, 0, 1, 1, 0, 0, 0, 0, 0], [2, 5], &dev);
        let args = nn::MhaArgs { key_padding_mask: Some(&pad), need_weights: true, ..Default::default() };
        let (out, w) = mha.forward_qkv(&x, &x, &x, args);
        let w = w.expect("need_weights");
        assert_eq!(w.dims(), [2, 5, 5]);
        let wv = common::values(&w);
        for row in wv.chunks(5) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5, "weights sum to 1: {row:?}");
        }
        assert!(wv[..25].chunks(5).all(|r| r[3] == 0.0 && r[4] == 0.0), "padded keys get no weight");
        // Per head (average_attn_weights=False): [N, H, Lq, Lk], whose mean over heads is w.
        let heads = nn::MhaArgs { per_head_weights: true, ..args };
        let per_head = mha.forward_qkv(&x, &x, &x, heads).1.expect("need_weights");
        assert_eq!(per_head.dims(), [2, 2, 5, 5]);
        assert_close(&per_head.mean(1, false), &w, 1e-6, 1e-6, &format!("per-head weights on {dev:?}"));
        assert!(common::values(&per_head).chunks(5).all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-5));
        // Batch 0 equals attention over its 3 real keys alone.
        let x0 = x.narrow(0, 0, 1);
        let short = mha.attend(&x0, &x0.narrow(1, 0, 3), &x0.narrow(1, 0, 3), F::AttnMask::None);
        assert_close(&out.narrow(0, 0, 1), &short, 1e-5, 1e-4, &format!("key padding on {dev:?}"));
        // A bool attn_mask (True = not allowed) equals the additive -inf mask, and
        // is_causal equals the causal keep-mask.
        let upper: Vec<u32> = (0..25).map(|i| u32::from(i % 5 > i / 5)).collect();
        let bool_mask = Tensor::from_vec(upper.clone(), [5, 5], &dev);
        let add: Vec<f32> = upper.iter().map(|&u| if u == 1 { f32::NEG_INFINITY } else { 0.0 }).collect();
        let add_mask = Tensor::from_vec(add, [5, 5], &dev);
        let by_bool = mha.forward_qkv(&x, &x, &x, nn::MhaArgs { attn_mask: Some(&bool_mask), ..Default::default() }).0;
        let by_add = mha.forward_qkv(&x, &x, &x, nn::MhaArgs { attn_mask: Some(&add_mask), ..Default::default() }).0;
        let causal = mha.forward_qkv(&x, &x, &x, nn::MhaArgs { is_causal: true, ..Default::default() }).0;
        assert_close(&by_bool, &by_add, 1e-5, 1e-4, "bool vs additive attn_mask");
        assert_close(&by_bool, &causal, 1e-5, 1e-4, "upper-triangular mask vs is_causal");
        // Padding and an additive mask together: both apply.
        let both = nn::MhaArgs {
            key_padding_mask: Some(&pad),
            attn_mask: Some(&add_mask),
            need_weights: true,
            ..Default::default()
        };
        let w = common::values(&mha.forward_qkv(&x, &x, &x, both).1.unwrap());
        assert!(w[..25]
            .chunks(5)
            .enumerate()
            .all(|(q, r)| r.iter().enumerate().all(|(k, v)| (k <= q && k < 3) || *v == 0.0)));
    }
}

#[test]
fn linear_edge_shapes_and_contiguous_weight_gradient() {
    let _rng = rng_lock();
    for dev in devices() {
        // A 1-D input: [in] -> [out].
        let lin = seeded(3, || nn::Linear::new(4, 3, &dev));
        let x = input(&[4], 4, &dev);
        let y = lin.forward(&x);
        assert_eq!(y.dims(), &[3]);
        // The input is not tracked: no gradient for it, and the weight's is contiguous
        // like the weight (the optimizer reads it without a copy).
        let g = y.sum_all().backward().unwrap();
        assert!(g.get(&x).is_none());
        let gw = g.get(&lin.weight.tensor()).unwrap();
        assert!(gw.is_contiguous() && gw.dims() == [3, 4]);
        assert_close(
            &gw,
            &Tensor::ones([3, 1], DType::F32, &dev).matmul(&x.reshape([1, 4])),
            1e-6,
            1e-6,
            "outer product",
        );
        // No input features: the output is the bias.
        let empty = seeded(5, || nn::Linear::new(0, 2, &dev));
        let y = empty.forward(&Tensor::zeros([3, 0], DType::F32, &dev));
        let b = empty.bias.as_ref().unwrap().tensor().to_vec::<f32>().unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), [b.clone(), b.clone(), b].concat());
    }
}

#[test]
fn dropout2d_drops_whole_channels_the_same_on_every_device() {
    let _rng = rng_lock();
    let mut seen = Vec::new();
    for dev in devices() {
        wgrad::manual_seed(81);
        let drop = nn::Dropout2d::new(0.5);
        let x = Tensor::ones([4, 8, 3, 3], DType::F32, &dev);
        let y = drop.forward(&x);
        let v = values(&y);
        // Every 3x3 channel is all 0 or all 2 (= 1 / (1 - p)); both occur.
        for channel in v.chunks(9) {
            assert!(channel.iter().all(|&c| c == channel[0]) && (channel[0] == 0.0 || channel[0] == 2.0));
        }
        assert!(v.contains(&0.0) && v.contains(&2.0), "{dev:?}");
        drop.eval();
        assert_eq!(values(&drop.forward(&x)), vec![1.0; 4 * 8 * 9], "identity in eval mode");
        seen.push(v);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "the same seed drops the same channels on every device");
}

#[test]
fn conv1d_layer_names_and_devices() {
    let _rng = rng_lock();
    let dev = Device::cpu();
    let conv = seeded(90, || nn::Conv1d::new(3, 5, 4, &dev));
    let names: Vec<String> = conv.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(conv.weight.dims(), [5, 3, 4]);
    conform("Conv1d", 1e-5, 1e-5, |d| {
        let c = seeded(90, || nn::Conv1d::new(3, 5, 4, d));
        c.forward(&input(&[2, 3, 11], 91, d))
    });
}
