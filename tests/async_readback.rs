//! The non-blocking readbacks (`to_vec_async`, `to_scalar_async`, `Device::sync_async`,
//! `Device::gpu_async`), the only ones a browser allows, run natively on both devices:
//! the same values as the blocking calls, several reads in flight at once, and device
//! errors reported by the read that depends on them.

mod common;
use wgrad::functional as F;
use wgrad::{DType, Device, Tensor};

#[test]
fn async_reads_equal_the_blocking_ones() {
    for dev in common::devices() {
        let x = Tensor::randn([7, 5], 3, &dev);
        let views = [x.exp(), x.t(), x.narrow(1, 2, 3), x.reshape([35]).narrow(0, 1, 1)];
        for v in &views {
            let blocking = v.to_vec::<f32>().unwrap();
            assert_eq!(pollster::block_on(v.to_vec_async::<f32>()).unwrap(), blocking, "{dev:?} {:?}", v.dims());
        }
        let ids = Tensor::from_vec(vec![3u32, 0, 9], [3], &dev);
        assert_eq!(pollster::block_on(ids.to_vec_async::<u32>()).unwrap(), [3, 0, 9]);
        let empty = Tensor::zeros([0, 4], DType::F32, &dev);
        assert!(pollster::block_on(empty.to_vec_async::<f32>()).unwrap().is_empty());
        let total = x.sum_all();
        let expected = total.to_scalar().unwrap();
        assert_eq!(pollster::block_on(total.to_scalar_async()).unwrap(), expected);
        let wrong = pollster::block_on(x.to_vec_async::<u32>());
        assert!(wrong.is_err(), "reading f32 as u32 is an error");
    }
}

#[test]
fn several_reads_are_in_flight_together() {
    for dev in common::devices() {
        let x = Tensor::arange(0.0, 1000.0, DType::F32, &dev);
        // Both copies are submitted before either is awaited; then awaited in reverse.
        let doubled = x.mul_scalar(2.0).to_vec_async::<f32>();
        let summed = x.sum_all().to_scalar_async();
        let (total, values) = pollster::block_on(async { (summed.await, doubled.await) });
        assert_eq!(total.unwrap(), 499_500.0);
        assert_eq!(values.unwrap(), (0..1000).map(|i| 2.0 * i as f32).collect::<Vec<_>>());
        pollster::block_on(dev.sync_async()).unwrap();
    }
}

#[test]
fn device_errors_reach_the_async_read_that_depends_on_them() {
    for dev in common::devices() {
        let table = Tensor::randn([10, 4], 2, &dev);
        let ids = Tensor::from_vec(vec![3u32, 4321, 0], [3], &dev);
        let read = F::embedding(&ids, &table, None).to_vec_async::<f32>();
        let err = pollster::block_on(read).expect_err("an out-of-range id must be an error");
        assert!(err.to_string().contains("4321"), "{dev:?}: {err}");
        // Reported once; the device works afterwards, and sync_async reports pending errors.
        pollster::block_on(dev.sync_async()).unwrap();
        let _bad = table.index_select(0, &Tensor::from_vec(vec![77u32], [1], &dev));
        let err = pollster::block_on(dev.sync_async()).expect_err("sync_async reports the pending error");
        assert!(err.to_string().contains("77"), "{err}");
        let ok = pollster::block_on(table.narrow(0, 0, 1).mul_scalar(0.0).to_vec_async::<f32>()).unwrap();
        assert_eq!(ok, [0.0; 4], "{dev:?} works after the error");
    }
}

#[test]
fn the_gpu_opens_asynchronously_too() {
    if common::gpu().is_none() {
        return; // WGRAD_SKIP_GPU=1, said by common::gpu
    }
    let dev = pollster::block_on(Device::gpu_async()).expect("gpu_async opens the adapter gpu() opens");
    assert_eq!(dev.name(), Device::gpu().unwrap().name());
    let x = Tensor::from_vec(vec![1.0f32, -2.0], [2], &dev);
    assert_eq!(pollster::block_on(x.relu().to_vec_async::<f32>()).unwrap(), [1.0, 0.0]);
}
