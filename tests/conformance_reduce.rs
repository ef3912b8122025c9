//! Cross-device conformance of reductions: sum, mean, max, min, argmax, argmin over one
//! dim (positive and negative), several dims and all dims, with and without keepdim, on
//! contiguous and non-contiguous inputs, reduced sizes of 1, 300 and more than one
//! 256-thread workgroup, ties (argmax/argmin return the FIRST index, as PyTorch does),
//! NaN, integer dtypes and empty dims. The GPU is compared with the CPU reference from
//! the same data; the CPU reference is also checked on hand-computed cases.
//!
//! Tolerances: max, min, argmax, argmin and integer sums are exact (0, 0). Float sums
//! and means of n values in [-1, 1): the CPU sums in f64, the GPU in f32 in another
//! order, so they differ by up to about n * 2^-24; with n <= 5000 that is below 3e-4:
//! atol 3e-4, rtol 1e-5.

mod common;
use common::{conform, conformed, Rng};
use wgrad::{DType, Device, Tensor};

type View = fn(&Tensor) -> Tensor;

fn id(t: &Tensor) -> Tensor {
    t.clone()
}

/// Inputs every reduction runs on: (name, base shape, view of the base).
fn layouts() -> Vec<(&'static str, Vec<usize>, View)> {
    vec![
        ("[7]", vec![7], id),
        ("[13, 33]", vec![13, 33], id),
        ("[3, 1, 7, 5]", vec![3, 1, 7, 5], id),
        ("transposed", vec![13, 7], |t| t.t()),
        ("permuted", vec![4, 6, 5], |t| t.permute(&[2, 0, 1])),
        ("narrowed", vec![6, 40], |t| t.narrow(1, 3, 33)),
        ("expanded", vec![1, 9], |t| t.expand([5, 9])),
        ("empty", vec![3, 0, 2], id),
    ]
}

const SUM_TOL: (f64, f64) = (3e-4, 1e-5);

type Reduce = fn(&Tensor, isize, bool) -> Tensor;
/// (name, op, tolerance)
const OPS: [(&str, Reduce, (f64, f64)); 6] = [
    ("sum", |t, d, k| t.sum(d, k), SUM_TOL),
    ("mean", |t, d, k| t.mean(d, k), SUM_TOL),
    ("max", |t, d, k| t.max(d, k), (0.0, 0.0)),
    ("min", |t, d, k| t.min(d, k), (0.0, 0.0)),
    ("argmax", |t, d, k| t.argmax(d, k), (0.0, 0.0)),
    ("argmin", |t, d, k| t.argmin(d, k), (0.0, 0.0)),
];

/// Data with many ties: whole numbers in 0..4 (as f32), or uniform in [-1, 1).
fn data(rng: &mut Rng, shape: &[usize], ties: bool) -> Tensor {
    if ties {
        rng.tensor(shape, DType::I32, 0.0, 4.0).cast(DType::F32)
    } else {
        rng.tensor(shape, DType::F32, -1.0, 1.0)
    }
}

#[test]
fn every_reduction_over_every_dim_matches_cpu() {
    let mut rng = Rng::new(21);
    for (name, shape, view) in layouts() {
        for ties in [false, true] {
            let x = data(&mut rng, &shape, ties);
            let rank = view(&x).rank() as isize;
            for (op_name, op, (atol, rtol)) in OPS {
                for dim in (0..rank).chain(-rank..0) {
                    let dim_size = view(&x).dims()[dim.rem_euclid(rank) as usize];
                    if dim_size == 0 && !matches!(op_name, "sum" | "mean") {
                        continue; // max over an empty dim is an error; see below
                    }
                    for keepdim in [false, true] {
                        let what = format!("{op_name}({dim}, keepdim={keepdim}) of {name} (ties: {ties})");
                        let want = conformed(&what, atol, rtol, |dev| op(&view(&x.to_device(dev)), dim, keepdim));
                        let mut expect = view(&x).dims().to_vec();
                        expect[dim.rem_euclid(rank) as usize] = 1;
                        if !keepdim {
                            expect.remove(dim.rem_euclid(rank) as usize);
                        }
                        assert_eq!(want.dims(), expect, "{what}: shape");
                    }
                }
            }
        }
    }
}

#[test]
fn long_runs_beyond_one_workgroup_match_cpu() {
    // Reduced sizes of 1, 300 (> 256 threads) and 1337, 5000 (several elements per
    // thread), along the contiguous dim and along a strided one.
    let mut rng = Rng::new(22);
    for n in [1, 300, 1337, 5000] {
        for ties in [false, true] {
            let x = data(&mut rng, &[3, n], ties);
            for (op_name, op, (atol, rtol)) in OPS {
                conform(&format!("{op_name} over {n} (ties: {ties})"), atol, rtol, |dev| {
                    op(&x.to_device(dev), 1, false)
                });
                conform(&format!("{op_name} over {n} strided"), atol, rtol, |dev| op(&x.to_device(dev).t(), 0, true));
            }
        }
    }
}

#[test]
fn many_short_runs_reduced_one_per_invocation_match_cpu() {
    // At least 1024 outputs of runs up to 4096 take the one-invocation-per-output
    // kernel; 4097 goes back to a workgroup per output. Contiguous, strided (the reduced
    // dim first) and over two dims at once, with ties for the arg reductions.
    let mut rng = Rng::new(23);
    for (rows, n) in [(1024, 1), (1500, 37), (1100, 4096), (1024, 4097)] {
        let x = data(&mut rng, &[rows, n], true);
        for (op_name, op, (atol, rtol)) in OPS {
            conform(&format!("{op_name} of {rows} runs of {n}"), atol, rtol, |dev| op(&x.to_device(dev), 1, false));
            conform(&format!("{op_name} of {rows} strided runs of {n}"), atol, rtol, |dev| {
                op(&x.to_device(dev).t(), 0, false)
            });
        }
    }
    let x = data(&mut rng, &[4, 1200, 3], false);
    conform("sum over dims 0 and 2 of [4, 1200, 3]", SUM_TOL.0, SUM_TOL.1, |dev| {
        x.to_device(dev).sum_dims(&[0, 2], false)
    });
}

#[test]
fn argmax_and_argmin_return_the_first_of_tied_extremes() {
    // Ties inside one thread's run, across threads of a workgroup (positions 5 and 261
    // land in different threads), and at the very end of a long run.
    let n = 1500;
    let mut v = vec![0.0f32; 3 * n];
    for (row, positions) in [[5, 261, 1499], [700, 1400, 1499], [0, 256, 512]].iter().enumerate() {
        for &p in positions {
            v[row * n + p] = 9.0;
            v[row * n + (p + 1) % n] = -9.0;
        }
    }
    let (v_max, v_min) = (v.clone(), v.iter().map(|x| -x).collect::<Vec<f32>>());
    let amax =
        conformed("argmax with ties", 0.0, 0.0, |dev| Tensor::from_vec(v_max.clone(), [3, n], dev).argmax(1, false));
    assert_eq!(amax.to_vec::<u32>().unwrap(), vec![5, 700, 0]);
    let amin =
        conformed("argmin with ties", 0.0, 0.0, |dev| Tensor::from_vec(v_min.clone(), [3, n], dev).argmin(-1, false));
    assert_eq!(amin.to_vec::<u32>().unwrap(), vec![5, 700, 0]);
    let flat =
        conformed("argmax of a constant row", 0.0, 0.0, |dev| Tensor::ones([2, 300], DType::F32, dev).argmax(1, true));
    assert_eq!(flat.to_vec::<u32>().unwrap(), vec![0, 0]);
    // Integer ties too.
    let ints = vec![3i32, 7, 7, -1, 7, -1];
    let a = conformed("argmax of i32", 0.0, 0.0, |dev| Tensor::from_vec(ints.clone(), [6], dev).argmax(0, false));
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![1]);
    let a = conformed("argmin of i32", 0.0, 0.0, |dev| Tensor::from_vec(ints.clone(), [6], dev).argmin(0, false));
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![3]);
}

#[test]
fn nan_propagates_through_max_min_and_their_args() {
    let v = vec![1.0f32, f32::NAN, 5.0, f32::NAN, -3.0, 2.0, 0.0, 4.0];
    let t = |dev: &Device| Tensor::from_vec(v.clone(), [2, 4], dev);
    for (name, op) in [("max", OPS[2].1), ("min", OPS[3].1)] {
        let r = common::values(&conformed(&format!("{name} with NaN"), 0.0, 0.0, |dev| op(&t(dev), 1, false)));
        assert!(r[0].is_nan() && !r[1].is_nan(), "{name}: {r:?}");
    }
    for (name, op) in [("argmax", OPS[4].1), ("argmin", OPS[5].1)] {
        let r = conformed(&format!("{name} with NaN"), 0.0, 0.0, |dev| op(&t(dev), 1, false));
        assert_eq!(r.to_vec::<u32>().unwrap()[0], 1, "{name}: the first NaN wins");
    }
    assert!(common::values(&conformed("max_all with NaN", 0.0, 0.0, |dev| t(dev).max_all()))[0].is_nan());
}

#[test]
fn several_dims_and_all_dims_match_cpu() {
    let mut rng = Rng::new(23);
    type Dims = fn(&Tensor, &[isize], bool) -> Tensor;
    let ops: [(&str, Dims, (f64, f64)); 4] = [
        ("sum_dims", Tensor::sum_dims, SUM_TOL),
        ("mean_dims", Tensor::mean_dims, SUM_TOL),
        ("max_dims", Tensor::max_dims, (0.0, 0.0)),
        ("min_dims", Tensor::min_dims, (0.0, 0.0)),
    ];
    let cases: [(&str, Vec<usize>, View, Vec<isize>); 5] = [
        ("[5,7,9] over [0,2]", vec![5, 7, 9], id, vec![0, 2]),
        ("permuted over [-1,0]", vec![5, 7, 9], |t| t.permute(&[1, 2, 0]), vec![-1, 0]),
        ("narrowed over [1,2]", vec![4, 6, 30], |t| t.narrow(2, 2, 25), vec![1, 2]),
        ("rank 4 over [0,1,3]", vec![2, 3, 4, 5], id, vec![0, 1, 3]),
        ("expanded over [0]", vec![1, 6], |t| t.expand([7, 6]), vec![0]),
    ];
    for (name, shape, view, dims) in &cases {
        let x = data(&mut rng, shape, false);
        for (op_name, op, (atol, rtol)) in ops {
            for keepdim in [false, true] {
                let what = format!("{op_name} of {name}, keepdim={keepdim}");
                conform(&what, atol, rtol, |dev| op(&view(&x.to_device(dev)), dims, keepdim));
            }
        }
    }
    type All = fn(&Tensor) -> Tensor;
    let all: [(&str, All, (f64, f64)); 4] = [
        ("sum_all", Tensor::sum_all, SUM_TOL),
        ("mean_all", Tensor::mean_all, SUM_TOL),
        ("max_all", Tensor::max_all, (0.0, 0.0)),
        ("min_all", Tensor::min_all, (0.0, 0.0)),
    ];
    let mut inputs = layouts();
    inputs.retain(|(name, ..)| *name != "empty");
    inputs.push(("0-d", vec![], id));
    inputs.push(("[40, 50]", vec![40, 50], |t| t.t()));
    for (name, shape, view) in inputs {
        let x = data(&mut rng, &shape, false);
        for (op_name, op, (atol, rtol)) in all {
            let want = conformed(&format!("{op_name} of {name}"), atol, rtol, |dev| op(&view(&x.to_device(dev))));
            assert_eq!(want.dims(), &[] as &[usize], "{op_name} gives a 0-d tensor");
        }
    }
}

#[test]
fn integer_reductions_match_cpu() {
    let mut rng = Rng::new(24);
    for (dtype, lo) in [(DType::I32, -1000.0), (DType::U32, 0.0)] {
        for (name, shape, view) in layouts() {
            let x = rng.tensor(&shape, dtype, lo, 1000.0);
            let v = view(&x);
            for dim in 0..v.rank() as isize {
                for (op_name, op, _) in OPS.iter().filter(|(n, ..)| *n != "mean") {
                    if v.dims()[dim as usize] == 0 && *op_name != "sum" {
                        continue;
                    }
                    conform(&format!("{dtype} {op_name}({dim}) of {name}"), 0.0, 0.0, |dev| {
                        op(&view(&x.to_device(dev)), dim, false)
                    });
                }
            }
        }
        let x = rng.tensor(&[3, 1337], dtype, lo, 1000.0);
        conform(&format!("{dtype} sum over 1337"), 0.0, 0.0, |dev| x.to_device(dev).sum(1, false));
        conform(&format!("{dtype} sum_all"), 0.0, 0.0, |dev| x.to_device(dev).t().sum_all());
    }
}

#[test]
fn sums_over_empty_dims_are_zero() {
    for dev in common::devices() {
        let x = Tensor::zeros([3, 0, 2], DType::F32, &dev);
        assert_eq!(x.sum(1, false).to_vec::<f32>().unwrap(), vec![0.0; 6], "{dev:?}");
        assert_eq!(x.sum(1, false).dims(), &[3, 2]);
        assert_eq!(x.sum_dims(&[0, 1], true).dims(), &[1, 1, 2]);
        assert_eq!(x.sum_all().to_vec::<f32>().unwrap(), vec![0.0], "{dev:?}");
        assert_eq!(x.sum(0, false).dims(), &[0, 2], "reducing a non-empty dim of an empty tensor");
        assert!(x.mean(1, false).to_vec::<f32>().unwrap().iter().all(|m| m.is_nan()), "mean of nothing is NaN");
        let i = Tensor::zeros([0], DType::I32, &dev);
        assert_eq!(i.sum_all().to_vec::<i32>().unwrap(), vec![0], "{dev:?}");
        assert_eq!(Tensor::zeros([0, 4], DType::U32, &dev).max(1, false).dims(), &[0]);
    }
}

#[test]
#[should_panic(expected = "cannot reduce over an empty dimension")]
fn max_over_an_empty_dim_panics() {
    let _ = Tensor::zeros([2, 0], DType::F32, &Device::cpu()).max(1, false);
}

#[test]
fn cpu_reference_on_hand_computed_values() {
    let cpu = Device::cpu();
    // x[i, j, k] = 6i + 2j + k over [2, 3, 2].
    let x = Tensor::arange(0.0, 12.0, DType::F32, &cpu).reshape([2, 3, 2]);
    assert_eq!(x.sum_dims(&[0, 2], false).to_vec::<f32>().unwrap(), vec![14.0, 22.0, 30.0]);
    assert_eq!(x.sum_dims(&[-1, 0], true).dims(), &[1, 3, 1]);
    assert_eq!(x.mean(1, false).to_vec::<f32>().unwrap(), vec![2.0, 3.0, 8.0, 9.0]);
    assert_eq!(x.max_dims(&[1, 2], false).to_vec::<f32>().unwrap(), vec![5.0, 11.0]);
    assert_eq!(x.permute(&[2, 1, 0]).min(-1, false).to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    let t = Tensor::from_vec(vec![1.0f32, 3.0, 3.0, 2.0, 2.0, 0.0], [2, 3], &cpu);
    assert_eq!(t.argmax(1, false).to_vec::<u32>().unwrap(), vec![1, 0], "first of tied maxima");
    assert_eq!(t.argmin(0, true).to_vec::<u32>().unwrap(), vec![0, 1, 1]);
    assert_eq!(t.argmax(0, true).dims(), &[1, 3]);
    let neg = Tensor::from_vec(vec![-5.0f32, -0.5, -7.0], [3], &cpu);
    assert_eq!(neg.max_all().to_vec::<f32>().unwrap(), vec![-0.5], "max is not clamped at 0");
    assert_eq!(neg.mean_all().to_vec::<f32>().unwrap(), vec![-12.5 / 3.0]);
    let i = Tensor::from_vec(vec![-5i32, 3, 7, i32::MAX, -2], [5], &cpu);
    assert_eq!(i.narrow(0, 0, 3).sum_all().to_vec::<i32>().unwrap(), vec![5]);
    assert_eq!(i.min_all().to_vec::<i32>().unwrap(), vec![-5]);
    assert_eq!(i.argmax(0, false).to_vec::<u32>().unwrap(), vec![3]);
}

/// Column reductions with many outputs and runs past one chunk: each run is split over
/// several invocations and the partials reduced by a second launch (sum, mean, max,
/// min), while arg reductions stay unsplit; an odd run length leaves a short last chunk.
#[test]
fn split_column_reductions_match_cpu() {
    for (rows, cols) in [(300, 1100), (1031, 1030), (65, 2048)] {
        for (name, op, tol) in OPS {
            for ties in [false, true] {
                let what = format!("{name} over dim 0 of [{rows}, {cols}] ties={ties}");
                conform(&what, tol.0, tol.1, |dev| {
                    op(&data(&mut Rng::new(7), &[rows, cols], ties).to_device(dev), 0, false)
                });
            }
        }
    }
}
