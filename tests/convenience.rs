//! PyTorch's tensor conveniences (scalar comparisons, clamp, masked_fill, select,
//! one_hot, casts, rand/randint, printing): the same values on both devices, gradients
//! where they are differentiable, and errors for bad ids.

mod common;
use wgrad::{DType, Device, Tensor};

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

#[test]
fn scalar_comparisons_clamp_and_masked_fill() {
    for dev in common::devices() {
        let x = Tensor::from_vec(vec![-2.0f32, 0.0, 0.5, 3.0], [4], &dev);
        assert_eq!(x.eq_scalar(0.0).to_vec::<u32>().unwrap(), vec![0, 1, 0, 0], "{dev:?}");
        assert_eq!(x.gt_scalar(0.0).to_vec::<u32>().unwrap(), vec![0, 0, 1, 1], "{dev:?}");
        assert_eq!(x.le_scalar(0.5).to_vec::<u32>().unwrap(), vec![1, 1, 1, 0], "{dev:?}");
        assert_eq!(f32s(&x.clamp(Some(-1.0), Some(1.0))), vec![-1.0, 0.0, 0.5, 1.0], "{dev:?}");
        assert_eq!(f32s(&x.clamp(None, Some(0.0))), vec![-2.0, 0.0, 0.0, 0.0], "{dev:?}");
        assert_eq!(f32s(&x.clamp(Some(0.0), None)), vec![0.0, 0.0, 0.5, 3.0], "{dev:?}");
        // The gradient flows only where the value was inside the bounds.
        let w = x.requires_grad();
        let grads = w.clamp(Some(-1.0), Some(1.0)).sum_all().backward().unwrap();
        assert_eq!(f32s(&grads.get(&w).unwrap()), vec![0.0, 1.0, 1.0, 0.0], "{dev:?}");

        let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &dev).requires_grad();
        let mask = Tensor::from_vec(vec![1u32, 0, 1], [3], &dev); // broadcast over rows
        let filled = m.masked_fill(&mask, -9.0);
        assert_eq!(f32s(&filled), vec![-9.0, 2.0, -9.0, -9.0, 5.0, -9.0], "{dev:?}");
        let grads = filled.sum_all().backward().unwrap();
        assert_eq!(f32s(&grads.get(&m).unwrap()), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0], "{dev:?}");
    }
}

#[test]
fn select_counts_negative_indices_from_the_end() {
    for dev in common::devices() {
        let x = Tensor::arange(0.0, 12.0, DType::F32, &dev).reshape([3, 4]);
        assert_eq!(f32s(&x.select(0, -1)), vec![8.0, 9.0, 10.0, 11.0], "{dev:?}");
        assert_eq!(f32s(&x.select(1, 1)), vec![1.0, 5.0, 9.0], "{dev:?}");
        assert_eq!(f32s(&x.select(-1, -4)), vec![0.0, 4.0, 8.0], "{dev:?}");
        assert_eq!(x.select(0, 2).dims(), &[4]);
    }
    let x = Tensor::zeros([3], DType::F32, &Device::cpu());
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.select(0, -4))).expect_err("out of range");
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("index -4 is out of range"), "{msg}");
}

#[test]
fn one_hot_matches_the_identity_rows_and_rejects_bad_ids() {
    for dev in common::devices() {
        let ids = Tensor::from_vec(vec![2i32, 0, 1, 2], [2, 2], &dev);
        let hot = ids.one_hot(3);
        assert_eq!(hot.dims(), &[2, 2, 3]);
        assert_eq!(hot.dtype(), DType::I32);
        assert_eq!(hot.to_vec::<i32>().unwrap(), vec![0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], "{dev:?}");
        let bad = Tensor::from_vec(vec![1u32, 3], [2], &dev).one_hot(3);
        let err = bad.to_vec::<u32>().expect_err("3 is not a class of 3");
        assert!(err.to_string().contains("one_hot: index 3"), "{dev:?}: {err}");
    }
}

#[test]
fn casts_and_random_constructors_agree_across_devices() {
    let devices = common::devices();
    let mut seen = Vec::new();
    for dev in &devices {
        let x = Tensor::from_vec(vec![1.7f32, -2.2], [2], dev);
        assert_eq!(x.int().to_vec::<i32>().unwrap(), vec![1, -2], "{dev:?}: truncation toward zero");
        assert_eq!(f32s(&x.int().float()), vec![1.0, -2.0], "{dev:?}");
        let u = f32s(&Tensor::rand([1000], 5, dev));
        assert!(u.iter().all(|v| (0.0..1.0).contains(v)), "{dev:?}");
        let k = Tensor::randint(-3, 4, [1000], 6, dev).to_vec::<i32>().unwrap();
        assert!(k.iter().all(|v| (-3..4).contains(v)), "{dev:?}");
        for want in -3..4 {
            assert!(k.contains(&want), "{dev:?}: randint never gave {want}");
        }
        seen.push((u, k));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "the same seed gives the same values on every device");
}

#[test]
fn printing_names_the_device_and_dtype_like_pytorch() {
    for dev in common::devices() {
        let x = Tensor::from_vec(vec![1u32, 20], [2], &dev);
        let suffix = if dev.is_gpu() { ", device='gpu'" } else { "" };
        assert_eq!(x.to_string(), format!("tensor([ 1, 20], dtype=torch.uint32{suffix})"));
    }
}
