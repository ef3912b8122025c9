//! 2-D convolution (torch.nn.functional.conv2d) and its gradients, as plain tensor
//! functions (autograd calls the gradients). CPU: im2col + GEMM (wgrad_cpu::conv); GPU:
//! implicit GEMM kernels (wgrad_gpu::kernels::conv, shaders/conv2d*.wgsl). f32 compute;
//! f16 tensors are computed in f32 and rounded once at the end.

use crate::ops::same_device;
use crate::{DType, Tensor};
use wgrad_core::params::{Conv2d, Conv2dDims};
use wgrad_cpu::CpuStorage;
use wgrad_gpu::kernels::{conv as gpu_conv, conv_grad_weight};

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

/// True when one of the tensors is larger than one GPU binding (the batch is then split).
#[track_caller]
fn too_large(tensors: &[&Tensor], out_elems: usize) -> bool {
    let Some(gpu) = tensors[0].device().gpu_runtime() else { return false };
    let limit = gpu.max_binding_bytes() as usize;
    tensors.iter().any(|t| (t.layout().storage_extent() - t.layout().offset()) * 4 > limit) || out_elems * 4 > limit
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
    back_to(conv2d_f32(&x, &w, b.as_ref(), &d), dtype)
}

#[track_caller]
fn conv2d_f32(x: &Tensor, w: &Tensor, b: Option<&Tensor>, d: &Conv2dDims) -> Tensor {
    let shape = d.output_shape();
    if d.n > 1 && too_large(&[x, w], shape.iter().product()) {
        let half = d.n / 2;
        let parts: Vec<Tensor> = [(0, half), (half, d.n - half)]
            .into_iter()
            .map(|(s, len)| conv2d_f32(&x.narrow(0, s, len), w, b, &Conv2dDims { n: len, ..*d }))
            .collect();
        return Tensor::cat(&[&parts[0], &parts[1]], 0);
    }
    match x.device().gpu_runtime() {
        None => {
            let (x, w, b) = (x.contiguous(), w.contiguous(), b.map(Tensor::contiguous));
            let y = wgrad_cpu::conv::conv2d(x.host_f32(), w.host_f32(), b.as_ref().map(|b| b.host_f32()), d);
            Tensor::from_cpu(CpuStorage::F32(y), shape)
        }
        Some(gpu) => {
            let b = b.map(Tensor::contiguous);
            let buffer = gpu_conv::conv2d(gpu, x.operand(), w.operand(), b.as_ref().map(|b| b.operand()), d);
            Tensor::from_gpu(buffer, shape, DType::F32, x.device())
        }
    }
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
    back_to(grad_input_f32(&f32_of(grad_out), &f32_of(w), &d), dtype)
}

#[track_caller]
fn grad_input_f32(g: &Tensor, w: &Tensor, d: &Conv2dDims) -> Tensor {
    let shape = d.input_shape();
    if d.n > 1 && too_large(&[g, w], shape.iter().product()) {
        let half = d.n / 2;
        let parts: Vec<Tensor> = [(0, half), (half, d.n - half)]
            .into_iter()
            .map(|(s, len)| grad_input_f32(&g.narrow(0, s, len), w, &Conv2dDims { n: len, ..*d }))
            .collect();
        return Tensor::cat(&[&parts[0], &parts[1]], 0);
    }
    match g.device().gpu_runtime() {
        None => {
            let (g, w) = (g.contiguous(), w.contiguous());
            let dx = wgrad_cpu::conv::conv2d_grad_input(g.host_f32(), w.host_f32(), d);
            Tensor::from_cpu(CpuStorage::F32(dx), shape)
        }
        Some(gpu) => {
            let buffer = gpu_conv::conv2d_grad_input(gpu, g.operand(), w.operand(), d);
            Tensor::from_gpu(buffer, shape, DType::F32, g.device())
        }
    }
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
    back_to(grad_weight_f32(&f32_of(grad_out), &f32_of(x), &d), dtype)
}

#[track_caller]
fn grad_weight_f32(g: &Tensor, x: &Tensor, d: &Conv2dDims) -> Tensor {
    let shape = d.weight_shape();
    if d.n > 1 && too_large(&[g, x], 0) {
        let half = d.n / 2;
        let part = |s: usize, len: usize| {
            grad_weight_f32(&g.narrow(0, s, len), &x.narrow(0, s, len), &Conv2dDims { n: len, ..*d })
        };
        return part(0, half).add(&part(half, d.n - half));
    }
    match g.device().gpu_runtime() {
        None => {
            let (g, x) = (g.contiguous(), x.contiguous());
            let dw = wgrad_cpu::conv::conv2d_grad_weight(g.host_f32(), x.host_f32(), d);
            Tensor::from_cpu(CpuStorage::F32(dw), shape)
        }
        Some(gpu) => {
            let buffer = conv_grad_weight::conv2d_grad_weight(gpu, g.operand(), x.operand(), d);
            Tensor::from_gpu(buffer, shape, DType::F32, g.device())
        }
    }
}

/// Gradient of [`conv2d`](crate::functional::conv2d) with respect to its bias: `grad_out` summed over N, OH, OW.
#[track_caller]
pub fn conv2d_grad_bias(grad_out: &Tensor) -> Tensor {
    grad_out.sum_dims(&[0, 2, 3], false)
}
