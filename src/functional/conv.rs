//! Convolutions (torch.nn.functional.conv1d, conv2d, conv_transpose2d) with their backward
//! rules, and the gradient functions those rules call (public in `F::grad`). CPU: im2col + GEMM (wgrad_cpu::conv); GPU:
//! implicit GEMM kernels (wgrad_gpu::kernels::conv, shaders/conv2d*.wgsl). f32 compute;
//! f16 tensors are computed in f32 and rounded once at the end.

use crate::ops::same_device;
use crate::{DType, Tensor};
use wgrad_core::params::{Conv2d, Conv2dDims};

/// Checks dtypes and devices; returns the dtype to hand back (f16 or f32).
#[track_caller]
fn check_floats(op: &str, tensors: &[&Tensor]) -> DType {
    same_device(op, tensors);
    let dtype = tensors[0].dtype();
    for t in tensors {
        assert!(
            t.dtype() == dtype && t.dtype().is_float(),
            "{op}: expected float tensors of one dtype, got {}",
            tensors.iter().map(|t| t.dtype().name()).collect::<Vec<_>>().join(" and ")
        );
    }
    dtype
}

/// The tensor as untracked f32 (the kernels compute in f32).
#[track_caller]
fn f32_of(t: &Tensor) -> Tensor {
    t.detach().cast(DType::F32)
}

/// The values of [`conv2d`] (not recorded) over `x` [N, C, H, W] with `w` [O, C/groups,
/// KH, KW] and optional `b` [O]. Any strides are accepted. Panics with the shapes when
/// they do not fit.
#[track_caller]
fn conv2d_values(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2d) -> Tensor {
    let mut all = vec![x, w];
    all.extend(b);
    let dtype = check_floats("conv2d", &all);
    let d = p.dims(x.dims(), w.dims());
    if let Some(b) = b {
        assert!(
            b.dims() == [d.o],
            "conv2d: given weight of size {:?}, expected bias to be 1-dimensional with {} elements, but got bias of \
             size {:?} instead",
            w.dims(),
            d.o,
            b.dims()
        );
    }
    let (x, w, b) = (f32_of(x), f32_of(w), b.map(f32_of));
    x.backend().conv2d(&x, &w, b.as_ref(), &d).cast(dtype)
}

/// The dtype of a gradient op's float operands: `grad_out` [N, O, OH, OW] and `other`,
/// both of rank 4 (`other` is described by `expected` in the panic).
#[track_caller]
fn check_grad_operands(op: &str, grad_out: &Tensor, (other, expected): (&Tensor, &str)) -> DType {
    let dtype = check_floats(op, &[grad_out, other]);
    assert!(
        grad_out.rank() == 4 && other.rank() == 4,
        "{op}: expected grad_out [N, O, OH, OW] and {expected}, got {:?} and {:?}",
        grad_out.dims(),
        other.dims()
    );
    dtype
}

/// The sizes of a convolution whose output gradient is `grad_out`, checked against them.
#[track_caller]
fn grad_dims(op: &str, grad_out: &Tensor, x_shape: [usize; 4], w_shape: [usize; 4], p: Conv2d) -> Conv2dDims {
    let d = p.dims(&x_shape, &w_shape);
    assert!(
        grad_out.dims() == d.output_shape(),
        "{op}: grad_out of size {:?} does not match the output size {:?} of input {x_shape:?} and weight \
         {w_shape:?} ({p:?})",
        grad_out.dims(),
        d.output_shape()
    );
    d
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its input, for an input of spatial size
/// `input_hw`: `grad_out` [N, O, OH, OW] and `w` [O, C/groups, KH, KW] give [N, C, H, W].
#[track_caller]
pub fn conv2d_grad_input(grad_out: &Tensor, w: &Tensor, input_hw: [usize; 2], p: Conv2d) -> Tensor {
    let dtype = check_grad_operands("conv2d_grad_input", grad_out, (w, "weight [O, C/groups, KH, KW]"));
    let x_shape = [grad_out.dims()[0], w.dims()[1] * p.groups, input_hw[0], input_hw[1]];
    let w_shape = [w.dims()[0], w.dims()[1], w.dims()[2], w.dims()[3]];
    let d = grad_dims("conv2d_grad_input", grad_out, x_shape, w_shape, p);
    let (g, w) = (f32_of(grad_out), f32_of(w));
    g.backend().conv2d_grad_input(&g, &w, &d).cast(dtype)
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its weight, for a kernel of `kernel_hw`:
/// `grad_out` [N, O, OH, OW] and `x` [N, C, H, W] give [O, C/groups, KH, KW].
#[track_caller]
pub fn conv2d_grad_weight(grad_out: &Tensor, x: &Tensor, kernel_hw: [usize; 2], p: Conv2d) -> Tensor {
    let dtype = check_grad_operands("conv2d_grad_weight", grad_out, (x, "input [N, C, H, W]"));
    assert!(
        p.groups > 0 && x.dims()[1].is_multiple_of(p.groups),
        "conv2d_grad_weight: groups {} must divide the {} input channels",
        p.groups,
        x.dims()[1]
    );
    let x_shape = [x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]];
    let w_shape = [grad_out.dims()[1], x.dims()[1] / p.groups, kernel_hw[0], kernel_hw[1]];
    let d = grad_dims("conv2d_grad_weight", grad_out, x_shape, w_shape, p);
    let (g, x) = (f32_of(grad_out), f32_of(x));
    g.backend().conv2d_grad_weight(&g, &x, &d).cast(dtype)
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its bias: `grad_out` summed over N, OH, OW.
#[track_caller]
pub fn conv2d_grad_bias(grad_out: &Tensor) -> Tensor {
    grad_out.sum_dims(&[0, 2, 3], false)
}

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
    let out = conv2d_values(&xs, &ws, bs.as_ref(), p);
    let (input_hw, kernel_hw) = ([x.dims()[2], x.dims()[3]], [w.dims()[2], w.dims()[3]]);
    let has_bias = b.is_some();
    let mut inputs = vec![x, w];
    inputs.extend(b);
    out.record("conv2d", &inputs, move |g| {
        let mut grads =
            vec![Some(conv2d_grad_input(g, &ws, input_hw, p)), Some(conv2d_grad_weight(g, &xs, kernel_hw, p))];
        if has_bias {
            grads.push(Some(conv2d_grad_bias(g)));
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
    let mut out = conv2d_grad_input(&xs, &ws, out_hw, p);
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
        let mut grads = vec![Some(conv2d_values(g, &ws, None, p)), Some(conv2d_grad_weight(&xs, g, kernel_hw, p))];
        if has_bias {
            grads.push(Some(conv2d_grad_bias(g)));
        }
        grads
    })
}
