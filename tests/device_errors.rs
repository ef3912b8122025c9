//! Errors found on a device (bad ids in data) surface as `Err` from the next readback
//! or sync of the thread that recorded the failing op, naming the op and the value, the
//! same on both devices; the device works normally afterwards. Errors wgpu reports
//! outside any op (out of memory) are the device's, so this binary runs its tests one at
//! a time.

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

#[test]
fn backward_through_a_bad_id_is_the_same_error_on_both_devices_and_writes_no_other_row() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut messages = Vec::new();
    for dev in common::devices() {
        // Embedding: id 40 of 40 rows (past the end of the table).
        let table = Tensor::randn([40, 3], 5, &dev).requires_grad();
        let ids = Tensor::from_vec(vec![5u32, 40, 2], [3], &dev);
        let loss = F::embedding(&ids, &table, None).sum_all();
        let grads = loss.backward().expect("backward records its ops; the error waits for a readback");
        let grad = grads.get(&table).expect("the table has a gradient");
        let err = grad.to_vec::<f32>().expect_err("the forward's bad id reaches the gradient's readback");
        messages.push(err.to_string());
        let rows = grad.to_vec::<f32>().unwrap();
        for (r, row) in rows.chunks(3).enumerate() {
            let want = if r == 5 || r == 2 { 1.0 } else { 0.0 };
            assert!(row.iter().all(|&v| v == want), "{dev:?}: row {r} of the gradient is {row:?}");
        }
        // gather along dim 1 of [2, 4] with id 4 in row 0: its flat offset (0 * 4 + 4)
        // lands inside the input, on row 1 column 0, which must get nothing.
        let x = Tensor::randn([2, 4], 6, &dev).requires_grad();
        let ids = Tensor::from_vec(vec![4u32, 1, 0, 3], [2, 2], &dev);
        let grads = x.gather(1, &ids).sum_all().backward().unwrap();
        let grad = grads.get(&x).unwrap();
        let err = grad.to_vec::<f32>().expect_err("bad gather id");
        messages.push(err.to_string());
        assert_eq!(grad.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0], "{dev:?}");
    }
    assert!(messages[0].contains("embedding") && messages[0].contains("40"), "{messages:?}");
    assert!(messages[1].contains("gather") && messages[1].contains('4'), "{messages:?}");
    if let [cpu_embedding, cpu_gather, gpu_embedding, gpu_gather] = &messages[..] {
        assert_eq!(cpu_embedding, gpu_embedding, "one error vocabulary on both devices");
        assert_eq!(cpu_gather, gpu_gather, "one error vocabulary on both devices");
    }
}

#[test]
fn an_error_reaches_only_the_thread_that_recorded_the_failing_op() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in common::devices() {
        let table = Tensor::randn([10, 4], 7, &dev);
        let recorded = std::sync::Barrier::new(2);
        let read = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            // A records a lookup with a bad id and reads it only after B has read its own
            // valid product: B's readback (which submits A's work too) stays Ok.
            let a = s.spawn(|| {
                let bad = F::embedding(&Tensor::from_vec(vec![7777u32], [1], &dev), &table, None);
                recorded.wait();
                read.wait();
                bad.to_vec::<f32>()
            });
            let b = s.spawn(|| {
                recorded.wait();
                let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &dev);
                let product = x.matmul(&x).to_vec::<f32>();
                read.wait();
                product
            });
            let err = a.join().unwrap().expect_err("A's bad id is A's error");
            assert!(err.to_string().contains("7777"), "{dev:?}: {err}");
            assert_eq!(b.join().unwrap().expect("B's valid product reads fine"), vec![7.0, 10.0, 15.0, 22.0]);
        });
        // Two threads with their own bad ids each get their own error.
        let both = std::sync::Barrier::new(2);
        let lookup = |id: u32| {
            let out = F::embedding(&Tensor::from_vec(vec![id], [1], &dev), &table, None);
            both.wait();
            let err = out.to_vec::<f32>().expect_err("a bad id").to_string();
            dev.sync().expect("reported once");
            err
        };
        std::thread::scope(|s| {
            let (a, b) = (s.spawn(|| lookup(111)), s.spawn(|| lookup(222)));
            let (a, b) = (a.join().unwrap(), b.join().unwrap());
            assert!(a.contains("111") && !a.contains("222"), "{dev:?}: {a}");
            assert!(b.contains("222") && !b.contains("111"), "{dev:?}: {b}");
        });
    }
}
