//! Reductions over any set of dims. The input is viewed with the kept dims first and
//! the reduced dims last, so each output element reduces one contiguous run of the
//! (logical) iteration order. Sums accumulate in f64.

use crate::{with_storage, CpuStorage};
use half::f16;
use wgrad_core::ops::ReduceOp;
use wgrad_core::{DType, Layout, WithDType};

/// Reduces `dims` of the view `layout` of `x`. The output is contiguous with the kept
/// dims in order (the caller reshapes for keepdim). Arg ops return u32 indices into the
/// flattened reduced dims; others keep x's dtype.
pub fn reduce(op: ReduceOp, x: &CpuStorage, layout: &Layout, dims: &[usize]) -> CpuStorage {
    let rank = layout.rank();
    let kept: Vec<usize> = (0..rank).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(dims).copied().collect();
    let view = layout.permute(&perm);
    let inner: usize = dims.iter().map(|&d| layout.dims()[d]).product();
    let outer: usize = kept.iter().map(|&d| layout.dims()[d]).product();
    if inner == 0 && matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin) && outer > 0 {
        panic!("{}: cannot reduce over an empty dimension (shape {})", op.name(), layout.shape());
    }
    let values: Vec<f64> = with_storage!(x, v => view.indices().map(|i| v[i].to_f64()).collect());
    let mut out = Vec::with_capacity(outer);
    for o in 0..outer {
        let run = &values[o * inner..(o + 1) * inner];
        out.push(reduce_run(op, run));
    }
    let out_dtype = if op.is_arg() { DType::U32 } else { x.dtype() };
    match out_dtype {
        DType::F32 => CpuStorage::F32(out.iter().map(|&v| v as f32).collect()),
        DType::F16 => CpuStorage::F16(out.iter().map(|&v| f16::from_f64(v)).collect()),
        DType::U32 => CpuStorage::U32(out.iter().map(|&v| v as u32).collect()),
        DType::I32 => CpuStorage::I32(out.iter().map(|&v| v as i32).collect()),
    }
}

/// NaN is treated as larger than everything for max/argmax and smaller for min/argmin,
/// so it propagates (PyTorch's behaviour).
fn reduce_run(op: ReduceOp, run: &[f64]) -> f64 {
    let better = |op: ReduceOp, cand: f64, best: f64| match op {
        ReduceOp::Max | ReduceOp::ArgMax => (cand.is_nan() && !best.is_nan()) || cand > best,
        _ => (cand.is_nan() && !best.is_nan()) || cand < best,
    };
    match op {
        ReduceOp::Sum => run.iter().sum(),
        ReduceOp::Mean => run.iter().sum::<f64>() / run.len() as f64,
        ReduceOp::Max | ReduceOp::Min => {
            run.iter().copied().fold(run[0], |best, c| if better(op, c, best) { c } else { best })
        }
        ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let mut best = 0;
            for (i, &c) in run.iter().enumerate() {
                if better(op, c, run[best]) {
                    best = i;
                }
            }
            best as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_reductions() {
        // [[1, 5, 3], [4, 2, 6]]
        let x = CpuStorage::F32(vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0]);
        let l = Layout::contiguous([2, 3]);
        assert_eq!(reduce(ReduceOp::Sum, &x, &l, &[1]), CpuStorage::F32(vec![9.0, 12.0]));
        assert_eq!(reduce(ReduceOp::Max, &x, &l, &[0]), CpuStorage::F32(vec![4.0, 5.0, 6.0]));
        assert_eq!(reduce(ReduceOp::ArgMin, &x, &l, &[1]), CpuStorage::U32(vec![0, 1]));
        assert_eq!(reduce(ReduceOp::Mean, &x, &l, &[0, 1]), CpuStorage::F32(vec![3.5]));
        let t = l.transpose(0, 1);
        assert_eq!(reduce(ReduceOp::ArgMax, &x, &t, &[1]), CpuStorage::U32(vec![1, 0, 1]));
    }
}
