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

#[test]
fn tensors_larger_than_one_binding_work_and_beyond_the_buffer_limit_fail_clearly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(gpu) = common::gpu() else { return };
    let Device::Gpu(runtime) = &gpu else { unreachable!() };
    // 200 MiB: above the 128 MiB max_storage_buffer_binding_size of lavapipe and many GPUs.
    let (rows, cols) = (52_429usize, 1000usize);
    let n = rows * cols;
    if n * 4 <= runtime.max_binding_bytes() as usize {
        eprintln!(
            "note: this adapter binds {} bytes at once; the 200 MiB tensor fits one binding",
            runtime.max_binding_bytes()
        );
    }
    let values: Vec<f32> = (0..n).map(|i| (i % cols) as f32 * 0.001).collect();
    let x = Tensor::from_vec(values, [rows, cols], &gpu);
    let ends = |t: &Tensor| {
        let flat = t.reshape([t.numel()]);
        let k = t.numel();
        (flat.narrow(0, 0, 3).to_vec::<f32>().unwrap(), flat.narrow(0, k - 3, 3).to_vec::<f32>().unwrap())
    };
    // Elementwise: split into launches over windows of the buffer.
    let (head, tail) = ends(&(&x * 2.0 + 1.0));
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    assert!(close(&head, &[1.0, 1.002, 1.004]) && close(&tail, &[2.994, 2.996, 2.998]), "{head:?} {tail:?}");
    // Reductions: over everything, and over rows.
    let expected_sum = rows as f64 * (0..cols).map(|c| c as f64 * 0.001).sum::<f64>();
    let sum = x.sum_all().to_scalar().unwrap();
    assert!((sum - expected_sum).abs() < 1e-4 * expected_sum, "{sum} vs {expected_sum}");
    assert!((x.max_all().to_scalar().unwrap() - 0.999).abs() < 1e-6);
    let (head, tail) = ends(&x.mean(1, false));
    assert!(head.iter().chain(&tail).all(|m| (m - 0.4995).abs() < 1e-4), "{head:?} {tail:?}");
    // Matmul with a huge left operand.
    let w = Tensor::ones([cols, 4], wgrad::DType::F32, &gpu);
    let (head, tail) = ends(&x.matmul(&w));
    assert!(head.iter().chain(&tail).all(|s| (s - 499.5).abs() < 1e-2), "{head:?} {tail:?}");
    drop(x);
    // Beyond max_buffer_size: a clear error, then the device keeps working.
    let huge = runtime.ctx.limits.max_buffer_size as usize / 4 + 1024;
    let err = Tensor::zeros([huge], wgrad::DType::F32, &gpu).sum_all().to_scalar().unwrap_err().to_string();
    assert!(err.contains("bytes") && err.contains("at most"), "{err}");
    assert_eq!(Tensor::ones([2], wgrad::DType::F32, &gpu).to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
}

#[test]
fn long_reductions_are_split_and_exact() {
    // lavapipe drops partial results when one workgroup's threads loop ~21k times before a
    // barrier (found at 5,592,405 elements); long runs are reduced in parts.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(gpu) = common::gpu() else { return };
    for n in [5_592_405usize, 6_000_001] {
        let x = Tensor::ones([n], wgrad::DType::F32, &gpu);
        assert_eq!(x.sum_all().to_scalar().unwrap(), n as f64);
        assert_eq!(x.reshape([1, n]).mean(1, false).to_vec::<f32>().unwrap(), vec![1.0]);
        assert_eq!(x.max_all().to_scalar().unwrap(), 1.0);
    }
}
