//! The convolution and pooling functionals with their backward rules attached: the
//! forward and gradient kernels live in `conv.rs` and `pool.rs` as plain tensor
//! functions; these wrappers record, on the output, which gradient function to call.

use super::{conv, pool, Conv2d, Pool2d};
use crate::Tensor;

/// 1-D convolution (torch's conv1d): `x` `[N, C, L]` (or `[C, L]`), `w` `[O, C/groups, K]`,
/// optional bias `[O]`; `stride`, `padding`, `dilation` along L. It is [`conv2d`] on a
/// height-1 image, so it shares conv2d's kernels and backward rules on every device.
#[track_caller]
pub fn conv1d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Tensor {
    assert!(matches!(x.rank(), 2 | 3), "conv1d: expected input [N, C, L] or [C, L], got {}", x.shape());
    assert_eq!(w.rank(), 3, "conv1d: expected weight [O, C/groups, K], got {}", w.shape());
    let p = Conv2d { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups };
    let h = x.rank() - 1; // the height axis inserted before L
    conv2d(&x.unsqueeze(h), &w.unsqueeze(2), b, p).squeeze(h)
}

/// 2-D convolution (torch.nn.functional.conv2d): `x` `[N, C, H, W]` or `[C, H, W]`, `w`
/// `[O, C/groups, KH, KW]`, optional bias `[O]`; stride, padding, dilation, groups.
#[track_caller]
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2d) -> Tensor {
    if x.rank() == 3 {
        return conv2d(&x.unsqueeze(0), w, b, p).squeeze(0);
    }
    let (xs, ws, bs) = (x.detach(), w.detach(), b.map(Tensor::detach));
    let out = conv::conv2d(&xs, &ws, bs.as_ref(), p);
    let (input_hw, kernel_hw) = ([x.dims()[2], x.dims()[3]], [w.dims()[2], w.dims()[3]]);
    let has_bias = b.is_some();
    let mut inputs = vec![x, w];
    inputs.extend(b);
    out.record("conv2d", &inputs, move |g| {
        let mut grads = vec![
            Some(conv::conv2d_grad_input(g, &ws, input_hw, p)),
            Some(conv::conv2d_grad_weight(g, &xs, kernel_hw, p)),
        ];
        if has_bias {
            grads.push(Some(conv::conv2d_grad_bias(g)));
        }
        grads
    })
}

/// Max pooling over the last two dims (padding counts as -inf; ceil_mode as PyTorch);
/// the gradient goes to each window's maximum.
#[track_caller]
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Tensor {
    let (out, indices) = pool::max_pool2d_with_indices(&x.detach(), p);
    let shape = x.dims().to_vec();
    out.record("max_pool2d", &[x], move |g| vec![Some(pool::max_pool2d_backward(g, &indices, &shape))])
}

/// Average pooling over the last two dims (count_include_pad as PyTorch).
#[track_caller]
pub fn avg_pool2d(x: &Tensor, p: Pool2d, count_include_pad: bool) -> Tensor {
    let out = pool::avg_pool2d(&x.detach(), p, count_include_pad);
    let shape = x.dims().to_vec();
    out.record("avg_pool2d", &[x], move |g| vec![Some(pool::avg_pool2d_backward(g, &shape, p, count_include_pad))])
}

/// Adaptive average pooling to `out_hw` with PyTorch's (overlapping) bins.
#[track_caller]
pub fn adaptive_avg_pool2d(x: &Tensor, out_hw: [usize; 2]) -> Tensor {
    let out = pool::adaptive_avg_pool2d(&x.detach(), out_hw);
    let shape = x.dims().to_vec();
    out.record("adaptive_avg_pool2d", &[x], move |g| vec![Some(pool::adaptive_avg_pool2d_backward(g, &shape))])
}
