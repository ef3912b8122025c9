//! Training checkpoints: a run stopped after step k and resumed from its checkpoint (in a
//! fresh model and optimizer) continues exactly as the uninterrupted run; a checkpoint
//! that does not fit changes nothing.
//!
//! One binary of its own: the random stream is process-wide, so no other test may draw
//! from it while these run (they also run one at a time, under `SERIAL`).

mod common;
use common::devices;
use std::path::PathBuf;
use std::sync::Mutex;
use wgrad::nn::{self, LrScheduler};
use wgrad::{DType, Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

const STEPS: usize = 10;
const STOP_AT: usize = 4;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgrad-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A model whose steps draw from the random stream (dropout) and keep buffers (batch norm).
fn model(dev: &Device) -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Linear::new(6, 16, dev))
        .add(nn::BatchNorm1d::new(16, dev))
        .add(nn::ReLU)
        .add(nn::Dropout::new(0.3))
        .add(nn::Linear::new(16, 3, dev))
}

struct Run {
    model: nn::Sequential,
    opt: nn::AdamW,
    sched: nn::StepLR,
}

impl Run {
    fn new(dev: &Device, init_seed: u64) -> Run {
        wgrad::manual_seed(init_seed);
        let model = model(dev);
        let config = nn::AdamWConfig { lr: 1e-2, weight_decay: 0.05, amsgrad: true, ..Default::default() };
        let mut opt = nn::AdamW::new(model.parameters(), config);
        let sched = nn::StepLR::new(&mut opt, 3, 0.5);
        Run { model, opt, sched }
    }

    /// One training step on batch `step` (the data depend only on the step); the loss.
    fn step(&mut self, step: usize, dev: &Device) -> f64 {
        let x = Tensor::randn([8, 6], 1000 + step as u64, dev);
        let target: Vec<u32> = (0..8).map(|i| ((i * 7 + step) % 3) as u32).collect();
        let target = Tensor::from_vec(target, [8], dev);
        let loss = nn::CrossEntropyLoss::new().forward(&self.model.forward(&x), &target);
        let grads = loss.backward().unwrap();
        self.opt.step(&grads).unwrap();
        self.sched.step(&mut self.opt);
        loss.to_scalar().unwrap()
    }

    fn params(&self) -> Vec<Vec<f32>> {
        self.model.state_dict().iter().map(|(_, t)| t.cast(DType::F32).to_vec::<f32>().unwrap()).collect()
    }
}

#[test]
fn a_resumed_run_continues_exactly_as_the_uninterrupted_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in devices() {
        let mut whole = Run::new(&dev, 7);
        whole.model.train();
        let expected: Vec<f64> = (0..STEPS).map(|s| whole.step(s, &dev)).collect();

        let path = temp_path(&format!("run-{}.safetensors", dev.name().replace(' ', "_")));
        let mut first = Run::new(&dev, 7);
        first.model.train();
        let mut losses: Vec<f64> = (0..STOP_AT).map(|s| first.step(s, &dev)).collect();
        let mut ckpt = nn::TrainingCheckpoint::new(1, STOP_AT as u64);
        ckpt.extra.insert("best_loss".into(), format!("{}", losses[STOP_AT - 1]));
        ckpt.save(&path, &first.model, &first.opt).unwrap();
        // Draws after the save must not leak into the resumed run.
        first.step(STOP_AT, &dev);
        drop(first);

        // A fresh process would build everything again, from another seed even.
        let mut resumed = Run::new(&dev, 99);
        resumed.model.train();
        let back = nn::TrainingCheckpoint::load(&path, &resumed.model, &mut resumed.opt).unwrap();
        assert_eq!(back, ckpt, "progress and extra entries come back");
        resumed.sched.set_last_step(back.step as usize);
        assert_eq!(resumed.opt.lr(), resumed.sched.lr(), "lr restored and schedule resumed agree");
        losses.extend((STOP_AT..STEPS).map(|s| resumed.step(s, &dev)));

        assert_eq!(losses, expected, "{}: losses of the resumed run", dev.name());
        assert_eq!(resumed.params(), whole.params(), "{}: parameters after the last step", dev.name());
        // The run trains: every parameter tensor moved from its initial value.
        let initial = Run::new(&dev, 7).params();
        for (i, (end, start)) in whole.params().iter().zip(&initial).enumerate() {
            assert_ne!(end, start, "{}: state-dict entry {i} did not change", dev.name());
        }
        assert!(expected.iter().all(|l| l.is_finite()), "{}: {expected:?}", dev.name());
    }
}

#[test]
fn a_checkpoint_that_does_not_fit_changes_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::cpu();
    let mut run = Run::new(&dev, 3);
    run.model.train();
    run.step(0, &dev);
    let path = temp_path("mismatch.safetensors");
    nn::TrainingCheckpoint::new(0, 1).save(&path, &run.model, &run.opt).unwrap();

    // Same optimizer layout, different model: the optimizer state fits, the model does not.
    wgrad::manual_seed(5);
    let other = nn::Sequential::new().add(nn::Linear::new(6, 3, &dev));
    let mut opt = nn::AdamW::new(run.model.parameters(), nn::AdamWConfig { lr: 0.5, ..Default::default() });
    let before_opt = opt.state_dict().len();
    let before =
        other.state_dict().iter().map(|(_, t)| t.cast(DType::F32).to_vec::<f32>().unwrap()).collect::<Vec<_>>();
    let err = nn::TrainingCheckpoint::load(&path, &other, &mut opt).unwrap_err().to_string();
    assert!(err.contains("mismatch.safetensors") && err.contains("unexpected"), "{err}");
    let after = other.state_dict().iter().map(|(_, t)| t.cast(DType::F32).to_vec::<f32>().unwrap()).collect::<Vec<_>>();
    assert_eq!(after, before, "model untouched");
    assert_eq!((opt.state_dict().len(), opt.lr()), (before_opt, 0.5), "optimizer untouched");

    // A plain state dict is not a training checkpoint.
    let plain = temp_path("plain.safetensors");
    run.model.save(&plain).unwrap();
    let err = nn::TrainingCheckpoint::load(&plain, &run.model, &mut run.opt).unwrap_err().to_string();
    assert!(err.contains("not a wgrad training checkpoint"), "{err}");
}
