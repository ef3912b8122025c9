//! Cross-device conformance of comparisons (eq ne lt le gt ge), `where_cond` and
//! `cast` between f32, f16, u32 and i32: GPU results against the CPU reference from
//! the same data, over broadcast and non-contiguous inputs, plus hand-computed checks
//! of the CPU reference.
//!
//! Tolerances: comparisons, `where` and casts to integers are exact (0, 0). Casts to a
//! float may round either way on the GPU (WGSL lets a conversion that is not exact pick
//! either neighbour): f32 targets 0, 2e-7 (one ulp); f16 targets 0, 1e-3 (one half ulp
//! is 4.9e-4 relative, one ulp up to 9.8e-4).

mod common;
use common::{conform, conformed, Rng};
use wgrad::{DType, Device, Tensor};

type View = fn(&Tensor) -> Tensor;

fn id(t: &Tensor) -> Tensor {
    t.clone()
}

/// Two-input layouts: (name, shape of a, view of a, shape of b, view of b).
type Pair = (&'static str, Vec<usize>, View, Vec<usize>, View);
/// Three-input layouts (condition, on_true, on_false): name, base shapes, views.
type Triple = (&'static str, [Vec<usize>; 3], [View; 3]);

fn pairs() -> Vec<Pair> {
    vec![
        ("same shape", vec![7, 13], id, vec![7, 13], id),
        ("[3,1] with [1,5]", vec![3, 1], id, vec![1, 5], id),
        ("transposed with narrowed", vec![13, 7], |t| t.t(), vec![7, 20], |t| t.narrow(1, 4, 13)),
        ("rank 4 with 0-d", vec![2, 3, 1, 5], id, vec![], id),
        ("empty", vec![4, 0], id, vec![1, 0], id),
    ]
}

/// Like [`conform`], for ops involving f16: devices that cannot hold f16 sit it out
/// (the CPU always can, so the reference always runs).
fn conform_dtype(what: &str, dtypes: &[DType], atol: f64, rtol: f64, f: impl Fn(&Device) -> Tensor) -> Tensor {
    if dtypes.contains(&DType::F16) && common::lacks_f16(what) {
        return f(&Device::cpu()); // the CPU always holds f16: the reference still runs
    }
    conformed(what, atol, rtol, f)
}

type Cmp = fn(&Tensor, &Tensor) -> Tensor;
const CMPS: [(&str, Cmp); 6] = common::tensor_methods!(Cmp: eq, ne, lt, le, gt, ge);

#[test]
fn comparisons_match_cpu_for_every_dtype() {
    let mut rng = Rng::new(11);
    for dtype in [DType::F32, DType::F16, DType::I32, DType::U32] {
        for (name, sa, va, sb, vb) in pairs() {
            // Few distinct values, so that ties (eq, le, ge) happen often.
            let (a, b) = (rng.tensor(&sa, dtype, 0.0, 4.0), rng.tensor(&sb, dtype, 0.0, 4.0));
            for (op_name, op) in CMPS {
                let want = conform_dtype(&format!("{dtype} {op_name} {name}"), &[dtype], 0.0, 0.0, |dev| {
                    op(&va(&a.to_device(dev)), &vb(&b.to_device(dev)))
                });
                assert_eq!(want.dtype(), DType::U32, "comparisons return u32 0/1");
            }
        }
    }
}

#[test]
fn comparisons_with_nan_and_infinities() {
    let a = vec![f32::NAN, f32::NAN, 1.0, f32::INFINITY, f32::NEG_INFINITY, -0.0];
    let b = vec![f32::NAN, 1.0, f32::NAN, f32::INFINITY, 0.0, 0.0];
    // NaN compares unequal to everything, itself included; -0 == 0.
    let expected: [(&str, [u32; 6]); 6] = [
        ("eq", [0, 0, 0, 1, 0, 1]),
        ("ne", [1, 1, 1, 0, 1, 0]),
        ("lt", [0, 0, 0, 0, 1, 0]),
        ("le", [0, 0, 0, 1, 1, 1]),
        ("gt", [0, 0, 0, 0, 0, 0]),
        ("ge", [0, 0, 0, 1, 0, 1]),
    ];
    for ((op_name, op), (name, want)) in CMPS.into_iter().zip(expected) {
        assert_eq!(op_name, name);
        let got = conformed(&format!("{op_name} with NaN"), 0.0, 0.0, |dev| {
            op(&Tensor::from_vec(a.clone(), [6], dev), &Tensor::from_vec(b.clone(), [6], dev))
        });
        assert_eq!(got.to_vec::<u32>().unwrap(), want, "{op_name}");
    }
}

#[test]
fn where_cond_matches_cpu_with_broadcasting() {
    let mut rng = Rng::new(12);
    // (condition dtype, value dtype): a u32 mask from a comparison, and f32 / i32
    // conditions where any non-zero value counts as true.
    for (cond_dtype, dtype) in [(DType::U32, DType::F32), (DType::F32, DType::F32), (DType::I32, DType::I32)] {
        let layouts: [Triple; 4] = [
            ("same shape", [vec![7, 13], vec![7, 13], vec![7, 13]], [id, id, id]),
            ("[3,1] ? [1,5] : 0-d", [vec![3, 1], vec![1, 5], vec![]], [id, id, id]),
            (
                "transposed, narrowed, expanded",
                [vec![13, 7], vec![7, 20], vec![1, 13]],
                [|t| t.t(), |t| t.narrow(1, 2, 13), |t| t.expand([7, 13])],
            ),
            ("empty", [vec![2, 0], vec![1, 0], vec![2, 1]], [id, id, id]),
        ];
        for (name, [sc, sa, sb], [vc, va, vb]) in layouts {
            let cond = rng.tensor(&sc, DType::U32, 0.0, 2.0).cast(cond_dtype); // 0 or 1
            let (a, b) = (rng.tensor(&sa, dtype, -9.0, 9.0), rng.tensor(&sb, dtype, -9.0, 9.0));
            conform(&format!("where({cond_dtype}) {dtype} {name}"), 0.0, 0.0, |dev| {
                vc(&cond.to_device(dev)).where_cond(&va(&a.to_device(dev)), &vb(&b.to_device(dev)))
            });
        }
    }
    // A float condition: NaN and -0.5 are non-zero (true), -0.0 is zero (false).
    let cond = vec![f32::NAN, 0.0, -0.0, -0.5, f32::INFINITY];
    let got = conformed("where with a NaN condition", 0.0, 0.0, |dev| {
        let c = Tensor::from_vec(cond.clone(), [5], dev);
        c.where_cond(&Tensor::ones([5], DType::F32, dev), &Tensor::zeros([], DType::F32, dev))
    });
    assert_eq!(got.to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, 1.0, 1.0]);
    // The usual form: a mask from a comparison selects between two tensors.
    let (x, y) = (rng.tensor(&[5, 9], DType::F32, -1.0, 1.0), rng.tensor(&[9], DType::F32, -1.0, 1.0));
    conform("where(x > y, x, y * 2)", 0.0, 0.0, |dev| {
        let (x, y) = (x.to_device(dev), y.to_device(dev));
        x.gt(&y).where_cond(&x, &y.mul_scalar(2.0))
    });
}

/// Source data valid for every cast target from `from`: whole and fractional values
/// for floats (non-negative when the target is u32: negative float to u32 is
/// undefined in PyTorch), negatives for i32 and large values for u32.
fn cast_source(rng: &mut Rng, shape: &[usize], from: DType, to: DType) -> Tensor {
    match from {
        DType::F32 | DType::F16 if to == DType::U32 => rng.tensor(shape, from, 0.0, 1000.0),
        DType::F32 | DType::F16 => rng.tensor(shape, from, -1000.0, 1000.0),
        DType::I32 => rng.tensor(shape, from, -1e6, 1e6),
        DType::U32 if to == DType::F16 => rng.tensor(shape, from, 0.0, 60000.0),
        DType::U32 => rng.tensor(shape, from, 0.0, 4.2e9),
    }
}

#[test]
fn casts_match_cpu_between_all_dtypes() {
    let mut rng = Rng::new(13);
    let all = [DType::F32, DType::F16, DType::U32, DType::I32];
    let layouts: [(&str, Vec<usize>, View); 4] = [
        ("contiguous", vec![7, 33], id),
        ("transposed", vec![13, 7], |t| t.t()),
        ("expanded", vec![1, 13], |t| t.expand([3, 13])),
        ("empty", vec![0, 5], id),
    ];
    for from in all {
        for to in all {
            for (name, shape, view) in &layouts {
                let mut x = cast_source(&mut rng, shape, from, to);
                if from == DType::I32 && to == DType::F16 {
                    x = x.div_scalar(1000.0); // within f16's range
                }
                let rtol = match to {
                    DType::F16 => 1e-3,
                    DType::F32 => 2e-7,
                    _ => 0.0,
                };
                let want = conform_dtype(&format!("cast {from} -> {to} of {name}"), &[from, to], 0.0, rtol, |dev| {
                    view(&x.to_device(dev)).cast(to)
                });
                assert_eq!(want.dtype(), to);
            }
        }
    }
}

#[test]
fn cpu_reference_casts_on_hand_computed_values() {
    let cpu = Device::cpu();
    let f = Tensor::from_vec(vec![-2.7f32, -0.5, 0.5, 2.7, 1e6 + 0.5], [5], &cpu);
    assert_eq!(f.cast(DType::I32).to_vec::<i32>().unwrap(), vec![-2, 0, 0, 2, 1_000_000], "truncates toward zero");
    assert_eq!(f.abs().cast(DType::U32).to_vec::<u32>().unwrap(), vec![2, 0, 0, 2, 1_000_000]);
    // Between the 32-bit integer types a cast keeps the bits (two's complement), as
    // PyTorch's and WGSL's do.
    let i = Tensor::from_vec(vec![-1i32, i32::MIN, 7], [3], &cpu);
    assert_eq!(i.cast(DType::U32).to_vec::<u32>().unwrap(), vec![u32::MAX, 1 << 31, 7]);
    let u = Tensor::from_vec(vec![3_000_000_000u32, u32::MAX, 16_777_217], [3], &cpu);
    assert_eq!(u.cast(DType::I32).to_vec::<i32>().unwrap(), vec![-1_294_967_296, -1, 16_777_217]);
    assert_eq!(u.cast(DType::F32).to_vec::<f32>().unwrap(), vec![3e9, 4_294_967_296.0, 16_777_216.0]);
    // f16 rounds to nearest, ties to even; beyond 65504 (plus half an ulp) is inf.
    let h = Tensor::from_vec(vec![1.0f32 / 3.0, 2049.0, 2051.0, 65519.0, 65520.0], [5], &cpu).cast(DType::F16);
    assert_eq!(common::values(&h), vec![0.333_251_953_125, 2048.0, 2052.0, 65504.0, f64::INFINITY]);
    assert_eq!(h.cast(DType::I32).narrow(0, 0, 4).to_vec::<i32>().unwrap(), vec![0, 2048, 2052, 65504]);
}

#[test]
fn cpu_reference_compare_and_where_on_hand_computed_values() {
    let cpu = Device::cpu();
    let a = Tensor::from_vec(vec![1i32, -2, 3], [3, 1], &cpu);
    let b = Tensor::from_vec(vec![-2i32, 3], [1, 2], &cpu);
    assert_eq!(a.ge(&b).to_vec::<u32>().unwrap(), vec![1, 0, 1, 0, 1, 1]);
    let u = Tensor::from_vec(vec![0u32, 4_000_000_000], [2], &cpu);
    assert_eq!(u.lt(&Tensor::from_vec(vec![1u32], [1], &cpu)).to_vec::<u32>().unwrap(), vec![1, 0], "unsigned order");
    let cond = Tensor::from_vec(vec![0.0f32, -0.5, 2.0, -0.0], [4], &cpu);
    let picked =
        cond.where_cond(&Tensor::from_vec(vec![1i32, 2, 3, 4], [4], &cpu), &Tensor::full([], 9.0, DType::I32, &cpu));
    assert_eq!(picked.to_vec::<i32>().unwrap(), vec![9, 2, 3, 9], "any non-zero condition is true");
}
