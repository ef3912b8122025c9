//! [`KernelPolicy`]: which kernel a GPU device runs where it has a choice, held by the
//! device (read from the environment once, when it opens) instead of process globals.

use crate::kernels::matmul::{Tile, Variant};
use wgrad_core::{Error, Result};

/// Which kernels a GPU device runs where an op has several. Each device reads it from the
/// environment when it opens ([`KernelPolicy::from_env`]); tests and benchmarks that
/// compare kernels on one adapter replace it with [`crate::GpuDevice::set_policy`].
///
/// ```
/// use wgrad_gpu::kernels::matmul::{Tile, Variant};
/// let policy = wgrad_gpu::KernelPolicy { matmul: Some(Variant::Tiled), ..Default::default() };
/// assert_eq!(policy.tile, Tile::DEFAULT);
/// assert_eq!(policy.attention_vec4, None); // by adapter class
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelPolicy {
    /// The product kernel; None chooses by shape and adapter class
    /// (`WGRAD_MATMUL=blocked|tiled|rows`).
    pub matmul: Option<Variant>,
    /// The tiled product kernel's tile (`WGRAD_MATMUL_TILE=bm,bn,bk,tm,tn`, for tuning on
    /// a new GPU with `cargo xtask bench --filter MM1024,MM4096`).
    pub tile: Tile,
    /// The attention kernels, forward and backward: `Some(true)` the vec4 four-row ones
    /// (where the head dim and offsets allow them), `Some(false)` the one-row ones, None
    /// by adapter class (vec4 on software adapters, where they are 1.5-2x faster).
    pub attention_vec4: Option<bool>,
}

impl Default for KernelPolicy {
    /// Every choice by shape and adapter class; [`Tile::DEFAULT`].
    fn default() -> Self {
        KernelPolicy { matmul: None, tile: Tile::DEFAULT, attention_vec4: None }
    }
}

impl KernelPolicy {
    /// The default with the environment's overrides (`WGRAD_MATMUL`, `WGRAD_MATMUL_TILE`);
    /// a value it cannot use is an [`Error::BadEnv`] naming what it accepts.
    pub fn from_env() -> Result<KernelPolicy> {
        let mut policy = KernelPolicy::default();
        if let Ok(value) = std::env::var("WGRAD_MATMUL") {
            policy.matmul = Some(match value.as_str() {
                "blocked" => Variant::RegisterBlocked,
                "tiled" => Variant::Tiled,
                "rows" => Variant::FewRows,
                _ => return Err(Error::BadEnv { var: "WGRAD_MATMUL", value, expected: "blocked, tiled, rows" }),
            });
        }
        if let Ok(value) = std::env::var("WGRAD_MATMUL_TILE") {
            policy.tile = Tile::parse(&value).ok_or(Error::BadEnv {
                var: "WGRAD_MATMUL_TILE",
                value,
                expected: "bm,bn,bk,tm,tn: multiples of 4, tm dividing bm, tn dividing bn, 32-1024 threads, \
                           tiles within 16 KiB",
            })?;
        }
        Ok(policy)
    }
}
