//! `exp`, `tanh`, `sigmoid` and `erf` as branch-free polynomials, so loops over them vectorise:
//! libm's `tanhf` is a call per element and was a fifth of the LSTM forward. `tanh` is
//! Eigen's float rational approximation (absolute error <= 4e-7), `exp` Cephes' `expf`
//! (relative error <= 3e-7); both tested against f64 over the whole f32 range.

/// Beyond this, tanh(x) rounds to +-1 in f32.
const TANH_CLAMP: f32 = 7.905_311;
/// Below this, tanh(x) = x to f32 precision.
const TANH_TINY: f32 = 0.0004;
/// Odd numerator coefficients alpha_1, alpha_3, ..., alpha_13.
const ALPHA: [f32; 7] =
    [4.893_524_6e-3, 6.372_619_3e-4, 1.485_722_4e-5, 5.122_297e-8, -8.604_672e-11, 2.000_188e-13, -2.760_768_5e-16];
/// Even denominator coefficients beta_0, beta_2, beta_4, beta_6.
const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];

/// exp(x), relative error <= 3e-7; 0 below -87.3 (where f32 turns subnormal), +inf
/// above 88.7, NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    const P: [f32; 6] = [1.987_569_2e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
    let c = x.clamp(-87.3, 88.7);
    let n = (c * LOG2E + ROUND) - ROUND;
    let r = c - n * LN2_HI - n * LN2_LO;
    let mut p = P[0];
    for coefficient in &P[1..] {
        p = p * r + coefficient;
    }
    let y = p * r * r + r + 1.0;
    let scaled = y * f32::from_bits(((n as i32 + 127) << 23) as u32);
    if x < -87.3 {
        0.0
    } else if x > 88.7 {
        f32::INFINITY
    } else {
        scaled
    }
}

/// tanh(x), absolute error <= 4e-7; NaN stays NaN.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let c = x.clamp(-TANH_CLAMP, TANH_CLAMP);
    let c2 = c * c;
    let mut p = ALPHA[6];
    for a in ALPHA[..6].iter().rev() {
        p = p * c2 + *a;
    }
    let mut q = BETA[3];
    for b in BETA[..3].iter().rev() {
        q = q * c2 + *b;
    }
    let t = c * p / q;
    if x.abs() < TANH_TINY {
        x
    } else {
        t
    }
}

/// The logistic function as 0.5 + 0.5 tanh(x / 2): absolute error <= 2e-7 (for the
/// gates of the fused cells; the `sigmoid` op keeps exp for small relative error).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    0.5 * tanh(0.5 * x) + 0.5
}

/// erf(x), absolute error <= 6e-7 in f32 (Abramowitz & Stegun 7.1.26, 1.5e-7 in exact arithmetic, as PyTorch's vectorised
/// CPU kernels and our WGSL `erf_approx` compute it); NaN stays NaN.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152_1, 1.061_405_4];
    let t = 1.0 / (1.0 + P * x.abs());
    let mut r = A[4];
    for a in A[..4].iter().rev() {
        r = r * t + *a;
    }
    let y = 1.0 - r * t * exp(-x * x);
    y.copysign(x)
}

/// GELU, exact form: `x Φ(x) = x (1 + erf(x / √2)) / 2`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `g` times the derivative of exact GELU at `x`: `Φ(x) + x φ(x)`.
#[inline(always)]
pub fn gelu_grad(x: f32, g: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    g * (cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x))
}

/// `dst[i] = gelu_grad(x[i], g[i])`: a plain loop over slices with [`gelu_grad`] inlined
/// (always), which the compiler vectorises.
#[inline(always)]
pub fn gelu_grad_slice(x: &[f32], g: &[f32], dst: &mut [std::mem::MaybeUninit<f32>]) {
    for ((d, &x), &g) in dst.iter_mut().zip(x).zip(g) {
        d.write(gelu_grad(x, g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_f64_everywhere() {
        let mut worst = 0.0f64;
        for i in -2_000_000..=2_000_000 {
            let x = i as f32 * 4.4e-5;
            let want = (x as f64).exp();
            if x >= -87.3 {
                worst = worst.max(((exp(x) as f64 - want) / want).abs());
            } else {
                assert!(want < 1.3e-38 && exp(x) == 0.0, "exp({x})");
            }
        }
        assert!(worst <= 3e-7, "exp: max relative error {worst}");
        assert_eq!((exp(f32::NEG_INFINITY), exp(-100.0), exp(0.0)), (0.0, 0.0, 1.0));
        assert!(exp(f32::NAN).is_nan() && exp(100.0) == f32::INFINITY);
    }

    #[test]
    fn tanh_and_sigmoid_match_f64_everywhere() {
        let (mut worst_tanh, mut worst_sigmoid) = (0.0f64, 0.0f64);
        for i in -300_000..=300_000 {
            let x = i as f32 * 4e-5;
            for x in [x, x * 300.0] {
                worst_tanh = worst_tanh.max((tanh(x) as f64 - (x as f64).tanh()).abs());
                let s = 1.0 / (1.0 + (-(x as f64)).exp());
                worst_sigmoid = worst_sigmoid.max((sigmoid(x) as f64 - s).abs());
            }
        }
        assert!(worst_tanh <= 4e-7, "tanh: max abs error {worst_tanh}");
        assert!(worst_sigmoid <= 2.5e-7, "sigmoid: max abs error {worst_sigmoid}");
        assert!(tanh(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
        assert_eq!((tanh(f32::INFINITY), tanh(f32::NEG_INFINITY)), (1.0, -1.0));
        assert_eq!((sigmoid(f32::INFINITY), sigmoid(f32::NEG_INFINITY)), (1.0, 0.0));
        assert_eq!(tanh(1e-30), 1e-30);
    }

    #[test]
    fn erf_and_gelu_match_f64_everywhere() {
        let (mut worst_erf, mut worst_gelu, mut worst_grad) = (0.0f64, 0.0f64, 0.0f64);
        for i in -300_000..=300_000 {
            let x = i as f32 * 4e-5;
            for x in [x, x * 30.0] {
                let xd = x as f64;
                worst_erf = worst_erf.max((erf(x) as f64 - libm::erf(xd)).abs());
                let cdf = 0.5 * (1.0 + libm::erf(xd / std::f64::consts::SQRT_2));
                let scale = xd.abs().max(1.0);
                worst_gelu = worst_gelu.max((gelu(x) as f64 - xd * cdf).abs() / scale);
                let pdf = (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
                worst_grad = worst_grad.max((gelu_grad(x, 1.0) as f64 - (cdf + xd * pdf)).abs());
            }
        }
        assert!(worst_erf <= 6e-7, "erf: max abs error {worst_erf}");
        assert!(worst_gelu <= 2e-7, "gelu: max error {worst_gelu} (relative above 1)");
        assert!(worst_grad <= 4e-7, "gelu': max abs error {worst_grad}");
        assert!(erf(f32::NAN).is_nan() && gelu(f32::NAN).is_nan());
        assert_eq!((erf(f32::INFINITY), erf(f32::NEG_INFINITY), gelu(0.0)), (1.0, -1.0, 0.0));
        // As PyTorch: gelu(-inf) is NaN (-inf * 0).
        assert!(gelu(f32::NEG_INFINITY).is_nan() && gelu(f32::INFINITY) == f32::INFINITY);
    }
}
