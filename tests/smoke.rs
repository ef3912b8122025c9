mod common;
use wgrad::{Device, Tensor};

#[test]
fn matmul_and_readback_on_every_device() {
    for dev in common::devices() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &dev);
        let b = Tensor::from_vec(vec![5.0f32, 6.0, 7.0, 8.0], [2, 2], &dev);
        let c = a.matmul(&b.t());
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![17.0, 23.0, 39.0, 53.0], "{dev:?}");
        let s = (&c + 1.0).relu().sum(1, false);
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![42.0, 94.0], "{dev:?}");
    }
    let _ = Device::cpu();
}

#[test]
fn split_reductions_match_cpu() {
    // Runs longer than one workgroup's chunk (16384) take two launches on the GPU.
    let cpu = Device::cpu();
    let x = Tensor::randn([3, 40_001], 5, &cpu);
    for dev in common::devices() {
        let xd = x.to_device(&dev);
        for (name, got, want) in [
            ("sum", xd.sum(1, false), x.sum(1, false)),
            ("mean", xd.mean(-1, true), x.mean(-1, true)),
            ("max", xd.max(1, false), x.max(1, false)),
            ("min all", xd.min_all(), x.min_all()),
            ("sum of transposed", xd.t().sum(0, false), x.t().sum(0, false)),
        ] {
            common::assert_close(&got.to_device(&cpu), &want, 1e-2, 1e-4, name);
        }
    }
}
