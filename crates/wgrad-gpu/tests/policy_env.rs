//! The kernel policy's environment overrides (one test in its own binary: it sets
//! variables that no other thread reads meanwhile).

use wgrad_gpu::kernels::matmul::{Tile, Variant};
use wgrad_gpu::KernelPolicy;

#[test]
fn the_environment_sets_the_policy_and_bad_values_say_what_is_accepted() {
    std::env::remove_var("WGRAD_MATMUL");
    std::env::remove_var("WGRAD_MATMUL_TILE");
    assert_eq!(KernelPolicy::from_env().unwrap(), KernelPolicy::default());

    std::env::set_var("WGRAD_MATMUL", "rows");
    std::env::set_var("WGRAD_MATMUL_TILE", "32,64,32,4,8");
    let policy = KernelPolicy::from_env().unwrap();
    assert_eq!(policy.matmul, Some(Variant::FewRows));
    assert_eq!(policy.tile, Tile { bm: 32, bn: 64, bk: 32, tm: 4, tn: 8 });

    std::env::set_var("WGRAD_MATMUL", "fastest");
    let e = KernelPolicy::from_env().unwrap_err().to_string();
    assert!(e.contains("WGRAD_MATMUL") && e.contains("fastest") && e.contains("blocked, tiled, rows"), "{e}");

    std::env::set_var("WGRAD_MATMUL", "tiled");
    std::env::set_var("WGRAD_MATMUL_TILE", "64,64,16,8"); // four sizes, not five
    let e = KernelPolicy::from_env().unwrap_err().to_string();
    assert!(e.contains("WGRAD_MATMUL_TILE") && e.contains("bm,bn,bk,tm,tn"), "{e}");
    std::env::remove_var("WGRAD_MATMUL");
    std::env::remove_var("WGRAD_MATMUL_TILE");
}
