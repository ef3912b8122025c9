//! sort, argsort, topk and cumsum: every device against the CPU reference (which is
//! also checked on hand-computed cases), along every dim, on transposed and offset views,
//! with ties (equal values keep their order: the sort is stable on both devices), NaN,
//! infinities and signed zeros, integer and f16 dtypes, sizes 1 and 0 and rows long
//! enough for many network steps; gradients by finite differences.
//!
//! Tolerances: sort, argsort and topk are exact. cumsum of n values in [-1, 1): the CPU
//! sums in f64, the GPU in f32 in chunks, so they differ by about n * 2^-24: atol 1e-4
//! for n <= 1000, rtol 1e-5.

mod common;
use common::{conform, devices, lacks_f16, values, Rng};
use wgrad::{DType, Device, Tensor};

type View = fn(&Tensor) -> Tensor;

/// (name, base shape, view) of the inputs.
fn layouts() -> Vec<(&'static str, Vec<usize>, View)> {
    vec![
        ("[1]", vec![1], |t| t.clone()),
        ("[7]", vec![7], |t| t.clone()),
        ("[13, 33]", vec![13, 33], |t| t.clone()),
        ("[3, 1, 5, 6]", vec![3, 1, 5, 6], |t| t.clone()),
        ("transposed", vec![9, 17], |t| t.t()),
        ("narrowed (offset)", vec![6, 40], |t| t.narrow(1, 3, 33).narrow(0, 1, 5)),
        ("long rows", vec![2, 1000], |t| t.clone()),
        ("empty", vec![3, 0, 2], |t| t.clone()),
    ]
}

/// Values with many ties (whole numbers 0..4), or uniform in [-1, 1).
fn data(seed: u64, shape: &[usize], ties: bool, dtype: DType) -> Tensor {
    let mut rng = Rng::new(seed);
    let t = if ties {
        rng.tensor(shape, DType::I32, 0.0, 4.0).cast(DType::F32)
    } else {
        rng.tensor(shape, DType::F32, -1.0, 1.0)
    };
    t.cast(dtype)
}

#[test]
fn sort_argsort_topk_match_cpu_on_every_layout() {
    let f16 = !lacks_f16("sort");
    for (name, shape, view) in layouts() {
        for dtype in [DType::F32, DType::I32, DType::U32, DType::F16] {
            if dtype == DType::F16 && !f16 {
                continue;
            }
            for ties in [false, true] {
                if !ties && matches!(dtype, DType::I32 | DType::U32) {
                    continue; // integers in [-1, 1) are mostly ties anyway
                }
                for dim in 0..shape.len() {
                    for descending in [false, true] {
                        let what = format!("{name} {dtype:?} ties={ties} dim={dim} descending={descending}");
                        let input = |dev: &Device| view(&data(3, &shape, ties, dtype).to_device(dev));
                        conform(&format!("argsort {what}"), 0.0, 0.0, |dev| input(dev).argsort(dim, descending));
                        conform(&format!("sort {what}"), 0.0, 0.0, |dev| input(dev).sort(dim, descending).0);
                        let size = input(&Device::cpu()).dims()[dim];
                        let k = size.min(3);
                        conform(&format!("topk {what}"), 0.0, 0.0, |dev| input(dev).topk(k, dim, descending).1);
                    }
                }
            }
        }
    }
}

#[test]
fn sort_orders_specials_as_pytorch_and_is_stable() {
    for dev in devices() {
        let x = Tensor::from_vec(
            vec![f32::NAN, 1.0, -0.0, 0.0, f32::NEG_INFINITY, -2.5, f32::INFINITY, 1.0, -f32::NAN],
            [9],
            &dev,
        );
        let (v, i) = x.sort(0, false);
        assert_eq!(i.to_vec::<u32>().unwrap(), [4, 5, 2, 3, 1, 7, 6, 0, 8], "{dev:?}");
        let v = v.to_vec::<f32>().unwrap();
        assert_eq!(&v[..7], [f32::NEG_INFINITY, -2.5, -0.0, 0.0, 1.0, 1.0, f32::INFINITY]);
        assert!(v[7].is_nan() && v[8].is_nan(), "NaNs last: {v:?}");
        let i = x.argsort(0, true).to_vec::<u32>().unwrap();
        assert_eq!(i, [0, 8, 6, 1, 7, 2, 3, 5, 4], "{dev:?}: descending keeps ties in order");
        let (top, at) = x.narrow(0, 1, 7).topk(2, 0, false);
        assert_eq!(
            (top.to_vec::<f32>().unwrap(), at.to_vec::<u32>().unwrap()),
            (vec![f32::NEG_INFINITY, -2.5], vec![3, 4])
        );
    }
}

#[test]
fn cumsum_matches_cpu_and_hand_values() {
    for dev in devices() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &dev);
        assert_eq!(x.cumsum(1).to_vec::<f32>().unwrap(), [1.0, 3.0, 6.0, 4.0, 9.0, 15.0], "{dev:?}");
        assert_eq!(x.cumsum(0).to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 5.0, 7.0, 9.0], "{dev:?}");
        let ints = Tensor::from_vec(vec![i32::MAX, 1, -3], [3], &dev);
        assert_eq!(
            ints.cumsum(0).to_vec::<i32>().unwrap(),
            [i32::MAX, i32::MIN, i32::MIN.wrapping_sub(3)],
            "{dev:?}: wraps"
        );
    }
    let f16 = !lacks_f16("cumsum");
    for (name, shape, view) in layouts() {
        for dtype in [DType::F32, DType::I32, DType::F16] {
            if dtype == DType::F16 && !f16 {
                continue;
            }
            let tol = if dtype == DType::F16 { 2e-2 } else { 1e-4 };
            for dim in 0..shape.len() {
                let what = format!("cumsum {name} {dtype:?} dim={dim}");
                conform(&what, tol, 1e-5, |dev| {
                    view(&data(5, &shape, dtype == DType::I32, dtype).to_device(dev)).cumsum(dim)
                });
            }
        }
    }
    // A row longer than one thread's chunk many times over (10^5 elements).
    conform("cumsum of 10^5 ones", 0.0, 0.0, |dev| Tensor::ones([100_000], DType::F32, dev).cumsum(0));
}

/// d(sum(w * f(x)))/dx by central differences against backward, for f = sort values,
/// topk values and cumsum, on every device.
#[test]
fn gradients_match_finite_differences() {
    let n = 12;
    // Distinct values at least 0.1 apart (a shuffled ramp): the order never changes under eps.
    let mut rng = Rng::new(9);
    let mut xv: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 0.5).collect();
    for i in (1..n).rev() {
        xv.swap(i, rng.range(0, i));
    }
    let wv = rng.vec_f32(n, -1.0, 1.0);
    type F = fn(&Tensor) -> Tensor;
    let fns: [(&str, F); 4] = [
        ("sort", |x| x.reshape([3, 4]).sort(1, false).0),
        ("sort descending dim 0", |x| x.reshape([3, 4]).sort(0, true).0),
        ("topk", |x| x.reshape([3, 4]).topk(2, 1, true).0),
        ("cumsum", |x| x.reshape([3, 4]).cumsum(0)),
    ];
    for dev in devices() {
        for (what, f) in fns {
            let x = Tensor::from_vec(xv.clone(), [n], &dev).requires_grad();
            let y = f(&x);
            let w = Tensor::from_vec(wv[..y.numel()].to_vec(), y.shape().clone(), &dev);
            let grads = y.mul(&w).sum_all().backward().unwrap();
            let analytic = values(&grads.get(&x).unwrap());
            let eps = 1e-2f32;
            for i in 0..n {
                let at = |d: f32| {
                    let mut v = xv.clone();
                    v[i] += d;
                    let y = f(&Tensor::from_vec(v, [n], &dev));
                    values(&y.mul(&w).sum_all())[0]
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                let a = analytic[i];
                assert!((numeric - a).abs() <= 1e-3 + 1e-3 * a.abs(), "{what} {dev:?}: d/dx[{i}] {a} vs {numeric}");
            }
        }
    }
}
