//! Every matmul kernel variant (vec4 register-blocked and tiled in each operand
//! orientation, few-rows, and the generic strided one) against the CPU reference.

mod common;
use wgrad::{Device, Tensor};

#[test]
fn vec4_orientations_and_edges_match_cpu_with_both_kernels() {
    use wgrad::gpu::kernels::matmul::{Tile, Variant};
    use wgrad::gpu::KernelPolicy;
    let Some(gpu) = common::gpu() else { return };
    let uses = |matmul: Option<Variant>, tile: Tile| {
        gpu.set_kernel_policy(KernelPolicy { matmul, tile, ..Default::default() })
    };
    // This binary holds only this test, so the device's policy affects nothing else.
    for v in [Variant::RegisterBlocked, Variant::Tiled, Variant::FewRows] {
        uses(Some(v), Tile::DEFAULT);
        check_vec4_orientations_and_edges();
    }
    // The default tile, a wide one with a shallow K slice, and a thin one with a deep slice
    // (the edge shapes leave partial tiles and partial K slices in each).
    for tile in
        [Tile::DEFAULT, Tile { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 }, Tile { bm: 32, bn: 64, bk: 32, tm: 4, tn: 8 }]
    {
        uses(Some(Variant::Tiled), tile);
        check_vec4_orientations_and_edges();
    }
    // Few rows on odd shapes: forced, then chosen by shape (M <= 32).
    for v in [Some(Variant::FewRows), None] {
        uses(v, Tile::DEFAULT);
        check_few_rows();
    }
    gpu.set_kernel_policy(KernelPolicy::default());
}

/// `a @ b` on `gpu` equals the CPU's with each operand stored row-major or transposed
/// (a transposed view of a contiguous copy), within a tolerance growing like sqrt(K).
fn check_every_orientation(gpu: &Device, a: &Tensor, b: &Tensor) {
    let cpu = Device::cpu();
    let [m, k, n] = [a.dims()[0], a.dims()[1], b.dims()[1]];
    let expected = a.matmul(b);
    let at = a.t().contiguous(); // [k, m] storage: a = at.t() is m-contiguous
    let bt = b.t().contiguous(); // [n, k] storage: b = bt.t() is k-contiguous
    let cases = [
        ("A row-major, B row-major", a.to_device(gpu), b.to_device(gpu)),
        ("A row-major, B transposed", a.to_device(gpu), bt.to_device(gpu).t()),
        ("A transposed, B row-major", at.to_device(gpu).t(), b.to_device(gpu)),
        ("A transposed, B transposed", at.to_device(gpu).t(), bt.to_device(gpu).t()),
    ];
    for (name, x, y) in cases {
        // f32 sums of k products of N(0,1) values: error grows like sqrt(k).
        let tol = 1e-5 * (k as f64).sqrt() * 10.0;
        common::assert_close(&x.matmul(&y).to_device(&cpu), &expected, tol, 1e-5, &format!("{name} {m}x{k}x{n}"));
    }
}

/// M = 1, 3, 17, 32 (and 40, past the automatic threshold) with odd N and K, every
/// operand orientation, batched with a broadcast operand, and a long K.
fn check_few_rows() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    for (m, k, n) in [(1, 7, 9), (3, 33, 5), (17, 65, 131), (32, 255, 257), (1, 512, 2048), (40, 9, 13), (8, 4, 4)] {
        let a = Tensor::randn([m, k], (m * 7 + k) as u64, &cpu);
        let b = Tensor::randn([k, n], (k * 5 + n) as u64, &cpu);
        check_every_orientation(&gpu, &a, &b);
    }
    // Batched: [2, 3, 17] @ [17, 11] (broadcast B) and [2, 3, 17] @ [2, 17, 11].
    let a = Tensor::randn([2, 3, 17], 3, &cpu);
    for b in [Tensor::randn([17, 11], 4, &cpu), Tensor::randn([2, 17, 11], 5, &cpu)] {
        let got = a.to_device(&gpu).matmul(&b.to_device(&gpu)).to_device(&cpu);
        common::assert_close(&got, &a.matmul(&b), 1e-4, 1e-5, &format!("batched few rows {:?}", b.dims()));
    }
    // A long K: one invocation walks all of it (lavapipe stops loops past 65535 iterations).
    let (a, b) = (Tensor::randn([8, 20000], 6, &cpu), Tensor::randn([20000, 4], 7, &cpu));
    let got = a.to_device(&gpu).matmul(&b.to_device(&gpu)).to_device(&cpu);
    common::assert_close(&got, &a.matmul(&b), 1e-5 * 20000f64.sqrt() * 10.0, 1e-5, "few rows, K = 20000");
}

fn check_vec4_orientations_and_edges() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    // (m, k, n): multiples of 4 take the vec4 kernel, including sizes that leave partial
    // 8x16 blocks; (36, 1000, 68) and (8, 4096, 8) have few tiles and a long K, which the
    // tiled kernel splits (a short last split, and many splits); the last ones fall back
    // to the generic kernel.
    for (m, k, n) in [
        (4, 4, 4),
        (8, 16, 16),
        (12, 20, 36),
        (64, 128, 96),
        (100, 8, 4),
        (132, 36, 260),
        (36, 1000, 68),
        (8, 4096, 8),
        (5, 7, 3),
        (4, 6, 8),
    ] {
        let a = Tensor::randn([m, k], (m * 31 + k) as u64, &cpu);
        let b = Tensor::randn([k, n], (k * 17 + n) as u64, &cpu);
        check_every_orientation(&gpu, &a, &b);
    }
    // Batched with a broadcast (stride-0) batch operand, with a short and a split K.
    for k in [12, 520] {
        let a = Tensor::randn([3, 8, k], 1, &cpu);
        let b = Tensor::randn([k, 16], 2, &cpu);
        common::assert_close(
            &a.to_device(&gpu).matmul(&b.to_device(&gpu)).to_device(&cpu),
            &a.matmul(&b),
            1e-5 * (k as f64).sqrt() * 10.0,
            1e-5,
            &format!("batched, K = {k}"),
        );
    }
}
