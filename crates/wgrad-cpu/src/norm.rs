//! Layer normalisation of rows in one pass per row, bit for bit what the composed ops
//! compute (`x.mean_dims`, `x - mean`, `(c * c).mean_dims`, `+ eps`, `rsqrt`, `* w`,
//! `+ b`, each rounded to f32 where the composed op rounds): the same results, without
//! nine passes over the activations.

use crate::simd::wide;
use rayon::prelude::*;

/// Rows per rayon task.
const ROWS_PER_TASK: usize = 16;

/// `layer_norm` of the `x.len() / d` rows of `x`, each of `d` elements, with optional
/// per-element `weight` and `bias` (`d` each).
pub fn layer_norm(x: &[f32], d: usize, weight: Option<&[f32]>, bias: Option<&[f32]>, eps: f32) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    if d == 0 {
        return out;
    }
    let row = |src: &[f32], dst: &mut [f32]| {
        // The composed mean: an f64 sum in order, divided in f64, rounded to f32.
        let mean = (src.iter().fold(0.0f64, |s, &v| s + f64::from(v)) / d as f64) as f32;
        dst.iter_mut().zip(src).for_each(|(c, &v)| *c = v - mean);
        let var = (dst.iter().fold(0.0f64, |s, &c| s + f64::from(c * c)) / d as f64) as f32;
        let rstd = 1.0 / (var + eps).sqrt();
        dst.iter_mut().for_each(|c| *c *= rstd);
        if let Some(w) = weight {
            dst.iter_mut().zip(w).for_each(|(y, &w)| *y *= w);
        }
        if let Some(b) = bias {
            dst.iter_mut().zip(b).for_each(|(y, &b)| *y += b);
        }
    };
    out.par_chunks_mut(d * ROWS_PER_TASK).zip(x.par_chunks(d * ROWS_PER_TASK)).for_each(|(dst, src)| {
        wide(
            #[inline(always)]
            || dst.chunks_mut(d).zip(src.chunks(d)).for_each(|(dst, src)| row(src, dst)),
        )
    });
    out
}
