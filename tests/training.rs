//! Whole training steps of the seed CNN (docs/BENCHMARKS.md W6): one Adam step on the
//! GPU equals the same step on the CPU (loss and every parameter), and a few steps on
//! random data lower the loss on both devices. Model construction draws from the
//! process-wide seed stream, so this binary builds models one test at a time.

mod common;
use std::sync::Mutex;
use wgrad::functional as F;
use wgrad::nn;
use wgrad::{Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

/// Trains `steps` Adam steps on a fixed random batch; returns the losses and the model.
fn train(dev: &Device, steps: usize) -> (Vec<f64>, nn::Sequential) {
    nn::manual_seed(42);
    let model = common::seed_cnn::seed_cnn(dev);
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: 1e-3, ..Default::default() });
    let x = Tensor::randn([16, 1, 28, 28], 1, dev);
    let y = Tensor::from_vec((0..16u32).map(|i| (i * 7) % 10).collect(), [16], dev);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let loss = F::cross_entropy(&model.forward(&x), &y, F::Reduction::Mean, 0.0);
        let grads = loss.backward().unwrap();
        opt.step(&grads).unwrap();
        losses.push(loss.to_scalar().unwrap());
    }
    (losses, model)
}

#[test]
fn one_gpu_training_step_equals_the_cpu_step() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    let (cpu_loss, cpu_model) = train(&cpu, 1);
    let (gpu_loss, gpu_model) = train(&gpu, 1);
    assert!((cpu_loss[0] - gpu_loss[0]).abs() < 1e-5, "loss {} vs {}", cpu_loss[0], gpu_loss[0]);
    let (a, b) = (cpu_model.named_parameters(), gpu_model.named_parameters());
    assert_eq!(a.len(), 10);
    for ((name, p), (_, q)) in a.iter().zip(&b) {
        // Adam's first step moves each weight by ~lr = 1e-3; the devices agree far closer.
        common::assert_close(&q.tensor().to_device(&cpu), &p.tensor(), 2e-5, 1e-4, name);
    }
}

#[test]
fn a_few_steps_on_random_data_lower_the_loss_on_every_device() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let (losses, _) = train(&dev, 6);
        eprintln!("{}: losses {:?}", dev.name(), losses.iter().map(|l| format!("{l:.4}")).collect::<Vec<_>>());
        assert!(losses.windows(2).all(|w| w[1] < w[0]) && losses[5] < losses[0] * 0.95, "{dev:?}: {losses:?}");
    }
}
