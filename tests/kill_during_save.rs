//! Checkpoints survive a killed process: a child process saves large training checkpoints
//! over and over, the test kills it (SIGKILL) at random moments, and after every kill the
//! checkpoint file loads completely and consistently (every tensor and the step from one
//! and the same save), never half of one save and half of another.
//!
//! Unix only: it is about SIGKILL, and the directory fsync that makes the rename durable
//! is Unix-only too (src/io.rs).
#![cfg(unix)]

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use wgrad::nn;
use wgrad::{Device, Tensor};

/// Tells the test binary, run again as a child, to be the writer.
const CHILD_ENV: &str = "WGRAD_KILL_TEST_CHECKPOINT";
const KILLS: usize = 12;

/// 2048 x 2048 weights and SGD momentum: each checkpoint is ~32 MiB.
fn model(dev: &Device) -> (nn::Linear, nn::Sgd) {
    wgrad::manual_seed(3);
    let model = nn::Linear::new(2048, 2048, dev);
    let opt = nn::Sgd::new(model.parameters(), nn::SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() });
    (model, opt)
}

/// Makes every parameter and momentum entry hold `value`, as after a real step.
fn fill(model: &nn::Linear, opt: &mut nn::Sgd, value: f32, dev: &Device) {
    for p in model.parameters() {
        p.set(Tensor::full(p.tensor().dims(), value as f64, wgrad::DType::F32, dev));
    }
    // One step creates the optimizer's state; then its buffers are filled too.
    let x = Tensor::zeros([1, 2048], wgrad::DType::F32, dev);
    let grads = model.forward(&x).sum_all().backward().unwrap();
    opt.step(&grads).unwrap();
    let state = opt
        .state_dict()
        .into_iter()
        .map(|(name, t)| match name.ends_with("momentum_buffer") {
            true => (name, Tensor::full(t.dims(), value as f64, wgrad::DType::F32, dev)),
            false => (name, t),
        })
        .collect();
    opt.load_state_dict(&state).unwrap();
    for p in model.parameters() {
        p.set(Tensor::full(p.tensor().dims(), value as f64, wgrad::DType::F32, dev));
    }
}

/// The writer: saves checkpoints at steps `first`, `first + 1`, ... until killed.
fn write_forever(path: &Path, first: u64) {
    let dev = Device::cpu();
    let (model, mut opt) = model(&dev);
    for step in first.. {
        fill(&model, &mut opt, step as f32, &dev);
        // The parent times the save from these lines, to kill the next one mid-way.
        println!("saving {step}");
        nn::TrainingCheckpoint::new(0, step).save(path, &model, &opt).unwrap();
        println!("saved {step}");
    }
}

/// Loads the checkpoint and checks it is one whole save: the step and every value agree.
fn check_whole(path: &Path) -> u64 {
    let dev = Device::cpu();
    let (model, mut opt) = model(&dev);
    let ckpt = nn::TrainingCheckpoint::load(path, &model, &mut opt)
        .unwrap_or_else(|e| panic!("the checkpoint must load after a kill: {e}"));
    let want = ckpt.step as f32;
    for (name, t) in model.state_dict().iter().chain(opt.state_dict().iter()) {
        if t.dtype() != wgrad::DType::F32 {
            continue; // the optimizer's step counters
        }
        let v = t.to_vec::<f32>().unwrap();
        assert!(v.iter().all(|&x| x == want), "{name} holds values of another save than step {}", ckpt.step);
    }
    ckpt.step
}

#[test]
fn sigkill_while_saving_never_corrupts_the_checkpoint() {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        let (first, path) = job.split_once(':').unwrap();
        write_forever(Path::new(path), first.parse().unwrap());
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("wgrad-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("train.safetensors");
    let mut rng = common::Rng::new(11);
    let mut last_step = 0;
    let mut completed_after_first = 0;
    for kill in 0..KILLS {
        // Child `kill` saves steps 1000 * kill + 1, + 2, ...
        let first = 1000 * kill as u64 + 1;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sigkill_while_saving_never_corrupts_the_checkpoint", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{first}:{}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let the child finish its first save (timing it), wait until it starts the
        // second, then kill it at a random moment within the time a save takes.
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut wait_for = |what: String| {
            let mut said = String::new();
            while !said.ends_with(&format!("{what}\n")) {
                let n = std::io::BufRead::read_line(&mut out, &mut said).unwrap();
                assert!(n > 0, "the writer exited before {what:?}: {said:?}");
            }
            Instant::now()
        };
        let started = wait_for(format!("saving {first}"));
        let save_time = wait_for(format!("saved {first}")) - started;
        wait_for(format!("saving {}", first + 1));
        let delay = save_time.mul_f64(rng.range(0, 1000) as f64 / 1000.0);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let step = check_whole(&path);
        assert!(step >= first, "kill {kill}: the checkpoint is one this child completed (step {step})");
        completed_after_first += (step > first) as usize; // killed after the save ended
        last_step = step;
        eprintln!("kill {kill} {delay:?} into a {save_time:?} save: checkpoint at step {step}");
    }
    // Stale temporary files of killed writers are never taken for the checkpoint.
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.contains(&"train.safetensors".to_string()), "{names:?}");
    assert!(last_step >= 1);
    eprintln!("{completed_after_first} of {KILLS} kills came after the second save had completed");
    let _ = std::fs::remove_dir_all(&dir);
}
