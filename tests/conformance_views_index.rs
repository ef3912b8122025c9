//! Cross-device conformance of views (reshape, transpose, permute, narrow, unsqueeze,
//! squeeze, expand, contiguous), joins (cat, stack), indexing (index_select, gather),
//! out-of-range ids, creation (from_vec, zeros, ones, full, arange, randn) and transfers.
//! Every op here moves or picks values without arithmetic, so all comparisons are
//! exact (atol 0, rtol 0).
//!
//! A device's pending error is shared by everything that uses the device, so every test
//! in this binary takes `SERIAL`: the out-of-range tests must not hand their error to
//! another test's readback.

mod common;
use common::{conform, conformed, Rng};
use std::sync::{Mutex, MutexGuard};
use wgrad::{DType, Device, Tensor};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// 0, 1, 2, ... as f32 in `shape`, on the CPU: every element is distinguishable.
fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::arange(0.0, n as f64, DType::F32, &Device::cpu()).reshape(shape)
}

type View = fn(&Tensor) -> Tensor;

#[test]
fn view_chains_give_the_same_values() {
    let _s = serial();
    let views: [(&str, View); 18] = [
        ("reshape", |t| t.reshape([6, 20])),
        ("reshape to 1-D", |t| t.reshape([120])),
        ("transpose(0, 3)", |t| t.transpose(0, 3)),
        ("transpose(-1, -2)", |t| t.transpose(-1, -2)),
        ("permute", |t| t.permute(&[3, 1, 0, 2])),
        ("narrow", |t| t.narrow(2, 1, 2)),
        ("narrow(-1) to 1, squeeze", |t| t.narrow(-1, 4, 1).squeeze(3)),
        ("narrow to 0", |t| t.narrow(0, 1, 0)),
        ("unsqueeze(0)", |t| t.unsqueeze(0)),
        ("unsqueeze(-1) of a transpose", |t| t.transpose(1, 2).unsqueeze(-1)),
        ("transposed then reshaped (a copy)", |t| t.transpose(0, 2).reshape([4, 30])),
        ("narrowed then reshaped", |t| t.narrow(1, 1, 2).reshape([2, 40])),
        ("permuted, contiguous, reshaped", |t| t.permute(&[2, 0, 3, 1]).contiguous().reshape([8, 15])),
        ("expand", |t| t.narrow(1, 0, 1).expand([2, 4, 4, 5])),
        ("expanded contiguous", |t| t.narrow(3, 2, 1).expand([2, 3, 4, 6]).contiguous()),
        ("flatten_from(1) of a permute", |t| t.permute(&[1, 0, 3, 2]).flatten_from(1)),
        ("narrow of a narrow of a transpose", |t| t.transpose(0, 3).narrow(0, 1, 3).narrow(3, 1, 1)),
        ("squeeze then unsqueeze", |t| t.narrow(0, 1, 1).squeeze(0).unsqueeze(1)),
    ];
    let x = iota(&[2, 3, 4, 5]);
    for (name, view) in views {
        let want = conformed(name, 0.0, 0.0, |dev| view(&x.to_device(dev)));
        // The CPU reference against a direct index computation for a few views.
        if name == "permute" {
            let v = common::values(&want);
            assert_eq!(want.dims(), &[5, 3, 2, 4]);
            // want[i, j, k, l] = x[k, j, l, i] = 60k + 20j + 5l + i
            assert_eq!(v[4 * 24 + 8 + 4 + 3], (60 + 20 + 5 * 3 + 4) as f64);
        }
    }
    // Every dtype moves through views alike.
    for dtype in [DType::I32, DType::U32, DType::F16] {
        if dtype == DType::F16 && common::lacks_f16("views") {
            continue;
        }
        let x = iota(&[4, 6]).cast(dtype);
        conform(&format!("{dtype} transpose+narrow+contiguous"), 0.0, 0.0, |dev| {
            x.to_device(dev).t().narrow(1, 1, 2).contiguous()
        });
    }
    let cpu = Device::cpu();
    let t = iota(&[2, 3]);
    assert_eq!(t.t().contiguous().to_vec::<f32>().unwrap(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert_eq!(t.narrow(1, 1, 2).to_vec::<f32>().unwrap(), vec![1.0, 2.0, 4.0, 5.0]);
    let e = Tensor::from_vec(vec![7.0f32, 8.0], [2, 1], &cpu).expand([2, 3]);
    assert_eq!(e.to_vec::<f32>().unwrap(), vec![7.0, 7.0, 7.0, 8.0, 8.0, 8.0]);
    assert!(!e.is_contiguous() && e.contiguous().is_contiguous());
}

#[test]
fn cat_and_stack_match_cpu() {
    let _s = serial();
    let mut rng = Rng::new(41);
    for dtype in [DType::F32, DType::I32, DType::U32] {
        // Three pieces for dim 0 (one transposed, one narrowed) and for the last dim
        // (one expanded), plus an empty one.
        let (p, q, r) = (
            rng.tensor(&[2, 5], dtype, 0.0, 99.0),
            rng.tensor(&[5, 3], dtype, 0.0, 99.0),
            rng.tensor(&[4, 9], dtype, 0.0, 99.0),
        );
        let empty = rng.tensor(&[0, 5], dtype, 0.0, 99.0);
        let want = conformed(&format!("{dtype} cat dim 0"), 0.0, 0.0, |dev| {
            let (p, q, r, e) = (p.to_device(dev), q.to_device(dev), r.to_device(dev), empty.to_device(dev));
            Tensor::cat(&[&p, &q.t(), &e, &r.narrow(1, 2, 5)], 0)
        });
        assert_eq!(want.dims(), &[9, 5]);
        let col = rng.tensor(&[1, 1], dtype, 0.0, 99.0);
        let want = conformed(&format!("{dtype} cat dim -1"), 0.0, 0.0, |dev| {
            let (p, r, c) = (p.to_device(dev), r.to_device(dev), col.to_device(dev));
            Tensor::cat(&[&r.narrow(0, 1, 2), &c.expand([2, 3]), &p], -1)
        });
        assert_eq!(want.dims(), &[2, 17]);
        for dim in [0isize, 1, -1] {
            let want = conformed(&format!("{dtype} stack dim {dim}"), 0.0, 0.0, |dev| {
                let (p, r) = (p.to_device(dev), r.to_device(dev));
                Tensor::stack(&[&p, &r.narrow(0, 1, 2).narrow(1, 3, 5), &p.t().contiguous().t()], dim)
            });
            assert_eq!(want.rank(), 3);
        }
    }
    let cpu = Device::cpu();
    let a = iota(&[2, 2]);
    let b = Tensor::from_vec(vec![9.0f32, 8.0], [2, 1], &cpu);
    assert_eq!(Tensor::cat(&[&a, &b], 1).to_vec::<f32>().unwrap(), vec![0.0, 1.0, 9.0, 2.0, 3.0, 8.0]);
    assert_eq!(Tensor::cat(&[&a.t(), &b.t()], 0).to_vec::<f32>().unwrap(), vec![0.0, 2.0, 1.0, 3.0, 9.0, 8.0]);
    let s = Tensor::stack(&[&a, &a.mul_scalar(10.0)], 2);
    assert_eq!(
        (s.dims(), s.to_vec::<f32>().unwrap()),
        (&[2, 2, 2][..], vec![0.0, 0.0, 1.0, 10.0, 2.0, 20.0, 3.0, 30.0])
    );
}

/// Ids uniform in 0..size as `dtype` (u32 or i32), on the CPU.
fn ids(rng: &mut Rng, shape: &[usize], size: usize, dtype: DType) -> Tensor {
    rng.tensor(shape, dtype, 0.0, size as f32)
}

#[test]
fn index_select_and_gather_match_cpu() {
    let _s = serial();
    let mut rng = Rng::new(42);
    let x = rng.tensor(&[5, 7, 3], DType::F32, -9.0, 9.0);
    let xi = rng.tensor(&[6, 4], DType::I32, -99.0, 99.0);
    for id_dtype in [DType::U32, DType::I32] {
        for dim in [0isize, 1, 2, -1] {
            let size = x.dims()[dim.rem_euclid(3) as usize];
            let sel = ids(&mut rng, &[9], size, id_dtype); // 9 ids from a few rows: repeats
            let want = conformed(&format!("index_select({dim}) by {id_dtype}"), 0.0, 0.0, |dev| {
                x.to_device(dev).index_select(dim, &sel.to_device(dev))
            });
            assert_eq!(want.dims()[dim.rem_euclid(3) as usize], 9);
        }
        // Non-contiguous input and ids (every other id of a longer vector), integer x.
        let long = ids(&mut rng, &[8, 2], 6, id_dtype);
        conform(&format!("index_select of a transpose by strided {id_dtype} ids"), 0.0, 0.0, |dev| {
            xi.to_device(dev).t().index_select(1, &long.to_device(dev).narrow(1, 1, 1).squeeze(1))
        });
        let none = ids(&mut rng, &[0], 5, id_dtype);
        let empty = conformed("index_select with no ids", 0.0, 0.0, |dev| {
            x.to_device(dev).index_select(0, &none.to_device(dev))
        });
        assert_eq!(empty.dims(), &[0, 7, 3]);
        // gather: ids of x's rank, as large as x outside `dim` or smaller.
        for (dim, shape) in [(0usize, vec![8, 7, 3]), (1, vec![5, 2, 3]), (2, vec![3, 4, 6]), (1, vec![2, 9, 1])] {
            let g = ids(&mut rng, &shape, x.dims()[dim], id_dtype);
            let want = conformed(&format!("gather({dim}) by {id_dtype} {shape:?}"), 0.0, 0.0, |dev| {
                x.to_device(dev).gather(dim, &g.to_device(dev))
            });
            assert_eq!(want.dims(), shape);
        }
        let g = ids(&mut rng, &[3, 4], 6, id_dtype);
        conform(&format!("gather of a transposed i32 by {id_dtype}"), 0.0, 0.0, |dev| {
            xi.to_device(dev).t().gather(1, &g.to_device(dev))
        });
    }
    let cpu = Device::cpu();
    let t = iota(&[3, 4]);
    let picked = t.index_select(1, &Tensor::from_vec(vec![3i32, 0, 3], [3], &cpu));
    assert_eq!(picked.to_vec::<f32>().unwrap(), vec![3.0, 0.0, 3.0, 7.0, 4.0, 7.0, 11.0, 8.0, 11.0]);
    let g = t.gather(0, &Tensor::from_vec(vec![2u32, 0, 1, 2, 1, 1], [2, 3], &cpu));
    assert_eq!(g.to_vec::<f32>().unwrap(), vec![8.0, 1.0, 6.0, 8.0, 5.0, 6.0]);
}

/// The next readback on `dev` fails naming `bad`; then the error is cleared and the
/// device computes normally.
fn expect_index_error(result: wgrad::Result<Vec<f32>>, bad: &str, dev: &Device) {
    let err = result.expect_err("an out-of-range id must be an error");
    assert!(err.to_string().contains(&format!("index {bad}")), "{dev:?}: error should name {bad}: {err}");
    dev.sync().expect("the error is reported once, then cleared");
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], dev);
    let ok = t.index_select(0, &Tensor::from_vec(vec![2u32, 0], [2], dev)).to_vec::<f32>();
    assert_eq!(ok.expect("the device works after the error"), vec![3.0, 1.0], "{dev:?}");
}

#[test]
fn out_of_range_ids_are_errors_naming_the_value_on_every_device() {
    let _s = serial();
    for dev in common::devices() {
        let x = Tensor::from_vec((0..20).map(|v| v as f32).collect(), [5, 4], &dev);
        let u = |v: Vec<u32>| Tensor::from_vec(v.clone(), [v.len()], &dev);
        let i = |v: Vec<i32>| Tensor::from_vec(v.clone(), [v.len()], &dev);
        expect_index_error(x.index_select(0, &u(vec![1, 5])).to_vec(), "5", &dev); // just past the end
        expect_index_error(x.index_select(1, &u(vec![0, 123_456, 2])).to_vec(), "123456", &dev);
        expect_index_error(x.index_select(0, &i(vec![77])).to_vec(), "77", &dev);
        expect_index_error(x.index_select(0, &i(vec![2, -3])).to_vec(), "-3", &dev);
        let g = Tensor::from_vec(vec![0i32, 1, 4, 9], [1, 4], &dev);
        expect_index_error(x.gather(0, &g).to_vec(), "9", &dev);
        // Reported by sync as well, and by a readback of an unrelated tensor.
        let _unread = x.index_select(0, &u(vec![40]));
        let err = dev.sync().expect_err("sync reports the pending error");
        assert!(err.to_string().contains("index 40"), "{dev:?}: {err}");
        let _unread = x.gather(1, &Tensor::from_vec(vec![8u32], [1, 1], &dev));
        expect_index_error(Tensor::ones([2], DType::F32, &dev).to_vec(), "8", &dev);
    }
}

#[test]
fn creation_ops_give_identical_values_on_every_device() {
    let _s = serial();
    let data: Vec<f32> = (0..33).map(|v| (v as f32 - 16.0) / 3.0).collect();
    conform("from_vec", 0.0, 0.0, |dev| Tensor::from_vec(data.clone(), [3, 11], dev));
    conform("from_vec i32", 0.0, 0.0, |dev| Tensor::from_vec(vec![-3i32, 0, i32::MAX, i32::MIN], [2, 2], dev));
    conform("from_vec u32", 0.0, 0.0, |dev| Tensor::from_vec(vec![u32::MAX, 0, 7], [3], dev));
    conform("from_vec 0-d", 0.0, 0.0, |dev| Tensor::from_vec(vec![2.5f32], [], dev));
    for dtype in [DType::F32, DType::F16, DType::I32, DType::U32] {
        if dtype == DType::F16 && common::lacks_f16("zeros and ones") {
            continue;
        }
        for shape in [vec![], vec![0, 3], vec![7, 13]] {
            let z = conformed(&format!("zeros {dtype} {shape:?}"), 0.0, 0.0, |dev| Tensor::zeros(&shape, dtype, dev));
            assert!(common::values(&z).iter().all(|&v| v == 0.0));
            let o = conformed(&format!("ones {dtype} {shape:?}"), 0.0, 0.0, |dev| Tensor::ones(&shape, dtype, dev));
            assert!(common::values(&o).iter().all(|&v| v == 1.0));
        }
        let value = if dtype == DType::U32 { 3e9 } else { -7.0 };
        let f = conformed(&format!("full {dtype}"), 0.0, 0.0, |dev| Tensor::full([4, 5], value, dtype, dev));
        assert!(common::values(&f).iter().all(|&v| v == value), "full {dtype}");
        let a = conformed(&format!("arange {dtype}"), 0.0, 0.0, |dev| Tensor::arange(2.0, 19.0, dtype, dev));
        assert_eq!(common::values(&a), (2..19).map(f64::from).collect::<Vec<_>>());
    }
    let a = conformed("arange_step", 0.0, 0.0, |dev| Tensor::arange_step(1.0, -2.0, -0.5, DType::F32, dev));
    assert_eq!(common::values(&a), vec![1.0, 0.5, 0.0, -0.5, -1.0, -1.5]);
    conform("full 1/3", 0.0, 0.0, |dev| Tensor::full([3], 1.0 / 3.0, DType::F32, dev));
    let r1 = conformed("randn seed 7", 0.0, 0.0, |dev| Tensor::randn([33, 7], 7, dev));
    let r2 = conformed("randn seed 8", 0.0, 0.0, |dev| Tensor::randn([33, 7], 8, dev));
    assert_ne!(common::values(&r1), common::values(&r2), "different seeds differ");
    let mean = common::values(&r1).iter().sum::<f64>() / 231.0;
    assert!(mean.abs() < 0.25, "randn is standard normal: mean {mean}");
    let u = conformed("rand_uniform", 0.0, 0.0, |dev| Tensor::rand_uniform([100], -2.0, 3.0, 5, dev));
    assert!(common::values(&u).iter().all(|&v| (-2.0..3.0).contains(&v)));
}

#[test]
fn to_device_round_trips_preserve_values() {
    let _s = serial();
    let cpu = Device::cpu();
    let mut rng = Rng::new(43);
    for dtype in [DType::F32, DType::F16, DType::I32, DType::U32] {
        let x = rng.tensor(&[6, 9], dtype, 0.0, 1000.0);
        for dev in common::devices().into_iter().filter(|d| dtype != DType::F16 || d.supports_f16()) {
            let there = x.to_device(&dev);
            assert_eq!(there.device(), &dev);
            assert_eq!((there.dims(), there.dtype()), (x.dims(), dtype));
            common::assert_close(&there.to_device(&cpu), &x, 0.0, 0.0, &format!("{dtype} round trip via {dev:?}"));
            // A view travels as its values (contiguous on arrival).
            let view = there.t().narrow(0, 2, 5);
            let back = view.to_device(&cpu);
            assert!(back.is_contiguous() || dev == cpu, "a copy arrives contiguous");
            common::assert_close(&back, &x.t().narrow(0, 2, 5), 0.0, 0.0, &format!("{dtype} view via {dev:?}"));
            let same = there.to_device(&dev);
            assert!(same.id() == there.id(), "to_device onto its own device is the same tensor");
        }
    }
}
