//! Elementwise loops compiled for the widest vector unit the CPU has.
//!
//! The crate is built for baseline x86-64 (SSE2, 4 f32 lanes), so a plain loop vectorises
//! 4 wide. [`wide`] runs a loop inside a function compiled with AVX-512 (16 lanes) or
//! AVX2 + FMA (8 lanes) when the CPU has them, chosen once at run time; the loop (a
//! closure, inlined there) is vectorised again at that width. Each element sees the same
//! operations in the same order at every width, so results are identical; Rust never
//! fuses `a * b + c` into an FMA by itself.

/// Runs `body` compiled for the widest vector unit detected.
#[inline(always)]
pub(crate) fn wide<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match x86::detected() {
            x86::Width::Avx512 => return unsafe { x86::avx512(body) },
            x86::Width::Avx2 => return unsafe { x86::avx2(body) },
            x86::Width::Baseline => {}
        }
    }
    body()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::sync::OnceLock;

    #[derive(Clone, Copy)]
    pub(super) enum Width {
        Avx512,
        Avx2,
        Baseline,
    }

    pub(super) fn detected() -> Width {
        static WIDTH: OnceLock<Width> = OnceLock::new();
        *WIDTH.get_or_init(|| {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                Width::Avx512
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                Width::Avx2
            } else {
                Width::Baseline
            }
        })
    }

    /// Safety: the CPU must have AVX-512 F and VL ([`detected`] says so).
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub(super) unsafe fn avx512<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// Safety: the CPU must have AVX2 and FMA ([`detected`] says so).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<R>(body: impl FnOnce() -> R) -> R {
        body()
    }
}

#[cfg(test)]
mod tests {
    use super::wide;
    use crate::fastmath;

    /// The claim above: the same loop at the detected width and at the baseline width
    /// gives the same bits, for the polynomial kernels the wide loops inline.
    #[test]
    fn wide_loops_give_the_baseline_bits() {
        let x: Vec<f32> = (0..10_000).map(|i| (i as f32 - 5_000.0) * 1.7e-3).collect();
        // Inlined (always) into the wide function, so it is compiled again at its width.
        #[inline(always)]
        fn kernel(v: &[f32], out: &mut [f32]) {
            for (o, &a) in out.iter_mut().zip(v) {
                *o = fastmath::gelu(a) + fastmath::tanh(a) * fastmath::exp(-a) + fastmath::gelu_grad(a, 0.5);
            }
        }
        let mut baseline = vec![0.0f32; x.len()];
        kernel(&x, &mut baseline);
        let mut widened = vec![0.0f32; x.len()];
        wide(
            #[inline(always)]
            || kernel(&x, &mut widened),
        );
        for (i, (b, w)) in baseline.iter().zip(&widened).enumerate() {
            assert_eq!(b.to_bits(), w.to_bits(), "x = {}: baseline {b}, wide {w}", x[i]);
        }
    }
}
