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

/// Transposed 2-D convolution (torch.nn.functional.conv_transpose2d, "deconvolution"):
/// `x` `[N, C_in, H, W]` or `[C_in, H, W]`, `w` `[C_in, C_out / groups, KH, KW]`, optional
/// bias `[C_out]`; `p`'s stride, padding, dilation and groups as in PyTorch, and
/// `output_padding` (each below its stride or dilation) added to one side of the output,
/// which is `(H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1`
/// high (likewise wide). It is the gradient of [`conv2d`] with respect to its input, so it
/// runs conv2d's kernels on every device, and its backward is conv2d and conv2d's
/// weight gradient.
///
/// ```
/// # use wgrad::{functional as F, Device, Tensor};
/// let x = Tensor::ones([1, 1, 2, 2], wgrad::DType::F32, &Device::cpu());
/// let w = Tensor::ones([1, 1, 2, 2], wgrad::DType::F32, &Device::cpu());
/// let p = F::Conv2d { stride: [2, 2], ..Default::default() };
/// let y = F::conv_transpose2d(&x, &w, None, p, [0, 0]);
/// assert_eq!(y.dims(), [1, 1, 4, 4]); // each input pixel spreads over its own 2x2 block
/// assert_eq!(y.sum_all().to_scalar()?, 16.0);
/// # Ok::<(), wgrad::Error>(())
/// ```
#[track_caller]
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2d, output_padding: [usize; 2]) -> Tensor {
    if x.rank() == 3 {
        return conv_transpose2d(&x.unsqueeze(0), w, b, p, output_padding).squeeze(0);
    }
    assert!(
        x.rank() == 4 && w.rank() == 4 && x.dims()[1] == w.dims()[0],
        "conv_transpose2d: expected input [N, C_in, H, W] and weight [C_in, C_out / groups, KH, KW], got {} and {}",
        x.shape(),
        w.shape()
    );
    let out_hw: [usize; 2] = std::array::from_fn(|a| {
        assert!(
            output_padding[a] < p.stride[a].max(p.dilation[a]),
            "conv_transpose2d: output_padding {output_padding:?} must be smaller than stride {:?} or dilation {:?}",
            p.stride,
            p.dilation
        );
        let grown = (x.dims()[2 + a] - 1) * p.stride[a] + p.dilation[a] * (w.dims()[2 + a] - 1) + output_padding[a] + 1;
        assert!(grown > 2 * p.padding[a], "conv_transpose2d: padding {:?} leaves no output", p.padding);
        grown - 2 * p.padding[a]
    });
    let (xs, ws) = (x.detach(), w.detach());
    let mut out = conv::conv2d_grad_input(&xs, &ws, out_hw, p);
    if let Some(b) = b {
        assert!(
            b.dims() == [out.dims()[1]],
            "conv_transpose2d: bias of size {} for {} output channels",
            b.shape(),
            out.dims()[1]
        );
        out = out.add(&b.detach().reshape([1, out.dims()[1], 1, 1]));
    }
    let kernel_hw = [w.dims()[2], w.dims()[3]];
    let has_bias = b.is_some();
    let mut inputs = vec![x, w];
    inputs.extend(b);
    out.record("conv_transpose2d", &inputs, move |g| {
        let mut grads = vec![Some(conv::conv2d(g, &ws, None, p)), Some(conv::conv2d_grad_weight(&xs, g, kernel_hw, p))];
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
