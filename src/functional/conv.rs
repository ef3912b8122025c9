//! 2-D convolution (torch.nn.functional.conv2d) and its gradients, as plain tensor
//! functions (autograd calls the gradients). CPU: im2col + GEMM (wgrad_cpu::conv); GPU:
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
    let t = t.detach();
    if t.dtype() == DType::F32 {
        t
    } else {
        t.cast(DType::F32)
    }
}

#[track_caller]
fn back_to(t: Tensor, dtype: DType) -> Tensor {
    if dtype == DType::F32 {
        t
    } else {
        t.cast(dtype)
    }
}

/// 2-D convolution over `x` [N, C, H, W] (or unbatched [C, H, W]) with `w` [O, C/groups,
/// KH, KW] and optional `b` [O]: stride, padding, dilation per axis and groups as in
/// PyTorch. Any strides are accepted. Panics with the shapes when they do not fit.
#[track_caller]
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2d) -> Tensor {
    if x.rank() == 3 {
        return conv2d(&x.unsqueeze(0), w, b, p).squeeze(0);
    }
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
    back_to(x.backend().conv2d(&x, &w, b.as_ref(), &d), dtype)
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
    let dtype = check_floats("conv2d_grad_input", &[grad_out, w]);
    assert!(
        grad_out.rank() == 4 && w.rank() == 4,
        "conv2d_grad_input: expected grad_out [N, O, OH, OW] and weight [O, C/groups, KH, KW], got {:?} and {:?}",
        grad_out.dims(),
        w.dims()
    );
    let x_shape = [grad_out.dims()[0], w.dims()[1] * p.groups, input_hw[0], input_hw[1]];
    let w_shape = [w.dims()[0], w.dims()[1], w.dims()[2], w.dims()[3]];
    let d = grad_dims("conv2d_grad_input", grad_out, x_shape, w_shape, p);
    let (g, w) = (f32_of(grad_out), f32_of(w));
    back_to(g.backend().conv2d_grad_input(&g, &w, &d), dtype)
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its weight, for a kernel of `kernel_hw`:
/// `grad_out` [N, O, OH, OW] and `x` [N, C, H, W] give [O, C/groups, KH, KW].
#[track_caller]
pub fn conv2d_grad_weight(grad_out: &Tensor, x: &Tensor, kernel_hw: [usize; 2], p: Conv2d) -> Tensor {
    let dtype = check_floats("conv2d_grad_weight", &[grad_out, x]);
    assert!(
        grad_out.rank() == 4 && x.rank() == 4,
        "conv2d_grad_weight: expected grad_out [N, O, OH, OW] and input [N, C, H, W], got {:?} and {:?}",
        grad_out.dims(),
        x.dims()
    );
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
    back_to(g.backend().conv2d_grad_weight(&g, &x, &d), dtype)
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its bias: `grad_out` summed over N, OH, OW.
#[track_caller]
pub fn conv2d_grad_bias(grad_out: &Tensor) -> Tensor {
    grad_out.sum_dims(&[0, 2, 3], false)
}
