//! Softmax and log-softmax along one dim, numerically stable (the row max is
//! subtracted before exponentiating), accumulating in f64.

use crate::{with_storage, CpuStorage};
use half::f16;
use wgrad_core::{DType, Layout, WithDType};

/// Softmax (or log-softmax when `log`) of `x` along `dim`; output contiguous, same shape.
pub fn softmax(x: &CpuStorage, layout: &Layout, dim: usize, log: bool) -> CpuStorage {
    let rank = layout.rank();
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != dim).collect();
    perm.push(dim);
    let moved = layout.permute(&perm);
    let len = layout.dims()[dim];
    let values: Vec<f64> = with_storage!(x, v => moved.indices().map(|i| v[i].to_f64()).collect());
    // Results in the moved (dim-last) order, then scattered back to row-major order.
    let mut moved_out = vec![0.0f64; values.len()];
    if len > 0 {
        for (row, out) in values.chunks(len).zip(moved_out.chunks_mut(len)) {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let max = if max.is_finite() { max } else { 0.0 };
            let sum: f64 = row.iter().map(|&v| (v - max).exp()).sum();
            for (o, &v) in out.iter_mut().zip(row) {
                *o = if log { v - max - sum.ln() } else { (v - max).exp() / sum };
            }
        }
    }
    let out_layout = Layout::contiguous(layout.shape().clone()).permute(&perm);
    let mut result = vec![0.0f64; values.len()];
    for (v, i) in moved_out.into_iter().zip(out_layout.indices()) {
        result[i] = v;
    }
    match x.dtype() {
        DType::F16 => CpuStorage::F16(result.into_iter().map(f16::from_f64).collect()),
        DType::F32 => CpuStorage::F32(result.into_iter().map(|v| v as f32).collect()),
        other => panic!("softmax: expected a float tensor, got {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_softmax() {
        let x = CpuStorage::F32(vec![0.0, (2.0f32).ln(), 1000.0, 1000.0]);
        let s = softmax(&x, &Layout::contiguous([2, 2]), 1, false);
        let v = s.as_slice::<f32>().unwrap();
        assert!((v[0] - 1.0 / 3.0).abs() < 1e-6 && (v[1] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(&v[2..], &[0.5, 0.5], "stable for large logits");
        let l = softmax(&x, &Layout::contiguous([2, 2]), 0, true);
        let v = l.as_slice::<f32>().unwrap();
        assert!(v[0] < -999.0 && v[2] == 0.0, "{v:?}");
    }
}
