//! Reliability: anomaly detection, thread safety, and device-level limits.
//! Anomaly mode is process-wide and reports through the device error slot, so this
//! binary runs its tests one at a time.

mod common;
use std::sync::Mutex;
use wgrad::{Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn anomaly_mode_names_the_first_op_producing_nan() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let x = Tensor::from_vec(vec![1.0f32, -1.0, 4.0], [3], &dev);
        wgrad::detect_anomaly(true);
        let y = x.mul_scalar(2.0).sqrt().add_scalar(1.0).exp();
        wgrad::detect_anomaly(false);
        let err = y.to_vec::<f32>().unwrap_err().to_string();
        assert!(err.contains("sqrt") && err.contains("NaN") && err.contains("[3]"), "{dev:?}: {err}");
        // Off: NaN flows silently, as in PyTorch.
        assert!(x.sqrt().to_vec::<f32>().unwrap()[1].is_nan());
    }
}

#[test]
fn tensors_and_devices_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tensor>();
    assert_send_sync::<Device>();
    assert_send_sync::<wgrad::Gradients>();
}

#[test]
fn two_threads_on_one_device_match_sequential_runs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        // A few steps of least squares by gradient descent, from a seed.
        let train = |seed: u64, dev: Device| -> Vec<f32> {
            let x = Tensor::randn([32, 8], seed, &dev);
            let target = Tensor::randn([32, 1], seed + 1, &dev);
            let mut w = Tensor::randn([8, 1], seed + 2, &dev);
            for _ in 0..20 {
                let wt = w.requires_grad();
                let d = x.matmul(&wt).sub(&target);
                let loss = d.mul(&d).mean_all();
                let g = loss.backward().unwrap().get(&wt).unwrap();
                w = wgrad::no_grad(|| wt.sub(&g.mul_scalar(0.1))).detach();
            }
            w.to_vec::<f32>().unwrap()
        };
        let sequential = (train(1, dev.clone()), train(2, dev.clone()));
        let (d1, d2) = (dev.clone(), dev.clone());
        let t1 = std::thread::spawn(move || train(1, d1));
        let t2 = std::thread::spawn(move || train(2, d2));
        let parallel = (t1.join().unwrap(), t2.join().unwrap());
        assert_eq!(parallel, sequential, "{dev:?}");
    }
}
