//! Reductions over dims, with keepdim, and over all elements.

use super::require_float;
use crate::Tensor;
use wgrad_core::ops::{reduce_shape, ReduceOp};
use wgrad_core::Dim;

macro_rules! reduce_methods {
    ($($name:ident, $dims_name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($name), "` over `dim` (negative counts from the end); keepdim keeps it as size 1.")]
        #[track_caller]
        pub fn $name(&self, dim: impl Dim, keepdim: bool) -> Tensor {
            let d = dim.resolve(self.rank(), stringify!($name)) as isize;
            self.reduce(ReduceOp::$op, &[d], keepdim)
        }
        #[doc = concat!("`", stringify!($name), "` over several dims at once.")]
        #[track_caller]
        pub fn $dims_name(&self, dims: &[isize], keepdim: bool) -> Tensor {
            self.reduce(ReduceOp::$op, dims, keepdim)
        }
    )*};
}

macro_rules! reduce_all_methods {
    ($($name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($op), "` of all elements, as a 0-dim tensor.")]
        #[track_caller]
        pub fn $name(&self) -> Tensor {
            self.reduce(ReduceOp::$op, &self.all_dims(), false)
        }
    )*};
}

impl Tensor {
    reduce_methods!(sum, sum_dims => Sum, mean, mean_dims => Mean, max, max_dims => Max, min, min_dims => Min);
    reduce_all_methods!(sum_all => Sum, mean_all => Mean, max_all => Max, min_all => Min);

    /// Index (u32) of the first maximum along `dim`.
    #[track_caller]
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        let d = dim.resolve(self.rank(), "argmax") as isize;
        self.reduce(ReduceOp::ArgMax, &[d], keepdim)
    }

    /// Index (u32) of the first minimum along `dim`.
    #[track_caller]
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        let d = dim.resolve(self.rank(), "argmin") as isize;
        self.reduce(ReduceOp::ArgMin, &[d], keepdim)
    }

    #[track_caller]
    fn all_dims(&self) -> Vec<isize> {
        (0..self.rank() as isize).collect()
    }

    /// Reduces `dims` (sorted and deduplicated here; negative count from the end).
    #[track_caller]
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Tensor {
        if op == ReduceOp::Mean {
            require_float("mean", self);
        }
        let mut ds: Vec<usize> = dims.iter().map(|&d| d.resolve(self.rank(), op.name())).collect();
        ds.sort_unstable();
        ds.dedup();
        let inner: usize = ds.iter().map(|&d| self.dims()[d]).product();
        let outer = self.numel() / inner.max(1);
        if inner == 0 && op != ReduceOp::Sum && op != ReduceOp::Mean && outer > 0 {
            panic!("{}: cannot reduce over an empty dimension (shape {})", op.name(), self.shape());
        }
        let shape = reduce_shape(self.dims(), &ds, keepdim);
        let out = self.backend().reduce(self, op, &ds, shape);
        if op.is_arg() {
            return out;
        }
        let (x, y) = (self.clone(), out.detach());
        let kept_shape = reduce_shape(self.dims(), &ds, true);
        out.record(op.name(), &[self], move |g| {
            let g = g.reshape(kept_shape.clone()).broadcast_to(x.shape());
            let grad = match op {
                ReduceOp::Sum => g,
                ReduceOp::Mean => g.mul_scalar(1.0 / inner.max(1) as f64),
                // Ties share the gradient evenly (PyTorch's amax/amin rule).
                _ => {
                    let hits = x.eq(&y.reshape(kept_shape.clone()).broadcast_to(x.shape())).cast(x.dtype());
                    let count = hits.sum_dims(&ds.iter().map(|&d| d as isize).collect::<Vec<_>>(), true);
                    g.mul(&hits).div(&count)
                }
            };
            vec![Some(grad)]
        })
    }

    /// A reduction too large for one kernel: split along the outermost non-trivial dim
    /// into parts of about `part_elems` elements, reduce each, and combine (cat for a
    /// kept dim; the same reduction across parts for a reduced one).
    #[track_caller]
    pub(crate) fn reduce_in_parts(&self, op: ReduceOp, ds: &[usize], keepdim: bool, part_elems: usize) -> Tensor {
        let dim = (0..self.rank()).find(|&d| self.dims()[d] > 1).expect("a large tensor has a dim > 1");
        let size = self.dims()[dim];
        let parts = self.numel().div_ceil(part_elems).clamp(2, size);
        let step = size.div_ceil(parts);
        let dims: Vec<isize> = ds.iter().map(|&d| d as isize).collect();
        let pieces: Vec<Tensor> = (0..size)
            .step_by(step)
            .map(|s| {
                let piece = self.narrow(dim, s, step.min(size - s));
                let piece_op = if op == ReduceOp::Mean { ReduceOp::Sum } else { op };
                piece.reduce(piece_op, &dims, true)
            })
            .collect();
        let refs: Vec<&Tensor> = pieces.iter().collect();
        let joined = Tensor::cat(&refs, dim);
        let combined = if !ds.contains(&dim) {
            joined
        } else {
            assert!(!op.is_arg(), "{}: tensors larger than one GPU binding are not supported yet", op.name());
            let again = if op == ReduceOp::Mean { ReduceOp::Sum } else { op };
            joined.reduce(again, &[dim as isize], true)
        };
        let combined = if op == ReduceOp::Mean {
            let count: usize = ds.iter().map(|&d| self.dims()[d]).product();
            combined.mul_scalar(1.0 / count as f64)
        } else {
            combined
        };
        combined.reshape(reduce_shape(self.dims(), ds, keepdim))
    }

    /// Sums this tensor down to `shape` (the inverse of broadcasting `shape` up to ours):
    /// leading extra dims and dims that are 1 in `shape` are summed.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.dims() == shape {
            return self.clone();
        }
        let lead = self.rank() - shape.len();
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &d) in shape.iter().enumerate() {
            if d == 1 && self.dims()[lead + i] != 1 {
                dims.push((lead + i) as isize);
            }
        }
        let summed = if dims.is_empty() { self.clone() } else { self.sum_dims(&dims, true) };
        summed.reshape(shape.to_vec())
    }
}
