//! Sorting and running sums along a dim: sort, argsort, topk, cumsum. The backends work
//! on contiguous rows along the last axis (wgrad_cpu::sort, kernels::sort and
//! kernels::scan); this layer moves the dim there and back.

use crate::Tensor;
use wgrad_core::Dim;

impl Tensor {
    /// torch.sort with `stable=True`: the values along `dim` in ascending order (descending
    /// if `descending`) and their u32 indices; equal values keep their order, NaN sorts
    /// as the largest value and -0 equals +0. Differentiable in the values.
    ///
    /// ```
    /// # use wgrad::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![3.0f32, 1.0, 2.0], [3], &Device::cpu());
    /// let (values, indices) = x.sort(0, false);
    /// assert_eq!(values.to_vec::<f32>()?, [1.0, 2.0, 3.0]);
    /// assert_eq!(indices.to_vec::<u32>()?, [1, 2, 0]);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    #[track_caller]
    pub fn sort(&self, dim: impl Dim, descending: bool) -> (Tensor, Tensor) {
        let d = dim.resolve(self.rank(), "sort");
        let ids = self.argsort(d, descending);
        (self.gather(d, &ids), ids)
    }

    /// torch.argsort (stable): the u32 indices that sort `dim`, as in [`Tensor::sort`].
    #[track_caller]
    pub fn argsort(&self, dim: impl Dim, descending: bool) -> Tensor {
        let d = dim.resolve(self.rank(), "argsort");
        let last = self.rank() - 1;
        // Rows along the last axis, contiguous.
        let moved = self.detach().transpose(d, last).contiguous();
        moved.backend().argsort_rows(&moved, descending).transpose(d, last).contiguous()
    }

    /// torch.topk with `sorted=True`: the `k` largest values along `dim` (the smallest if
    /// not `largest`) in order, and their u32 indices; ties keep their order.
    /// Differentiable in the values.
    ///
    /// ```
    /// # use wgrad::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], [2, 2], &Device::cpu());
    /// let (values, indices) = x.topk(1, 1, true);
    /// assert_eq!(values.to_vec::<f32>()?, [5.0, 4.0]);
    /// assert_eq!(indices.to_vec::<u32>()?, [1, 1]);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    #[track_caller]
    pub fn topk(&self, k: usize, dim: impl Dim, largest: bool) -> (Tensor, Tensor) {
        let d = dim.resolve(self.rank(), "topk");
        assert!(k <= self.dims()[d], "topk: k = {k} exceeds the size {} of dim {d}", self.dims()[d]);
        let ids = self.argsort(d, largest).narrow(d, 0, k).contiguous();
        (self.gather(d, &ids), ids)
    }

    /// torch.cumsum: running sums along `dim` (floats summed in f32 on the GPU, in f64 on
    /// the CPU; integers wrap). Differentiable: the gradient is the running sum of the
    /// gradient from the end.
    ///
    /// ```
    /// # use wgrad::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &Device::cpu());
    /// assert_eq!(x.cumsum(0).to_vec::<f32>()?, [1.0, 3.0, 6.0]);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    #[track_caller]
    pub fn cumsum(&self, dim: impl Dim) -> Tensor {
        let d = dim.resolve(self.rank(), "cumsum");
        let out = self.detach().scan(d, false);
        out.record("cumsum", &[self], move |g| vec![Some(g.scan(d, true))])
    }

    /// Running sums along `d` (from the end when `reverse`), not tracked.
    fn scan(&self, d: usize, reverse: bool) -> Tensor {
        let last = self.rank() - 1;
        let moved = self.transpose(d, last).contiguous();
        let sums = moved.backend().cumsum_rows(&moved, reverse);
        sums.cast(moved.dtype()).transpose(d, last).contiguous()
    }
}
