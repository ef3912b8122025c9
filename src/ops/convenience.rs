//! PyTorch conveniences composed of other ops, so they run (and differentiate) on every
//! device with no kernels of their own: scalar comparisons, clamp, masked_fill, select
//! with negative indices, one_hot, casts, rand/randint.

use crate::{rng, Device, Tensor};
use wgrad_core::ops::CmpOp;
use wgrad_core::{DType, Dim, Shape};

macro_rules! cmp_scalar_methods {
    ($($name:ident => $op:ident),* $(,)?) => {$(
        #[doc = concat!("Elementwise `", stringify!($op), "` against a scalar (in this tensor's dtype); u32 0/1.")]
        #[track_caller]
        pub fn $name(&self, value: f64) -> Tensor {
            self.compare(CmpOp::$op, &Tensor::full([], value, self.dtype(), self.device()))
        }
    )*};
}

impl Tensor {
    cmp_scalar_methods!(eq_scalar => Eq, ne_scalar => Ne, lt_scalar => Lt, le_scalar => Le, gt_scalar => Gt,
        ge_scalar => Ge);

    /// Limits every element to `[min, max]` (either bound optional; torch.clamp). The
    /// gradient flows where the element was inside the bounds.
    ///
    /// ```
    /// # use wgrad::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], [3], &Device::cpu());
    /// assert_eq!(x.clamp(Some(-1.0), Some(1.0)).to_vec::<f32>()?, vec![-1.0, 0.5, 1.0]);
    /// # Ok::<(), wgrad::Error>(())
    /// ```
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        if let (Some(lo), Some(hi)) = (min, max) {
            assert!(lo <= hi, "clamp: min {lo} is above max {hi}");
        }
        let low = min.map_or_else(|| self.clone(), |lo| self.maximum_scalar(lo));
        max.map_or(low.clone(), |hi| low.minimum_scalar(hi))
    }

    /// `value` where `mask` (u32/i32, broadcast to this shape) is non-zero, else this
    /// tensor's element (torch.masked_fill). No gradient flows to filled elements.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        assert!(!mask.dtype().is_float(), "masked_fill: the mask must be u32 or i32 (0/1), got {}", mask.dtype());
        let fill = Tensor::full([], value, self.dtype(), self.device());
        mask.broadcast_to(self.shape().clone()).where_cond(&fill, self)
    }

    /// Entry `index` of `dim`, which is removed (torch.select; `x[.., i]`). A negative
    /// index counts from the end.
    #[track_caller]
    pub fn select(&self, dim: impl Dim, index: i64) -> Tensor {
        let d = dim.resolve(self.rank(), "select");
        let size = self.dims()[d] as i64;
        let i = if index < 0 { index + size } else { index };
        assert!((0..size).contains(&i), "select: index {index} is out of range for dim {d} of size {size}");
        self.narrow(d, i as usize, 1).squeeze(d)
    }

    /// Rows of the identity: `out[.., c] = (self[..] == c)`, shape `self.shape + [classes]`,
    /// this tensor's dtype (u32/i32 ids; torch.nn.functional.one_hot). An id outside
    /// `0..classes` is an `Err` naming it at the next readback, as embedding lookups are.
    #[track_caller]
    pub fn one_hot(&self, classes: usize) -> Tensor {
        assert!(!self.dtype().is_float(), "one_hot: ids must be u32 or i32, got {}", self.dtype());
        // The ids pass through a lookup in 0..classes, which validates them (a bad id reads
        // 0 and reports the error), then each is compared with every class: O(classes)
        // constant data, not a classes x classes identity.
        let class_ids = Tensor::arange(0.0, classes as f64, self.dtype(), self.device());
        let checked = class_ids.index_select_as(0, &self.reshape([self.numel()]), "one_hot");
        let mut shape = self.dims().to_vec();
        shape.push(classes);
        checked.unsqueeze(1).eq(&class_ids.unsqueeze(0)).cast(self.dtype()).reshape(shape)
    }

    /// This tensor as f32 (torch's `.float()`); the same tensor when it already is.
    #[track_caller]
    pub fn float(&self) -> Tensor {
        self.cast(DType::F32)
    }

    /// This tensor as i32 (torch's `.int()`).
    #[track_caller]
    pub fn int(&self) -> Tensor {
        self.cast(DType::I32)
    }

    /// Uniform f32 samples in `[0, 1)` (torch.rand); the same seed gives the same values on
    /// every device.
    pub fn rand(shape: impl Into<Shape>, seed: u64, device: &Device) -> Tensor {
        Tensor::rand_uniform(shape, 0.0, 1.0, seed, device)
    }

    /// Uniform i32 samples in `[low, high)` (torch.randint); the same seed gives the same
    /// values on every device.
    #[track_caller]
    pub fn randint(low: i32, high: i32, shape: impl Into<Shape>, seed: u64, device: &Device) -> Tensor {
        assert!(low < high, "randint: low {low} must be below high {high}");
        let shape = shape.into();
        let span = f64::from(high) - f64::from(low);
        let values: Vec<i32> = (0..shape.numel() as u64)
            .map(|i| (f64::from(low) + (rng::uniform(seed, i) * span).floor()).min(f64::from(high - 1)) as i32)
            .collect();
        Tensor::from_vec(values, shape, device)
    }
}
