//! Activations, normalisation and dropout (torch.nn.functional).

use crate::{rng, Tensor};
use wgrad_core::Dim;

/// ReLU.
#[track_caller]
pub fn relu(x: &Tensor) -> Tensor {
    x.relu()
}

/// GELU, exact (erf) form.
#[track_caller]
pub fn gelu(x: &Tensor) -> Tensor {
    x.gelu()
}

/// `x / max(‖x‖₂, eps)` along `dim` (torch.nn.functional.normalize with p = 2).
///
/// ```
/// # use wgrad::{functional as F, Device, Tensor};
/// let x = Tensor::from_vec(vec![3.0f32, 4.0, 0.0, 0.0], [2, 2], &Device::cpu());
/// assert_eq!(F::normalize(&x, 1, 1e-12).to_vec::<f32>()?, vec![0.6, 0.8, 0.0, 0.0]);
/// # Ok::<(), wgrad::Error>(())
/// ```
#[track_caller]
pub fn normalize(x: &Tensor, dim: impl Dim, eps: f64) -> Tensor {
    let dim = dim.resolve(x.rank(), "normalize");
    x.div(&x.mul(x).sum(dim, true).sqrt().clamp(Some(eps), None))
}

/// Softmax along `dim`.
#[track_caller]
pub fn softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.softmax(dim)
}

/// Log-softmax along `dim`.
#[track_caller]
pub fn log_softmax(x: &Tensor, dim: impl Dim) -> Tensor {
    x.log_softmax(dim)
}

/// Layer normalisation over the trailing dims `normalized_shape`, with optional
/// elementwise affine weight and bias of that shape (biased variance, as PyTorch).
#[track_caller]
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Tensor {
    let n = normalized_shape.len();
    assert!(
        x.rank() >= n && &x.dims()[x.rank() - n..] == normalized_shape,
        "layer_norm: normalized_shape {normalized_shape:?} does not match the trailing dims of input {}",
        x.shape()
    );
    if let Some(y) = fused_layer_norm(x, normalized_shape, weight, bias, eps) {
        return y;
    }
    let row: usize = normalized_shape.iter().product();
    if let Some(y) = cpu_layer_norm_without_grad(x, row, [weight, bias], eps) {
        return y;
    }
    let dims: Vec<isize> = (x.rank() - n..x.rank()).map(|d| d as isize).collect();
    let mean = x.mean_dims(&dims, true);
    let centered = x - &mean;
    let var = centered.mul(&centered).mean_dims(&dims, true);
    let mut y = centered.mul(&var.add_scalar(eps).rsqrt());
    if let Some(w) = weight {
        y = y.mul(w);
    }
    if let Some(b) = bias {
        y = y.add(b);
    }
    y
}

/// On the CPU, where nothing needs a gradient (inference, evaluation): one pass per row of
/// `d` elements (wgrad_cpu::norm), bit for bit the composed version below; None otherwise.
#[track_caller]
fn cpu_layer_norm_without_grad(x: &Tensor, d: usize, [weight, bias]: [Option<&Tensor>; 2], eps: f64) -> Option<Tensor> {
    let inputs = [Some(x), weight, bias];
    let tracked = crate::is_grad_enabled() && inputs.iter().flatten().any(|t| t.is_tracked());
    let f32s = inputs.iter().flatten().all(|t| t.dtype() == crate::DType::F32);
    if x.device().is_gpu() || tracked || !f32s {
        return None;
    }
    let (x, w, b) =
        (x.contiguous(), weight.map(|w| w.reshape([d]).contiguous()), bias.map(|b| b.reshape([d]).contiguous()));
    let y = wgrad_cpu::norm::layer_norm(
        x.host_f32(),
        d,
        w.as_ref().map(|w| w.host_f32()),
        b.as_ref().map(|b| b.host_f32()),
        eps as f32,
    );
    Some(Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(y), x.shape().clone()))
}

/// The GPU's fused layer norm (one kernel forward, one for the input gradient plus two
/// column sums backward) for f32 rows of at most `MAX_ROW` elements; None where the
/// composed version (the CPU reference) runs instead.
#[track_caller]
fn fused_layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Option<Tensor> {
    use wgrad_gpu::kernels::layer_norm as kernel;
    let gpu = x.device().gpu_runtime()?;
    let d: usize = normalized_shape.iter().product();
    let f32s = [Some(x), weight, bias].iter().flatten().all(|t| t.dtype() == crate::DType::F32);
    if d == 0 || d > kernel::MAX_ROW || !f32s || (x.numel() * 4) as u64 > gpu.max_binding_bytes() {
        return None;
    }
    let rows = x.numel() / d;
    let dev = x.device();
    let xc = x.contiguous();
    let w = weight.map_or_else(|| Tensor::ones([d], crate::DType::F32, dev), |w| w.reshape([d]).contiguous());
    let b = bias.map_or_else(|| Tensor::zeros([d], crate::DType::F32, dev), |b| b.reshape([d]).contiguous());
    #[track_caller]
    fn buf(t: &Tensor) -> (&wgrad_gpu::PooledBuffer, usize) {
        match t.storage() {
            crate::storage::Storage::Gpu(b) => (b, t.layout().offset()),
            crate::storage::Storage::Cpu(_) => unreachable!("a GPU tensor"),
        }
    }
    let (y, stats) = kernel::layer_norm(gpu, rows, d, buf(&xc), buf(&w), buf(&b), eps as f32);
    let y = Tensor::from_gpu(y, x.shape().clone(), crate::DType::F32, dev);
    let stats = Tensor::from_gpu(stats, [rows, 2], crate::DType::F32, dev);
    let (xs, ws) = (xc.detach(), w.detach());
    let mut inputs = vec![&xc];
    inputs.extend(weight);
    inputs.extend(bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    let w_shape = weight.map(|w| w.shape().clone());
    Some(y.record("layer_norm", &inputs, move |dy| {
        let dy = dy.contiguous();
        let gpu = dy.device().gpu_runtime().expect("the fused layer norm's gradient is on the GPU");
        let crate::storage::Storage::Gpu(stats_buf) = stats.storage() else {
            unreachable!("layer norm stats on the GPU")
        };
        let dx = kernel::layer_norm_backward(gpu, rows, d, buf(&xs), buf(&ws), buf(&dy), stats_buf);
        let dx = Tensor::from_gpu(dx, xs.shape().clone(), crate::DType::F32, dy.device());
        let dy2 = dy.reshape([rows, d]);
        let mut grads = vec![Some(dx)];
        if has_w {
            let xhat = xs.reshape([rows, d]).sub(&stats.narrow(1, 0, 1)).mul(&stats.narrow(1, 1, 1));
            grads.push(Some(dy2.mul(&xhat).sum(0, false).reshape(w_shape.clone().unwrap())));
        }
        if has_b {
            grads.push(Some(dy2.sum(0, false).reshape(w_shape.clone().unwrap_or_else(|| [d].into()))));
        }
        grads
    }))
}

/// Dropout: in training, zeroes each element with probability `p` and scales the rest
/// by 1/(1-p); identity otherwise. The mask comes from the process-wide seed stream
/// ([`crate::manual_seed`]), so it is the same on every device.
#[track_caller]
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout: probability must be in [0, 1], got {p}");
    if !training || p == 0.0 {
        return x.clone();
    }
    if p == 1.0 {
        return x.mul_scalar(0.0);
    }
    x.mul(&keep_mask(x.dims().to_vec(), p, x))
}

/// Channel dropout (torch's dropout2d): in training, zeroes whole channels (the last two
/// dims of `x`, `[N, C, H, W]` or `[C, H, W]`) with probability `p`, scaling the rest by
/// `1/(1-p)`; the identity otherwise.
#[track_caller]
pub fn dropout2d(x: &Tensor, p: f64, training: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout2d: probability must be in [0, 1], got {p}");
    assert!(x.rank() >= 3, "dropout2d: expected [N, C, H, W] or [C, H, W], got {}", x.shape());
    if !training || p == 0.0 {
        return x.clone();
    }
    if p == 1.0 {
        return x.mul_scalar(0.0);
    }
    let mut channels = x.dims().to_vec();
    let rank = channels.len();
    channels[rank - 2..].fill(1);
    x.mul(&keep_mask(channels, p, x))
}

/// A mask of `shape` (broadcast against `x`): `1/(1-p)` where kept, 0 where dropped, drawn
/// on `x`'s device from the next seed of the process-wide stream (the same on every device).
fn keep_mask(shape: Vec<usize>, p: f64, x: &Tensor) -> Tensor {
    Tensor::keep_mask(shape.into(), p, rng::next_seed32(), x.device()).cast(x.dtype())
}
