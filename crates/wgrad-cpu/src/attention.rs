//! Scaled dot-product attention, fused: for each (batch, head) and each block of query
//! rows, the scores of the block are one GEMM into a small buffer and softmax runs in
//! place; the forward's second GEMM writes the block's output, the backward's four GEMMs
//! its share of dq, dk and dv. The [Lq, Lk] matrix of all rows never exists; (batch, head)
//! pairs run in parallel. The composed tensor-op path in
//! wgrad's functional::attention is the reference it is tested against.

use crate::fastmath;
use crate::matmul::{gemm_f32, Gemm, Mat};
use crate::simd::wide;
use crate::storage::strided_vec;
use rayon::prelude::*;
use wgrad_core::Layout;

/// Query rows whose scores are held at once (a [QUERY_BLOCK, Lk] buffer per thread).
const QUERY_BLOCK: usize = 64;

/// Sizes of `softmax(q k^T * scale + bias) v` for q [B, H, Lq, E], k and v [B, H, Lk, E].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionDims {
    pub batch: usize,
    pub heads: usize,
    pub lq: usize,
    pub lk: usize,
    pub e: usize,
}

/// A mask added to the scores (-inf hides a key): element [b, h, i, j] of `layout`
/// (shape [B, H, Lq, Lk], broadcast dims stride 0) in `data`.
#[derive(Debug, Clone, Copy)]
pub struct ScoreBias<'a> {
    pub data: &'a [f32],
    pub layout: &'a Layout,
}

/// The attention output [B, H, Lq, E] for contiguous f32 `q`, `k`, `v`. With `causal`,
/// query i sees keys j <= i. A query that sees no key gets NaN, as softmax of an
/// all -inf row does.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: AttentionDims,
    bias: Option<ScoreBias>,
    causal: bool,
    scale: f32,
) -> Vec<f32> {
    let AttentionDims { heads, lq, lk, e, .. } = d;
    let mut out = vec![0.0f32; d.batch * heads * lq * e];
    if out.is_empty() {
        return out;
    }
    if lk == 0 {
        out.fill(f32::NAN);
        return out;
    }
    if let Some(b) = bias {
        assert_eq!(b.layout.dims(), [d.batch, heads, lq, lk], "attention: bias shape");
    }
    out.par_chunks_mut(lq * e).enumerate().for_each(|(bh, out)| {
        let (q, k, v) = (&q[bh * lq * e..][..lq * e], &k[bh * lk * e..][..lk * e], &v[bh * lk * e..][..lk * e]);
        let kt = transpose(k, lk, e);
        let mut p = vec![0.0f32; QUERY_BLOCK.min(lq) * lk];
        for first in (0..lq).step_by(QUERY_BLOCK) {
            let rows = QUERY_BLOCK.min(lq - first);
            let p = &mut p[..rows * lk];
            weights(p, Block { bh, first, q, kt: &kt }, d, bias, causal, scale);
            // out[first..first + rows] [rows, E] = p [rows, Lk] @ v [Lk, E], over the keys
            // the block can see (the weights of the others are exactly 0)
            gemm_f32(
                (&mut out[first * e..(first + rows) * e], e, 1),
                Mat::rows(p, lk),
                Mat::rows(v, e),
                [rows, visible_keys(first, rows, lk, causal), e],
                Gemm::SET,
            );
        }
    });
    out
}

/// Gradients (dq, dk, dv) of [`attention`]'s output from `d_out` [B, H, Lq, E], all
/// contiguous f32. The weights are recomputed a block of query rows at a time (as
/// FlashAttention's backward does), so no [Lq, Lk] matrix of all rows exists either; a
/// query that sees no key contributes nothing (its output was NaN).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d_out: &[f32],
    d: AttentionDims,
    bias: Option<ScoreBias>,
    causal: bool,
    scale: f32,
) -> [Vec<f32>; 3] {
    let AttentionDims { heads, lq, lk, e, .. } = d;
    let (mut dq, mut dk, mut dv) = (
        vec![0.0f32; d.batch * heads * lq * e],
        vec![0.0f32; d.batch * heads * lk * e],
        vec![0.0f32; d.batch * heads * lk * e],
    );
    if dq.is_empty() || lk == 0 || e == 0 {
        return [dq, dk, dv];
    }
    let per_head = dq.par_chunks_mut(lq * e).zip(dk.par_chunks_mut(lk * e)).zip(dv.par_chunks_mut(lk * e));
    per_head.enumerate().for_each(|(bh, ((dq, dk), dv))| {
        let (q, k, v) = (&q[bh * lq * e..][..lq * e], &k[bh * lk * e..][..lk * e], &v[bh * lk * e..][..lk * e]);
        let d_out = &d_out[bh * lq * e..][..lq * e];
        let (kt, vt) = (transpose(k, lk, e), transpose(v, lk, e));
        let block_len = QUERY_BLOCK.min(lq) * lk;
        let (mut p, mut ds) = (vec![0.0f32; block_len], vec![0.0f32; block_len]);
        for first in (0..lq).step_by(QUERY_BLOCK) {
            let rows = QUERY_BLOCK.min(lq - first);
            let (p, ds) = (&mut p[..rows * lk], &mut ds[..rows * lk]);
            weights(p, Block { bh, first, q, kt: &kt }, d, bias, causal, scale);
            // Rows that saw no key (NaN) take no part.
            for row in p.chunks_mut(lk).filter(|r| r[0].is_nan()) {
                row.fill(0.0);
            }
            let (d_out_block, q_block) = (&d_out[first * e..(first + rows) * e], &q[first * e..(first + rows) * e]);
            // dv [Lk, E] += p^T [Lk, rows] @ d_out [rows, E]
            gemm_f32((&mut dv[..], e, 1), Mat::transposed(p, lk), Mat::rows(d_out_block, e), [lk, rows, e], Gemm::ADD);
            // dp [rows, Lk] = d_out [rows, E] @ v^T [E, Lk]
            gemm_f32((&mut ds[..], lk, 1), Mat::rows(d_out_block, e), Mat::rows(&vt, lk), [rows, e, lk], Gemm::SET);
            // ds = p * (dp - rowsum(p * dp)): the gradient of the scaled, masked scores.
            for (p_row, ds_row) in p.chunks(lk).zip(ds.chunks_mut(lk)) {
                let dot: f32 = p_row.iter().zip(ds_row.iter()).map(|(a, b)| a * b).sum();
                ds_row.iter_mut().zip(p_row).for_each(|(g, &w)| *g = w * (*g - dot));
            }
            // dq [rows, E] = scale * ds [rows, Lk] @ k [Lk, E]
            let dq_block = &mut dq[first * e..(first + rows) * e];
            gemm_f32((dq_block, e, 1), Mat::rows(ds, lk), Mat::rows(k, e), [rows, lk, e], Gemm::SET.scaled(scale));
            // dk [Lk, E] += scale * ds^T [Lk, rows] @ q [rows, E]
            gemm_f32(
                (&mut dk[..], e, 1),
                Mat::transposed(ds, lk),
                Mat::rows(q_block, e),
                [lk, rows, e],
                Gemm::ADD.scaled(scale),
            );
        }
    });
    [dq, dk, dv]
}

/// `x` [rows, cols] transposed into a new [cols, rows], row-major. The score products
/// read k^T (and the backward v^T) from such a copy: the GEMM runs a block of 64 query
/// rows 1.4-4x faster from a row-major right operand than from a transposed view.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    strided_vec(x, &Layout::new(vec![cols, rows], vec![1, cols], 0))
}

/// Query rows `first..` of head `bh`: the head's q [Lq, E] and k^T [E, Lk].
#[derive(Clone, Copy)]
struct Block<'a> {
    bh: usize,
    first: usize,
    q: &'a [f32],
    kt: &'a [f32],
}

/// The attention weights of `p.len() / Lk` query rows of a block into `p` [rows, Lk]:
/// scores by one GEMM, scaled, masked, softmaxed in place (NaN rows where no key is seen).
fn weights(p: &mut [f32], b: Block, d: AttentionDims, bias: Option<ScoreBias>, causal: bool, scale: f32) {
    let (lk, e) = (d.lk, d.e);
    let rows = p.len() / lk;
    // p [rows, Lk] = scale * q[first..first + rows] [rows, E] @ k^T [E, Lk], for the keys
    // the block can see; the causal mask below covers the columns left out.
    gemm_f32(
        (&mut p[..], lk, 1),
        Mat::rows(&b.q[b.first * e..], e),
        Mat::rows(b.kt, lk),
        [rows, e, visible_keys(b.first, rows, lk, causal)],
        Gemm::SET.scaled(scale),
    );
    wide(
        #[inline(always)]
        || {
            for (r, row) in p.chunks_mut(lk).enumerate() {
                let i = b.first + r;
                if let Some(ScoreBias { data, layout }) = bias {
                    let st = layout.strides();
                    let base = layout.offset() + (b.bh / d.heads) * st[0] + (b.bh % d.heads) * st[1] + i * st[2];
                    match st[3] {
                        1 => row.iter_mut().zip(&data[base..base + lk]).for_each(|(x, m)| *x += m),
                        0 => row.iter_mut().for_each(|x| *x += data[base]),
                        s => row.iter_mut().enumerate().for_each(|(j, x)| *x += data[base + j * s]),
                    }
                }
                if causal && i + 1 < lk {
                    row[i + 1..].fill(f32::NEG_INFINITY);
                }
                softmax_in_place(row);
            }
        },
    );
}

/// Keys 0..n that query rows `first..first + rows` can see: all `lk`, or with `causal`
/// those up to the block's last row (query i sees keys j <= i).
fn visible_keys(first: usize, rows: usize, lk: usize, causal: bool) -> usize {
    if causal {
        (first + rows).min(lk)
    } else {
        lk
    }
}

/// Softmax of one row of scores; a row of all -inf becomes NaN.
#[inline(always)]
fn softmax_in_place(row: &mut [f32]) {
    let max = lanes(row, f32::NEG_INFINITY, |m, x| if x > m { x } else { m });
    if max == f32::NEG_INFINITY {
        row.fill(f32::NAN);
        return;
    }
    row.iter_mut().for_each(|x| *x = fastmath::exp(*x - max));
    let inv = 1.0 / lanes(row, 0.0, |s, x| s + x);
    row.iter_mut().for_each(|x| *x *= inv);
}

/// Folds `v` with `f` in 8 independent lanes (then folds the lanes), so the loop
/// vectorises; a single running value would serialise it.
#[inline(always)]
fn lanes(v: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = f(acc[i], c[i]);
        }
    }
    let folded = acc.iter().fold(init, |a, &x| f(a, x));
    rest.iter().fold(folded, |a, &x| f(a, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_two_keys_by_hand() {
        // Scores 0 and ln 3 (scale 1): weights 1/4 and 3/4 over values 4 and 8.
        let d = AttentionDims { batch: 1, heads: 1, lq: 1, lk: 2, e: 1 };
        let out = attention(&[1.0], &[0.0, 3f32.ln()], &[4.0, 8.0], d, None, false, 1.0);
        assert!((out[0] - 7.0).abs() < 1e-6, "{out:?}");
        // Causal: the one query (i = 0) sees only key 0.
        let out = attention(&[1.0], &[0.0, 3f32.ln()], &[4.0, 8.0], d, None, true, 1.0);
        assert_eq!(out, vec![4.0]);
        // Every key hidden: NaN, like softmax of all -inf.
        let layout = Layout::contiguous([1, 1, 1, 2]);
        let bias = ScoreBias { data: &[f32::NEG_INFINITY; 2], layout: &layout };
        assert!(attention(&[1.0], &[0.0, 1.0], &[4.0, 8.0], d, Some(bias), false, 1.0)[0].is_nan());
    }
}
