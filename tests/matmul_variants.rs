//! Every matmul kernel variant (vec4 register-blocked in each operand orientation, and
//! the generic strided one) against the CPU reference.

mod common;
use wgrad::{Device, Tensor};

#[test]
fn vec4_orientations_and_edges_match_cpu_with_both_kernels() {
    use wgrad::gpu::kernels::matmul::{force_variant, Variant};
    // This binary holds only this test, so forcing a variant affects nothing else.
    for v in [Variant::RegisterBlocked, Variant::Tiled] {
        force_variant(Some(v));
        check_vec4_orientations_and_edges();
    }
    force_variant(None);
}

fn check_vec4_orientations_and_edges() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    // (m, k, n): multiples of 4 take the vec4 kernel, including sizes that leave partial
    // 8x16 blocks; the last ones fall back to the generic kernel.
    for (m, k, n) in
        [(4, 4, 4), (8, 16, 16), (12, 20, 36), (64, 128, 96), (100, 8, 4), (132, 36, 260), (5, 7, 3), (4, 6, 8)]
    {
        let a = Tensor::randn([m, k], (m * 31 + k) as u64, &cpu);
        let b = Tensor::randn([k, n], (k * 17 + n) as u64, &cpu);
        let expected = a.matmul(&b);
        let at = a.t().contiguous(); // [k, m] storage: a = at.t() is m-contiguous
        let bt = b.t().contiguous(); // [n, k] storage: b = bt.t() is k-contiguous
        let cases = [
            ("A row-major, B row-major", a.to_device(&gpu), b.to_device(&gpu)),
            ("A row-major, B transposed", a.to_device(&gpu), bt.to_device(&gpu).t()),
            ("A transposed, B row-major", at.to_device(&gpu).t(), b.to_device(&gpu)),
            ("A transposed, B transposed", at.to_device(&gpu).t(), bt.to_device(&gpu).t()),
        ];
        for (name, x, y) in cases {
            // f32 sums of k products of N(0,1) values: error grows like sqrt(k).
            let tol = 1e-5 * (k as f64).sqrt() * 10.0;
            common::assert_close(&x.matmul(&y).to_device(&cpu), &expected, tol, 1e-5, &format!("{name} {m}x{k}x{n}"));
        }
    }
    // Batched with a broadcast (stride-0) batch operand.
    let a = Tensor::randn([3, 8, 12], 1, &cpu);
    let b = Tensor::randn([12, 16], 2, &cpu);
    common::assert_close(
        &a.to_device(&gpu).matmul(&b.to_device(&gpu)).to_device(&cpu),
        &a.matmul(&b),
        1e-4,
        1e-5,
        "batched",
    );
}
