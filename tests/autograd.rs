//! Backward rules checked by central finite differences on the CPU, and GPU gradients
//! checked against CPU gradients.

mod common;
use common::Rng;
use wgrad::{Device, Tensor};

/// The loss used everywhere: a fixed random projection of the output, so every output
/// element's gradient matters and differs.
fn project(out: &Tensor, seed: u64) -> Tensor {
    let w = Tensor::randn(out.shape().clone(), seed, out.device());
    out.mul(&w).sum_all()
}

/// Checks d(project(f(inputs)))/d(input) against central differences (eps = 1e-2 in f32:
/// truncation ~1e-4, rounding ~1e-5/eps), tolerance 2e-2 relative to the gradient's scale.
fn check_grads(name: &str, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor) {
    let cpu = Device::cpu();
    let tracked: Vec<Tensor> = inputs.iter().map(|t| t.to_device(&cpu).requires_grad()).collect();
    let loss = project(&f(&tracked), 99);
    let grads = loss.backward().unwrap();
    let eps = 1e-2f32;
    for (k, x) in tracked.iter().enumerate() {
        let analytic = grads.get(x).unwrap_or_else(|| panic!("{name}: no gradient for input {k}"));
        let analytic = analytic.contiguous().to_vec::<f32>().unwrap();
        let base = x.to_vec::<f32>().unwrap();
        let scale = analytic.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for i in 0..base.len() {
            let eval = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                let mut args: Vec<Tensor> = tracked.iter().map(|t| t.detach()).collect();
                args[k] = Tensor::from_vec(v, x.shape().clone(), &cpu);
                project(&f(&args), 99).to_scalar().unwrap() as f32
            };
            let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() <= 2e-2 * scale,
                "{name}: d/dinput{k}[{i}]: analytic {} vs numeric {numeric} (scale {scale})",
                analytic[i]
            );
        }
    }
    // The same gradients on the GPU.
    if let Some(gpu) = common::gpu() {
        let on_gpu: Vec<Tensor> = inputs.iter().map(|t| t.to_device(&gpu).requires_grad()).collect();
        let g_grads = project(&f(&on_gpu), 99).backward().unwrap();
        for (x_cpu, x_gpu) in tracked.iter().zip(&on_gpu) {
            let (a, b) = (grads.get(x_cpu).unwrap(), g_grads.get(x_gpu).expect("gpu gradient"));
            common::assert_close(&b.to_device(&cpu).contiguous(), &a.contiguous(), 1e-4, 1e-3, name);
        }
    }
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape.to_vec(), seed, &Device::cpu())
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::from_vec(rng.vec_f32(n, 0.5, 2.0), shape.to_vec(), &Device::cpu())
}

#[test]
fn unary_ops() {
    let x = randn(&[3, 5], 1);
    for (name, f) in [
        ("neg", (|t: &Tensor| t.neg()) as fn(&Tensor) -> Tensor),
        ("exp", |t| t.exp()),
        ("sigmoid", |t| t.sigmoid()),
        ("tanh", |t| t.tanh()),
        ("gelu", |t| t.gelu()),
        ("gelu_tanh", |t| t.gelu_tanh()),
        ("relu", |t| t.relu()),
        ("abs", |t| t.abs()),
        ("sin", |t| t.sin()),
        ("cos", |t| t.cos()),
        ("silu", |t| t.silu()),
        ("softplus", |t| t.softplus()),
        ("leaky_relu", |t| t.leaky_relu(0.1)),
        ("elu", |t| t.elu(1.5)),
    ] {
        check_grads(name, std::slice::from_ref(&x), &|a| f(&a[0]));
    }
    let p = positive(&[4, 3], 2);
    for (name, f) in [
        ("log", (|t: &Tensor| t.log()) as fn(&Tensor) -> Tensor),
        ("sqrt", |t| t.sqrt()),
        ("rsqrt", |t| t.rsqrt()),
        ("powf", |t| t.powf(2.5)),
    ] {
        check_grads(name, std::slice::from_ref(&p), &|a| f(&a[0]));
    }
}

#[test]
fn binary_ops_with_broadcasting() {
    let a = randn(&[3, 4], 3);
    let b = randn(&[4], 4);
    check_grads("add", &[a.clone(), b.clone()], &|x| &x[0] + &x[1]);
    check_grads("sub", &[a.clone(), b.clone()], &|x| &x[0] - &x[1]);
    check_grads("mul", &[a.clone(), b.clone()], &|x| &x[0] * &x[1]);
    check_grads("div", &[a.clone(), positive(&[3, 1], 5)], &|x| &x[0] / &x[1]);
    check_grads("maximum", &[a.clone(), randn(&[3, 4], 6)], &|x| x[0].maximum(&x[1]));
    check_grads("pow", &[positive(&[2, 3], 7), randn(&[2, 3], 8)], &|x| x[0].pow(&x[1]));
    check_grads("scalars", std::slice::from_ref(&a), &|x| ((&x[0] * 3.0 + 1.0) / 2.0 - 0.5).minimum_scalar(0.3));
    check_grads("used twice", std::slice::from_ref(&a), &|x| &x[0] * &x[0].sigmoid());
}

#[test]
fn reductions() {
    let x = randn(&[3, 4, 5], 9);
    check_grads("sum dim", std::slice::from_ref(&x), &|a| a[0].sum(1, false));
    check_grads("mean dims keepdim", std::slice::from_ref(&x), &|a| a[0].mean_dims(&[0, 2], true));
    check_grads("max dim", std::slice::from_ref(&x), &|a| a[0].max(-1, false));
    check_grads("min all", std::slice::from_ref(&x), &|a| a[0].min_all());
    check_grads("sum all", std::slice::from_ref(&x), &|a| a[0].sum_all());
}

#[test]
fn matmul_shapes() {
    check_grads("matmul 2d", &[randn(&[3, 4], 10), randn(&[4, 5], 11)], &|x| x[0].matmul(&x[1]));
    check_grads("matmul transposed", &[randn(&[3, 4], 12), randn(&[5, 4], 13)], &|x| x[0].matmul(&x[1].t()));
    check_grads("matmul batched broadcast", &[randn(&[2, 1, 3, 4], 14), randn(&[3, 4, 2], 15)], &|x| {
        x[0].matmul(&x[1])
    });
    check_grads("matmul vec", &[randn(&[4], 16), randn(&[4, 3], 17)], &|x| x[0].matmul(&x[1]));
    check_grads("matmul mat-vec", &[randn(&[2, 4], 18), randn(&[4], 19)], &|x| x[0].matmul(&x[1]));
}

#[test]
fn views_and_joins() {
    let x = randn(&[2, 3, 4], 20);
    check_grads("reshape+transpose", std::slice::from_ref(&x), &|a| a[0].reshape([6, 4]).t().contiguous());
    check_grads("permute", std::slice::from_ref(&x), &|a| a[0].permute(&[2, 0, 1]));
    check_grads("narrow", std::slice::from_ref(&x), &|a| a[0].narrow(2, 1, 2));
    check_grads("unsqueeze/squeeze/expand", std::slice::from_ref(&x), &|a| {
        a[0].unsqueeze(1).expand([2, 5, 3, 4]).sum(1, false).unsqueeze(0).squeeze(0)
    });
    let y = randn(&[2, 1, 4], 21);
    check_grads("cat", &[x.clone(), y.clone()], &|a| Tensor::cat(&[&a[0], &a[1]], 1));
    check_grads("stack", &[y.clone(), y.clone()], &|a| Tensor::stack(&[&a[0], &a[1]], 0));
    check_grads("where", &[x.clone(), randn(&[2, 3, 4], 22)], &|a| a[0].gt(&a[1]).where_cond(&a[0], &a[1]));
}

#[test]
fn no_grad_detach_and_integer_inputs() {
    let cpu = Device::cpu();
    let x = randn(&[3], 23).requires_grad();
    let y = wgrad::no_grad(|| x.exp());
    assert!(!y.is_tracked(), "no_grad output must not be tracked");
    assert!(wgrad::is_grad_enabled(), "no_grad restores the mode");
    let z = (&x.detach() * &x).sum_all();
    let g = z.backward().unwrap().get(&x).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(g, x.to_vec::<f32>().unwrap(), "detached factor is a constant");
    let ids = Tensor::from_vec(vec![1u32, 2, 3], [3], &cpu);
    let w = (&x + &ids.cast(wgrad::DType::F32)).sum_all();
    let grads = w.backward().unwrap();
    assert!(grads.get(&ids).is_none(), "integer inputs get no gradient");
    assert_eq!(grads.get(&x).unwrap().to_vec::<f32>().unwrap(), vec![1.0; 3]);
}

#[test]
fn softmax_norm_and_losses() {
    use wgrad::functional as F;
    let x = randn(&[3, 5], 30);
    check_grads("softmax", std::slice::from_ref(&x), &|a| a[0].softmax(0));
    check_grads("log_softmax", std::slice::from_ref(&x), &|a| a[0].log_softmax(-1));
    let (w, b) = (randn(&[5], 31), randn(&[5], 32));
    check_grads("layer_norm", &[x.clone(), w, b], &|a| F::layer_norm(&a[0], &[5], Some(&a[1]), Some(&a[2]), 1e-5));
    let targets = Tensor::from_vec(vec![4u32, 0, 2], [3], &Device::cpu());
    check_grads("cross_entropy", std::slice::from_ref(&x), &|a| {
        let t = targets.to_device(a[0].device());
        F::cross_entropy(&a[0], &t, F::Reduction::None, 0.1)
    });
    let y = Tensor::rand_uniform([3, 5], 0.0, 1.0, 33, &Device::cpu());
    check_grads("bce_with_logits", std::slice::from_ref(&x), &|a| {
        F::binary_cross_entropy_with_logits(&a[0], &y.to_device(a[0].device()), F::Reduction::Sum)
    });
    let ids = Tensor::from_vec(vec![1u32, 3, 1, 0], [2, 2], &Device::cpu());
    check_grads("embedding", &[randn(&[4, 3], 34)], &|a| F::embedding(&ids.to_device(a[0].device()), &a[0], None));
    check_grads("gather", std::slice::from_ref(&x), &|a| {
        let ids = Tensor::from_vec(vec![0u32, 4, 4, 2, 1, 1], [3, 2], a[0].device());
        a[0].gather(1, &ids)
    });
}

#[test]
fn recurrent_layers() {
    use wgrad::functional::{self as F, RnnWeights};
    let mk = |g: usize, s: u64| RnnWeights {
        w_ih: randn(&[g * 3, 2], s),
        w_hh: randn(&[g * 3, 3], s + 1),
        b_ih: Some(randn(&[g * 3], s + 2)),
        b_hh: Some(randn(&[g * 3], s + 3)),
    };
    let x = randn(&[3, 2, 2], 40);
    let (l4, l3) = (mk(4, 41), mk(3, 45));
    check_grads("lstm", &[x.clone(), l4.w_hh.clone()], &|a| {
        let w = RnnWeights { w_hh: a[1].clone(), ..l4.clone() }.to(a[0].device());
        F::lstm(&a[0], None, &[w]).0
    });
    check_grads("gru", &[x.clone(), l3.w_hh.clone()], &|a| {
        let w = RnnWeights { w_hh: a[1].clone(), ..l3.clone() }.to(a[0].device());
        F::gru(&a[0], None, &[w]).0
    });
}

#[test]
fn batch_norm_training_grads() {
    use wgrad::functional as F;
    let x = randn(&[4, 3, 2], 50);
    check_grads("batch_norm", &[x, randn(&[3], 51), randn(&[3], 52)], &|a| {
        F::batch_norm(&a[0], None, Some(&a[1]), Some(&a[2]), true, 0.1, 1e-5).0
    });
}

#[test]
fn convolution_and_pooling() {
    use wgrad::functional::{self as F, Conv2d, Pool2d};
    let x = randn(&[2, 2, 5, 6], 60);
    let p = Conv2d { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2 };
    check_grads("conv2d", &[x.clone(), randn(&[4, 1, 3, 2], 61), randn(&[4], 62)], &|a| {
        F::conv2d(&a[0], &a[1], Some(&a[2]), p)
    });
    let pool = Pool2d { kernel: [3, 2], stride: [2, 2], padding: [1, 0], ceil_mode: true, dilation: [1, 1] };
    check_grads("max_pool2d", std::slice::from_ref(&x), &|a| F::max_pool2d(&a[0], pool));
    check_grads("avg_pool2d", std::slice::from_ref(&x), &|a| F::avg_pool2d(&a[0], pool, false));
    check_grads("adaptive_avg_pool2d", std::slice::from_ref(&x), &|a| F::adaptive_avg_pool2d(&a[0], [3, 4]));
}

#[test]
fn backward_of_a_value_nothing_tracked_flows_into_is_an_error() {
    let dev = Device::cpu();
    let x = Tensor::randn([3], 1, &dev);
    let err = x.mul_scalar(2.0).sum_all().backward().expect_err("nothing requires grad");
    assert!(err.to_string().contains("requires grad"), "{err}");
    let w = x.requires_grad();
    let err = wgrad::no_grad(|| w.mul_scalar(2.0).sum_all()).backward().expect_err("computed under no_grad");
    assert!(err.to_string().contains("no_grad"), "{err}");
    let grads = w.mul_scalar(2.0).sum_all().backward().unwrap();
    assert_eq!(grads.get(&w).unwrap().to_vec::<f32>().unwrap(), vec![2.0; 3]);
}

#[test]
fn a_tracked_tensor_moved_to_another_device_stays_differentiable() {
    let devices = common::devices();
    for from in &devices {
        for to in &devices {
            let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], [3], from).requires_grad();
            let moved = x.to_device(to);
            assert!(moved.is_tracked(), "{from:?} -> {to:?}");
            let grads = moved.mul(&moved).sum_all().backward().unwrap();
            let g = grads.get(&x).expect("the gradient reaches the source tensor");
            assert_eq!(g.device(), from, "the gradient lives where the tensor does");
            assert_eq!(g.to_vec::<f32>().unwrap(), vec![2.0, -4.0, 6.0], "{from:?} -> {to:?}");
        }
    }
}

#[test]
fn nll_l1_smooth_l1_and_pos_weighted_bce() {
    use wgrad::functional as F;
    let x = randn(&[4, 3], 50);
    let t = Tensor::from_vec(vec![2u32, 0, 1, 2], [4], &Device::cpu());
    check_grads("nll_loss", std::slice::from_ref(&x), &|a| {
        F::nll_loss(&a[0].log_softmax(1), &t.to_device(a[0].device()), F::Reduction::None)
    });
    let y = randn(&[4, 3], 51);
    check_grads("l1_loss", &[x.clone(), y.clone()], &|a| F::l1_loss(&a[0], &a[1], F::Reduction::None));
    check_grads("smooth_l1_loss", &[x.clone(), y.clone()], &|a| {
        F::smooth_l1_loss(&a[0], &a[1], F::Reduction::None, 0.7)
    });
    let probs =
        Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], [4, 3], &Device::cpu());
    let pos = Tensor::from_vec(vec![3.0f32, 0.5, 1.0], [3], &Device::cpu());
    check_grads("bce pos_weight", std::slice::from_ref(&x), &|a| {
        let dev = a[0].device();
        F::binary_cross_entropy_with_logits_pos_weight(
            &a[0],
            &probs.to_device(dev),
            &pos.to_device(dev),
            F::Reduction::None,
        )
    });
}

#[test]
fn class_weighted_cross_entropy() {
    use wgrad::functional as F;
    let x = randn(&[4, 3], 52);
    let t = Tensor::from_vec(vec![2u32, 0, 1, 2], [4], &Device::cpu());
    let w = Tensor::from_vec(vec![0.5f32, 2.0, 1.5], [3], &Device::cpu());
    check_grads("cross_entropy_weighted", std::slice::from_ref(&x), &|a| {
        let dev = a[0].device();
        F::cross_entropy_weighted(&a[0], &t.to_device(dev), &w.to_device(dev), F::Reduction::Mean).reshape([1])
    });
}

#[test]
fn conv1d_is_conv2d_on_a_height_one_image() {
    use wgrad::functional as F;
    let x = randn(&[2, 4, 9], 60);
    let w = randn(&[6, 2, 3], 61);
    let b = randn(&[6], 62);
    check_grads("conv1d", &[x.clone(), w.clone(), b.clone()], &|a| F::conv1d(&a[0], &a[1], Some(&a[2]), 2, 1, 2, 2));
    // Against the direct sum: out[n, o, i] = b[o] + sum_c,k x[n, g*2 + c, 2i - 1 + 2k] w[o, c, k].
    let y = F::conv1d(&x, &w, Some(&b), 2, 1, 2, 2);
    assert_eq!(y.dims(), &[2, 6, 4]);
    let (xv, wv, bv, yv) = (
        x.to_vec::<f32>().unwrap(),
        w.to_vec::<f32>().unwrap(),
        b.to_vec::<f32>().unwrap(),
        y.to_vec::<f32>().unwrap(),
    );
    for n in 0..2 {
        for o in 0..6 {
            for i in 0..4 {
                let mut want = bv[o];
                for c in 0..2 {
                    for k in 0..3 {
                        let pos = (2 * i + 2 * k) as isize - 1;
                        if (0..9).contains(&pos) {
                            want += xv[(n * 4 + (o / 3) * 2 + c) * 9 + pos as usize] * wv[(o * 2 + c) * 3 + k];
                        }
                    }
                }
                let got = yv[(n * 6 + o) * 4 + i];
                assert!((got - want).abs() < 1e-5, "conv1d[{n}, {o}, {i}]: {got} vs {want}");
            }
        }
    }
}
