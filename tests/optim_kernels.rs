//! The fused Adam kernel: hand-computed first step, and GPU against CPU over several
//! steps with every option.

mod common;
use wgrad::ops::AdamStep;
use wgrad::{DType, Device, Tensor};

fn hyper(step: u64, amsgrad: bool, wd: f32, decoupled: f32) -> AdamStep {
    AdamStep {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: wd,
        decoupled_weight_decay: decoupled,
        step,
        amsgrad,
    }
}

#[test]
fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
    for dev in common::devices() {
        let p = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], [3], &dev);
        let g = Tensor::from_vec(vec![0.5f32, -4.0, 1e-3], [3], &dev);
        let state = Tensor::zeros([2, 3], DType::F32, &dev);
        let u = p.adam_step(&g, &state, &hyper(1, false, 0.0, 0.0));
        let v = u.param.to_vec::<f32>().unwrap();
        for (a, e) in v.iter().zip([0.9f32, -1.9, 2.9]) {
            assert!((a - e).abs() < 1e-5, "{v:?} on {dev:?}");
        }
        let s = u.state.to_vec::<f32>().unwrap();
        assert!((s[0] - 0.05).abs() < 1e-7 && (s[3] - 0.00025).abs() < 1e-8, "m = 0.1 g, v = 0.001 g^2: {s:?}");
    }
}

#[test]
fn gpu_steps_match_cpu_steps_with_every_option() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    for (amsgrad, wd, decoupled) in [(false, 0.0, 0.0), (true, 0.01, 0.0), (false, 0.0, 0.01)] {
        let rows = if amsgrad { 3 } else { 2 };
        let mut runs = Vec::new();
        for dev in [&cpu, &gpu] {
            let mut p = Tensor::randn([5, 7], 1, dev);
            let mut state = Tensor::zeros([rows, 35], DType::F32, dev);
            for step in 1..=4 {
                let g = Tensor::randn([5, 7], 10 + step, dev);
                let u = p.adam_step(&g, &state, &hyper(step, amsgrad, wd, decoupled));
                (p, state) = (u.param, u.state);
            }
            runs.push((p.to_device(&cpu), state.to_device(&cpu)));
        }
        common::assert_close(&runs[1].0, &runs[0].0, 1e-6, 1e-5, "param");
        common::assert_close(&runs[1].1, &runs[0].1, 1e-6, 1e-5, "state");
    }
}
