//! Optimizers against PyTorch's update formulas computed here in f64, GPU against CPU,
//! state save/load, learning-rate schedules and gradient clipping.

mod common;
use common::{assert_close, devices, values};
use std::collections::HashMap;
use wgrad::nn::{self, LrScheduler, Optimizer, Parameter};
use wgrad::{DType, Device, Gradients, Tensor};

const P0: [f32; 3] = [1.0, -2.0, 0.5];
/// One gradient per step.
const GRADS: [[f32; 3]; 3] = [[0.5, -1.0, 0.25], [0.2, 0.4, -0.1], [-0.3, 0.1, 0.05]];

fn param(dev: &Device) -> Parameter {
    Parameter::new(Tensor::from_vec(P0.to_vec(), [3], dev))
}

/// Gradients holding `g` for the current value of `p`.
fn grads_for(p: &Parameter, g: &[f32]) -> Gradients {
    let mut grads = Gradients::default();
    let t = p.tensor();
    grads.insert(&t, Tensor::from_vec(g.to_vec(), t.shape().clone(), t.device()));
    grads
}

/// Runs `steps` steps of `opt` on one parameter with GRADS; returns its values.
fn run(p: &Parameter, opt: &mut dyn Optimizer, steps: usize) -> Vec<f64> {
    for g in &GRADS[..steps] {
        opt.step(&grads_for(p, g)).unwrap();
    }
    values(&p.tensor())
}

/// torch.optim.SGD's update, per element.
fn sgd_reference(c: nn::SgdConfig, steps: usize) -> Vec<f64> {
    (0..3)
        .map(|i| {
            let (mut p, mut buf) = (P0[i] as f64, None::<f64>);
            for g in &GRADS[..steps] {
                let mut d = g[i] as f64 + c.weight_decay * p;
                if c.momentum != 0.0 {
                    let b = match buf {
                        None => d,
                        Some(b) => c.momentum * b + (1.0 - c.dampening) * d,
                    };
                    buf = Some(b);
                    d = if c.nesterov { d + c.momentum * b } else { b };
                }
                p -= c.lr * d;
            }
            p
        })
        .collect()
}

/// torch.optim.Adam / AdamW's update, per element.
fn adam_reference(c: nn::AdamConfig, decoupled: bool, steps: usize) -> Vec<f64> {
    let (b1, b2) = c.betas;
    (0..3)
        .map(|i| {
            let (mut p, mut m, mut v, mut vmax) = (P0[i] as f64, 0.0, 0.0, 0.0f64);
            for (t, g) in GRADS[..steps].iter().enumerate() {
                let t = t as i32 + 1;
                let mut g = g[i] as f64;
                if decoupled {
                    p *= 1.0 - c.lr * c.weight_decay;
                } else {
                    g += c.weight_decay * p;
                }
                m = b1 * m + (1.0 - b1) * g;
                v = b2 * v + (1.0 - b2) * g * g;
                vmax = vmax.max(v);
                let used = if c.amsgrad { vmax } else { v };
                let denom = used.sqrt() / (1.0 - b2.powi(t)).sqrt() + c.eps;
                p -= c.lr / (1.0 - b1.powi(t)) * m / denom;
            }
            p
        })
        .collect()
}

fn assert_values(got: &[f64], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: element {i} is {g}, expected {w} ({got:?})");
    }
}

#[test]
fn sgd_matches_pytorch_formulas() {
    let cpu = Device::cpu();
    // One plain step by hand: p - lr g.
    let p = param(&cpu);
    let mut sgd = nn::Sgd::new(vec![p.clone()], nn::SgdConfig { lr: 0.1, ..Default::default() });
    assert_values(&run(&p, &mut sgd, 1), &[0.95, -1.9, 0.475], 1e-7, "plain SGD");
    let configs = [
        nn::SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() },
        nn::SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.3, weight_decay: 0.01, ..Default::default() },
        nn::SgdConfig { lr: 0.05, momentum: 0.8, nesterov: true, weight_decay: 0.1, ..Default::default() },
    ];
    for dev in devices() {
        for c in configs {
            let p = param(&dev);
            let mut opt = nn::Sgd::new(vec![p.clone()], c);
            assert_values(&run(&p, &mut opt, 3), &sgd_reference(c, 3), 1e-6, &format!("{c:?} on {dev:?}"));
        }
    }
    // Momentum by hand: buf1 = g1, buf2 = 0.9 g1 + g2; p2 = p0 - lr (g1 + buf2).
    let p = param(&cpu);
    let mut opt = nn::Sgd::new(vec![p.clone()], configs[0]);
    let want0 = 1.0 - 0.1 * (0.5 + (0.9 * 0.5 + 0.2));
    assert!((run(&p, &mut opt, 2)[0] - want0).abs() < 1e-6);
}

#[test]
fn adam_adamw_and_amsgrad_match_pytorch_formulas() {
    let cpu = Device::cpu();
    // Step 1 with a tiny eps moves each weight by lr against the gradient's sign.
    let p = param(&cpu);
    let c = nn::AdamConfig { lr: 0.1, eps: 1e-12, ..Default::default() };
    let mut adam = nn::Adam::new(vec![p.clone()], c);
    assert_values(&run(&p, &mut adam, 1), &[0.9, -1.9, 0.4], 1e-6, "Adam step 1");
    // AdamW step 1: p (1 - lr wd) - lr sign(g).
    let p = param(&cpu);
    let cw = nn::AdamWConfig { lr: 0.1, eps: 1e-12, weight_decay: 0.5, ..Default::default() };
    let mut adamw = nn::AdamW::new(vec![p.clone()], cw);
    assert_values(&run(&p, &mut adamw, 1), &[0.85, -1.8, 0.375], 1e-6, "AdamW step 1");

    for dev in devices() {
        for fused in [true, false] {
            for (wd, amsgrad) in [(0.0, false), (0.1, false), (0.0, true), (0.05, true)] {
                let c = nn::AdamConfig { lr: 0.01, weight_decay: wd, amsgrad, ..Default::default() };
                let what = format!("Adam wd {wd} amsgrad {amsgrad} fused {fused} on {dev:?}");
                let p = param(&dev);
                let mut opt = nn::Adam::new(vec![p.clone()], c).fused(fused);
                assert_values(&run(&p, &mut opt, 3), &adam_reference(c, false, 3), 1e-5, &what);

                let cw = nn::AdamWConfig { lr: 0.01, weight_decay: wd + 0.01, amsgrad, ..Default::default() };
                let p = param(&dev);
                let mut opt = nn::AdamW::new(vec![p.clone()], cw).fused(fused);
                let c = nn::AdamConfig { weight_decay: wd + 0.01, ..c };
                assert_values(&run(&p, &mut opt, 3), &adam_reference(c, true, 3), 1e-5, &format!("W {what}"));
            }
        }
    }
}

#[test]
fn gpu_optimizer_steps_equal_cpu_steps() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    type Make = fn(Vec<Parameter>) -> Box<dyn Optimizer>;
    let makers: [(&str, Make); 3] = [
        ("sgd", |p| {
            let c = nn::SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01, ..Default::default() };
            Box::new(nn::Sgd::new(p, c))
        }),
        ("adam", |p| Box::new(nn::Adam::new(p, nn::AdamConfig { lr: 0.01, amsgrad: true, ..Default::default() }))),
        ("adamw", |p| Box::new(nn::AdamW::new(p, nn::AdamWConfig { lr: 0.01, ..Default::default() }))),
    ];
    for (name, make) in makers {
        let mut results = Vec::new();
        for dev in [&cpu, &gpu] {
            let p = Parameter::new(Tensor::randn([7, 5], 1, dev));
            let mut opt = make(vec![p.clone()]);
            for s in 0..3 {
                let mut grads = Gradients::default();
                grads.insert(&p.tensor(), Tensor::randn([7, 5], 10 + s, dev));
                opt.step(&grads).unwrap();
            }
            assert_eq!(p.tensor().device(), dev, "{name}: the parameter stays on its device");
            results.push(p.tensor().to_device(&cpu));
        }
        assert_close(&results[1], &results[0], 1e-6, 1e-5, name);
    }
}

#[test]
fn parameters_without_gradients_are_skipped_and_stale_gradients_ignored() {
    for dev in devices() {
        let (a, b) = (param(&dev), param(&dev));
        let b_before = b.tensor();
        let mut opt = nn::Adam::new(vec![a.clone(), b.clone()], nn::AdamConfig { lr: 0.1, ..Default::default() });
        let grads = grads_for(&a, &GRADS[0]);
        opt.step(&grads).unwrap();
        assert_eq!(b.tensor().id(), b_before.id(), "b had no gradient: untouched");
        let names: Vec<String> = opt.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq"], "state only for a");
        assert!(a.tensor().is_tracked(), "the new value is a tracked leaf");
        let after_one = values(&a.tensor());
        opt.step(&grads).unwrap();
        assert_eq!(values(&a.tensor()), after_one, "a gradient applies only to the value it was computed for");
    }
}

#[test]
fn f16_parameters_use_the_composed_update() {
    let cpu = Device::cpu();
    let p = Parameter::new(Tensor::from_vec(P0.to_vec(), [3], &cpu).cast(DType::F16));
    let c = nn::AdamConfig { lr: 0.01, ..Default::default() };
    let mut opt = nn::Adam::new(vec![p.clone()], c);
    for g in &GRADS {
        let mut grads = Gradients::default();
        grads.insert(&p.tensor(), Tensor::from_vec(g.to_vec(), [3], &cpu).cast(DType::F16));
        opt.step(&grads).unwrap();
    }
    assert_eq!(p.tensor().dtype(), DType::F16);
    assert_values(&values(&p.tensor()), &adam_reference(c, false, 3), 2e-3, "f16 Adam");
}

#[test]
fn optimizer_state_round_trips_and_bad_state_is_rejected() {
    let dir = std::env::temp_dir().join(format!("wgrad-optim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for dev in devices() {
        let c = nn::AdamConfig { lr: 0.01, amsgrad: true, ..Default::default() };
        let p = param(&dev);
        let mut opt = nn::Adam::new(vec![p.clone()], c);
        run(&p, &mut opt, 2);
        let path = dir.join("adam.safetensors");
        opt.save(&path).unwrap();
        // A fresh optimizer over a copy of the parameter, restored, takes the same step.
        let q = Parameter::new(p.tensor());
        let mut restored = nn::Adam::new(vec![q.clone()], c);
        restored.load(&path).unwrap();
        opt.step(&grads_for(&p, &GRADS[2])).unwrap();
        restored.step(&grads_for(&q, &GRADS[2])).unwrap();
        assert_close(&q.tensor(), &p.tensor(), 0.0, 0.0, "restored Adam continues identically");
        assert_values(&values(&p.tensor()), &adam_reference(c, false, 3), 1e-5, "three steps");

        let mut sgd = nn::Sgd::new(vec![p.clone()], nn::SgdConfig { momentum: 0.9, ..Default::default() });
        sgd.step(&grads_for(&p, &GRADS[0])).unwrap();
        let state: HashMap<String, Tensor> = sgd.state_dict().into_iter().collect();
        assert_eq!(state.len(), 2);
        let mut other = nn::Sgd::new(vec![p.clone()], nn::SgdConfig { momentum: 0.9, ..Default::default() });
        other.load_state_dict(&state).unwrap();
        assert_eq!(other.state_dict().len(), 2);

        let mut bad = state.clone();
        bad.insert("state.0.momentum_buffer".into(), Tensor::zeros([4], DType::F32, &dev));
        bad.insert("state.7.step".into(), Tensor::zeros([], DType::I32, &dev));
        let err = other.load_state_dict(&bad).unwrap_err().to_string();
        assert!(err.contains("state.0.momentum_buffer") && err.contains("state.7.step"), "{err}");
        let mut partial = HashMap::new();
        partial.insert("state.0.step".to_string(), Tensor::ones([], DType::I32, &dev));
        let err = opt.load_state_dict(&partial).unwrap_err().to_string();
        assert!(err.contains("state.0.exp_avg") && err.contains("state.0.max_exp_avg_sq"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn schedules_follow_pytorch() {
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    let sgd = |lr: f64| nn::Sgd::new(vec![param(&Device::cpu())], nn::SgdConfig { lr, ..Default::default() });
    let s = nn::StepLR::new(&mut sgd(0.1), 3, 0.5);
    for (t, want) in [(0, 0.1), (2, 0.1), (3, 0.05), (6, 0.025), (8, 0.025)] {
        close(s.lr_at(t), want);
    }
    let c = nn::CosineAnnealingLR::new(&mut sgd(1.0), 10, 0.1);
    close(c.lr_at(0), 1.0);
    close(c.lr_at(5), 0.55);
    close(c.lr_at(10), 0.1);
    // The constructor puts the optimizer at step 0's rate at once, as PyTorch's does:
    // without it the first step ran at the full rate.
    let mut warm = sgd(0.4);
    let w = nn::LinearLR::warmup(&mut warm, 4);
    close(warm.lr(), 0.1);
    // Factors 1/4 -> 1 linearly over 4 steps (torch's LinearLR(start_factor=0.25, total_iters=4)).
    for (t, want) in [(0, 0.1), (1, 0.175), (2, 0.25), (4, 0.4), (100, 0.4)] {
        close(w.lr_at(t), want);
    }
    let mut cycled = sgd(123.0);
    let one = nn::OneCycleLR::new(&mut cycled, 1.0, 10);
    close(cycled.lr(), 0.04);
    close(one.lr_at(0), 0.04);
    close(one.lr_at(2), 1.0); // the peak is at pct_start * total - 1
    close(one.lr_at(1), 0.04 + (1.0 - 0.04) / 2.0);
    close(one.lr_at(9), 0.04 / 1e4);
    assert!(one.lr_at(5) < 1.0 && one.lr_at(5) > one.lr_at(6));
    // step() advances and sets the optimizer's rate.
    let mut opt = sgd(0.1);
    let mut s = nn::StepLR::new(&mut opt, 2, 0.1);
    s.step(&mut opt);
    close(opt.lr(), 0.1);
    s.step(&mut opt);
    close(opt.lr(), 0.01);
    assert_eq!(s.last_step(), 2);
    close(s.lr(), 0.01);
}

#[test]
fn clip_grad_norm_scales_to_the_global_norm() {
    for dev in devices() {
        let (a, b) = (
            Parameter::new(Tensor::zeros([2], DType::F32, &dev)),
            Parameter::new(Tensor::zeros([1], DType::F32, &dev)),
        );
        let unused = Parameter::new(Tensor::zeros([1], DType::F32, &dev));
        let make = || {
            let mut g = Gradients::default();
            g.insert(&a.tensor(), Tensor::from_vec(vec![3.0f32, 0.0], [2], &dev));
            g.insert(&b.tensor(), Tensor::from_vec(vec![4.0f32], [1], &dev));
            g
        };
        let params = [a.clone(), b.clone(), unused.clone()];
        let mut grads = make();
        let norm = nn::clip_grad_norm(&mut grads, &params, 1.0).unwrap();
        assert!((norm - 5.0).abs() < 1e-6);
        let ga = values(&grads.get(&a.tensor()).unwrap());
        let gb = values(&grads.get(&b.tensor()).unwrap());
        assert!((ga[0] - 0.6).abs() < 1e-6 && ga[1] == 0.0 && (gb[0] - 0.8).abs() < 1e-6, "{ga:?} {gb:?}");
        let mut grads = make();
        assert!((nn::clip_grad_norm(&mut grads, &params, 10.0).unwrap() - 5.0).abs() < 1e-6);
        assert_eq!(values(&grads.get(&b.tensor()).unwrap()), [4.0], "below max_norm: unchanged");
        nn::clip_grad_value(&mut grads, &params, 3.5);
        assert_eq!(values(&grads.get(&b.tensor()).unwrap()), [3.5]);
    }
}

#[test]
fn lambda_sequential_and_plateau_schedules_follow_pytorch() {
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    let sgd = |lr: f64| nn::Sgd::new(vec![param(&Device::cpu())], nn::SgdConfig { lr, ..Default::default() });
    let mut opt = sgd(0.5);
    let lambda = nn::LambdaLR::new(&mut opt, |step| 0.9f64.powi(step as i32));
    close(opt.lr(), 0.5);
    close(lambda.lr_at(2), 0.5 * 0.81);

    // torch: SequentialLR(opt, [LinearLR(start_factor=0.25, total_iters=4), StepLR(step_size=2, gamma=0.5)], [4]).
    let mut opt = sgd(0.4);
    let warm: Box<dyn nn::LrScheduler + Send + Sync> = Box::new(nn::LinearLR::warmup(&mut opt, 4));
    let decay: Box<dyn nn::LrScheduler + Send + Sync> = Box::new(nn::StepLR::new(&mut opt, 2, 0.5));
    let mut seq = nn::SequentialLR::new(&mut opt, vec![warm, decay], vec![4]);
    close(opt.lr(), 0.1);
    let rates: Vec<f64> = (0..8).map(|_| seq.step(&mut opt)).collect();
    for (got, want) in rates.iter().zip([0.175, 0.25, 0.325, 0.4, 0.4, 0.2, 0.2, 0.1]) {
        close(*got, want);
    }

    let mut opt = sgd(1.0);
    let mut plateau = nn::ReduceLROnPlateau::new();
    plateau.patience = 2;
    for (metric, want) in [(1.0, 1.0), (0.5, 1.0), (0.6, 1.0), (0.5, 1.0), (0.7, 0.1), (0.4, 0.1)] {
        close(plateau.step(metric, &mut opt), want);
    }
}

#[test]
fn accumulated_micro_batches_give_the_full_batch_gradient() {
    for dev in devices() {
        let w = Tensor::randn([3, 2], 1, &dev).requires_grad();
        let x = Tensor::randn([4, 3], 2, &dev);
        let full = x.matmul(&w).sum_all().backward().unwrap();
        let mut acc = Gradients::default();
        for half in 0..2 {
            acc.accumulate(x.narrow(0, 2 * half, 2).matmul(&w).sum_all().backward().unwrap());
        }
        assert_eq!(acc.iter().count(), 1);
        let want = full.get(&w).unwrap();
        assert_close(&acc.get(&w).unwrap(), &want, 1e-5, 1e-5, "accumulated gradient");
        acc.scale(0.5);
        assert_close(&acc.get(&w).unwrap(), &want.mul_scalar(0.5), 1e-5, 1e-5, "scaled gradient");
    }
}

#[test]
fn parameter_groups_use_their_own_rate_and_decay_and_follow_schedules() {
    for dev in devices() {
        for fused in [true, false] {
            // Two parameters in two groups, stepped together, equal each stepped alone by an
            // optimizer with its group's hyper-parameters; a schedule scales both rates.
            let (a, b) = (param(&dev), param(&dev));
            let base = nn::AdamWConfig { lr: 0.1, weight_decay: 0.05, ..Default::default() };
            let groups = vec![
                nn::ParamGroup::new(vec![a.clone()]),
                nn::ParamGroup::new(vec![b.clone()]).lr(0.4).weight_decay(0.0),
            ];
            let mut opt = nn::AdamW::with_groups(groups, base).fused(fused);
            let mut schedule = nn::StepLR::new(&mut opt, 1, 0.5);
            let (alone_a, alone_b) = (param(&dev), param(&dev));
            let mut opt_a = nn::AdamW::new(vec![alone_a.clone()], base).fused(fused);
            let mut opt_b =
                nn::AdamW::new(vec![alone_b.clone()], nn::AdamWConfig { lr: 0.4, weight_decay: 0.0, ..base })
                    .fused(fused);
            for (k, g) in GRADS.iter().enumerate() {
                let mut grads = grads_for(&a, g);
                grads.accumulate(grads_for(&b, &g.map(|x| -2.0 * x)));
                opt.step(&grads).unwrap();
                schedule.step(&mut opt);
                opt_a.step(&grads_for(&alone_a, g)).unwrap();
                opt_b.step(&grads_for(&alone_b, &g.map(|x| -2.0 * x))).unwrap();
                let factor = 0.5f64.powi(k as i32 + 1);
                opt_a.set_lr(0.1 * factor);
                opt_b.set_lr(0.4 * factor);
                assert!((opt.group_lr(1) - 0.4 * factor).abs() < 1e-12);
            }
            let what = format!("groups on {} (fused {fused})", dev.name());
            assert_values(&values(&a.tensor()), &values(&alone_a.tensor()), 1e-6, &what);
            assert_values(&values(&b.tensor()), &values(&alone_b.tensor()), 1e-6, &what);
            assert_ne!(values(&a.tensor()), values(&b.tensor()));
        }
    }
}
