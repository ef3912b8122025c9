//! conv2d and 2-D pooling, forward and backward: hand-computed cases on every device,
//! GPU against the CPU reference on seeded random shapes, and the CPU gradients against
//! finite differences.

mod common;
use common::{assert_close, devices, gpu, values, Rng};
use wgrad::functional::{self as F, Conv2d, Pool2d};
use wgrad::{DType, Device, Tensor};

fn t(v: &[f32], shape: &[usize], dev: &Device) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape.to_vec(), dev)
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

// ---------------------------------------------------------------- hand-computed cases

#[test]
fn conv_hand_computed() {
    for dev in devices() {
        // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]]: every output is x[i][j] - x[i+1][j+1] = -4.
        let x = t(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3], &dev);
        let w = t(&[1., 0., 0., -1.], &[1, 1, 2, 2], &dev);
        let b = t(&[0.5], &[1], &dev);
        let p = Conv2d::default();
        assert_eq!(f32s(&F::conv2d(&x, &w, Some(&b), p)), vec![-3.5; 4], "{dev:?}");
        // Padding 1, stride 2: outputs at (-1,-1), (-1,1), (1,-1), (1,1) of the padded input.
        let p2 = Conv2d { stride: [2, 2], padding: [1, 1], ..p };
        assert_eq!(f32s(&F::conv2d(&x, &w, None, p2)), vec![-1., -3., -7., -9. + 5.], "{dev:?}");
        // Gradients of sum(conv(x, w)): dx counts how often each pixel meets each tap,
        // dw[a][b] sums the 2x2 block of x at (a, b), db = number of outputs.
        let g = Tensor::ones([1, 1, 2, 2], DType::F32, &dev);
        let dx = F::grad::conv2d_grad_input(&g, &w, [3, 3], p);
        assert_eq!(f32s(&dx), vec![1., 1., 0., 1., 0., -1., 0., -1., -1.], "{dev:?}");
        assert_eq!(f32s(&F::grad::conv2d_grad_weight(&g, &x, [2, 2], p)), vec![12., 16., 24., 28.], "{dev:?}");
        assert_eq!(f32s(&F::grad::conv2d_grad_bias(&g)), vec![4.0], "{dev:?}");
        // Unbatched input [C, H, W].
        let y = F::conv2d(&x.reshape([1, 3, 3]), &w, None, p);
        assert_eq!(y.dims(), &[1, 2, 2]);
    }
}

#[test]
fn pool_hand_computed() {
    for dev in devices() {
        let x = t(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3], &dev);
        // Max pool 2x2, stride 2, padding 1: windows {1}, {2,3}, {4,7}, {5,6,8,9}.
        let p = Pool2d { kernel: [2, 2], stride: [2, 2], padding: [1, 1], ceil_mode: false, dilation: [1, 1] };
        let (v, i) = F::max_pool2d_with_indices(&x, p);
        assert_eq!(f32s(&v), vec![1., 3., 7., 9.], "{dev:?}");
        assert_eq!(i.to_vec::<u32>().unwrap(), vec![0, 2, 6, 8], "{dev:?}");
        let g = t(&[1., 2., 3., 4.], &[1, 1, 2, 2], &dev);
        assert_eq!(
            f32s(&F::grad::max_pool2d_backward(&g, &i, &[1, 1, 3, 3])),
            vec![1., 0., 2., 0., 0., 0., 3., 0., 4.]
        );
        // Padding is -inf: an all-negative border window still picks a real element.
        let neg = x.mul_scalar(-1.0);
        assert_eq!(f32s(&F::max_pool2d(&neg, p)), vec![-1., -2., -4., -5.], "{dev:?}");
        // Avg pool, same windows: count_include_pad=false divides by the elements inside,
        // true by the 4 of the padded window.
        assert_eq!(f32s(&F::avg_pool2d(&x, p, false)), vec![1., 2.5, 5.5, 7.], "{dev:?}");
        assert_eq!(f32s(&F::avg_pool2d(&x, p, true)), vec![0.25, 1.25, 2.75, 7.], "{dev:?}");
        let dx = F::grad::avg_pool2d_backward(&g, &[1, 1, 3, 3], p, false);
        assert_eq!(f32s(&dx), vec![1., 1., 1., 1.5, 1., 1., 1.5, 1., 1.], "{dev:?}");
        // ceil_mode, kernel 2 stride 2 over 3x3, no padding: the last window hangs over the
        // edge and divides by its clipped size even with count_include_pad.
        let pc = Pool2d { kernel: [2, 2], stride: [2, 2], padding: [0, 0], ceil_mode: true, dilation: [1, 1] };
        assert_eq!(f32s(&F::avg_pool2d(&x, pc, true)), vec![3., 4.5, 7.5, 9.], "{dev:?}");
        // Adaptive 5 -> 3 over a 1x5 row: bins [0,2) [1,4) [3,5).
        let row = t(&[1., 2., 3., 4., 5.], &[1, 1, 1, 5], &dev);
        assert_eq!(f32s(&F::adaptive_avg_pool2d(&row, [1, 3])), vec![1.5, 3., 4.5], "{dev:?}");
        let ga = t(&[2., 3., 4.], &[1, 1, 1, 3], &dev);
        let da = F::grad::adaptive_avg_pool2d_backward(&ga, &[1, 1, 1, 5]);
        assert_eq!(f32s(&da), vec![1., 2., 1., 3., 2.], "{dev:?}");
        // Overlapping max windows (kernel 3, stride 1) share a maximum: gradients add up.
        let p3 = Pool2d { kernel: [1, 3], stride: [1, 1], padding: [0, 0], ceil_mode: false, dilation: [1, 1] };
        let peak = t(&[0., 9., 0., 0.], &[1, 1, 1, 4], &dev);
        let (_, pi) = F::max_pool2d_with_indices(&peak, p3);
        let dp = F::grad::max_pool2d_backward(&t(&[1., 10.], &[1, 1, 1, 2], &dev), &pi, &[1, 1, 1, 4]);
        assert_eq!(f32s(&dp), vec![0., 11., 0., 0.], "{dev:?}");
        // NaN wins and the last NaN is recorded (PyTorch's `val > max || isnan(val)`).
        let nan = t(&[1., f32::NAN, 3., f32::NAN, 2.], &[1, 1, 1, 5], &dev);
        let (v, i) = F::max_pool2d_with_indices(
            &nan,
            Pool2d { kernel: [1, 5], stride: [1, 1], padding: [0, 0], ceil_mode: false, dilation: [1, 1] },
        );
        assert!(f32s(&v)[0].is_nan() && i.to_vec::<u32>().unwrap() == vec![3], "{dev:?}");
    }
}

/// `F::conv2d` of zeros of shapes `x` and `w`, with the default options, on the CPU.
fn conv_of_zeros(x: [usize; 4], w: [usize; 4]) -> Tensor {
    let cpu = Device::cpu();
    let [x, w] = [x, w].map(|shape| Tensor::zeros(shape, DType::F32, &cpu));
    F::conv2d(&x, &w, None, Conv2d::default())
}

#[test]
#[should_panic(expected = "to have 4 channels, but got 3 channels")]
fn conv_channel_mismatch_names_the_shapes() {
    let _ = conv_of_zeros([1, 3, 5, 5], [2, 4, 3, 3]);
}

#[test]
#[should_panic(expected = "larger than the padded input")]
fn conv_kernel_too_large_panics() {
    let _ = conv_of_zeros([1, 1, 2, 2], [1, 1, 3, 3]);
}

// ------------------------------------------------------------------ GPU against CPU

/// One convolution configuration: input [n, c, h, w], o outputs, kernel, params, bias.
struct Case {
    x: [usize; 4],
    o: usize,
    k: [usize; 2],
    p: Conv2d,
    bias: bool,
}

/// A case: input, outputs, kernel, then (stride, padding, dilation, groups) and bias.
fn case(x: [usize; 4], o: usize, k: [usize; 2], p: ([usize; 2], [usize; 2], [usize; 2], usize), bias: bool) -> Case {
    Case { x, o, k, p: Conv2d { stride: p.0, padding: p.1, dilation: p.2, groups: p.3 }, bias }
}

/// `[n, c, h, w]` data of `shape` as a non-contiguous view (a transposed copy seen back
/// through `transpose(2, 3)`, or a narrowed slice of a wider tensor).
fn strided(v: &[f32], shape: [usize; 4], dev: &Device, kind: usize) -> Tensor {
    let [n, c, h, w] = shape;
    let base = t(v, &shape, &Device::cpu());
    match kind % 2 {
        0 => base.transpose(2, 3).contiguous().to_device(dev).transpose(2, 3),
        _ => {
            let pad = Tensor::zeros([n, c, h, 3], DType::F32, &Device::cpu());
            Tensor::cat(&[&pad, &base], 3).to_device(dev).narrow(3, 3, w)
        }
    }
}

#[test]
fn conv_gpu_matches_cpu_on_random_shapes() {
    let Some(gpu) = gpu() else { return };
    let cpu = Device::cpu();
    let cases = [
        case([2, 3, 7, 9], 5, [3, 3], ([1, 1], [1, 1], [1, 1], 1), true),
        case([1, 4, 11, 8], 6, [3, 2], ([2, 3], [1, 0], [1, 1], 1), false),
        case([3, 4, 9, 10], 6, [3, 3], ([2, 2], [2, 1], [2, 2], 2), true),
        case([2, 6, 8, 7], 12, [3, 3], ([1, 2], [1, 1], [1, 1], 6), true), // depthwise, multiplier 2
        case([2, 5, 6, 6], 5, [5, 5], ([1, 1], [2, 2], [1, 1], 5), false), // depthwise 5x5
        case([2, 8, 5, 7], 9, [1, 1], ([1, 1], [0, 0], [1, 1], 1), true),  // 1x1
        case([1, 8, 9, 9], 4, [1, 1], ([2, 2], [0, 0], [1, 1], 2), false), // 1x1 stride 2: phases with no tap
        case([1, 3, 31, 29], 4, [11, 11], ([4, 4], [2, 2], [1, 1], 1), true), // AlexNet conv1 shape
        case([2, 16, 6, 6], 20, [3, 3], ([1, 1], [0, 0], [1, 1], 1), true),
        case([1, 2, 13, 13], 3, [4, 3], ([3, 2], [2, 1], [2, 3], 1), false),
        case([2, 3, 5, 5], 2, [2, 2], ([1, 1], [1, 1], [3, 1], 1), true),
        case([1, 2, 8, 8], 3, [3, 3], ([2, 2], [0, 0], [1, 1], 1), false), // last row and column in no window
    ];
    let mut rng = Rng::new(7);
    for (ci, c) in cases.iter().enumerate() {
        let [n, ch, h, w] = c.x;
        let ws = [c.o, ch / c.p.groups, c.k[0], c.k[1]];
        let xv = rng.vec_f32(n * ch * h * w, -1.0, 1.0);
        let wv = rng.vec_f32(ws.iter().product(), -1.0, 1.0);
        let bv = rng.vec_f32(c.o, -1.0, 1.0);
        let (x, wt, b) = (t(&xv, &c.x, &cpu), t(&wv, &ws, &cpu), t(&bv, &[c.o], &cpu));
        let bias = c.bias.then_some(&b);
        let y = F::conv2d(&x, &wt, bias, c.p);
        let gv = rng.vec_f32(y.numel(), -1.0, 1.0);
        let g = t(&gv, y.dims(), &cpu);
        let dx = F::grad::conv2d_grad_input(&g, &wt, [h, w], c.p);
        let dw = F::grad::conv2d_grad_weight(&g, &x, c.k, c.p);
        // Every value sums at most 3 * 121 (forward, grad input) or N*OH*OW <= 200 (grad
        // weight) products of magnitude <= 1 in different orders: f32 rounding differences
        // stay below 1e-4 absolute.
        let what = |s: &str| format!("case {ci} {s}");
        for kind in 0..3 {
            // kind 0: contiguous; 1, 2: non-contiguous x, grad_out and weight views.
            let (xg, gg, wg) = if kind == 0 {
                (x.to_device(&gpu), g.to_device(&gpu), wt.to_device(&gpu))
            } else {
                (strided(&xv, c.x, &gpu, kind), strided(&gv, dims4(y.dims()), &gpu, kind), strided(&wv, ws, &gpu, kind))
            };
            let bg = b.to_device(&gpu);
            let yg = F::conv2d(&xg, &wg, c.bias.then_some(&bg), c.p);
            assert_close(&yg.to_device(&cpu), &y, 1e-4, 1e-4, &what("forward"));
            let dxg = F::grad::conv2d_grad_input(&gg, &wg, [h, w], c.p);
            assert_close(&dxg.to_device(&cpu), &dx, 1e-4, 1e-4, &what("grad input"));
            let dwg = F::grad::conv2d_grad_weight(&gg, &xg, c.k, c.p);
            assert_close(&dwg.to_device(&cpu), &dw, 1e-4, 1e-4, &what("grad weight"));
            assert_close(
                &F::grad::conv2d_grad_bias(&gg).to_device(&cpu),
                &F::grad::conv2d_grad_bias(&g),
                1e-4,
                1e-4,
                &what("grad bias"),
            );
        }
    }
}

fn dims4(d: &[usize]) -> [usize; 4] {
    [d[0], d[1], d[2], d[3]]
}

#[test]
fn conv_weight_gradient_split_over_many_rows() {
    // A long reduction (N*OH = 2 * 60 rows) is split into partial gradients on the GPU.
    let Some(gpu) = gpu() else { return };
    let cpu = Device::cpu();
    let x = Tensor::randn([2, 3, 60, 17], 1, &cpu);
    let g = Tensor::randn([2, 8, 60, 17], 2, &cpu);
    let p = Conv2d { padding: [1, 1], ..Default::default() };
    let dw = F::grad::conv2d_grad_weight(&g, &x, [3, 3], p);
    let dwg = F::grad::conv2d_grad_weight(&g.to_device(&gpu), &x.to_device(&gpu), [3, 3], p);
    // Sums of 2040 products of N(0,1) values: magnitude ~45, f32 order differences ~1e-4.
    assert_close(&dwg.to_device(&cpu), &dw, 1e-3, 1e-4, "split grad weight");
}

#[test]
fn pool_gpu_matches_cpu_on_random_shapes() {
    let Some(gpu) = gpu() else { return };
    let cpu = Device::cpu();
    let pools = [
        (Pool2d::square(2), [2, 3, 8, 9]),
        (Pool2d { kernel: [3, 3], stride: [2, 2], padding: [0, 0], ceil_mode: false, dilation: [1, 1] }, [2, 3, 9, 8]),
        (Pool2d { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceil_mode: true, dilation: [1, 1] }, [1, 4, 10, 7]),
        (Pool2d { kernel: [3, 2], stride: [1, 2], padding: [1, 1], ceil_mode: true, dilation: [1, 1] }, [3, 2, 5, 6]),
        (Pool2d { kernel: [2, 4], stride: [3, 3], padding: [0, 2], ceil_mode: true, dilation: [1, 1] }, [1, 1, 11, 13]),
        (Pool2d { kernel: [5, 5], stride: [1, 1], padding: [2, 2], ceil_mode: false, dilation: [1, 1] }, [1, 2, 6, 6]),
    ];
    let mut rng = Rng::new(11);
    for (pi, (p, shape)) in pools.iter().enumerate() {
        let xv = rng.vec_f32(shape.iter().product(), -2.0, 2.0);
        let x = t(&xv, shape, &cpu);
        let (v, i) = F::max_pool2d_with_indices(&x, *p);
        let g = t(&rng.vec_f32(v.numel(), -1.0, 1.0), v.dims(), &cpu);
        for kind in 0..2 {
            let xg = if kind == 0 { x.to_device(&gpu) } else { strided(&xv, *shape, &gpu, 0) };
            let gg = g.to_device(&gpu);
            let what = |s: &str| format!("pool {pi} {s}");
            // Max pooling is exact (same comparisons; the backward sums in the same order).
            let (vg, ig) = F::max_pool2d_with_indices(&xg, *p);
            assert_close(&vg.to_device(&cpu), &v, 0.0, 0.0, &what("max"));
            assert_eq!(values(&ig), values(&i), "{}", what("argmax"));
            let dx = F::grad::max_pool2d_backward(&g, &i, shape);
            assert_close(
                &F::grad::max_pool2d_backward(&gg, &ig, shape).to_device(&cpu),
                &dx,
                0.0,
                0.0,
                &what("max grad"),
            );
            // Averages: one division per element, sums of <= 25 values: 1e-6.
            for cip in [false, true] {
                let a = F::avg_pool2d(&x, *p, cip);
                assert_close(&F::avg_pool2d(&xg, *p, cip).to_device(&cpu), &a, 1e-6, 1e-6, &what("avg"));
                let da = F::grad::avg_pool2d_backward(&g, shape, *p, cip);
                let dag = F::grad::avg_pool2d_backward(&gg, shape, *p, cip);
                assert_close(&dag.to_device(&cpu), &da, 1e-6, 1e-6, &what("avg grad"));
            }
        }
    }
    for (shape, out) in [([2, 3, 7, 9], [3, 4]), ([1, 2, 5, 5], [5, 5]), ([1, 1, 4, 6], [1, 1]), ([1, 2, 3, 5], [7, 6])]
    {
        let x = t(&rng.vec_f32(shape.iter().product(), -2.0, 2.0), &shape, &cpu);
        let a = F::adaptive_avg_pool2d(&x, out);
        assert_close(&F::adaptive_avg_pool2d(&x.to_device(&gpu), out).to_device(&cpu), &a, 1e-6, 1e-6, "adaptive");
        let g = t(&rng.vec_f32(a.numel(), -1.0, 1.0), a.dims(), &cpu);
        let da = F::grad::adaptive_avg_pool2d_backward(&g, &shape);
        let dag = F::grad::adaptive_avg_pool2d_backward(&g.to_device(&gpu), &shape);
        assert_close(&dag.to_device(&cpu), &da, 1e-6, 1e-6, "adaptive grad");
    }
}

#[test]
fn f16_inputs_compute_in_f32() {
    for dev in devices().into_iter().filter(|d| d.supports_f16()) {
        let x = Tensor::randn([1, 2, 6, 6], 3, &dev);
        let w = Tensor::randn([3, 2, 3, 3], 4, &dev);
        let y = F::conv2d(&x.cast(DType::F16), &w.cast(DType::F16), None, Conv2d::default());
        assert_eq!(y.dtype(), DType::F16);
        let reference = F::conv2d(
            &x.cast(DType::F16).cast(DType::F32),
            &w.cast(DType::F16).cast(DType::F32),
            None,
            Conv2d::default(),
        );
        // One f16 rounding of the result: 2^-11 relative.
        assert_close(&y.cast(DType::F32), &reference, 1e-3, 1e-3, "f16 conv");
        assert_eq!(F::max_pool2d(&x.cast(DType::F16), Pool2d::square(2)).dtype(), DType::F16);
    }
}

// ------------------------------------------------------- finite differences (CPU)

/// Checks `grad` (the claimed d/dx of sum(f(x) * g)) by central differences, eps 1e-2.
/// The tested functions are linear in x (conv, averages) or locally linear (max pooling
/// with values spaced 0.1 apart), so the difference quotient is exact up to f32 rounding
/// of the sum: 1e-2 relative (plus 1e-3 absolute) is loose.
fn check_fd(what: &str, x: &[f32], shape: &[usize], g: &Tensor, grad: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let cpu = Device::cpu();
    let loss = |v: &[f32]| -> f64 { f(&t(v, shape, &cpu)).mul(g).sum_all().to_scalar().unwrap() };
    let eps = 1e-2f32;
    let analytic = values(grad);
    for i in 0..x.len() {
        let (mut hi, mut lo) = (x.to_vec(), x.to_vec());
        hi[i] += eps;
        lo[i] -= eps;
        let numeric = (loss(&hi) - loss(&lo)) / (2.0 * eps as f64);
        let a = analytic[i];
        assert!((numeric - a).abs() <= 1e-3 + 1e-2 * a.abs(), "{what}: d/dx[{i}] analytic {a}, numeric {numeric}");
    }
}

#[test]
fn backward_matches_finite_differences() {
    let cpu = Device::cpu();
    let mut rng = Rng::new(5);
    for (p, xs, ws) in [
        (Conv2d { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 1 }, [1, 2, 5, 6], [3, 2, 3, 2]),
        (Conv2d { stride: [1, 2], padding: [1, 1], dilation: [1, 1], groups: 2 }, [2, 4, 4, 5], [4, 2, 2, 3]),
    ] {
        let xv = rng.vec_f32(xs.iter().product(), -1.0, 1.0);
        let wv = rng.vec_f32(ws.iter().product(), -1.0, 1.0);
        let bv = rng.vec_f32(ws[0], -1.0, 1.0);
        let (x, w, b) = (t(&xv, &xs, &cpu), t(&wv, &ws, &cpu), t(&bv, &[ws[0]], &cpu));
        let y = F::conv2d(&x, &w, Some(&b), p);
        let g = t(&rng.vec_f32(y.numel(), -1.0, 1.0), y.dims(), &cpu);
        let dx = F::grad::conv2d_grad_input(&g, &w, [xs[2], xs[3]], p);
        check_fd("conv2d input", &xv, &xs, &g, &dx, |x| F::conv2d(x, &w, Some(&b), p));
        let dw = F::grad::conv2d_grad_weight(&g, &x, [ws[2], ws[3]], p);
        check_fd("conv2d weight", &wv, &ws, &g, &dw, |w| F::conv2d(&x, w, Some(&b), p));
        check_fd("conv2d bias", &bv, &[ws[0]], &g, &F::grad::conv2d_grad_bias(&g), |b| F::conv2d(&x, &w, Some(b), p));
    }
    let shape = [1, 2, 5, 6];
    // Distinct values 0.1 apart (a shuffled ramp): the argmax never moves under +-eps.
    let n: usize = shape.iter().product();
    let mut xv: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 3.0).collect();
    for i in (1..n).rev() {
        xv.swap(i, rng.range(0, i));
    }
    let x = t(&xv, &shape, &cpu);
    for p in [
        Pool2d { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceil_mode: true, dilation: [1, 1] },
        Pool2d { kernel: [2, 3], stride: [1, 2], padding: [0, 1], ceil_mode: false, dilation: [1, 1] },
    ] {
        let (y, i) = F::max_pool2d_with_indices(&x, p);
        let g = t(&rng.vec_f32(y.numel(), -1.0, 1.0), y.dims(), &cpu);
        check_fd("max_pool2d", &xv, &shape, &g, &F::grad::max_pool2d_backward(&g, &i, &shape), |x| F::max_pool2d(x, p));
        for cip in [false, true] {
            let da = F::grad::avg_pool2d_backward(&g, &shape, p, cip);
            check_fd("avg_pool2d", &xv, &shape, &g, &da, |x| F::avg_pool2d(x, p, cip));
        }
    }
    let y = F::adaptive_avg_pool2d(&x, [3, 4]);
    let g = t(&rng.vec_f32(y.numel(), -1.0, 1.0), y.dims(), &cpu);
    let da = F::grad::adaptive_avg_pool2d_backward(&g, &shape);
    check_fd("adaptive_avg_pool2d", &xv, &shape, &g, &da, |x| F::adaptive_avg_pool2d(x, [3, 4]));
}

#[test]
fn tensors_larger_than_one_binding_run_in_parts() {
    // 134.6 MB: just above the 128 MiB binding limit of lavapipe and many GPUs, so pooling
    // runs over parts of the planes and conv2d over halves of the batch.
    let Some(gpu) = gpu() else { return };
    let cpu = Device::cpu();
    let shape = [2, 2, 2900, 2900];
    let x = Tensor::rand_uniform(shape, -1.0, 1.0, 9, &cpu);
    let xg = x.to_device(&gpu);
    // Sums of 8.4M (pooled) or 34M values with |v| <= 1: f32 order differences, 1e-3 relative.
    let same = |a: &Tensor, b: &Tensor, what: &str| {
        let (a, b) = (a.sum_all().to_scalar().unwrap(), b.to_device(&cpu).sum_all().to_scalar().unwrap());
        assert!((a - b).abs() <= 1.0 + 1e-3 * a.abs(), "{what}: {a} vs {b}");
    };
    let p = Pool2d::square(2);
    let (v, i) = F::max_pool2d_with_indices(&x, p);
    let (vg, ig) = F::max_pool2d_with_indices(&xg, p);
    same(&v, &vg, "max_pool2d");
    let flat = |t: &Tensor| t.reshape([t.numel()]);
    let n = i.numel();
    assert_eq!(values(&flat(&ig).narrow(0, n - 5, 5)), values(&flat(&i).narrow(0, n - 5, 5)), "last argmax");
    same(
        &F::grad::max_pool2d_backward(&v, &i, &shape),
        &F::grad::max_pool2d_backward(&vg, &ig, &shape),
        "max_pool2d backward",
    );
    let w = t(&[0.5, -2.0], &[1, 2, 1, 1], &cpu);
    same(
        &F::conv2d(&x, &w, None, Conv2d::default()),
        &F::conv2d(&xg, &w.to_device(&gpu), None, Conv2d::default()),
        "conv2d",
    );
}

/// conv_transpose2d (functional and nn.ConvTranspose2d) against PyTorch's outputs and
/// gradients (tests/fixtures/make_conv_transpose_fixture.py: strides, padding,
/// output_padding, dilation, groups, with and without bias) on every device.
#[test]
fn conv_transpose2d_matches_pytorch() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conv_transpose2d.safetensors");
    for dev in devices() {
        let (f, meta) = wgrad::io::load_safetensors_with_metadata(&path, &dev).unwrap();
        // [stride, padding, output_padding, dilation, groups, bias] per case.
        type Case = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>, usize, bool);
        let cases: Vec<Case> = serde_json::from_str(&meta["cases"]).unwrap();
        assert_eq!(cases.len(), 4);
        for (i, (stride, padding, output_padding, dilation, groups, bias)) in cases.into_iter().enumerate() {
            let get = |name: &str| f[&format!("{name}{i}")].clone();
            let p = Conv2d {
                stride: [stride[0], stride[1]],
                padding: [padding[0], padding[1]],
                dilation: [dilation[0], dilation[1]],
                groups,
            };
            let (x, w) = (get("x").requires_grad(), get("w").requires_grad());
            let b = get("b").requires_grad();
            let y = F::conv_transpose2d(&x, &w, bias.then_some(&b), p, [output_padding[0], output_padding[1]]);
            let what = format!("case {i} on {}", dev.name());
            assert_close(&y, &get("y"), 1e-4, 1e-4, &format!("output, {what}"));
            let grads = y.mul(&get("probe")).sum_all().backward().unwrap();
            assert_close(&grads.get(&x).unwrap(), &get("gx"), 1e-4, 1e-4, &format!("d/dx, {what}"));
            assert_close(&grads.get(&w).unwrap(), &get("gw"), 1e-4, 1e-4, &format!("d/dw, {what}"));
            if bias {
                assert_close(&grads.get(&b).unwrap(), &get("gb"), 1e-4, 1e-4, &format!("d/db, {what}"));
            }
        }
        // The layer: PyTorch's parameter names, shapes and output size; stride 2 doubles.
        let up = wgrad::nn::ConvTranspose2d::new(6, 4, 3, &dev).stride(2).padding(1).output_padding(1);
        let names: Vec<String> = wgrad::nn::Module::named_parameters(&up).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(up.weight.dims(), [6, 4, 3, 3]);
        let y = wgrad::nn::Module::forward(&up, &Tensor::zeros([2, 6, 7, 5], DType::F32, &dev));
        assert_eq!(y.dims(), [2, 4, 14, 10]);
    }
}

/// Dilated max pooling against PyTorch's values, indices and gradients
/// (tests/fixtures/make_pool_dilation_fixture.py) on every device; average pooling
/// refuses a dilation, as PyTorch's has none.
#[test]
fn dilated_max_pool_matches_pytorch() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/max_pool_dilation.safetensors");
    for dev in devices() {
        let (f, meta) = wgrad::io::load_safetensors_with_metadata(&path, &dev).unwrap();
        type Case = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>, bool);
        let cases: Vec<Case> = serde_json::from_str(&meta["cases"]).unwrap();
        for (i, (kernel, stride, padding, dilation, ceil_mode)) in cases.into_iter().enumerate() {
            let p = Pool2d {
                kernel: [kernel[0], kernel[1]],
                stride: [stride[0], stride[1]],
                padding: [padding[0], padding[1]],
                ceil_mode,
                dilation: [dilation[0], dilation[1]],
            };
            let get = |name: &str| f[&format!("{name}{i}")].clone();
            let what = format!("case {i} on {}", dev.name());
            let (y, idx) = F::max_pool2d_with_indices(&get("x"), p);
            assert_close(&y, &get("y"), 0.0, 0.0, &format!("values, {what}"));
            assert_close(&idx.cast(DType::F32), &get("idx"), 0.0, 0.0, &format!("indices, {what}"));
            let x = get("x").requires_grad();
            let grads = F::max_pool2d(&x, p).mul(&get("probe")).sum_all().backward().unwrap();
            assert_close(&grads.get(&x).unwrap(), &get("gx"), 1e-6, 1e-6, &format!("gradient, {what}"));
        }
    }
    let dilated = Pool2d { dilation: [2, 2], ..Pool2d::square(2) };
    let refused = std::panic::catch_unwind(|| {
        F::avg_pool2d(&Tensor::zeros([1, 1, 4, 4], DType::F32, &Device::cpu()), dilated, true)
    });
    assert!(refused.is_err(), "avg_pool2d takes no dilation");
}
