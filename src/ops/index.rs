//! Joining and indexing: cat, stack, index_select, gather.

use super::same_device;
use crate::Tensor;
use wgrad_core::ops::cat_shape;
use wgrad_core::{DType, Dim, Layout};

impl Tensor {
    /// Concatenates tensors along `dim` (torch.cat). All share dtype, device and every
    /// other dim.
    #[track_caller]
    pub fn cat(tensors: &[&Tensor], dim: impl Dim) -> Tensor {
        let d = dim.resolve(tensors.first().map_or(1, |t| t.rank()), "cat");
        let out = Tensor::cat_untracked(tensors, d);
        let sizes: Vec<usize> = tensors.iter().map(|t| t.dims()[d]).collect();
        out.record("cat", tensors, move |g| {
            let mut start = 0;
            sizes
                .iter()
                .map(|&n| {
                    start += n;
                    Some(g.narrow(d, start - n, n))
                })
                .collect()
        })
    }

    #[track_caller]
    fn cat_untracked(tensors: &[&Tensor], d: usize) -> Tensor {
        assert!(!tensors.is_empty(), "cat: expected a non-empty list of tensors");
        same_device("cat", tensors);
        let first = tensors[0];
        let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.dims()).collect();
        let shape = cat_shape(&shapes, d);
        for t in tensors {
            assert_eq!(t.dtype(), first.dtype(), "cat: dtypes differ ({} and {})", first.dtype(), t.dtype());
        }
        first.backend().cat(tensors, d, shape)
    }

    /// Stacks tensors of one shape along a new dim (torch.stack).
    #[track_caller]
    pub fn stack(tensors: &[&Tensor], dim: impl Dim) -> Tensor {
        assert!(!tensors.is_empty(), "stack: expected a non-empty list of tensors");
        let d = dim.resolve(tensors[0].rank() + 1, "stack");
        for t in tensors {
            assert_eq!(t.dims(), tensors[0].dims(), "stack: every tensor needs the same shape");
        }
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect();
        Tensor::cat(&parts.iter().collect::<Vec<_>>(), d)
    }

    /// Entries `ids` (1-D, u32 or i32) along `dim` (torch.index_select). An id out of
    /// range is reported as an `Err` naming it by the next readback or `sync()` of the
    /// thread that called this.
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, ids: &Tensor) -> Tensor {
        self.index_select_as(dim, ids, "index_select")
    }

    /// [`Tensor::index_select`] whose errors name `op` (e.g. "embedding").
    #[track_caller]
    pub(crate) fn index_select_as(&self, dim: impl Dim, ids: &Tensor, op: &'static str) -> Tensor {
        let d = dim.resolve(self.rank(), op);
        assert_eq!(ids.rank(), 1, "{op}: ids must be 1-D, got shape {}", ids.shape());
        let spread = Layout::index_select_ids(self.dims(), d, ids.layout());
        self.gather_impl(d, &ids.with_layout(spread), op)
    }

    /// torch.gather: `out[p] = self[p with dim replaced by ids[p]]`; `ids` (u32 or i32)
    /// has this tensor's rank and no larger sizes outside `dim`. Bad ids: see index_select.
    #[track_caller]
    pub fn gather(&self, dim: impl Dim, ids: &Tensor) -> Tensor {
        self.gather_as(dim, ids, "gather")
    }

    /// [`Tensor::gather`] whose errors name `op` (e.g. "cross_entropy").
    #[track_caller]
    pub(crate) fn gather_as(&self, dim: impl Dim, ids: &Tensor, op: &'static str) -> Tensor {
        let d = dim.resolve(self.rank(), op);
        assert_eq!(ids.rank(), self.rank(), "{op}: ids rank {} differs from input rank {}", ids.rank(), self.rank());
        for (i, (&a, &b)) in ids.dims().iter().zip(self.dims()).enumerate() {
            assert!(
                i == d || a <= b,
                "{op}: ids shape {} exceeds input shape {} in dim {i}",
                ids.shape(),
                self.shape()
            );
        }
        self.gather_impl(d, ids, op)
    }

    #[track_caller]
    fn gather_impl(&self, dim: usize, ids: &Tensor, op: &'static str) -> Tensor {
        same_device(op, &[self, ids]);
        assert!(matches!(ids.dtype(), DType::U32 | DType::I32), "{op}: ids must be u32 or i32, got {}", ids.dtype());
        let out = self.backend().gather(self, dim, ids, op);
        let (ids, x_shape) = (ids.detach(), self.shape().clone());
        out.record("gather", &[self], move |g| vec![Some(g.gather_backward(dim, &ids, &x_shape))])
    }

    /// `out[v, :] = sum of self[l, :] over ids[l] == v` for `rows` rows (the backward of
    /// `index_select(0, ids)` and of embedding lookups), summed in increasing l so that
    /// results are deterministic. `self` is `[L, D]`, `ids` `[L]` (u32/i32, already validated).
    #[track_caller]
    pub(crate) fn index_add_rows(&self, ids: &Tensor, rows: usize) -> Tensor {
        same_device("index_add_rows", &[self, ids]);
        assert!(
            self.rank() == 2 && ids.rank() == 1 && ids.dims()[0] == self.dims()[0],
            "index_add_rows: expected rows [L, D] and ids [L], got {} and {}",
            self.shape(),
            ids.shape()
        );
        self.backend().index_add_rows(self, ids, rows)
    }

    /// The gradient of `gather(dim, ids)` for an input of `x_shape`: each `self[q]` is
    /// summed into position q with coordinate `dim` replaced by `ids[q]` (deterministic).
    #[track_caller]
    pub(crate) fn gather_backward(&self, dim: usize, ids: &Tensor, x_shape: &[usize]) -> Tensor {
        same_device("gather_backward", &[self, ids]);
        assert_eq!(self.dims(), ids.dims(), "gather_backward: gradient and ids shapes differ");
        self.backend().gather_backward(self, dim, ids, x_shape)
    }
}
