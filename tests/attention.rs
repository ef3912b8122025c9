//! Fused attention (GPU) against the composed softmax(q k^T * scale + mask) v on the
//! CPU, every mask kind, odd lengths, forward and backward.

mod common;
use common::assert_close;
use wgrad::functional::{self as F, AttnMask};
use wgrad::{Device, Tensor};

#[test]
fn fused_attention_matches_the_composed_reference() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    for (b, h, lq, lk, e) in [(1, 1, 1, 1, 4), (2, 3, 5, 7, 8), (1, 2, 33, 17, 64), (1, 1, 4, 70, 128)] {
        let q = Tensor::randn([b, h, lq, e], 1, &cpu);
        let k = Tensor::randn([b, h, lk, e], 2, &cpu);
        let v = Tensor::randn([b, h, lk, e], 3, &cpu);
        // A keep-mask over keys per batch (every row keeps key 0, so no row is empty).
        let keep: Vec<u32> = (0..b * lk).map(|i| u32::from(i % lk == 0 || i % 3 != 1)).collect();
        let keep = Tensor::from_vec(keep, [b, 1, 1, lk], &cpu);
        let additive = Tensor::randn([1, 1, lq, lk], 4, &cpu);
        let masks: Vec<(&str, AttnMask)> = vec![
            ("none", AttnMask::None),
            ("causal", AttnMask::Causal),
            ("keep", AttnMask::Keep(&keep)),
            ("keep+causal", AttnMask::KeepCausal(&keep)),
            ("additive", AttnMask::Additive(&additive)),
        ];
        let (kg, ag) = (keep.to_device(&gpu), additive.to_device(&gpu));
        for (name, cpu_mask) in masks {
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
