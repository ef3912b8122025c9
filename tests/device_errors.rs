//! Errors found on a device (bad ids in data) surface as `Err` from the next readback
//! or sync, naming the value, on both devices; the device works normally afterwards.
//! A device's pending error is shared by everything using that device, so this binary
//! runs its tests one at a time and no other test binary produces such errors.

mod common;
use std::sync::Mutex;
use wgrad::functional as F;
use wgrad::{Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

fn expect_error_naming(result: wgrad::Result<Vec<f32>>, value: &str, dev: &Device) {
    let err = result.expect_err("an out-of-range id must be an error");
    assert!(err.to_string().contains(value), "{dev:?}: error should name {value}: {err}");
    dev.sync().expect("the error is reported once, then cleared");
    let ok = Tensor::from_vec(vec![1.0f32, 2.0], [2], dev).mul_scalar(2.0).to_vec::<f32>().unwrap();
    assert_eq!(ok, vec![2.0, 4.0], "{dev:?} works after the error");
}

#[test]
fn class_id_out_of_range_in_cross_entropy() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let logits = Tensor::randn([2, 5], 1, &dev);
        let bad = Tensor::from_vec(vec![1u32, 7], [2], &dev);
        let loss = F::cross_entropy(&logits, &bad, F::Reduction::Mean, 0.0);
        expect_error_naming(loss.to_vec::<f32>(), "7", &dev);
    }
}

#[test]
fn token_id_out_of_range_in_embedding_and_index_select() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let table = Tensor::randn([10, 4], 2, &dev);
        let ids = Tensor::from_vec(vec![3u32, 12345, 0], [3], &dev);
        expect_error_naming(F::embedding(&ids, &table, None).to_vec::<f32>(), "12345", &dev);
        let ids = Tensor::from_vec(vec![10i32], [1], &dev);
        expect_error_naming(table.index_select(0, &ids).to_vec::<f32>(), "10", &dev);
        let gather_ids = Tensor::from_vec(vec![0u32, 4], [1, 2], &dev);
        expect_error_naming(table.gather(1, &gather_ids).to_vec::<f32>(), "4", &dev);
    }
}

#[test]
fn errors_surface_through_sync_too() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let table = Tensor::randn([3, 2], 3, &dev);
        let _lookup = table.index_select(0, &Tensor::from_vec(vec![99u32], [1], &dev));
        let err = dev.sync().expect_err("sync reports the pending error");
        assert!(err.to_string().contains("99"), "{err}");
        dev.sync().unwrap();
    }
}

#[test]
fn past_the_memory_limit_tensors_are_out_of_memory_errors_naming_the_sizes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dev) = common::gpu() else { return };
    let kept = Tensor::ones([1024, 1024], wgrad::DType::F32, &dev); // 4 MiB live
    dev.sync().unwrap();
    let live = dev.stats().live_buffer_bytes;
    dev.set_memory_limit(Some(live + (1 << 20)));
    // An upload and a kernel output that would pass the limit.
    let too_big = Tensor::randn([2048, 1024], 1, &dev);
    let err = dev.sync().expect_err("an upload past the limit is an error");
    let msg = err.to_string();
    assert!(matches!(err, wgrad::Error::OutOfMemory { requested: 8388608, .. }), "{msg}");
    assert!(msg.contains("8388608") && msg.contains(&live.to_string()), "names the request and the live bytes: {msg}");
    drop(too_big);
    let doubled = kept.matmul(&kept.t()).add(&kept);
    let err = doubled.to_vec::<f32>().expect_err("a kernel output past the limit is an error");
    assert!(matches!(err, wgrad::Error::OutOfMemory { requested: 4194304, .. }), "{err}");
    // Small tensors still fit, and without the limit everything works again.
    assert_eq!(Tensor::from_vec(vec![1.0f32, 2.0], [2], &dev).to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    dev.set_memory_limit(None);
    let sum = kept.matmul(&kept.t()).sum_all().to_scalar().unwrap();
    assert_eq!(sum, 1024.0 * 1024.0 * 1024.0);
}
