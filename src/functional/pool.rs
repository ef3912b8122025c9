//! 2-D pooling (torch.nn.functional.max_pool2d, avg_pool2d, adaptive_avg_pool2d) and
//! its gradients, as plain tensor functions. Inputs are [N, C, H, W] or [C, H, W]; the
//! kernels (wgrad_cpu::pool, wgrad_gpu::kernels::pool) read contiguous planes, so views
//! are copied first. f32 compute; f16 tensors are rounded once at the end.

use crate::ops::same_device;
use crate::{DType, Tensor};
use wgrad_core::params::{Pool2d, Pooling};

/// The plane size [h, w] of `shape` ([N, C, H, W] or [C, H, W]), checked.
#[track_caller]
fn plane_hw(op: &str, shape: &[usize]) -> [usize; 2] {
    assert!(
        shape.len() == 3 || shape.len() == 4,
        "{op}: expected 3D or 4D (batched) input, but got input of size: {shape:?}"
    );
    let r = shape.len();
    let hw = [shape[r - 2], shape[r - 1]];
    assert!(
        shape[r - 3..].iter().all(|&d| d > 0),
        "{op}: expected input with non-zero channel and spatial dimensions, but got input of size: {shape:?}"
    );
    hw
}

/// `shape` with its last two dims replaced by `hw`.
#[track_caller]
fn with_hw(shape: &[usize], hw: [usize; 2]) -> Vec<usize> {
    let mut s = shape[..shape.len() - 2].to_vec();
    s.extend(hw);
    s
}

/// Contiguous untracked f32 copy (or the tensor itself when it already is one).
#[track_caller]
fn f32_planes(op: &str, t: &Tensor) -> Tensor {
    assert!(t.dtype().is_float(), "{op}: expected a float tensor, got {}", t.dtype());
    t.detach().cast(DType::F32).contiguous()
}

#[track_caller]
fn check_pool(op: &str, p: &Pool2d, hw: [usize; 2]) -> [usize; 2] {
    assert!(p.kernel.iter().all(|&k| k > 0), "{op}: kernel_size must be greater than zero, got {:?}", p.kernel);
    assert!(p.stride.iter().all(|&s| s > 0), "{op}: stride must be greater than zero, got {:?}", p.stride);
    p.output_hw(hw)
}

/// Max pooling, with the u32 index `h * W + w` of each maximum within its input plane
/// (PyTorch's return_indices=True). Ties keep the first element, NaN wins.
#[track_caller]
pub fn max_pool2d_with_indices(x: &Tensor, p: Pool2d) -> (Tensor, Tensor) {
    let hw = plane_hw("max_pool2d", x.dims());
    let out_hw = check_pool("max_pool2d", &p, hw);
    let shape = with_hw(x.dims(), out_hw);
    let dtype = x.dtype();
    let xf = f32_planes("max_pool2d", x);
    let (values, indices) = xf.backend().max_pool2d(&xf, p, shape);
    (values.cast(dtype), indices)
}

/// Gradient of [`max_pool2d_with_indices`] for an input of `input_shape`: each element
/// of `grad_out` goes to the input element its index names; overlapping windows that
/// share a maximum accumulate (deterministically, in output order).
#[track_caller]
pub fn max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
    same_device("max_pool2d_backward", &[grad_out, indices]);
    plane_hw("max_pool2d_backward", input_shape);
    assert!(
        indices.dtype() == DType::U32 && indices.dims() == grad_out.dims(),
        "max_pool2d_backward: expected u32 indices of the grad_out's size {:?}, got {} indices of size {:?}",
        grad_out.dims(),
        indices.dtype(),
        indices.dims()
    );
    assert!(
        grad_out.rank() == input_shape.len()
            && grad_out.dims()[..grad_out.rank() - 2] == input_shape[..input_shape.len() - 2],
        "max_pool2d_backward: grad_out of size {:?} does not match input size {input_shape:?}",
        grad_out.dims()
    );
    let dtype = grad_out.dtype();
    let g = f32_planes("max_pool2d_backward", grad_out);
    let idx = indices.detach().contiguous();
    g.backend().max_pool2d_backward(&g, &idx, input_shape).cast(dtype)
}

/// Average pooling over the last two dims. `count_include_pad`: divide by the window
/// including its padding (clipped to the padded input) rather than by the elements in it.
#[track_caller]
fn avg_pool2d_values(x: &Tensor, p: Pool2d, count_include_pad: bool) -> Tensor {
    assert!(p.dilation == [1, 1], "avg_pool2d: no dilation (PyTorch's has none), got {:?}", p.dilation);
    let hw = plane_hw("avg_pool2d", x.dims());
    let out_hw = check_pool("avg_pool2d", &p, hw);
    pool_forward(x, out_hw, Pooling::Avg(p, count_include_pad))
}

/// Gradient of [`avg_pool2d`](crate::functional::avg_pool2d) for an input of `input_shape`.
#[track_caller]
pub fn avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize], p: Pool2d, count_include_pad: bool) -> Tensor {
    let hw = plane_hw("avg_pool2d_backward", input_shape);
    let out_hw = check_pool("avg_pool2d_backward", &p, hw);
    pool_backward("avg_pool2d_backward", grad_out, input_shape, out_hw, Pooling::Avg(p, count_include_pad))
}

/// Adaptive average pooling to `out_hw`, with PyTorch's overlapping bins
/// `[floor(i*H/OH), ceil((i+1)*H/OH))`.
#[track_caller]
fn adaptive_avg_pool2d_values(x: &Tensor, out_hw: [usize; 2]) -> Tensor {
    let hw = plane_hw("adaptive_avg_pool2d", x.dims());
    assert!(
        hw[0] > 0 && hw[1] > 0,
        "adaptive_avg_pool2d: expected input to have non-zero size for non-batch dimensions, but input has sizes {:?}",
        x.dims()
    );
    pool_forward(x, out_hw, Pooling::Adaptive)
}

/// Gradient of [`adaptive_avg_pool2d`](crate::functional::adaptive_avg_pool2d) for an input of `input_shape`.
#[track_caller]
pub fn adaptive_avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize]) -> Tensor {
    plane_hw("adaptive_avg_pool2d_backward", input_shape);
    let r = grad_out.rank();
    assert!(r >= 2, "adaptive_avg_pool2d_backward: grad_out of size {:?} is not [.., OH, OW]", grad_out.dims());
    let out_hw = [grad_out.dims()[r - 2], grad_out.dims()[r - 1]];
    pool_backward("adaptive_avg_pool2d_backward", grad_out, input_shape, out_hw, Pooling::Adaptive)
}

#[track_caller]
fn pool_forward(x: &Tensor, out_hw: [usize; 2], pooling: Pooling) -> Tensor {
    let shape = with_hw(x.dims(), out_hw);
    let dtype = x.dtype();
    let xf = f32_planes("avg_pool2d", x);
    xf.backend().avg_pool2d(&xf, pooling, shape).cast(dtype)
}

#[track_caller]
fn pool_backward(op: &str, grad_out: &Tensor, input_shape: &[usize], out_hw: [usize; 2], pooling: Pooling) -> Tensor {
    let expected = with_hw(input_shape, out_hw);
    assert!(
        grad_out.dims() == expected,
        "{op}: grad_out of size {:?} does not match the pooled size {expected:?} of input {input_shape:?}",
        grad_out.dims()
    );
    let dtype = grad_out.dtype();
    let g = f32_planes(op, grad_out);
    g.backend().avg_pool2d_backward(&g, pooling, input_shape).cast(dtype)
}

/// Max pooling over the last two dims (padding counts as -inf; ceil_mode as PyTorch);
/// the gradient goes to each window's maximum.
#[track_caller]
pub fn max_pool2d(x: &Tensor, p: Pool2d) -> Tensor {
    let (out, indices) = max_pool2d_with_indices(&x.detach(), p);
    let shape = x.dims().to_vec();
    out.record("max_pool2d", &[x], move |g| vec![Some(max_pool2d_backward(g, &indices, &shape))])
}

/// Average pooling over the last two dims (count_include_pad as PyTorch).
#[track_caller]
pub fn avg_pool2d(x: &Tensor, p: Pool2d, count_include_pad: bool) -> Tensor {
    let out = avg_pool2d_values(&x.detach(), p, count_include_pad);
    let shape = x.dims().to_vec();
    out.record("avg_pool2d", &[x], move |g| vec![Some(avg_pool2d_backward(g, &shape, p, count_include_pad))])
}

/// Adaptive average pooling to `out_hw` with PyTorch's (overlapping) bins.
#[track_caller]
pub fn adaptive_avg_pool2d(x: &Tensor, out_hw: [usize; 2]) -> Tensor {
    let out = adaptive_avg_pool2d_values(&x.detach(), out_hw);
    let shape = x.dims().to_vec();
    out.record("adaptive_avg_pool2d", &[x], move |g| vec![Some(adaptive_avg_pool2d_backward(g, &shape))])
}
