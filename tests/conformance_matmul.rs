//! Cross-device conformance of `matmul`: 2-D products of odd and of vec4-aligned sizes,
//! transposed and narrowed operands, 1-D operands (vector @ matrix, matrix @ vector,
//! vector @ vector), batches, broadcast batch dims, and the degenerate K = 0, M = 0,
//! N = 0. GPU results are compared with the CPU reference from the same data; the CPU
//! reference is checked against a naive f64 triple loop and hand-computed products.
//!
//! Tolerance: each output is a sum of K products of values in [-1, 1). The backends
//! accumulate in f32 in different orders (and with or without FMA), so rounding errors
//! of about 2^-24 per partial sum of size up to sqrt(K) add up like a random walk:
//! atol = 1e-6 * sqrt(K) * 4 (a factor of 4 of headroom), rtol = 1e-5. An indexing bug
//! gives errors of order 1.

mod common;
use common::{conformed, Rng};
use wgrad::{DType, Device, Tensor};

fn atol(k: usize) -> f64 {
    4e-6 * (k.max(1) as f64).sqrt()
}
const RTOL: f64 = 1e-5;

fn rand(rng: &mut Rng, shape: &[usize]) -> Tensor {
    rng.tensor(shape, DType::F32, -1.0, 1.0)
}

/// `a @ b` on every device, checked against the CPU, with `a` and `b` built from the
/// CPU tensors `a0`, `b0` by `view` on each device.
fn check(what: &str, k: usize, a0: &Tensor, b0: &Tensor, view: impl Fn(Tensor, Tensor) -> (Tensor, Tensor)) -> Tensor {
    conformed(what, atol(k), RTOL, |dev| {
        let (a, b) = view(a0.to_device(dev), b0.to_device(dev));
        a.matmul(&b)
    })
}

/// The product of two row-major matrices in f64, as an independent reference.
fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum();
        }
    }
    out
}

const SIZES: [(usize, usize, usize); 6] = [(1, 1, 1), (7, 13, 5), (33, 17, 65), (128, 64, 96), (4, 8, 12), (2, 300, 3)];

#[test]
fn two_d_products_of_odd_and_aligned_sizes() {
    let mut rng = Rng::new(31);
    for (m, k, n) in SIZES {
        let (a, b) = (rand(&mut rng, &[m, k]), rand(&mut rng, &[k, n]));
        let want = check(&format!("{m}x{k}x{n}"), k, &a, &b, |a, b| (a, b));
        assert_eq!(want.dims(), &[m, n]);
        // The CPU reference itself, against a naive loop.
        let expected = naive(&a.to_vec().unwrap(), &b.to_vec().unwrap(), m, k, n);
        let expected = Tensor::from_vec(expected.iter().map(|&v| v as f32).collect(), [m, n], &Device::cpu());
        common::assert_close(&want, &expected, atol(k), RTOL, &format!("cpu {m}x{k}x{n} vs naive"));
    }
}

#[test]
fn transposed_and_narrowed_operands() {
    let mut rng = Rng::new(32);
    for (m, k, n) in SIZES {
        // Stored transposed ([k, m] and [n, k]) and used through `.t()`.
        let (at, bt) = (rand(&mut rng, &[k, m]), rand(&mut rng, &[n, k]));
        let (a, b) = (rand(&mut rng, &[m, k]), rand(&mut rng, &[k, n]));
        let _ = check(&format!("a.t() @ b, {m}x{k}x{n}"), k, &at, &b, |a, b| (a.t(), b));
        let _ = check(&format!("a @ b.t(), {m}x{k}x{n}"), k, &a, &bt, |a, b| (a, b.t()));
        let _ = check(&format!("a.t() @ b.t(), {m}x{k}x{n}"), k, &at, &bt, |a, b| (a.t(), b.t()));
        // Narrowed views: an offset and a row stride that break vec4 alignment.
        let (aw, bw) = (rand(&mut rng, &[m + 2, k + 3]), rand(&mut rng, &[k + 1, n + 5]));
        let _ = check(&format!("narrowed, {m}x{k}x{n}"), k, &aw, &bw, |a, b| {
            (a.narrow(0, 1, m).narrow(1, 2, k), b.narrow(0, 1, k).narrow(1, 3, n))
        });
    }
}

#[test]
fn one_d_operands() {
    let mut rng = Rng::new(33);
    for k in [1, 7, 64, 301] {
        let (v, w) = (rand(&mut rng, &[k]), rand(&mut rng, &[k]));
        let (mat_kn, mat_mk) = (rand(&mut rng, &[k, 13]), rand(&mut rng, &[5, k]));
        assert_eq!(check(&format!("vec @ mat, k={k}"), k, &v, &mat_kn, |a, b| (a, b)).dims(), &[13]);
        assert_eq!(check(&format!("mat @ vec, k={k}"), k, &mat_mk, &v, |a, b| (a, b)).dims(), &[5]);
        assert_eq!(check(&format!("vec @ vec, k={k}"), k, &v, &w, |a, b| (a, b)).dims(), &[] as &[usize]);
        let batch = rand(&mut rng, &[3, 5, k]);
        assert_eq!(check(&format!("batch @ vec, k={k}"), k, &batch, &v, |a, b| (a, b)).dims(), &[3, 5]);
        let batch = rand(&mut rng, &[2, k, 6]);
        assert_eq!(check(&format!("vec @ batch, k={k}"), k, &v, &batch, |a, b| (a, b)).dims(), &[2, 6]);
        // A strided vector: every other element of a longer one.
        let long = rand(&mut rng, &[k, 2]);
        let _ =
            check(&format!("strided vec @ mat, k={k}"), k, &long, &mat_kn, |a, b| (a.narrow(1, 1, 1).squeeze(1), b));
    }
}

#[test]
fn batched_and_broadcast_batches() {
    let mut rng = Rng::new(34);
    for (m, k, n) in [(1, 1, 1), (7, 13, 5), (16, 32, 8), (33, 17, 65)] {
        let (a, b) = (rand(&mut rng, &[3, m, k]), rand(&mut rng, &[3, k, n]));
        assert_eq!(check(&format!("[3,{m},{k}] @ [3,{k},{n}]"), k, &a, &b, |a, b| (a, b)).dims(), &[3, m, n]);
        // Batches of transposed matrices, and a batch dim that is not outermost in storage.
        let (at, bp) = (rand(&mut rng, &[3, k, m]), rand(&mut rng, &[k, 3, n]));
        let _ = check(&format!("batched transposed {m}x{k}x{n}"), k, &at, &bp, |a, b| {
            (a.transpose(1, 2), b.permute(&[1, 0, 2]))
        });
        // [2,1,m,k] @ [3,k,n] -> [2,3,m,n]
        let (a4, b3) = (rand(&mut rng, &[2, 1, m, k]), rand(&mut rng, &[3, k, n]));
        let want = check(&format!("[2,1,{m},{k}] @ [3,{k},{n}]"), k, &a4, &b3, |a, b| (a, b));
        assert_eq!(want.dims(), &[2, 3, m, n]);
        // A 2-D operand against a batch, and an expanded batch (stride 0).
        let a2 = rand(&mut rng, &[m, k]);
        assert_eq!(check(&format!("[{m},{k}] @ [3,{k},{n}]"), k, &a2, &b3, |a, b| (a, b)).dims(), &[3, m, n]);
        let _ =
            check(&format!("expanded batch {m}x{k}x{n}"), k, &a2, &b3, |a, b| (a.unsqueeze(0).expand([3, m, k]), b));
    }
    // The batched CPU reference, against the naive loop per batch and broadcast pair.
    let (a, b) = (rand(&mut rng, &[2, 1, 3, 4]), rand(&mut rng, &[3, 4, 5]));
    let got: Vec<f32> = a.matmul(&b).to_vec().unwrap();
    let (av, bv): (Vec<f32>, Vec<f32>) = (a.to_vec().unwrap(), b.to_vec().unwrap());
    for i in 0..2 {
        for j in 0..3 {
            let want = naive(&av[i * 12..(i + 1) * 12], &bv[j * 20..(j + 1) * 20], 3, 4, 5);
            let out = &got[(i * 3 + j) * 15..(i * 3 + j + 1) * 15];
            for (g, w) in out.iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-5, "cpu broadcast batch ({i}, {j}): {g} vs {w}");
            }
        }
    }
}

#[test]
fn empty_dims_give_zeros_or_empty_results() {
    let mut rng = Rng::new(35);
    // K = 0: a sum of nothing, so zeros (PyTorch's result), also batched.
    let (a, b) = (rand(&mut rng, &[5, 0]), rand(&mut rng, &[0, 7]));
    let want = check("k = 0", 0, &a, &b, |a, b| (a, b));
    assert_eq!((want.dims(), want.to_vec::<f32>().unwrap()), (&[5, 7][..], vec![0.0; 35]));
    let (a, b) = (rand(&mut rng, &[2, 3, 0]), rand(&mut rng, &[2, 0, 4]));
    assert_eq!(common::values(&check("batched k = 0", 0, &a, &b, |a, b| (a, b))), vec![0.0; 24]);
    let (v, w) = (rand(&mut rng, &[0]), rand(&mut rng, &[0]));
    assert_eq!(common::values(&check("empty vec @ vec", 0, &v, &w, |a, b| (a, b))), vec![0.0]);
    // M = 0, N = 0, batch = 0: empty results of the right shape.
    for (sa, sb, out) in [
        (vec![0, 4], vec![4, 6], vec![0, 6]),
        (vec![3, 4], vec![4, 0], vec![3, 0]),
        (vec![0, 3, 4], vec![4, 2], vec![0, 3, 2]),
    ] {
        let (a, b) = (rand(&mut rng, &sa), rand(&mut rng, &sb));
        let want = check(&format!("{sa:?} @ {sb:?}"), 4, &a, &b, |a, b| (a, b));
        assert_eq!(want.dims(), out);
    }
}

#[test]
fn f16_products_where_supported() {
    // f16 inputs and outputs: half precision rounding of the result (rtol 1e-3) and of
    // the partial sums on some backends (atol 1e-2 for K = 13).
    let mut rng = Rng::new(36);
    let (a, b) = (rng.tensor(&[7, 13], DType::F16, -1.0, 1.0), rng.tensor(&[13, 5], DType::F16, -1.0, 1.0));
    let want = a.cast(DType::F32).matmul(&b.cast(DType::F32)).cast(DType::F16);
    for dev in common::devices().into_iter().filter(Device::supports_f16) {
        let got = a.to_device(&dev).matmul(&b.to_device(&dev).t().contiguous().t());
        common::assert_close(&got.to_device(&Device::cpu()), &want, 1e-2, 1e-3, &format!("f16 matmul on {dev:?}"));
    }
}

#[test]
fn cpu_reference_on_hand_computed_products() {
    let cpu = Device::cpu();
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &cpu);
    let b = Tensor::from_vec(vec![1.0f32, 0.0, -1.0, 2.0, 0.5, 1.0], [3, 2], &cpu);
    assert_eq!(a.matmul(&b).to_vec::<f32>().unwrap(), vec![0.5, 7.0, 2.0, 16.0]);
    assert_eq!(a.t().matmul(&a).to_vec::<f32>().unwrap(), vec![17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    let v = Tensor::from_vec(vec![1.0f32, -1.0, 2.0], [3], &cpu);
    assert_eq!(a.matmul(&v).to_vec::<f32>().unwrap(), vec![5.0, 11.0], "matrix @ vector");
    assert_eq!(v.matmul(&b).to_vec::<f32>().unwrap(), vec![3.0, 0.0], "vector @ matrix");
    assert_eq!(v.matmul(&v).to_vec::<f32>().unwrap(), vec![6.0], "dot product");
    let batch = Tensor::stack(&[&a, &a.mul_scalar(-1.0)], 0);
    assert_eq!(batch.matmul(&v).to_vec::<f32>().unwrap(), vec![5.0, 11.0, -5.0, -11.0]);
}
