//! Cross-device conformance of elementwise ops: every unary op, binary op and its
//! `_scalar` form, and the operators, computed on the GPU and compared with the CPU
//! reference from the same data, over contiguous, transposed, narrowed, permuted and
//! broadcast inputs of rank 0..4, odd sizes and empty tensors. Comparisons, `where`
//! and casts are in conformance_compare_cast.rs.
//!
//! Tolerances (atol, rtol), per op family:
//! - neg, abs, relu, add, sub, mul, maximum, minimum: exact in both backends (one IEEE
//!   rounding each, or none): 0, 0.
//! - div: WGSL allows 2.5 ulp for `/`: 0, 1e-6.
//! - exp, log, sqrt, rsqrt, sigmoid, tanh, gelu, gelu_tanh, pow, sin, cos, silu,
//!   softplus, leaky_relu, elu: WGSL's builtins are
//!   a few ulp and GPU gelu uses an erf approximation (|err| < 1.5e-7): 1e-5, 1e-4.
//! - f16 inputs: the f32 result rounded to half, possibly the other way: 1e-3, 1e-3.

mod common;
use common::{conform, conformed, Rng};
use wgrad::{DType, Device, Tensor};

/// How an input is viewed on each device before the op: base shape, then the view.
type View = fn(&Tensor) -> Tensor;

fn id(t: &Tensor) -> Tensor {
    t.clone()
}

/// The single-input layouts every unary op runs on: (name, base shape, view).
fn unary_layouts(rng: &mut Rng) -> Vec<(String, Vec<usize>, View)> {
    let mut out: Vec<(String, Vec<usize>, View)> = (0..=4)
        .map(|rank| {
            let shape = rng.shape(rank, if rank > 2 { 6 } else { 20 });
            (format!("contiguous {shape:?}"), shape, id as View)
        })
        .collect();
    out.extend([
        ("odd sizes".to_string(), vec![7, 13, 33], id as View),
        ("empty".into(), vec![3, 0, 2], id),
        ("transposed".into(), vec![13, 7], |t| t.t()),
        ("permuted".into(), vec![2, 7, 5], |t| t.permute(&[2, 0, 1])),
        ("narrowed".into(), vec![5, 33], |t| t.narrow(1, 3, 17)),
        ("narrowed then transposed".into(), vec![9, 16], |t| t.narrow(0, 1, 7).t()),
        ("broadcast [3,1] to [3,5]".into(), vec![3, 1], |t| t.broadcast_to([3, 5])),
        ("broadcast [13] to [4,13]".into(), vec![13], |t| t.expand([4, 13])),
    ]);
    out
}

/// Two-input layouts: (name, shape of a, view of a, shape of b, view of b).
type Pair = (&'static str, Vec<usize>, View, Vec<usize>, View);

fn binary_layouts() -> Vec<Pair> {
    vec![
        ("same shape", vec![7, 13], id, vec![7, 13], id),
        ("[3,1] with [1,5]", vec![3, 1], id, vec![1, 5], id),
        ("transposed with contiguous", vec![13, 7], |t| t.t(), vec![7, 13], id),
        ("narrowed with 0-d", vec![4, 33], |t| t.narrow(1, 5, 20), vec![], id),
        ("rank 4 broadcast", vec![2, 1, 7, 1], id, vec![1, 3, 1, 13], id),
        ("0-d with 0-d", vec![], id, vec![], id),
        ("empty with [1,3]", vec![0, 3], id, vec![1, 3], id),
        ("expanded with narrowed", vec![1, 33], |t| t.broadcast_to([4, 33]), vec![4, 40], |t| t.narrow(1, 7, 33)),
    ]
}

type Unary = fn(&Tensor) -> Tensor;
/// Inputs are drawn uniformly from [lo, hi).
type Range = (f32, f32);
/// (atol, rtol)
type Tol = (f64, f64);

/// (name, op, input range, atol, rtol).
fn unary_ops() -> Vec<(&'static str, Unary, Range, f64, f64)> {
    const T: (f64, f64) = (1e-5, 1e-4);
    vec![
        ("neg", Tensor::neg, (-5.0, 5.0), 0.0, 0.0),
        ("abs", Tensor::abs, (-5.0, 5.0), 0.0, 0.0),
        ("relu", Tensor::relu, (-5.0, 5.0), 0.0, 0.0),
        ("exp", Tensor::exp, (-10.0, 10.0), T.0, T.1),
        ("log", Tensor::log, (0.01, 100.0), T.0, T.1),
        ("sqrt", Tensor::sqrt, (0.0, 100.0), T.0, T.1),
        ("rsqrt", Tensor::rsqrt, (0.01, 100.0), T.0, T.1),
        ("sigmoid", Tensor::sigmoid, (-12.0, 12.0), T.0, T.1),
        ("tanh", Tensor::tanh, (-6.0, 6.0), T.0, T.1),
        ("gelu", Tensor::gelu, (-6.0, 6.0), T.0, T.1),
        ("gelu_tanh", Tensor::gelu_tanh, (-6.0, 6.0), T.0, T.1),
        ("powf(2)", |x| x.powf(2.0), (-4.0, 4.0), T.0, T.1),
        ("powf(3) of negatives", |x| x.powf(3.0), (-4.0, 4.0), T.0, T.1),
        ("powf(0.5)", |x| x.powf(0.5), (0.0, 9.0), T.0, T.1),
        ("powf(-1.5)", |x| x.powf(-1.5), (0.1, 9.0), T.0, T.1),
        ("powf(0)", |x| x.powf(0.0), (-4.0, 4.0), 0.0, 0.0),
        ("sin", Tensor::sin, (-10.0, 10.0), T.0, T.1),
        ("cos", Tensor::cos, (-10.0, 10.0), T.0, T.1),
        ("silu", Tensor::silu, (-12.0, 12.0), T.0, T.1),
        ("softplus (both sides of its threshold)", Tensor::softplus, (-30.0, 30.0), T.0, T.1),
        ("leaky_relu(0.1)", |x| x.leaky_relu(0.1), (-5.0, 5.0), T.0, T.1),
        ("elu(1.5)", |x| x.elu(1.5), (-6.0, 6.0), T.0, T.1),
    ]
}

#[test]
fn unary_ops_match_cpu_on_every_layout() {
    let mut rng = Rng::new(1);
    let layouts = unary_layouts(&mut rng);
    for (op_name, op, (lo, hi), atol, rtol) in unary_ops() {
        for (name, shape, view) in &layouts {
            let x = rng.tensor(shape, DType::F32, lo, hi);
            conform(&format!("{op_name} of {name}"), atol, rtol, |dev| op(&view(&x.to_device(dev))));
        }
    }
}

#[test]
fn unary_ops_on_f16_and_integers() {
    let mut rng = Rng::new(2);
    // f16 on every device that holds it (the CPU always): the reference is the f32 op
    // on the CPU over the same (half-representable) values, rounded to half.
    for (op_name, op, (lo, hi), _, _) in unary_ops() {
        let x = rng.tensor(&[7, 13], DType::F16, lo, hi);
        let want = op(&x.cast(DType::F32).t()).cast(DType::F16);
        for dev in common::devices().into_iter().filter(Device::supports_f16) {
            let got = op(&x.to_device(&dev).t()).to_device(&Device::cpu());
            common::assert_close(&got, &want, 1e-3, 1e-3, &format!("f16 {op_name} on {dev:?}"));
        }
    }
    let int_ops = common::tensor_methods!(Unary: neg, abs, relu);
    for (dtype, lo) in [(DType::I32, -50.0), (DType::U32, 0.0)] {
        for (op_name, op) in int_ops {
            for (name, shape, view) in unary_layouts(&mut rng) {
                let x = rng.tensor(&shape, dtype, lo, 50.0);
                conform(&format!("{dtype} {op_name} of {name}"), 0.0, 0.0, |dev| op(&view(&x.to_device(dev))));
            }
        }
    }
}

type Binary = fn(&Tensor, &Tensor) -> Tensor;

/// (name, op, range of a, range of b, atol, rtol); div's divisor is kept away from 0.
fn binary_ops() -> Vec<(&'static str, Binary, Range, Range, Tol)> {
    vec![
        ("add", Tensor::add, (-5.0, 5.0), (-5.0, 5.0), (0.0, 0.0)),
        ("sub", Tensor::sub, (-5.0, 5.0), (-5.0, 5.0), (0.0, 0.0)),
        ("mul", Tensor::mul, (-5.0, 5.0), (-5.0, 5.0), (0.0, 0.0)),
        ("div", Tensor::div, (-5.0, 5.0), (0.5, 5.0), (0.0, 1e-6)),
        ("maximum", Tensor::maximum, (-5.0, 5.0), (-5.0, 5.0), (0.0, 0.0)),
        ("minimum", Tensor::minimum, (-5.0, 5.0), (-5.0, 5.0), (0.0, 0.0)),
        ("pow", Tensor::pow, (0.1, 4.0), (-2.0, 3.0), (1e-5, 1e-4)),
    ]
}

#[test]
fn binary_ops_match_cpu_with_broadcasting_and_views() {
    let mut rng = Rng::new(3);
    for (op_name, op, (alo, ahi), (blo, bhi), (atol, rtol)) in binary_ops() {
        for (name, sa, va, sb, vb) in binary_layouts() {
            let a = rng.tensor(&sa, DType::F32, alo, ahi);
            let b = rng.tensor(&sb, DType::F32, blo, bhi);
            // Negative divisors too: flip the sign of the divisor's odd elements.
            let b = if op_name == "div" { flip_odd(&b) } else { b };
            conform(&format!("{op_name} {name}"), atol, rtol, |dev| op(&va(&a.to_device(dev)), &vb(&b.to_device(dev))));
        }
    }
}

fn flip_odd(b: &Tensor) -> Tensor {
    let v: Vec<f32> = b.to_vec().unwrap();
    let v = v.iter().enumerate().map(|(i, &x)| if i % 2 == 1 { -x } else { x }).collect::<Vec<_>>();
    Tensor::from_vec(v, b.dims(), b.device())
}

#[test]
fn integer_binary_ops_match_cpu() {
    // Integer division truncates toward zero, and x / 0 is x on both devices (the
    // documented convention; WGSL's), so zero divisors are included.
    let mut rng = Rng::new(4);
    let int_ops = common::tensor_methods!(Binary: add, sub, mul, div, maximum, minimum);
    for (dtype, lo) in [(DType::I32, -20.0), (DType::U32, 0.0)] {
        for (op_name, op) in int_ops {
            for (name, sa, va, sb, vb) in binary_layouts() {
                let (a, b) = (rng.tensor(&sa, dtype, lo, 40.0), rng.tensor(&sb, dtype, lo, 20.0));
                conform(&format!("{dtype} {op_name} {name}"), 0.0, 0.0, |dev| {
                    op(&va(&a.to_device(dev)), &vb(&b.to_device(dev)))
                });
            }
        }
    }
}

#[test]
fn scalar_variants_and_operators_match_cpu() {
    let mut rng = Rng::new(5);
    type Scalar = fn(&Tensor, f64) -> Tensor;
    let ops =
        common::tensor_methods!(Scalar: add_scalar, sub_scalar, mul_scalar, div_scalar, maximum_scalar, minimum_scalar);
    for (name, shape, view) in unary_layouts(&mut rng) {
        for (dtype, lo, s) in [(DType::F32, -5.0, -1.25), (DType::F32, -5.0, 3.0), (DType::I32, -20.0, 3.0)] {
            let x = rng.tensor(&shape, dtype, lo, 20.0);
            for (op_name, op) in ops {
                let what = format!("{dtype} {op_name}({s}) of {name}");
                conform(&what, 0.0, 1e-6, |dev| op(&view(&x.to_device(dev)), s));
            }
        }
        let x = rng.tensor(&shape, DType::U32, 0.0, 20.0);
        conform(&format!("u32 sub_scalar of {name}"), 0.0, 0.0, |dev| view(&x.to_device(dev)).sub_scalar(7.0));
        let x = rng.tensor(&shape, DType::F32, 0.1, 4.0);
        conform(&format!("pow via binary_scalar of {name}"), 1e-5, 1e-4, |dev| {
            view(&x.to_device(dev)).binary_scalar(wgrad::BinaryOp::Pow, 1.5)
        });
    }
    // The operators are the methods: `&a + &b`, `&a * 2.0`, and the rest.
    let (a, b) = (rng.tensor(&[3, 1], DType::F32, -5.0, 5.0), rng.tensor(&[1, 5], DType::F32, 0.5, 5.0));
    conform("operators", 0.0, 1e-6, |dev| {
        let (a, b) = (a.to_device(dev), b.to_device(dev));
        let r = (&(&a + &b) * 2.0) - (&a / &b) + (&a * &b) / 3.0 - &b - 1.5;
        -(r + 0.25)
    });
}

#[test]
fn edge_values_match_cpu_and_propagate_nan() {
    let cpu = Device::cpu();
    let big = vec![-100.0f32, -88.0, -50.0, -20.0, 0.0, 20.0, 50.0, 88.0, 100.0];
    let n = big.len();
    for (name, op) in [("sigmoid", Tensor::sigmoid as Unary), ("tanh", Tensor::tanh), ("gelu", Tensor::gelu)] {
        let want = conformed(&format!("{name} of large logits"), 1e-6, 1e-5, |dev| {
            op(&Tensor::from_vec(big.clone(), [n], dev))
        });
        let v: Vec<f32> = want.to_vec().unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{name} of large logits must stay finite: {v:?}");
    }
    let s: Vec<f32> = Tensor::from_vec(vec![-100.0f32, 100.0], [2], &cpu).sigmoid().to_vec().unwrap();
    assert!(s[0] >= 0.0 && s[0] < 1e-40 && s[1] == 1.0, "sigmoid(±100) = {s:?}");
    let t: Vec<f32> = Tensor::from_vec(vec![-50.0f32, 50.0], [2], &cpu).tanh().to_vec().unwrap();
    assert_eq!(t, vec![-1.0, 1.0]);

    // NaN propagates through maximum/minimum (either side) and relu, as in PyTorch.
    let nan = f32::NAN;
    let a = vec![nan, 1.0, nan, -2.0, f32::INFINITY, -0.5];
    let b = vec![1.0, nan, nan, 3.0, 2.0, f32::NEG_INFINITY];
    let ops: [(&str, Binary); 2] = [("maximum", Tensor::maximum), ("minimum", Tensor::minimum)];
    for (name, op) in ops {
        let want = conformed(&format!("{name} with NaN"), 0.0, 0.0, |dev| {
            op(&Tensor::from_vec(a.clone(), [6], dev), &Tensor::from_vec(b.clone(), [6], dev))
        });
        let v: Vec<f32> = want.to_vec().unwrap();
        assert!(v[..3].iter().all(|x| x.is_nan()), "{name} must propagate NaN: {v:?}");
    }
    let want =
        conformed("maximum_scalar of NaN", 0.0, 0.0, |dev| Tensor::from_vec(a.clone(), [6], dev).maximum_scalar(0.0));
    let v = common::values(&want);
    assert!(v[0].is_nan() && v[2].is_nan(), "maximum_scalar must propagate NaN: {v:?}");
    assert_eq!([v[1], v[3], v[4], v[5]], [1.0, 0.0, f64::INFINITY, 0.0]);
    let want = conformed("relu of NaN", 0.0, 0.0, |dev| Tensor::from_vec(a.clone(), [6], dev).relu());
    let v = common::values(&want);
    assert!(v[0].is_nan() && v[2].is_nan(), "relu must propagate NaN: {v:?}");
    assert_eq!([v[1], v[3], v[4], v[5]], [1.0, 0.0, f64::INFINITY, 0.0]);
}

#[test]
fn cpu_reference_on_hand_computed_values() {
    let cpu = Device::cpu();
    let x = Tensor::from_vec(vec![-2.0f32, -0.5, 0.0, 1.0, 4.0], [5], &cpu);
    let close = |t: Tensor, want: &[f64], what: &str| {
        common::assert_close(
            &t,
            &Tensor::from_vec(want.iter().map(|&v| v as f32).collect(), [want.len()], &cpu),
            1e-6,
            1e-6,
            what,
        )
    };
    close(x.gelu(), &[-0.045_500_26, -0.154_268_7, 0.0, 0.841_344_7, 3.999_873], "gelu");
    close(x.gelu_tanh(), &[-0.045_402_3, -0.154_285_99, 0.0, 0.841_192, 3.999_929_7], "gelu_tanh");
    close(x.sigmoid(), &[0.119_202_92, 0.377_540_67, 0.5, 0.731_058_6, 0.982_013_8], "sigmoid");
    close(x.abs().rsqrt().narrow(0, 3, 2), &[1.0, 0.5], "rsqrt");
    close(x.powf(3.0), &[-8.0, -0.125, 0.0, 1.0, 64.0], "powf(3) keeps the sign of negative bases");
    let p = common::values(&x.powf(-1.0));
    assert_eq!(p[2], f64::INFINITY, "0 ^ -1 = inf");
    assert!(x.powf(0.5).to_vec::<f32>().unwrap()[0].is_nan(), "(-2) ^ 0.5 is NaN");
    // Integer arithmetic wraps at 32 bits; x / 0 = x.
    let u = Tensor::from_vec(vec![3u32, 10, 0], [3], &cpu);
    assert_eq!(
        u.sub(&Tensor::from_vec(vec![5u32, 4, 1], [3], &cpu)).to_vec::<u32>().unwrap(),
        vec![u32::MAX - 1, 6, u32::MAX]
    );
    let i = Tensor::from_vec(vec![9i32, -9, 5, i32::MIN], [4], &cpu);
    let d = Tensor::from_vec(vec![-4i32, 4, 0, -1], [4], &cpu);
    assert_eq!(i.div(&d).to_vec::<i32>().unwrap(), vec![-2, -2, 5, i32::MIN]);
    assert_eq!(i.neg().to_vec::<i32>().unwrap(), vec![-9, 9, -5, i32::MIN]);
    assert_eq!(i.maximum(&d).relu().to_vec::<i32>().unwrap(), vec![9, 4, 5, 0]);
}
