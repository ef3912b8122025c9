//! 2-D convolution (PyTorch semantics, NCHW, f32) on contiguous rows: im2col + the
//! `gemm` crate, one batch item per rayon task. The GPU kernels in shaders/conv2d*.wgsl
//! (implicit GEMM, no im2col buffer) are tested against these.
//!
//! Per batch item and group g, with K = C/groups * KH * KW and P = OH * OW:
//!   forward      y_g [Og, P]  = W_g [Og, K] @ col [K, P]   (+ bias)
//!   grad input   dcol [K, P]  = W_g^T [K, Og] @ dy_g [Og, P], then col2im (summing taps)
//!   grad weight  dW_g [Og, K] += dy_g [Og, P] @ col^T [P, K], summed over the batch
//! where col[(c, kh, kw), (oh, ow)] = x[c, oh*s - p + kh*d, ow*s - p + kw*d] (0 in the padding).

use crate::matmul::{gemm_f32, Gemm, Mat};
use rayon::prelude::*;
use wgrad_core::params::Conv2dDims;

/// Batch items summed into one partial weight gradient before the partials are added in
/// order: fixed, so the result does not depend on the number of threads.
const GRAD_WEIGHT_CHUNK: usize = 4;

/// Input coordinate of output coordinate `o` at tap `k` along one axis, if inside.
fn source(o: usize, k: usize, stride: usize, pad: usize, dil: usize, size: usize) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < size)
}

/// The outputs `lo..hi` (of `n_out`) whose input `o*stride + k*dil - pad` along one axis
/// lies inside `0..size`, and the input of output `lo`.
fn inside(k: usize, stride: usize, pad: usize, dil: usize, size: usize, n_out: usize) -> (usize, usize, usize) {
    let shift = k * dil;
    let lo = pad.saturating_sub(shift).div_ceil(stride).min(n_out);
    let hi = (size + pad).saturating_sub(shift).div_ceil(stride).clamp(lo, n_out);
    (lo, hi, lo * stride + shift - pad.min(lo * stride + shift))
}

/// True when col is the input itself (1x1 kernel, stride 1, no padding).
fn col_is_input(d: &Conv2dDims) -> bool {
    d.kh == 1 && d.kw == 1 && d.p.stride == [1, 1] && d.p.padding == [0, 0]
}

/// Where one row of col comes from: the start of its input row and the columns
/// `lo..hi` inside the input with the input column of `lo`, or None when the input row
/// is in the padding.
type Source = Option<(usize, (usize, usize, usize))>;

/// Calls `f(row of col, its source)` for every row (c, kh, kw, oh) of a col of `rows`
/// kernel rows (c, kh, kw).
fn for_rows(d: &Conv2dDims, rows: usize, mut f: impl FnMut(usize, Source)) {
    let (s, p, dl) = (d.p.stride, d.p.padding, d.p.dilation);
    for r in 0..rows {
        let (c, kh, kw) = (r / (d.kh * d.kw), r / d.kw % d.kh, r % d.kw);
        let cols = inside(kw, s[1], p[1], dl[1], d.w, d.ow);
        for oh in 0..d.oh {
            let ih = source(oh, kh, s[0], p[0], dl[0], d.h);
            f(r * d.oh + oh, ih.map(|ih| ((c * d.h + ih) * d.w, cols)));
        }
    }
}

/// Fills `col` [cg * kh * kw, oh * ow] from one group's input planes `x` [cg, h, w].
fn im2col(x: &[f32], d: &Conv2dDims, col: &mut [f32]) {
    let (ow, sw) = (d.ow, d.p.stride[1]);
    let rows = col.len() / (d.oh * ow);
    for_rows(d, rows, |row, src| {
        let out = &mut col[row * ow..(row + 1) * ow];
        let Some((xrow, (lo, hi, first))) = src else {
            out.fill(0.0);
            return;
        };
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        if sw == 1 {
            out[lo..hi].copy_from_slice(&x[xrow + first..xrow + first + hi - lo]);
        } else {
            for (i, v) in out[lo..hi].iter_mut().enumerate() {
                *v = x[xrow + first + i * sw];
            }
        }
    });
}

/// Adds `col` [cg * kh * kw, oh * ow] back into one group's input planes `x` [cg, h, w].
fn col2im(col: &[f32], d: &Conv2dDims, x: &mut [f32]) {
    let (ow, sw) = (d.ow, d.p.stride[1]);
    let rows = col.len() / (d.oh * ow);
    for_rows(d, rows, |row, src| {
        let Some((xrow, (lo, hi, first))) = src else { return };
        let from = &col[row * ow + lo..row * ow + hi];
        if sw == 1 {
            for (a, &b) in x[xrow + first..xrow + first + hi - lo].iter_mut().zip(from) {
                *a += b;
            }
        } else {
            for (i, &b) in from.iter().enumerate() {
                x[xrow + first + i * sw] += b;
            }
        }
    });
}

/// Row-major `dst [m, n] = (accumulate ? dst : 0) + a [m, k] @ b [k, n]`.
fn gemm(dst: &mut [f32], accumulate: bool, a: Mat, b: Mat, [m, k, n]: [usize; 3], parallel: bool) {
    gemm_f32((dst, n, 1), a, b, [m, k, n], Gemm { accumulate, scale: 1.0, parallel });
}

/// Runs `f(batch item, its output chunk)` over the batch: in parallel across items, or
/// (one item) sequentially with the GEMM itself parallel.
fn per_item(out: &mut [f32], chunk: usize, n: usize, f: impl Fn(usize, &mut [f32], bool) + Sync) {
    if chunk == 0 {
        return;
    }
    if n > 1 {
        out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i, o, false));
    } else {
        out.chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i, o, true));
    }
}

/// conv2d forward: `x` `[n, c, h, w]`, `w` `[o, c/groups, kh, kw]`, `bias` `[o]` (all contiguous)
/// to `y` [n, o, oh, ow].
pub fn conv2d(x: &[f32], w: &[f32], bias: Option<&[f32]>, d: &Conv2dDims) -> Vec<f32> {
    let (cg, og, k, p) = (d.cg(), d.og(), d.cg() * d.kh * d.kw, d.oh * d.ow);
    let mut y = vec![0.0f32; d.n * d.o * p];
    per_item(&mut y, d.o * p, d.n, |ni, yn, parallel| {
        let mut col = if col_is_input(d) { Vec::new() } else { vec![0.0f32; k * p] };
        for g in 0..d.p.groups {
            let xg = &x[(ni * d.c + g * cg) * d.h * d.w..][..cg * d.h * d.w];
            let yg = &mut yn[g * og * p..(g + 1) * og * p];
            if let Some(b) = bias {
                for (o, row) in yg.chunks_mut(p).enumerate() {
                    row.fill(b[g * og + o]);
                }
            }
            let cols = if col.is_empty() {
                xg
            } else {
                im2col(xg, d, &mut col);
                &col
            };
            let wg = &w[g * og * k..(g + 1) * og * k];
            // As y^T [p, og] = cols^T [p, k] @ w^T [k, og], written through y's strides: the
            // long dim (pixels) is the GEMM's M, where its microkernel is efficient.
            let (a, b) = (Mat::transposed(cols, p), Mat::transposed(wg, k));
            gemm_f32((yg, 1, p), a, b, [p, k, og], Gemm { accumulate: bias.is_some(), scale: 1.0, parallel });
        }
    });
    y
}

/// Gradient of conv2d with respect to its input: `dy` [n, o, oh, ow], `w` [o, c/groups,
/// kh, kw] to `dx` [n, c, h, w].
pub fn conv2d_grad_input(dy: &[f32], w: &[f32], d: &Conv2dDims) -> Vec<f32> {
    let (cg, og, k, p) = (d.cg(), d.og(), d.cg() * d.kh * d.kw, d.oh * d.ow);
    let mut dx = vec![0.0f32; d.n * d.c * d.h * d.w];
    per_item(&mut dx, d.c * d.h * d.w, d.n, |ni, dxn, parallel| {
        let direct = col_is_input(d);
        let mut dcol = if direct { Vec::new() } else { vec![0.0f32; k * p] };
        for g in 0..d.p.groups {
            let dyg = &dy[(ni * d.o + g * og) * p..][..og * p];
            let wg = &w[g * og * k..(g + 1) * og * k];
            let dxg = &mut dxn[g * cg * d.h * d.w..(g + 1) * cg * d.h * d.w];
            if direct {
                gemm(dxg, false, Mat::transposed(wg, k), Mat::rows(dyg, p), [k, og, p], parallel);
            } else {
                gemm(&mut dcol, false, Mat::transposed(wg, k), Mat::rows(dyg, p), [k, og, p], parallel);
                col2im(&dcol, d, dxg);
            }
        }
    });
    dx
}

/// Gradient of conv2d with respect to its weight: `dy` [n, o, oh, ow], `x` [n, c, h, w]
/// to `dw` [o, c/groups, kh, kw]. Batch items are summed in fixed chunks, then the
/// chunks in order (deterministic for any thread count).
pub fn conv2d_grad_weight(dy: &[f32], x: &[f32], d: &Conv2dDims) -> Vec<f32> {
    let (cg, og, k, p) = (d.cg(), d.og(), d.cg() * d.kh * d.kw, d.oh * d.ow);
    let size = d.o * k;
    let chunk = |start: usize| {
        let mut dw = vec![0.0f32; size];
        let mut col = if col_is_input(d) { Vec::new() } else { vec![0.0f32; k * p] };
        let parallel = d.n <= GRAD_WEIGHT_CHUNK;
        for ni in start..(start + GRAD_WEIGHT_CHUNK).min(d.n) {
            for g in 0..d.p.groups {
                let xg = &x[(ni * d.c + g * cg) * d.h * d.w..][..cg * d.h * d.w];
                let cols = if col.is_empty() {
                    xg
                } else {
                    im2col(xg, d, &mut col);
                    &col
                };
                let dyg = &dy[(ni * d.o + g * og) * p..][..og * p];
                let dwg = &mut dw[g * og * k..(g + 1) * og * k];
                let (a, b) = (Mat::rows(cols, p), Mat::transposed(dyg, p));
                gemm_f32((dwg, 1, k), a, b, [k, p, og], Gemm::ADD.parallel(parallel));
            }
        }
        dw
    };
    let starts: Vec<usize> = (0..d.n).step_by(GRAD_WEIGHT_CHUNK).collect();
    let partials: Vec<Vec<f32>> = starts.par_iter().map(|&s| chunk(s)).collect();
    let mut dw = vec![0.0f32; size];
    for part in partials {
        for (a, b) in dw.iter_mut().zip(part) {
            *a += b;
        }
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgrad_core::params::Conv2d;

    #[test]
    fn hand_computed_3x3_by_2x2() {
        // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]]: y[i][j] = x[i][j] - x[i+1][j+1] = -4.
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let w = vec![1.0, 0.0, 0.0, -1.0];
        let d = Conv2d::default().dims(&[1, 1, 3, 3], &[1, 1, 2, 2]);
        assert_eq!(conv2d(&x, &w, Some(&[0.5]), &d), vec![-3.5; 4]);
        // dx = sum over outputs of dy * w placed at each window: dy = 1 everywhere.
        assert_eq!(conv2d_grad_input(&[1.0; 4], &w, &d), vec![1.0, 1.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0, -1.0]);
        // dw[a][b] = sum of the 2x2 block of x starting at (a, b).
        assert_eq!(conv2d_grad_weight(&[1.0; 4], &x, &d), vec![12.0, 16.0, 24.0, 28.0]);
    }
}
