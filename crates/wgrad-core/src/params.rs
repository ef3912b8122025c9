//! Parameters of the deep-learning ops, with their shape rules (PyTorch semantics).

/// Parameters of a 2-D convolution (`F::conv2d`), each per axis [h, w].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2d {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

impl Conv2d {
    /// Output spatial size for an input of `[h, w]` and a kernel of `[kh, kw]`; panics
    /// when the (dilated) kernel does not fit the padded input.
    pub fn output_hw(&self, input: [usize; 2], kernel: [usize; 2]) -> [usize; 2] {
        let mut out = [0; 2];
        for i in 0..2 {
            let span = self.dilation[i] * (kernel[i] - 1) + 1;
            let padded = input[i] + 2 * self.padding[i];
            assert!(
                padded >= span && self.stride[i] > 0,
                "conv2d: kernel {kernel:?} (dilation {:?}) is larger than the padded input {input:?} (padding {:?})",
                self.dilation,
                self.padding
            );
            out[i] = (padded - span) / self.stride[i] + 1;
        }
        out
    }
}

/// Every size of one conv2d call: input `[n, c, h, w]`, weight `[o, c / groups, kh, kw]`,
/// output `[n, o, oh, ow]`. Built and checked by [`Conv2d::dims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dDims {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub p: Conv2d,
}

impl Conv2dDims {
    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.p.groups
    }
    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.o / self.p.groups
    }
    /// Input shape `[n, c, h, w]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    /// Weight shape `[o, c / groups, kh, kw]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.o, self.cg(), self.kh, self.kw]
    }
    /// Output shape `[n, o, oh, ow]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
}

impl Conv2d {
    /// The sizes of a convolution of `input` `[N, C, H, W]` by `weight` `[O, C/groups, KH,
    /// KW]`; panics with PyTorch's messages when the shapes or parameters do not fit.
    pub fn dims(&self, input: &[usize], weight: &[usize]) -> Conv2dDims {
        let g = self.groups;
        assert!(g > 0, "conv2d: non-positive groups is not supported");
        assert!(self.stride.iter().all(|&s| s > 0), "conv2d: non-positive stride is not supported");
        assert!(self.dilation.iter().all(|&d| d > 0), "conv2d: dilation should be greater than zero");
        assert!(
            input.len() == 4,
            "conv2d: expected 3D (unbatched) or 4D (batched) input, but got input of size: {input:?}"
        );
        assert!(
            weight.len() == 4,
            "conv2d: expected weight to be 4D [out_channels, in_channels / groups, kH, kW], got size {weight:?}"
        );
        let [n, c, h, w] = [input[0], input[1], input[2], input[3]];
        let [o, cg, kh, kw] = [weight[0], weight[1], weight[2], weight[3]];
        assert!(
            o.is_multiple_of(g),
            "conv2d: given groups={g}, expected weight to be divisible by {g} at dimension 0, but got weight of \
             size {weight:?} instead"
        );
        assert!(
            cg * g == c,
            "conv2d: given groups={g}, weight of size {weight:?}, expected input{input:?} to have {} channels, but \
             got {c} channels instead",
            cg * g
        );
        assert!(kh > 0 && kw > 0, "conv2d: kernel size must be positive, got weight of size {weight:?}");
        let [oh, ow] = self.output_hw([h, w], [kh, kw]);
        Conv2dDims { n, c, h, w, o, kh, kw, oh, ow, p: *self }
    }
}

/// Parameters of 2-D max / average pooling (`F::max_pool2d`, `F::avg_pool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2d {
    /// Window size (taps per axis).
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on both sides (-inf for max, zeros for average pooling).
    pub padding: [usize; 2],
    /// Round the output size up instead of down (PyTorch's rule for the last window).
    pub ceil_mode: bool,
    /// Spacing of the window's taps (max pooling only, as in PyTorch; 1 is dense).
    pub dilation: [usize; 2],
}

impl Pool2d {
    /// A `k` x `k` window with stride `k` and no padding (nn.MaxPool2d(k)).
    pub fn square(k: usize) -> Self {
        Pool2d { kernel: [k, k], stride: [k, k], padding: [0, 0], ceil_mode: false, dilation: [1, 1] }
    }

    /// The extent of the window along axis `i`, taps and gaps: `dilation * (kernel - 1) + 1`.
    pub fn extent(&self, i: usize) -> usize {
        self.dilation[i] * (self.kernel[i] - 1) + 1
    }

    /// Output spatial size for an input of `[h, w]`, PyTorch's rule: with ceil_mode the
    /// last window may hang over the edge, but must start inside the (left-padded) input.
    pub fn output_hw(&self, input: [usize; 2]) -> [usize; 2] {
        let mut out = [0; 2];
        for i in 0..2 {
            assert!(self.kernel[i] > 0 && self.dilation[i] > 0, "pool2d: kernel and dilation must be positive");
            let (k, s, p) = (self.extent(i), self.stride[i], self.padding[i]);
            assert!(
                s > 0 && p * 2 <= k,
                "pool2d: padding {p} should be at most half of the window extent {k}, and stride > 0"
            );
            let span = input[i] + 2 * p;
            assert!(
                span >= k,
                "pool2d: kernel {:?} (dilation {:?}) larger than padded input {input:?}",
                self.kernel,
                self.dilation
            );
            let num = span - k;
            let mut o = if self.ceil_mode { num.div_ceil(s) + 1 } else { num / s + 1 };
            if self.ceil_mode && (o - 1) * s >= input[i] + p {
                o -= 1;
            }
            out[i] = o;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_match_pytorch() {
        let c = Conv2d { stride: [4, 4], padding: [2, 2], ..Default::default() };
        assert_eq!(c.output_hw([224, 224], [11, 11]), [55, 55]); // AlexNet conv1
        let p = Pool2d { kernel: [3, 3], stride: [2, 2], padding: [0, 0], ceil_mode: true, dilation: [1, 1] };
        assert_eq!(p.output_hw([6, 6]), [3, 3]);
        assert_eq!(Pool2d { ceil_mode: false, ..p }.output_hw([6, 6]), [2, 2]);
        assert_eq!(Pool2d::square(2).output_hw([5, 7]), [2, 3]);
        // Dilation 2 makes a 3-tap window span 5: (10 - 5) / 1 + 1.
        assert_eq!(Pool2d { stride: [1, 1], dilation: [2, 2], ..Pool2d::square(3) }.output_hw([10, 10]), [6, 6]);
    }
}

/// Which 2-D pooling an op computes (the kernels of both backends take it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Max pooling (values and argmax indices).
    Max(Pool2d),
    /// Average pooling; `count_include_pad` chooses the divisor.
    Avg(Pool2d, bool),
    /// Adaptive average pooling (the output size is given separately).
    Adaptive,
}

/// What a pooling op walks: `count` contiguous planes (the product of the leading dims)
/// of `hw` inputs and `out_hw` outputs.
///
/// ```
/// let planes = wgrad_core::params::Planes::of(&[2, 3, 8, 6], &[2, 3, 4, 3]);
/// assert_eq!((planes.count, planes.hw, planes.out_hw), (6, [8, 6], [4, 3]));
/// assert_eq!(planes.sizes(), [48, 12]);
/// assert_eq!(planes.lens(), [288, 72]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    /// Number of planes.
    pub count: usize,
    /// Input plane size (H, W).
    pub hw: [usize; 2],
    /// Output plane size (OH, OW).
    pub out_hw: [usize; 2],
}

impl Planes {
    /// The planes pooled from `input_shape`'s trailing two dims to `output_shape`'s (the
    /// leading dims, which the two share, count the planes).
    pub fn of(input_shape: &[usize], output_shape: &[usize]) -> Planes {
        let r = input_shape.len();
        let count = input_shape[..r - 2].iter().product();
        Planes {
            count,
            hw: [input_shape[r - 2], input_shape[r - 1]],
            out_hw: [output_shape[r - 2], output_shape[r - 1]],
        }
    }

    /// Elements of one input plane and of one output plane.
    pub fn sizes(&self) -> [usize; 2] {
        [self.hw[0] * self.hw[1], self.out_hw[0] * self.out_hw[1]]
    }

    /// Input and output elements of all the planes.
    pub fn lens(&self) -> [usize; 2] {
        self.sizes().map(|s| s * self.count)
    }

    /// The same planes, `count` of them.
    pub fn take(self, count: usize) -> Planes {
        Planes { count, ..self }
    }
}
