//! Scaled dot-product attention forward, fused: for each (batch, head) and each block of
//! query rows, the scores of the block are one GEMM into a small buffer, softmax runs in
//! place, and a second GEMM writes the block's output. The [Lq, Lk] matrix of all rows
//! never exists; (batch, head) pairs run in parallel. The composed tensor-op path in
//! wgrad's functional::attention is the reference it is tested against.

use crate::fastmath;
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
        let mut scores = vec![0.0f32; QUERY_BLOCK.min(lq) * lk];
        for first in (0..lq).step_by(QUERY_BLOCK) {
            let rows = QUERY_BLOCK.min(lq - first);
            let s = &mut scores[..rows * lk];
            // s [rows, Lk] = q[first..first + rows] [rows, E] @ k^T [E, Lk]
            crate::matmul::gemm_f32(rows, lk, e, s, (&q[first * e..], e, 1), (k, 1, e));
            for (r, row) in s.chunks_mut(lk).enumerate() {
                let i = first + r;
                row.iter_mut().for_each(|x| *x *= scale);
                if let Some(ScoreBias { data, layout }) = bias {
                    let st = layout.strides();
                    let base = layout.offset() + (bh / heads) * st[0] + (bh % heads) * st[1] + i * st[2];
                    row.iter_mut().enumerate().for_each(|(j, x)| *x += data[base + j * st[3]]);
                }
                if causal && i + 1 < lk {
                    row[i + 1..].fill(f32::NEG_INFINITY);
                }
                softmax_in_place(row);
            }
            // out[first..first + rows] [rows, E] = p [rows, Lk] @ v [Lk, E]
            crate::matmul::gemm_f32(rows, e, lk, &mut out[first * e..(first + rows) * e], (s, lk, 1), (v, e, 1));
        }
    });
    out
}

/// Softmax of one row of scores; a row of all -inf becomes NaN.
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        row.fill(f32::NAN);
        return;
    }
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = fastmath::exp(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
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
