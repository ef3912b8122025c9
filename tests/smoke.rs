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
