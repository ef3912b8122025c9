//! View ops: new layouts over the same storage, no copies (except `reshape` of a
//! non-contiguous tensor and `contiguous`, which copy).

use crate::Tensor;
use wgrad_core::{Dim, Shape};

impl Tensor {
    /// The same elements in `shape` (sizes given exactly; element counts must match).
    /// A view when the layout allows it, else a contiguous copy.
    #[track_caller]
    pub fn reshape(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        let out = match self.layout().reshape(&shape) {
            Some(l) => self.with_layout(l),
            None => return self.contiguous().reshape(shape),
        };
        let in_shape = self.shape().clone();
        out.record("reshape", &[self], move |g| vec![Some(g.reshape(in_shape))])
    }

    /// Swaps two dims (negative dims count from the end).
    #[track_caller]
    pub fn transpose(&self, d0: impl Dim, d1: impl Dim) -> Tensor {
        let r = self.rank();
        let (d0, d1) = (d0.resolve(r, "transpose"), d1.resolve(r, "transpose"));
        self.with_layout(self.layout().transpose(d0, d1))
            .record("transpose", &[self], move |g| vec![Some(g.transpose(d0, d1))])
    }

    /// Transpose of a 2-D tensor.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        assert_eq!(self.rank(), 2, "t: expects a 2-D tensor, got shape {}", self.shape());
        self.transpose(0, 1)
    }

    /// Reorders dims: output dim i is input dim `perm[i]`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        self.with_layout(self.layout().permute(perm))
            .record("permute", &[self], move |g| vec![Some(g.permute(&inverse))])
    }

    /// `len` entries of `dim` starting at `start`.
    #[track_caller]
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Tensor {
        let d = dim.resolve(self.rank(), "narrow");
        let size = self.dims()[d];
        self.with_layout(self.layout().narrow(d, start, len)).record("narrow", &[self], move |g| {
            // Zeros around the slice: the gradient of the parts narrow dropped.
            let mut parts = Vec::new();
            let zeros = |n: usize| {
                let mut shape = g.dims().to_vec();
                shape[d] = n;
                Tensor::zeros(shape, g.dtype(), g.device())
            };
            let (before, after) = (zeros(start), zeros(size - start - len));
            parts.extend([&before, g, &after]);
            vec![Some(Tensor::cat(&parts, d))]
        })
    }

    /// Inserts a dim of size 1 (`dim` may equal the rank, or be negative as in PyTorch).
    #[track_caller]
    pub fn unsqueeze(&self, dim: impl Dim) -> Tensor {
        let d = dim.resolve(self.rank() + 1, "unsqueeze");
        let in_shape = self.shape().clone();
        self.with_layout(self.layout().unsqueeze(d))
            .record("unsqueeze", &[self], move |g| vec![Some(g.reshape(in_shape))])
    }

    /// Removes `dim`, which must have size 1.
    #[track_caller]
    pub fn squeeze(&self, dim: impl Dim) -> Tensor {
        let d = dim.resolve(self.rank(), "squeeze");
        let in_shape = self.shape().clone();
        self.with_layout(self.layout().squeeze(d)).record("squeeze", &[self], move |g| vec![Some(g.reshape(in_shape))])
    }

    /// Broadcasts to `shape` without copying (PyTorch's expand).
    #[track_caller]
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        if shape.dims() == self.dims() {
            return self.clone();
        }
        let in_shape = self.shape().clone();
        self.with_layout(self.layout().broadcast_to(&shape))
            .record("expand", &[self], move |g| vec![Some(g.sum_to(&in_shape))])
    }

    /// Alias of [`Tensor::broadcast_to`], PyTorch's name.
    #[track_caller]
    pub fn expand(&self, shape: impl Into<Shape>) -> Tensor {
        self.broadcast_to(shape)
    }

    /// Flattens dims `start..` into one (PyTorch's flatten(start_dim)).
    #[track_caller]
    pub fn flatten_from(&self, start: impl Dim) -> Tensor {
        let s = start.resolve(self.rank(), "flatten");
        let mut dims = self.dims()[..s].to_vec();
        dims.push(self.dims()[s..].iter().product());
        self.reshape(dims)
    }

    /// True if the elements are stored in row-major order without gaps.
    #[track_caller]
    pub fn is_contiguous(&self) -> bool {
        self.layout().is_contiguous()
    }

    /// This tensor if contiguous, else a row-major copy.
    #[track_caller]
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        self.copy()
    }

    /// A fresh row-major copy.
    #[track_caller]
    pub fn copy(&self) -> Tensor {
        let out = self.backend().copy(self);
        out.record("copy", &[self], |g| vec![Some(g.clone())])
    }
}
