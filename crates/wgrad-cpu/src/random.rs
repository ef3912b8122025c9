//! Counter-based random bits on the CPU, the reference of `random_bits` in
//! shaders/elementwise.wgsl: element i of a stream depends only on (seed, i), so both
//! devices draw the same dropout masks without a host-to-device upload.

use rayon::prelude::*;

/// One round of a 32-bit integer hash with full avalanche (Wellons' "lowbias32").
fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// 32 random bits for counter `i` of stream `seed`.
pub fn random_bits(seed: u32, i: u32) -> u32 {
    lowbias32(lowbias32(i ^ seed).wrapping_add(seed))
}

/// The threshold on `random_bits >> 8` (24 bits) below which dropout drops an element:
/// the drop probability is `p` to within 2^-24.
pub fn drop_threshold(p: f64) -> u32 {
    (p * (1u64 << 24) as f64).ceil() as u32
}

/// Dropout's keep mask of `n` elements: `scale` where `random_bits(seed, i) >> 8` reaches
/// `threshold`, else 0.
pub fn keep_mask(seed: u32, n: usize, threshold: u32, scale: f32) -> Vec<f32> {
    assert!(u32::try_from(n).is_ok(), "keep_mask: {n} elements exceed the 2^32 counters of one stream");
    /// Elements per parallel task.
    const CHUNK: usize = 1 << 15;
    let mut mask = vec![0f32; n];
    mask.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        for (j, m) in chunk.iter_mut().enumerate() {
            let i = (c * CHUNK + j) as u32;
            *m = if random_bits(seed, i) >> 8 >= threshold { scale } else { 0.0 };
        }
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_expected_fraction_and_streams_differ() {
        let n = 1 << 20;
        for p in [0.1, 0.5, 0.9] {
            let mask = keep_mask(7, n, drop_threshold(p), 2.0);
            let kept = mask.iter().filter(|&&m| m == 2.0).count() as f64 / n as f64;
            // Binomial standard deviation at n = 2^20 is under 5e-4.
            assert!((kept - (1.0 - p)).abs() < 3e-3, "p {p}: kept {kept}");
        }
        let (a, b) = (keep_mask(1, 4096, drop_threshold(0.5), 1.0), keep_mask(2, 4096, drop_threshold(0.5), 1.0));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!((1800..2300).contains(&same), "streams 1 and 2 agree on {same} of 4096");
        // Neighbouring elements are independent: pairs (kept, kept) occur a quarter of the time.
        let both = a.windows(2).filter(|w| w[0] == 1.0 && w[1] == 1.0).count();
        assert!((900..1150).contains(&both), "{both} adjacent kept pairs of 4095");
        assert_eq!(drop_threshold(0.0), 0);
        assert_eq!(drop_threshold(1.0), 1 << 24);
    }
}
