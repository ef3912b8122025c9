//! Reductions over any set of dims. The input is viewed with the kept dims first and
//! the reduced dims last, so each output element reduces one contiguous run of the
//! (logical) iteration order. Sums accumulate in f64.

use crate::{with_storage, CpuStorage};
use half::f16;
use rayon::prelude::*;
use wgrad_core::ops::ReduceOp;
use wgrad_core::{DType, Layout, WithDType};

/// Reduces `dims` of the view `layout` of `x`. The output is contiguous with the kept
/// dims in order (the caller reshapes for keepdim). Arg ops return u32 indices into the
/// flattened reduced dims; others keep x's dtype.
pub fn reduce(op: ReduceOp, x: &CpuStorage, layout: &Layout, dims: &[usize]) -> CpuStorage {
    let (outer, inner) = split(layout, dims);
    if inner.numel() == 0
        && matches!(op, ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin)
        && outer.numel() > 0
    {
        panic!("{}: cannot reduce over an empty dimension (shape {})", op.name(), layout.shape());
    }
    let out: Vec<f64> = with_storage!(x, v => reduce_rows(op, v, &outer, &inner));
    let out_dtype = if op.is_arg() { DType::U32 } else { x.dtype() };
    match out_dtype {
        DType::F32 => CpuStorage::F32(out.iter().map(|&v| v as f32).collect()),
        DType::F16 => CpuStorage::F16(out.iter().map(|&v| f16::from_f64(v)).collect()),
        DType::U32 => CpuStorage::U32(out.iter().map(|&v| v as u32).collect()),
        DType::I32 => CpuStorage::I32(out.iter().map(|&v| v as i32).collect()),
    }
}

/// The kept dims (with the layout's offset) and the reduced dims (offset 0), each
/// collapsed: output element o reduces storage indices outer[o] + inner[r].
fn split(layout: &Layout, dims: &[usize]) -> (Layout, Layout) {
    let kept: Vec<usize> = (0..layout.rank()).filter(|d| !dims.contains(d)).collect();
    let part = |ds: &[usize], offset: usize| {
        let shape: Vec<usize> = ds.iter().map(|&d| layout.dims()[d]).collect();
        let strides = ds.iter().map(|&d| layout.strides()[d]).collect();
        Layout::new(shape, strides, offset).collapsed()
    };
    (part(&kept, layout.offset()), part(dims, 0))
}

/// One reduced value per outer index; contiguous inner runs are read as slices, and
/// large reductions run in parallel over the outputs.
fn reduce_rows<T: WithDType>(op: ReduceOp, v: &[T], outer: &Layout, inner: &Layout) -> Vec<f64> {
    let bases: Vec<usize> = outer.indices().collect();
    let n = inner.numel();
    let contiguous = inner.rank() <= 1 && inner.strides().first().is_none_or(|&s| s == 1);
    let offsets: Vec<usize> = if contiguous { Vec::new() } else { inner.indices().collect() };
    let kept_run = outer.rank() == 1 && outer.strides()[0] == 1 && outer.numel() > 0;
    if matches!(op, ReduceOp::Sum | ReduceOp::Mean) && !contiguous && n > 0 && kept_run {
        return column_sums(op, v, outer, &offsets);
    }
    // Sums over several contiguous runs (a conv bias gradient: [N, C, H*W] over N and
    // H*W) add each run as a slice.
    let run = inner.dims().last().copied().filter(|_| inner.strides().last() == Some(&1)).unwrap_or(1);
    let runs: Vec<usize> = offsets.iter().copied().step_by(run.max(1)).collect();
    let sum_runs = matches!(op, ReduceOp::Sum | ReduceOp::Mean) && run >= 16 && !contiguous;
    let row = |&base: &usize| -> f64 {
        if n == 0 {
            // An empty run (sum 0, mean NaN); `base` may lie past the end of an empty storage.
            reduce_run(op, std::iter::empty())
        } else if contiguous {
            reduce_run(op, v[base..base + n].iter().map(|x| x.to_f64()))
        } else if sum_runs {
            let sum: f64 =
                runs.iter().map(|&o| v[base + o..base + o + run].iter().map(|x| x.to_f64()).sum::<f64>()).sum();
            if op == ReduceOp::Mean {
                sum / n as f64
            } else {
                sum
            }
        } else {
            reduce_run(op, offsets.iter().map(|&o| v[base + o].to_f64()))
        }
    };
    if bases.len() * n >= 1 << 16 && bases.len() > 1 {
        bases.par_iter().map(row).collect()
    } else {
        bases.iter().map(row).collect()
    }
}

/// Sum or mean over rows when the kept elements are one contiguous run (a bias gradient:
/// `[N, C]` summed over N): whole rows are added into f64 accumulators, a loop that
/// vectorises, instead of gathering each output's strided column.
fn column_sums<T: WithDType>(op: ReduceOp, v: &[T], outer: &Layout, row_offsets: &[usize]) -> Vec<f64> {
    let (start, width) = (outer.offset(), outer.dims()[0]);
    let mut acc = vec![0.0f64; width];
    for &o in row_offsets {
        acc.iter_mut().zip(&v[start + o..start + o + width]).for_each(|(a, x)| *a += x.to_f64());
    }
    if op == ReduceOp::Mean {
        let n = row_offsets.len() as f64;
        acc.iter_mut().for_each(|a| *a /= n);
    }
    acc
}

/// NaN is treated as larger than everything for max/argmax and smaller for min/argmin,
/// so it propagates (PyTorch's behaviour).
fn reduce_run(op: ReduceOp, mut run: impl Iterator<Item = f64>) -> f64 {
    let better = |cand: f64, best: f64| match op {
        ReduceOp::Max | ReduceOp::ArgMax => (cand.is_nan() && !best.is_nan()) || cand > best,
        _ => (cand.is_nan() && !best.is_nan()) || cand < best,
    };
    match op {
        ReduceOp::Sum => run.sum(),
        ReduceOp::Mean => {
            let (sum, count) = run.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
            sum / count as f64
        }
        ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let Some(first) = run.next() else { return 0.0 };
            let (mut best, mut best_i) = (first, 0usize);
            for (i, c) in run.enumerate() {
                if better(c, best) {
                    best = c;
                    best_i = i + 1;
                }
            }
            if op.is_arg() {
                best_i as f64
            } else {
                best
            }
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
        // Column sums (kept dim contiguous): the row-adding path.
        assert_eq!(reduce(ReduceOp::Sum, &x, &l, &[0]), CpuStorage::F32(vec![5.0, 7.0, 9.0]));
        assert_eq!(reduce(ReduceOp::Mean, &x, &l, &[0]), CpuStorage::F32(vec![2.5, 3.5, 4.5]));
        let t = l.transpose(0, 1);
        assert_eq!(reduce(ReduceOp::ArgMax, &x, &t, &[1]), CpuStorage::U32(vec![1, 0, 1]));
    }
}
