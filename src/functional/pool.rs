//! 2-D pooling (torch.nn.functional.max_pool2d, avg_pool2d, adaptive_avg_pool2d) and
//! its gradients, as plain tensor functions. Inputs are [N, C, H, W] or [C, H, W]; the
//! kernels (wgrad_cpu::pool, wgrad_gpu::kernels::pool) read contiguous planes, so views
//! are copied first. f32 compute; f16 tensors are rounded once at the end.

use crate::ops::same_device;
use crate::{DType, Tensor};
use wgrad_core::params::Pool2d;
use wgrad_cpu::CpuStorage;
use wgrad_gpu::kernels::pool::{self as gpu_pool, Pooling};

/// The pooled planes of `shape` ([N, C, H, W] or [C, H, W]): (planes, [h, w]).
#[track_caller]
fn planes_of(op: &str, shape: &[usize]) -> (usize, [usize; 2]) {
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
    (shape[..r - 2].iter().product(), hw)
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
    let t = t.detach();
    let t = if t.dtype() == DType::F32 { t } else { t.cast(DType::F32) };
    t.contiguous()
}

#[track_caller]
fn back_to(t: Tensor, dtype: DType) -> Tensor {
    if dtype == DType::F32 {
        t
    } else {
        t.cast(dtype)
    }
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
    let (planes, hw) = planes_of("max_pool2d", x.dims());
    let out_hw = check_pool("max_pool2d", &p, hw);
    let shape = with_hw(x.dims(), out_hw);
    let dtype = x.dtype();
    let xf = f32_planes("max_pool2d", x);
    let (values, indices) = match xf.device().gpu_runtime() {
        None => {
            let (v, i) = wgrad_cpu::pool::max_pool2d(xf.host_f32(), planes, hw, &p);
            (Tensor::from_cpu(CpuStorage::F32(v), shape.clone()), Tensor::from_cpu(CpuStorage::U32(i), shape))
        }
        Some(gpu) => {
            let (buf, off) = gpu_view(&xf);
            let plane_in = hw[0] * hw[1];
            let mut parts = in_parts(gpu, planes, [plane_in, out_hw[0] * out_hw[1]], |first, n| {
                let (v, i) = gpu_pool::pool2d(gpu, (buf, off + first * plane_in), n, hw, out_hw, Pooling::Max(p));
                vec![(v, DType::F32), (i.expect("max pooling returns indices"), DType::U32)]
            });
            let i = joined(parts.pop().expect("indices"), &shape, xf.device());
            (joined(parts.pop().expect("values"), &shape, xf.device()), i)
        }
    };
    (back_to(values, dtype), indices)
}

/// Gradient of [`max_pool2d_with_indices`] for an input of `input_shape`: each element
/// of `grad_out` goes to the input element its index names; overlapping windows that
/// share a maximum accumulate (deterministically, in output order).
#[track_caller]
pub fn max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
    same_device("max_pool2d_backward", &[grad_out, indices]);
    let (planes, hw) = planes_of("max_pool2d_backward", input_shape);
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
    let out_hw = [grad_out.dims()[grad_out.rank() - 2], grad_out.dims()[grad_out.rank() - 1]];
    let plane_out = out_hw[0] * out_hw[1];
    let dtype = grad_out.dtype();
    let g = f32_planes("max_pool2d_backward", grad_out);
    let idx = indices.detach().contiguous();
    let dx = match g.device().gpu_runtime() {
        None => {
            let ids = idx.cpu_storage().as_slice::<u32>().expect("u32 indices");
            let ids = &ids[idx.layout().offset()..idx.layout().offset() + idx.numel()];
            let dx = wgrad_cpu::pool::max_pool2d_backward(g.host_f32(), ids, planes, hw);
            Tensor::from_cpu(CpuStorage::F32(dx), input_shape.to_vec())
        }
        Some(gpu) => {
            let ((gb, go), (ib, io)) = (gpu_view(&g), gpu_view(&idx));
            let plane_in = hw[0] * hw[1];
            let mut parts = in_parts(gpu, planes, [plane_in, plane_out], |first, n| {
                let (gv, iv) = ((gb, go + first * plane_out), (ib, io + first * plane_out));
                vec![(gpu_pool::max_pool2d_backward(gpu, gv, iv, n, hw, out_hw), DType::F32)]
            });
            joined(parts.pop().expect("dx"), input_shape, g.device())
        }
    };
    back_to(dx, dtype)
}

/// Average pooling over the last two dims. `count_include_pad`: divide by the window
/// including its padding (clipped to the padded input) rather than by the elements in it.
#[track_caller]
pub fn avg_pool2d(x: &Tensor, p: Pool2d, count_include_pad: bool) -> Tensor {
    assert!(p.dilation == [1, 1], "avg_pool2d: no dilation (PyTorch's has none), got {:?}", p.dilation);
    let (planes, hw) = planes_of("avg_pool2d", x.dims());
    let out_hw = check_pool("avg_pool2d", &p, hw);
    pool_forward(x, planes, hw, out_hw, Pooling::Avg(p, count_include_pad))
}

/// Gradient of [`avg_pool2d`](crate::functional::avg_pool2d) for an input of `input_shape`.
#[track_caller]
pub fn avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize], p: Pool2d, count_include_pad: bool) -> Tensor {
    let (planes, hw) = planes_of("avg_pool2d_backward", input_shape);
    let out_hw = check_pool("avg_pool2d_backward", &p, hw);
    pool_backward("avg_pool2d_backward", grad_out, input_shape, planes, hw, out_hw, Pooling::Avg(p, count_include_pad))
}

/// Adaptive average pooling to `out_hw`, with PyTorch's overlapping bins
/// `[floor(i*H/OH), ceil((i+1)*H/OH))`.
#[track_caller]
pub fn adaptive_avg_pool2d(x: &Tensor, out_hw: [usize; 2]) -> Tensor {
    let (planes, hw) = planes_of("adaptive_avg_pool2d", x.dims());
    assert!(
        hw[0] > 0 && hw[1] > 0,
        "adaptive_avg_pool2d: expected input to have non-zero size for non-batch dimensions, but input has sizes {:?}",
        x.dims()
    );
    pool_forward(x, planes, hw, out_hw, Pooling::Adaptive)
}

/// Gradient of [`adaptive_avg_pool2d`](crate::functional::adaptive_avg_pool2d) for an input of `input_shape`.
#[track_caller]
pub fn adaptive_avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize]) -> Tensor {
    let (planes, hw) = planes_of("adaptive_avg_pool2d_backward", input_shape);
    let r = grad_out.rank();
    assert!(r >= 2, "adaptive_avg_pool2d_backward: grad_out of size {:?} is not [.., OH, OW]", grad_out.dims());
    let out_hw = [grad_out.dims()[r - 2], grad_out.dims()[r - 1]];
    pool_backward("adaptive_avg_pool2d_backward", grad_out, input_shape, planes, hw, out_hw, Pooling::Adaptive)
}

#[track_caller]
fn pool_forward(x: &Tensor, planes: usize, hw: [usize; 2], out_hw: [usize; 2], pooling: Pooling) -> Tensor {
    let shape = with_hw(x.dims(), out_hw);
    let dtype = x.dtype();
    let xf = f32_planes("avg_pool2d", x);
    let out = match xf.device().gpu_runtime() {
        None => {
            let v = match pooling {
                Pooling::Avg(p, cip) => wgrad_cpu::pool::avg_pool2d(xf.host_f32(), planes, hw, &p, cip),
                Pooling::Adaptive => wgrad_cpu::pool::adaptive_avg_pool2d(xf.host_f32(), planes, hw, out_hw),
                Pooling::Max(_) => unreachable!("max pooling has its own path"),
            };
            Tensor::from_cpu(CpuStorage::F32(v), shape)
        }
        Some(gpu) => {
            let (buf, off) = gpu_view(&xf);
            let plane_in = hw[0] * hw[1];
            let mut parts = in_parts(gpu, planes, [plane_in, out_hw[0] * out_hw[1]], |first, n| {
                vec![(gpu_pool::pool2d(gpu, (buf, off + first * plane_in), n, hw, out_hw, pooling).0, DType::F32)]
            });
            joined(parts.pop().expect("values"), &shape, xf.device())
        }
    };
    back_to(out, dtype)
}

#[track_caller]
fn pool_backward(
    op: &str,
    grad_out: &Tensor,
    input_shape: &[usize],
    planes: usize,
    hw: [usize; 2],
    out_hw: [usize; 2],
    pooling: Pooling,
) -> Tensor {
    let expected = with_hw(input_shape, out_hw);
    assert!(
        grad_out.dims() == expected,
        "{op}: grad_out of size {:?} does not match the pooled size {expected:?} of input {input_shape:?}",
        grad_out.dims()
    );
    let dtype = grad_out.dtype();
    let g = f32_planes(op, grad_out);
    let dx = match g.device().gpu_runtime() {
        None => {
            let v = match pooling {
                Pooling::Avg(p, cip) => wgrad_cpu::pool::avg_pool2d_backward(g.host_f32(), planes, hw, &p, cip),
                Pooling::Adaptive => wgrad_cpu::pool::adaptive_avg_pool2d_backward(g.host_f32(), planes, hw, out_hw),
                Pooling::Max(_) => unreachable!("max pooling has its own path"),
            };
            Tensor::from_cpu(CpuStorage::F32(v), input_shape.to_vec())
        }
        Some(gpu) => {
            let (buf, off) = gpu_view(&g);
            let plane_out = out_hw[0] * out_hw[1];
            let mut parts = in_parts(gpu, planes, [hw[0] * hw[1], plane_out], |first, n| {
                let gv = (buf, off + first * plane_out);
                vec![(gpu_pool::avg_pool2d_backward(gpu, gv, n, hw, out_hw, pooling), DType::F32)]
            });
            joined(parts.pop().expect("dx"), input_shape, g.device())
        }
    };
    back_to(dx, dtype)
}

/// Runs `launch(first plane, planes)` over parts of as many planes as one GPU binding
/// holds (`plane_elems`: elements per plane of input and output), all at once when they
/// fit. Returns, per output of the launch, its parts as flat tensors `[planes, elems]`.
#[track_caller]
fn in_parts(
    gpu: &wgrad_gpu::GpuDevice,
    planes: usize,
    plane_elems: [usize; 2],
    launch: impl Fn(usize, usize) -> Vec<(wgrad_gpu::PooledBuffer, DType)>,
) -> Vec<Vec<(wgrad_gpu::PooledBuffer, DType, usize)>> {
    let per = gpu_pool::planes_per_launch(gpu, plane_elems[0].max(plane_elems[1]));
    let mut outputs: Vec<Vec<_>> = Vec::new();
    for first in (0..planes.max(1)).step_by(per) {
        let n = per.min(planes - first);
        for (k, (b, dtype)) in launch(first, n).into_iter().enumerate() {
            if outputs.len() <= k {
                outputs.push(Vec::new());
            }
            outputs[k].push((b, dtype, n));
        }
    }
    outputs
}

/// The parts of one output of [`in_parts`] as one tensor of `shape`.
#[track_caller]
fn joined(parts: Vec<(wgrad_gpu::PooledBuffer, DType, usize)>, shape: &[usize], dev: &crate::Device) -> Tensor {
    let numel: usize = shape.iter().product();
    let total: usize = parts.iter().map(|p| p.2).sum();
    let tensors: Vec<Tensor> = parts
        .into_iter()
        .map(|(b, dtype, n)| Tensor::from_gpu(b, [n, numel.checked_div(total).unwrap_or(0)], dtype, dev))
        .collect();
    if tensors.len() == 1 {
        return tensors[0].reshape(shape.to_vec());
    }
    Tensor::cat(&tensors.iter().collect::<Vec<_>>(), 0).reshape(shape.to_vec())
}

/// A contiguous GPU tensor as (buffer, element offset).
#[track_caller]
fn gpu_view(t: &Tensor) -> (&wgrad_gpu::PooledBuffer, usize) {
    (t.operand().buffer, t.layout().offset())
}
