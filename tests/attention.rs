//! Fused attention (GPU) against the composed softmax(q k^T * scale + mask) v on the
//! CPU, every mask kind, odd lengths, forward and backward.

mod common;
use common::assert_close;
use wgrad::functional::{self as F, AttnMask};
use wgrad::{Device, Tensor};

#[test]
fn fused_attention_matches_the_composed_reference() {
    let Some(gpu) = common::gpu() else { return };
    // Both forward kernels on this adapter: the vec4 four-row one (the default on software
    // adapters, head dims that are multiples of 4) and the one-row one (every head dim).
    let policy = gpu.kernel_policy().expect("a GPU device");
    for one_row in [false, true] {
        gpu.set_kernel_policy(wgrad::gpu::KernelPolicy { attention_vec4: Some(!one_row), ..policy });
        check_fused_against_composed(&gpu);
    }
    gpu.set_kernel_policy(policy);
}

fn check_fused_against_composed(gpu: &Device) {
    let gpu = gpu.clone();
    let cpu = Device::cpu();
    let shapes =
        [(1, 1, 1, 1, 4), (2, 3, 5, 7, 8), (1, 2, 33, 17, 64), (1, 1, 4, 70, 128), (2, 2, 9, 21, 6), (1, 1, 6, 40, 20)];
    for (b, h, lq, lk, e) in shapes {
        let q = Tensor::randn([b, h, lq, e], 1, &cpu);
        let k = Tensor::randn([b, h, lk, e], 2, &cpu);
        let v = Tensor::randn([b, h, lk, e], 3, &cpu);
        // A keep-mask over keys per batch (every row keeps key 0, so no row is empty).
        let keep: Vec<u32> = (0..b * lk).map(|i| u32::from(i % lk == 0 || i % 3 != 1)).collect();
        let keep = Tensor::from_vec(keep, [b, 1, 1, lk], &cpu);
        let additive = Tensor::randn([1, 1, lq, lk], 4, &cpu);
        let (kg, ag) = (keep.to_device(&gpu), additive.to_device(&gpu));
        for (name, cpu_mask) in every_mask(&keep, &additive) {
            let gpu_mask = match cpu_mask {
                AttnMask::Keep(_) => AttnMask::Keep(&kg),
                AttnMask::KeepCausal(_) => AttnMask::KeepCausal(&kg),
                AttnMask::Additive(_) => AttnMask::Additive(&ag),
                m => m,
            };
            let (qc, kc, vc) = (q.requires_grad(), k.requires_grad(), v.requires_grad());
            let expected = F::scaled_dot_product_attention(&qc, &kc, &vc, cpu_mask, None);
            let (qg, kgr, vg) = (
                q.to_device(&gpu).requires_grad(),
                k.to_device(&gpu).requires_grad(),
                v.to_device(&gpu).requires_grad(),
            );
            let got = F::scaled_dot_product_attention(&qg, &kgr, &vg, gpu_mask, None);
            let what = format!("{name} {b}x{h}x{lq}x{lk}x{e}");
            // Online vs two-pass softmax and sums of e products: 1e-5 absolute.
            assert_close(&got.to_device(&cpu), &expected, 2e-5, 1e-4, &what);
            let w = Tensor::randn([b, h, lq, e], 5, &cpu);
            let ge = expected.mul(&w).sum_all().backward().unwrap();
            let gg = got.mul(&w.to_device(&gpu)).sum_all().backward().unwrap();
            for (a, c) in [(&qg, &qc), (&kgr, &kc), (&vg, &vc)] {
                assert_close(
                    &gg.get(a).unwrap().to_device(&cpu),
                    &ge.get(c).unwrap(),
                    1e-4,
                    1e-3,
                    &format!("grad {what}"),
                );
            }
        }
    }
}

#[test]
fn cpu_fused_forward_matches_the_composed_path() {
    // The CPU's fused forward (query blocks of 64) against the weights path, which is
    // always the composed softmax(q k^T * scale + mask) v.
    let cpu = Device::cpu();
    let mut rng = common::Rng::new(11);
    for (i, (b, h, lq, lk, e)) in
        [(1, 1, 1, 1, 1), (2, 3, 5, 7, 8), (1, 2, 130, 67, 16), (2, 1, 64, 200, 5)].into_iter().enumerate()
    {
        // A transposed view for q: the kernel reads any layout.
        let q = Tensor::randn([b, lq, h, e], 20, &cpu).transpose(1, 2);
        let k = Tensor::randn([b, h, lk, e], 21, &cpu);
        let v = Tensor::randn([b, h, lk, e], 22, &cpu);
        let (keep, additive) = mask_tensors(&mut rng, b, lq, lk, i % 2 == 1);
        for (name, mask) in every_mask(&keep, &additive) {
            let fused = F::scaled_dot_product_attention(&q, &k, &v, mask, Some(0.3));
            let (composed, _) = F::scaled_dot_product_attention_with_weights(&q, &k, &v, mask, Some(0.3));
            // Rows that see no key are NaN on both paths.
            let (f, c) = (common::values(&fused), common::values(&composed));
            assert!(f.iter().zip(&c).all(|(x, y)| x.is_nan() == y.is_nan()), "{name}: NaN rows differ");
            let worst = f.iter().zip(&c).filter(|(x, _)| !x.is_nan()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            assert!(worst <= 2e-6, "{name} {b}x{h}x{lq}x{lk}x{e}: max abs difference {worst}");
        }
    }
}

#[test]
fn cpu_fused_backward_matches_the_composed_path() {
    // Gradients of sum(attention * w) through the CPU's fused backward against autograd
    // through the composed weights path. Every query sees key 0, so no row is NaN.
    let cpu = Device::cpu();
    let mut rng = common::Rng::new(12);
    for (b, h, lq, lk, e) in [(1, 1, 1, 1, 1), (2, 3, 5, 7, 8), (1, 2, 130, 67, 16), (2, 1, 64, 200, 5)] {
        let q = Tensor::randn([b, lq, h, e], 30, &cpu).transpose(1, 2);
        let k = Tensor::randn([b, h, lk, e], 31, &cpu);
        let v = Tensor::randn([b, h, lk, e], 32, &cpu);
        let w = Tensor::randn([b, h, lq, e], 33, &cpu);
        let keep: Vec<u32> = (0..b * lq * lk).map(|i| u32::from(i % lk == 0 || rng.range(0, 3) != 0)).collect();
        let keep = Tensor::from_vec(keep, [b, 1, lq, lk], &cpu);
        let additive = Tensor::randn([1, 1, lq, lk], 34, &cpu);
        for (name, mask) in every_mask(&keep, &additive) {
            let grads = |composed: bool| {
                let (qt, kt, vt) = (q.requires_grad(), k.requires_grad(), v.requires_grad());
                let out = if composed {
                    F::scaled_dot_product_attention_with_weights(&qt, &kt, &vt, mask, Some(0.3)).0
                } else {
                    F::scaled_dot_product_attention(&qt, &kt, &vt, mask, Some(0.3))
                };
                let g = out.mul(&w).sum_all().backward().unwrap();
                [&qt, &kt, &vt].map(|t| g.get(t).unwrap())
            };
            for (i, (got, want)) in grads(false).iter().zip(grads(true).iter()).enumerate() {
                let err = rel_max_err(got, want);
                assert!(err <= 1e-5, "{name} {b}x{h}x{lq}x{lk}x{e}: grad {i} max error {err:.2e} of the largest");
            }
        }
    }
    // A query that sees no key: its output is NaN, and it adds nothing to any gradient.
    let (q, k, v) = (
        Tensor::randn([1, 1, 2, 4], 35, &cpu),
        Tensor::randn([1, 1, 3, 4], 36, &cpu),
        Tensor::randn([1, 1, 3, 4], 37, &cpu),
    );
    let keep = Tensor::from_vec(vec![1u32, 1, 0, 0, 0, 0], [1, 1, 2, 3], &cpu);
    let (qt, kt, vt) = (q.requires_grad(), k.requires_grad(), v.requires_grad());
    let out = F::scaled_dot_product_attention(&qt, &kt, &vt, AttnMask::Keep(&keep), None);
    let o = out.to_vec::<f32>().unwrap();
    assert!(o[..4].iter().all(|x| x.is_finite()) && o[4..].iter().all(|x| x.is_nan()), "{o:?}");
    let w = Tensor::from_vec(vec![1.0f32, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1, 1, 2, 4], &cpu);
    let g = out.mul(&w).sum_all().backward().unwrap();
    let dq = g.get(&qt).unwrap().to_vec::<f32>().unwrap();
    assert!(dq[4..].iter().all(|&x| x == 0.0), "{dq:?}");
    for t in [&kt, &vt] {
        let d = g.get(t).unwrap().to_vec::<f32>().unwrap();
        assert!(d.iter().all(|x| x.is_finite()) && d[8..].iter().all(|&x| x == 0.0), "{d:?}");
    }
}

#[test]
fn weights_path_and_causal_rows() {
    let cpu = Device::cpu();
    for dev in common::devices() {
        let q = Tensor::randn([1, 1, 3, 4], 6, &dev);
        let k = Tensor::randn([1, 1, 3, 4], 7, &dev);
        let v = Tensor::randn([1, 1, 3, 4], 8, &dev);
        let (out, w) = F::scaled_dot_product_attention_with_weights(&q, &k, &v, AttnMask::Causal, Some(0.5));
        let w = w.to_vec::<f32>().unwrap();
        // Row 0 sees only key 0; the upper triangle is exactly zero; rows sum to 1.
        assert_eq!(&w[..3], &[1.0, 0.0, 0.0]);
        assert_eq!(w[5], 0.0);
        for r in w.chunks(3) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let fused = F::scaled_dot_product_attention(&q, &k, &v, AttnMask::Causal, Some(0.5));
        assert_close(&fused.to_device(&cpu), &out.to_device(&cpu), 1e-5, 1e-5, "fused vs weights path");
    }
}

/// Every mask kind, named: none, causal, a keep-mask, keep + causal, an additive mask.
fn every_mask<'a>(keep: &'a Tensor, additive: &'a Tensor) -> [(&'static str, AttnMask<'a>); 5] {
    [
        ("none", AttnMask::None),
        ("causal", AttnMask::Causal),
        ("keep", AttnMask::Keep(keep)),
        ("keep+causal", AttnMask::KeepCausal(keep)),
        ("additive", AttnMask::Additive(additive)),
    ]
}

/// Largest |a - e| over max |e| (at least 1e-6): the error relative to the gradient's scale.
fn rel_max_err(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.dims(), expected.dims());
    let (a, e) = (common::values(actual), common::values(expected));
    let scale = e.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&e)
        .map(|(x, y)| if x.is_nan() || y.is_nan() { f64::INFINITY } else { (x - y).abs() })
        .fold(0.0, f64::max)
        / scale
}

/// Gradients of sum(sdpa(q, k, v) * w) for q, k, v (and `mask` when it is tracked).
fn attention_grads(q: &Tensor, k: &Tensor, v: &Tensor, mask: AttnMask, w: &Tensor) -> Vec<Tensor> {
    let (q, k, v) = (q.requires_grad(), k.requires_grad(), v.requires_grad());
    let out = F::scaled_dot_product_attention(&q, &k, &v, mask, None);
    let grads = out.mul(w).sum_all().backward().unwrap();
    [&q, &k, &v].iter().map(|t| grads.get(t).expect("a gradient for q, k and v")).collect()
}

/// The mask kinds over one shape: (name, keep u32 mask, additive f32 mask). The keep-mask
/// alternates [B, 1, 1, Lk] and [B, 1, Lq, Lk]; the additive mask has some -inf entries.
fn mask_tensors(rng: &mut common::Rng, b: usize, lq: usize, lk: usize, per_row: bool) -> (Tensor, Tensor) {
    let cpu = Device::cpu();
    let keep_shape = if per_row { [b, 1, lq, lk] } else { [b, 1, 1, lk] };
    let keep: Vec<u32> = (0..keep_shape.iter().product()).map(|_| u32::from(rng.range(0, 3) != 0)).collect();
    let add: Vec<f32> =
        (0..lq * lk).map(|_| if rng.range(0, 5) == 0 { f32::NEG_INFINITY } else { rng.f32(-2.0, 2.0) }).collect();
    (Tensor::from_vec(keep, keep_shape, &cpu), Tensor::from_vec(add, [1, 1, lq, lk], &cpu))
}

/// Runs every mask kind on the CPU reference and the GPU's fused backward and checks
/// dq, dk, dv: max abs error <= 2e-4 relative to the largest |gradient|.
fn check_fused_backward(gpu: &Device, (b, h, lq, lk, e): (usize, usize, usize, usize, usize), seed: u64) {
    let cpu = Device::cpu();
    let mut rng = common::Rng::new(seed);
    let q = Tensor::randn([b, h, lq, e], seed, &cpu);
    let k = Tensor::randn([b, h, lk, e], seed + 1, &cpu);
    let v = Tensor::randn([b, h, lk, e], seed + 2, &cpu);
    let w = Tensor::randn([b, h, lq, e], seed + 3, &cpu);
    let (keep, add) = mask_tensors(&mut rng, b, lq, lk, seed.is_multiple_of(2));
    let (keep_g, add_g) = (keep.to_device(gpu), add.to_device(gpu));
    let cases: [(&str, AttnMask, AttnMask); 5] = [
        ("none", AttnMask::None, AttnMask::None),
        ("causal", AttnMask::Causal, AttnMask::Causal),
        ("keep", AttnMask::Keep(&keep), AttnMask::Keep(&keep_g)),
        ("keep+causal", AttnMask::KeepCausal(&keep), AttnMask::KeepCausal(&keep_g)),
        ("additive", AttnMask::Additive(&add), AttnMask::Additive(&add_g)),
    ];
    for (name, cpu_mask, gpu_mask) in cases {
        let want = attention_grads(&q, &k, &v, cpu_mask, &w);
        let (qg, kg, vg, wg) = (q.to_device(gpu), k.to_device(gpu), v.to_device(gpu), w.to_device(gpu));
        // The forward too (rows that see no key are NaN on both).
        let out = F::scaled_dot_product_attention(&qg, &kg, &vg, gpu_mask, None);
        let what = format!("forward {name} {b}x{h}x{lq}x{lk}x{e}");
        assert_close(
            &out.to_device(&cpu),
            &F::scaled_dot_product_attention(&q, &k, &v, cpu_mask, None),
            2e-5,
            1e-4,
            &what,
        );
        let got = attention_grads(&qg, &kg, &vg, gpu_mask, &wg);
        for (which, (g, c)) in ["dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
            let g = g.to_device(&cpu);
            let err = rel_max_err(&g, c);
            assert!(err <= 2e-4, "{which} {name} {b}x{h}x{lq}x{lk}x{e}: max abs error {err:e} of the largest |grad|");
        }
    }
}

#[test]
fn fused_backward_matches_the_cpu_reference_on_random_shapes() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = common::Rng::new(41);
    let lengths = [1, 7, 33, 130];
    for (n, e) in [1, 16, 64, 16, 64, 1].into_iter().enumerate() {
        let (lq, lk) = (lengths[rng.range(0, 3)], lengths[rng.range(0, 3)]);
        let (b, h) = (rng.range(1, 2), rng.range(1, 3));
        check_fused_backward(&gpu, (b, h, lq, lk, e), 100 + n as u64 * 10);
    }
    // Head dim 128 once, Lq != Lk, B * H > 1.
    check_fused_backward(&gpu, (2, 1, 33, 7, 128), 200);
}

#[test]
fn fused_backward_long_sequences() {
    let Some(gpu) = common::gpu() else { return };
    // Past 4096 on each side: long loops, walked in chunks (lavapipe's loop limit).
    check_fused_backward(&gpu, (1, 1, 4099, 5, 8), 300);
    check_fused_backward(&gpu, (1, 1, 3, 4101, 8), 301);
    // Head dim 128: several chunks on both backward passes and the forward.
    check_fused_backward(&gpu, (1, 2, 200, 330, 128), 302);
}

#[test]
fn fully_masked_rows_get_zero_gradients() {
    let cpu = Device::cpu();
    let (b, h, lq, lk, e) = (2, 2, 5, 6, 8);
    let q = Tensor::randn([b, h, lq, e], 50, &cpu);
    let k = Tensor::randn([b, h, lk, e], 51, &cpu);
    let v = Tensor::randn([b, h, lk, e], 52, &cpu);
    let w = Tensor::randn([b, h, lq, e], 53, &cpu);
    // Batch 1, query row 2 sees no key: by the keep-mask, or by -inf everywhere (checked
    // in the output at batch 1, head 0, row 2).
    let keep: Vec<u32> = (0..b * lq * lk).map(|i| u32::from(i / lk != lq + 2)).collect();
    let keep = Tensor::from_vec(keep, [b, 1, lq, lk], &cpu);
    let add: Vec<f32> = (0..b * lq * lk).map(|i| if i / lk == lq + 2 { f32::NEG_INFINITY } else { 0.5 }).collect();
    let add = Tensor::from_vec(add, [b, 1, lq, lk], &cpu);
    // Key 0 hidden and causal: query row 0 sees nothing, in every batch and head.
    let no_key0: Vec<u32> = (0..b * lk).map(|i| u32::from(i % lk != 0)).collect();
    let no_key0 = Tensor::from_vec(no_key0, [b, 1, 1, lk], &cpu);
    for dev in common::devices() {
        let (keep_d, add_d, no_key0_d) = (keep.to_device(&dev), add.to_device(&dev), no_key0.to_device(&dev));
        let cases: [(&str, AttnMask, usize); 3] = [
            ("keep", AttnMask::Keep(&keep_d), h * lq + 2),
            ("additive", AttnMask::Additive(&add_d), h * lq + 2),
            ("keep+causal", AttnMask::KeepCausal(&no_key0_d), 0),
        ];
        for (name, mask, empty_row) in cases {
            let (qd, kd, vd, wd) = (q.to_device(&dev), k.to_device(&dev), v.to_device(&dev), w.to_device(&dev));
            // The forward gives NaN for the empty row (0 / 0, as PyTorch's math path).
            let out = F::scaled_dot_product_attention(&qd, &kd, &vd, mask, None).to_vec::<f32>().unwrap();
            assert!(out[empty_row * e..(empty_row + 1) * e].iter().all(|x| x.is_nan()), "{name} on {dev:?}: forward");
            let grads = attention_grads(&qd, &kd, &vd, mask, &wd);
            for (which, g) in ["dq", "dk", "dv"].iter().zip(&grads) {
                let g = g.to_vec::<f32>().unwrap();
                assert!(g.iter().all(|x| x.is_finite()), "{which} {name} on {dev:?}: not finite");
                assert!(g.iter().any(|x| *x != 0.0), "{which} {name} on {dev:?}: all zero");
            }
            let dq = grads[0].to_vec::<f32>().unwrap();
            assert!(dq[empty_row * e..(empty_row + 1) * e].iter().all(|x| *x == 0.0), "dq {name} on {dev:?}");
        }
    }
}

/// d(sum(sdpa * w))/d(input) of the CPU backward against central differences (eps 1e-2,
/// tolerance 1e-2 of the largest |gradient|), every mask kind, the additive mask included.
#[test]
fn cpu_backward_matches_finite_differences() {
    let cpu = Device::cpu();
    let (b, h, lq, lk, e) = (1, 2, 3, 4, 3);
    let mut rng = common::Rng::new(7);
    let (keep, _) = mask_tensors(&mut rng, b, lq, lk, true);
    let keep = Tensor::from_vec(
        keep.to_vec::<u32>().unwrap().iter().enumerate().map(|(i, &x)| u32::from(i % lk == 0) | x).collect::<Vec<_>>(),
        [b, 1, lq, lk],
        &cpu,
    );
    let add = Tensor::randn([1, 1, lq, lk], 8, &cpu);
    let w = Tensor::randn([b, h, lq, e], 9, &cpu);
    let inputs = [
        Tensor::randn([b, h, lq, e], 10, &cpu),
        Tensor::randn([b, h, lk, e], 11, &cpu),
        Tensor::randn([b, h, lk, e], 12, &cpu),
        add.clone(),
    ];
    for name in ["none", "causal", "keep", "keep+causal", "additive"] {
        let loss = |x: &[Tensor]| {
            let mask = match name {
                "none" => AttnMask::None,
                "causal" => AttnMask::Causal,
                "keep" => AttnMask::Keep(&keep),
                "keep+causal" => AttnMask::KeepCausal(&keep),
                _ => AttnMask::Additive(&x[3]),
            };
            F::scaled_dot_product_attention(&x[0], &x[1], &x[2], mask, None).mul(&w).sum_all()
        };
        let tracked: Vec<Tensor> = inputs.iter().map(|t| t.requires_grad()).collect();
        let grads = loss(&tracked).backward().unwrap();
        let n_inputs = if name == "additive" { 4 } else { 3 };
        for (i, x) in tracked.iter().enumerate().take(n_inputs) {
            let analytic = grads.get(x).unwrap_or_else(|| panic!("{name}: no gradient for input {i}"));
            let analytic = analytic.contiguous().to_vec::<f32>().unwrap();
            let scale = analytic.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            let base = inputs[i].to_vec::<f32>().unwrap();
            for j in 0..base.len() {
                let at = |delta: f32| {
                    let mut args = inputs.clone();
                    let mut moved = base.clone();
                    moved[j] += delta;
                    args[i] = Tensor::from_vec(moved, inputs[i].shape().clone(), &cpu);
                    loss(&args).to_scalar().unwrap() as f32
                };
                let numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
                assert!(
                    (numeric - analytic[j]).abs() <= 1e-2 * scale,
                    "{name}: d/dinput{i}[{j}]: analytic {} vs numeric {numeric}",
                    analytic[j]
                );
            }
        }
    }
}
