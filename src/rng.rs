//! Seeded random numbers that are the same on every device: generated on the host by
//! a counter-based generator (element i depends only on the seed and i), then uploaded.

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) for counter `i` of stream `seed`.
pub(crate) fn uniform(seed: u64, i: u64) -> f64 {
    let bits = splitmix64(splitmix64(seed) ^ i.wrapping_mul(0xd6e8_feb8_6659_fd93));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `n` standard normal samples (Box-Muller on counter pairs).
pub(crate) fn normal(seed: u64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let pair = (i / 2) as u64;
            let u1 = uniform(seed, 2 * pair).max(f64::MIN_POSITIVE);
            let u2 = uniform(seed, 2 * pair + 1);
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = 2.0 * std::f64::consts::PI * u2;
            (if i % 2 == 0 { r * theta.cos() } else { r * theta.sin() }) as f32
        })
        .collect()
}

/// `n` samples uniform in [lo, hi).
pub(crate) fn uniform_range(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n).map(|i| (lo + (hi - lo) * uniform(seed, i as u64)) as f32).collect()
}

static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x5eed);

/// Sets the process-wide seed that layers' initialisation and dropout draw from
/// (torch.manual_seed): the same seed gives the same models and masks on every device.
pub fn manual_seed(seed: u64) {
    SEED.store(seed, std::sync::atomic::Ordering::SeqCst);
}

/// The position of the process-wide stream (torch.get_rng_state): saved in training
/// checkpoints so that a resumed run draws the same dropout masks as an uninterrupted one.
pub fn get_rng_state() -> u64 {
    SEED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Restores a position returned by [`get_rng_state`] (torch.set_rng_state).
pub fn set_rng_state(state: u64) {
    SEED.store(state, std::sync::atomic::Ordering::SeqCst);
}

/// The next seed of the process-wide stream (advances it).
pub fn next_seed() -> u64 {
    splitmix64(SEED.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
}

/// The next seed of the process-wide stream folded to the 32 bits that the device-side
/// generator (`wgrad_cpu::random`) takes.
pub(crate) fn next_seed32() -> u32 {
    let s = next_seed();
    (s ^ (s >> 32)) as u32
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_samples_have_unit_moments() {
        let v = super::normal(7, 100_000);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "mean {mean} var {var}");
        assert_ne!(super::normal(7, 4), super::normal(8, 4));
    }
}
