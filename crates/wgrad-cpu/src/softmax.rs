//! Softmax and log-softmax along one dim, numerically stable (the row max is
//! subtracted before exponentiating), in f64, rows in parallel.

use crate::{with_storage, CpuStorage};
use half::f16;
use rayon::prelude::*;
use wgrad_core::{DType, Layout, WithDType};

/// Softmax (or log-softmax when `log`) of `x` along `dim`; output contiguous, same shape.
pub fn softmax(x: &CpuStorage, layout: &Layout, dim: usize, log: bool) -> CpuStorage {
    let len = layout.dims()[dim];
    let (x_step, out_step) = (layout.strides()[dim], Layout::contiguous(layout.shape().clone()).strides()[dim]);
    let others = |l: &Layout| {
        let keep: Vec<usize> = (0..l.rank()).filter(|&d| d != dim).collect();
        Layout::new(
            keep.iter().map(|&d| l.dims()[d]).collect::<Vec<_>>(),
            keep.iter().map(|&d| l.strides()[d]).collect(),
            l.offset(),
        )
    };
    let x_rows: Vec<usize> = others(layout).indices().collect();
    let out_rows: Vec<usize> = others(&Layout::contiguous(layout.shape().clone())).indices().collect();
    let rows: Vec<Vec<f64>> = with_storage!(x, v => x_rows
        .par_iter()
        .map(|&base| softmax_row((0..len).map(|r| v[base + r * x_step].to_f64()).collect(), log))
        .collect());
    let mut result = vec![0.0f64; layout.numel()];
    for (row, &base) in rows.iter().zip(&out_rows) {
        for (r, &value) in row.iter().enumerate() {
            result[base + r * out_step] = value;
        }
    }
    match x.dtype() {
        DType::F16 => CpuStorage::F16(result.into_iter().map(f16::from_f64).collect()),
        DType::F32 => CpuStorage::F32(result.into_iter().map(|v| v as f32).collect()),
        other => panic!("softmax: expected a float tensor, got {other}"),
    }
}

/// One row, max-subtracted; a row of all -inf gives NaN (0/0) as PyTorch does.
fn softmax_row(mut row: Vec<f64>, log: bool) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let max = if max.is_finite() { max } else { 0.0 };
    let sum: f64 = row.iter().map(|&v| (v - max).exp()).sum();
    let log_sum = sum.ln();
    for v in row.iter_mut() {
        *v = if log { *v - max - log_sum } else { (*v - max).exp() / sum };
    }
    row
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
