//! torch.nn.functional ops: values against hand computations and GPU against CPU.
//! (Bad ids are tested in device_errors.rs: device errors are per device, not per test.)

mod common;
use common::{assert_close, devices, values, Rng};
use wgrad::functional as F;
use wgrad::{DType, Device, Tensor};

/// Held by the tests that seed the process-wide stream and then draw dropout masks.
static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn on(t: &Tensor, dev: &Device) -> Tensor {
    t.to_device(dev)
}

#[test]
fn softmax_any_dim_matches_cpu_and_is_stable() {
    let cpu = Device::cpu();
    let mut rng = Rng::new(1);
    for (shape, dim) in
        [(vec![4, 7], 1isize), (vec![3, 300, 2], 1), (vec![5, 6, 7], 0), (vec![2, 1000], -1), (vec![1, 1], 0)]
    {
        let n = shape.iter().product();
        let x = Tensor::from_vec(rng.vec_f32(n, -3000.0, 3000.0), shape.clone(), &cpu);
        for dev in devices() {
            let xs = [on(&x, &dev), on(&x, &dev).transpose(0, -1).contiguous().transpose(0, -1)];
            for xd in xs {
                // One exp per element plus one log per row: 1e-5 absolute on probabilities.
                assert_close(&xd.softmax(dim).to_device(&cpu), &x.softmax(dim), 1e-5, 1e-4, "softmax");
                assert_close(&xd.log_softmax(dim).to_device(&cpu), &x.log_softmax(dim), 1e-3, 1e-5, "log_softmax");
            }
        }
    }
    // Backward (one fused kernel per pass on a GPU) against the CPU's composed rule.
    for (shape, dim) in [(vec![4, 7], 1isize), (vec![3, 300, 2], 1), (vec![5, 6, 7], 0), (vec![1, 1], 0)] {
        let n = shape.iter().product();
        let x = Tensor::from_vec(rng.vec_f32(n, -3.0, 3.0), shape.clone(), &cpu);
        let w = Tensor::from_vec(rng.vec_f32(n, -1.0, 1.0), shape.clone(), &cpu);
        for log in [false, true] {
            let grad = |x: &Tensor, w: &Tensor| {
                let x = x.requires_grad();
                let y = if log { x.log_softmax(dim) } else { x.softmax(dim) };
                y.mul(w).sum_all().backward().unwrap().get(&x).unwrap()
            };
            let expected = grad(&x, &w);
            for dev in devices() {
                let got = grad(&on(&x, &dev), &on(&w, &dev));
                assert_close(&got.to_device(&cpu), &expected, 1e-5, 1e-4, &format!("softmax grad log={log} {shape:?}"));
            }
        }
    }
    let big = Tensor::from_vec(vec![1000.0f32, 1000.0, -1000.0], [3], &cpu);
    for dev in devices() {
        let p = on(&big, &dev).softmax(0).to_vec::<f32>().unwrap();
        assert_eq!(p, vec![0.5, 0.5, 0.0], "{dev:?}");
    }
}

#[test]
fn cross_entropy_values_smoothing_and_ignore_index() {
    let cpu = Device::cpu();
    // logits [[0, ln 2], [0, 0]] with targets [1, 0]: losses ln(3/2) and ln 2.
    let logits = Tensor::from_vec(vec![0.0f32, 2f32.ln(), 0.0, 0.0], [2, 2], &cpu);
    let targets = Tensor::from_vec(vec![1u32, 0], [2], &cpu);
    for dev in devices() {
        let (l, t) = (on(&logits, &dev), on(&targets, &dev));
        let none = F::cross_entropy(&l, &t, F::Reduction::None, 0.0).to_vec::<f32>().unwrap();
        assert!((none[0] - 1.5f32.ln()).abs() < 1e-6 && (none[1] - 2f32.ln()).abs() < 1e-6, "{none:?}");
        let mean = F::cross_entropy(&l, &t, F::Reduction::Mean, 0.0).to_scalar().unwrap();
        assert!((mean - (1.5f64.ln() + 2f64.ln()) / 2.0).abs() < 1e-6);
        // Smoothing 0.2: 0.8 * nll + 0.2 * mean over classes of -log p.
        let s = F::cross_entropy(&l, &t, F::Reduction::Sum, 0.2).to_scalar().unwrap();
        let lp0 = [-(3f64.ln()), (2.0f64 / 3.0).ln()];
        let expected = 0.8 * (1.5f64.ln() + 2f64.ln()) + 0.2 * (-(lp0[0] + lp0[1]) / 2.0 + 2f64.ln());
        assert!((s - expected).abs() < 1e-5, "{s} vs {expected}");
        let ignored = Tensor::from_vec(vec![1i32, -100], [2], &dev);
        let m = F::cross_entropy_ignore(&l, &ignored, F::Reduction::Mean, 0.0, Some(-100)).to_scalar().unwrap();
        assert!((m - 1.5f64.ln()).abs() < 1e-6, "ignored sample excluded from the mean: {m}");
    }
}

#[test]
fn bce_mse_layer_norm_embedding_dropout() {
    let _rng = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cpu = Device::cpu();
    let x = Tensor::from_vec(vec![100.0f32, -100.0, 0.0, 50.0], [4], &cpu);
    let y = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 1.0], [4], &cpu);
    let mut rng = Rng::new(2);
    let h = Tensor::from_vec(rng.vec_f32(6 * 13, -2.0, 2.0), [6, 13], &cpu);
    let (w, b) = (Tensor::randn([13], 3, &cpu), Tensor::randn([13], 4, &cpu));
    let table = Tensor::randn([10, 4], 5, &cpu);
    let ids = Tensor::from_vec(vec![3u32, 0, 3, 9, 2, 0], [2, 3], &cpu);
    for dev in devices() {
        let l = F::binary_cross_entropy_with_logits(&on(&x, &dev), &on(&y, &dev), F::Reduction::None);
        let v = l.to_vec::<f32>().unwrap();
        let expected = [100.0, 100.0, 2f32.ln(), 1.9287499e-22];
        for (a, e) in v.iter().zip(expected) {
            assert!((a - e).abs() <= 1e-5 * e.abs().max(1.0), "bce {a} vs {e} on {dev:?}");
        }
        let m = F::mse_loss(&on(&x, &dev), &on(&y, &dev), F::Reduction::Mean).to_scalar().unwrap();
        assert!((m - (100.0f64.powi(2) + 101.0f64.powi(2) + 1.0 + 49.0f64.powi(2)) / 4.0).abs() < 1e-2);
        let ln = F::layer_norm(&on(&h, &dev), &[13], Some(&on(&w, &dev)), Some(&on(&b, &dev)), 1e-5);
        let ln_cpu = F::layer_norm(&h, &[13], Some(&w), Some(&b), 1e-5);
        assert_close(&ln.to_device(&cpu), &ln_cpu, 1e-4, 1e-4, "layer_norm");
        let mean = F::layer_norm(&h, &[13], None, None, 1e-5).mean(1, false).to_vec::<f32>().unwrap();
        assert!(mean.iter().all(|m| m.abs() < 1e-5), "normalised rows have zero mean: {mean:?}");
        // Embedding: rows by id, padding row gets no gradient, repeated ids accumulate.
        let t = on(&table, &dev).requires_grad();
        let e = F::embedding(&on(&ids, &dev), &t, Some(0));
        assert_eq!(e.dims(), &[2, 3, 4]);
        assert_close(
            &e.narrow(1, 0, 1).reshape([2, 4]).to_device(&cpu),
            &table.index_select(0, &Tensor::from_vec(vec![3u32, 9], [2], &cpu)),
            0.0,
            0.0,
            "rows",
        );
        let g = e.sum_all().backward().unwrap().get(&t).unwrap().to_vec::<f32>().unwrap();
        let per_row: Vec<f32> = g.chunks(4).map(|r| r[0]).collect();
        assert_eq!(per_row, vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "{dev:?}");
    }
    // Dropout: same seed, same mask on every device; kept values scaled by 1/(1-p).
    let ones = Tensor::ones([1000], DType::F32, &cpu);
    let masks: Vec<Vec<f32>> = devices()
        .iter()
        .map(|dev| {
            wgrad::manual_seed(77);
            F::dropout(&on(&ones, dev), 0.25, true).to_vec::<f32>().unwrap()
        })
        .collect();
    assert!(masks.windows(2).all(|w| w[0] == w[1]), "dropout masks differ across devices");
    let kept = masks[0].iter().filter(|&&v| v != 0.0).count();
    assert!((650..850).contains(&kept), "kept {kept} of 1000 at p = 0.25");
    assert!(masks[0].iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
    assert_eq!(F::dropout(&ones, 0.5, false).to_vec::<f32>().unwrap(), vec![1.0; 1000]);
}

/// Masks drawn on the device (the counter-based generator of wgrad_cpu::random, also in
/// WGSL) equal the CPU's bit for bit on a large odd-sized tensor, in f32 and f16, and
/// successive calls draw new masks.
#[test]
fn large_dropout_masks_agree_across_devices() {
    let _rng = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for dtype in [DType::F32, DType::F16] {
        let mut seen: Vec<Vec<f64>> = Vec::new();
        for dev in devices() {
            if dtype == DType::F16 && !dev.supports_f16() {
                eprintln!("{dev:?} has no f16: checking the CPU only");
                continue;
            }
            wgrad::manual_seed(78);
            let x = Tensor::ones([301, 1001], dtype, &dev);
            let first = values(&F::dropout(&x, 0.1, true));
            let second = values(&F::dropout(&x, 0.1, true));
            assert_ne!(first, second, "each call draws a new mask");
            let kept = first.iter().filter(|&&v| v != 0.0).count() as f64 / first.len() as f64;
            assert!((kept - 0.9).abs() < 3e-3, "{dev:?}: kept {kept} at p = 0.1");
            seen.push(first);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{dtype:?} masks differ across devices");
    }
}

#[test]
fn batch_norm_training_and_eval() {
    let cpu = Device::cpu();
    // Channel 0: [1, 3] and [5, 7] -> mean 4, biased var 5, unbiased 20/3.
    let x = Tensor::from_vec(vec![1.0f32, 3.0, 0.0, 0.0, 5.0, 7.0, 2.0, 2.0], [2, 2, 2], &cpu);
    for dev in devices() {
        let running =
            F::RunningStats { mean: Tensor::zeros([2], DType::F32, &dev), var: Tensor::ones([2], DType::F32, &dev) };
        let (y, stats) = F::batch_norm(&on(&x, &dev), Some(&running), None, None, true, 0.1, 0.0);
        let v = y.to_vec::<f32>().unwrap();
        let s = 5f32.sqrt();
        assert!((v[0] + 3.0 / s).abs() < 1e-5 && (v[5] - 3.0 / s).abs() < 1e-5, "{v:?}");
        let stats = stats.unwrap();
        let mean = stats.mean.to_vec::<f32>().unwrap();
        let var = stats.var.to_vec::<f32>().unwrap();
        assert!((mean[0] - 0.4).abs() < 1e-6 && (mean[1] - 0.1).abs() < 1e-6, "{mean:?}");
        assert!((var[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-5, "{var:?}");
        let w = Tensor::from_vec(vec![2.0f32, 1.0], [2], &dev);
        let (e, none) = F::batch_norm(&on(&x, &dev), Some(&stats), Some(&w), None, false, 0.1, 0.0);
        assert!(none.is_none());
        let e = e.to_vec::<f32>().unwrap();
        assert!((e[0] - 2.0 * (1.0 - 0.4) / var[0].sqrt()).abs() < 1e-5, "{e:?}");
    }
}

#[test]
fn embedding_backward_matches_cpu_with_many_repeats() {
    // The GPU's counting-sort scatter-add against the CPU reference, with heavy repeats
    // (a frequent token: a third of all ids) and unused rows.
    let cpu = Device::cpu();
    let mut rng = Rng::new(9);
    let ids: Vec<u32> = (0..3000).map(|i| if i % 3 == 0 { 7 } else { rng.range(0, 499) as u32 }).collect();
    let ids = Tensor::from_vec(ids, [30, 100], &cpu);
    let table = Tensor::randn([500, 16], 10, &cpu);
    let proj = Tensor::randn([30, 100, 16], 11, &cpu);
    let grad_on = |dev: &Device| {
        let t = on(&table, dev).requires_grad();
        let e = F::embedding(&on(&ids, dev), &t, Some(3));
        e.mul(&on(&proj, dev)).sum_all().backward().unwrap().get(&t).unwrap().to_device(&cpu)
    };
    let reference = grad_on(&cpu);
    for dev in devices() {
        assert_close(&grad_on(&dev), &reference, 1e-4, 1e-5, "embedding grad");
    }
    let g = reference.to_vec::<f32>().unwrap();
    assert!(g[3 * 16..4 * 16].iter().all(|&v| v == 0.0), "padding row has no gradient");
}

/// A layer-norm case: input shape, normalised shape, and the view taken of the input.
type NormCase = (&'static [usize], &'static [usize], fn(&Tensor) -> Tensor);

/// The cases both layer-norm tests run, besides their own.
const NORM_CASES: [NormCase; 3] = [
    (&[2, 3, 4], &[3, 4], |t| t.clone()),
    (&[4, 1], &[1], |t| t.clone()),
    (&[6, 9], &[6], |t| t.t()), // a non-contiguous input [9, 6]
];

#[test]
fn cpu_layer_norm_without_grad_is_the_composed_one_bit_for_bit() {
    // Without gradients the CPU normalises each row in one pass (wgrad_cpu::norm); with
    // them it composes mean, variance, scale and shift. They must agree exactly, so that
    // inference and evaluation give the numbers training-mode code gives.
    let cpu = Device::cpu();
    let mut rng = Rng::new(82);
    let own: [NormCase; 2] = [(&[3, 5, 384], &[384], |t| t.clone()), (&[0, 7], &[7], |t| t.clone())];
    for (shape, norm, view) in NORM_CASES.into_iter().chain(own) {
        let x = rng.tensor(shape, DType::F32, -3.0, 5.0);
        let (w, b) = (rng.tensor(norm, DType::F32, 0.5, 1.5), rng.tensor(norm, DType::F32, -1.0, 1.0));
        for (wa, ba) in [(Some(&w), Some(&b)), (Some(&w), None), (None, None)] {
            let one_pass = wgrad::no_grad(|| F::layer_norm(&view(&x), norm, wa, ba, 1e-5));
            let composed = F::layer_norm(&view(&x.to_device(&cpu).requires_grad()), norm, wa, ba, 1e-5);
            let bits = |t: &Tensor| t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(one_pass.dims(), composed.dims());
            let what = format!("{shape:?} over {norm:?}, weight {}, bias {}", wa.is_some(), ba.is_some());
            assert_eq!(bits(&one_pass), bits(&composed), "{what}");
        }
    }
}

#[test]
fn fused_layer_norm_matches_the_composed_reference_forward_and_backward() {
    // The GPU runs one fused kernel per pass for rows up to 4096; the CPU composes
    // mean, variance, scale and shift. Tolerance: sums of D terms in f32 in another
    // order, 1e-5 absolute on normalised values, 1e-4 on gradients.
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    let mut rng = common::Rng::new(81);
    let own: [NormCase; 3] = [
        (&[3, 5, 7], &[7], |t| t.clone()),
        (&[2, 4096], &[4096], |t| t.clone()),
        (&[2, 4097], &[4097], |t| t.clone()), // beyond the fused kernel's rows: composed
    ];
    for (shape, norm, view) in NORM_CASES.into_iter().chain(own) {
        let x = rng.tensor(shape, DType::F32, -3.0, 5.0);
        let w = rng.tensor(norm, DType::F32, 0.5, 1.5);
        let b = rng.tensor(norm, DType::F32, -1.0, 1.0);
        let proj = rng.tensor(view(&x).dims(), DType::F32, -1.0, 1.0);
        for affine in [true, false] {
            let run = |dev: &Device| {
                let (x, w, b) = (
                    x.to_device(dev).requires_grad(),
                    w.to_device(dev).requires_grad(),
                    b.to_device(dev).requires_grad(),
                );
                let (wa, ba) = if affine { (Some(&w), Some(&b)) } else { (None, None) };
                let y = F::layer_norm(&view(&x), norm, wa, ba, 1e-5);
                let g = y.mul(&proj.to_device(dev)).sum_all().backward().unwrap();
                let mut out = vec![y.to_device(&cpu), g.get(&x).unwrap().to_device(&cpu)];
                if affine {
                    out.push(g.get(&w).unwrap().to_device(&cpu));
                    out.push(g.get(&b).unwrap().to_device(&cpu));
                }
                out
            };
            let (got, want) = (run(&gpu), run(&cpu));
            for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                let what = format!("layer_norm {shape:?} over {norm:?} affine={affine}: output {i}");
                assert_close(&a.contiguous(), &e.contiguous(), if i == 0 { 1e-5 } else { 1e-4 }, 1e-4, &what);
            }
        }
    }
}
