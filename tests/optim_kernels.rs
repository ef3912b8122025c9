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

#[test]
fn many_tensors_per_launch_match_one_at_a_time() {
    // More tensors than one launch takes (6 on Vulkan), of odd sizes, one empty, one
    // gradient a transposed view and one parameter a view with an offset: the multi-tensor
    // launches give what one-tensor steps give, on both devices.
    let cpu = Device::cpu();
    let shapes: [&[usize]; 9] = [&[5, 7], &[1], &[0], &[3, 4, 2], &[17], &[2, 2], &[64], &[9, 3], &[1, 1]];
    for dev in common::devices() {
        for amsgrad in [false, true] {
            let rows = if amsgrad { 3 } else { 2 };
            let mut params: Vec<Tensor> =
                shapes.iter().enumerate().map(|(i, s)| Tensor::randn(s.to_vec(), i as u64, &dev)).collect();
            // A parameter that is a view into a bigger buffer, at an offset.
            params[4] = Tensor::randn([40], 99, &dev).narrow(0, 3, 17);
            let mut states: Vec<Tensor> =
                params.iter().map(|p| Tensor::zeros([rows, p.numel()], DType::F32, &dev)).collect();
            let (mut singles, mut single_states) = (params.clone(), states.clone());
            for step in 1..=3u64 {
                let grads: Vec<Tensor> = params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| match i {
                        // [9, 3] as the transpose of a [3, 9] tensor.
                        7 => Tensor::randn([3, 9], 50 + step, &dev).t(),
                        _ => Tensor::randn(p.dims().to_vec(), 20 * step + i as u64, &dev),
                    })
                    .collect();
                let h = hyper(step, amsgrad, 0.01, 0.0);
                let items: Vec<_> = params.iter().zip(&grads).zip(&states).map(|((p, g), s)| (p, g, s)).collect();
                let updates = Tensor::adam_step_many(&items, &h);
                assert_eq!(updates.len(), params.len());
                (params, states) = updates.into_iter().map(|u| (u.param, u.state)).unzip();
                for i in 0..singles.len() {
                    let u = singles[i].adam_step(&grads[i], &single_states[i], &h);
                    (singles[i], single_states[i]) = (u.param, u.state);
                }
            }
            for i in 0..params.len() {
                assert_eq!(params[i].dims(), shapes[i], "shape of parameter {i}");
                let what = format!("parameter {i} amsgrad={amsgrad} on {dev:?}");
                common::assert_close(&params[i].to_device(&cpu), &singles[i].to_device(&cpu), 1e-7, 1e-6, &what);
                common::assert_close(&states[i].to_device(&cpu), &single_states[i].to_device(&cpu), 1e-7, 1e-6, &what);
            }
        }
    }
}
