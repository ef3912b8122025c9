//! The GPU backend: every op records a WGSL launch (`wgrad_gpu::kernels`) on the device's
//! recorder. Ops whose operands may exceed one storage binding split themselves here.

use super::{Attention, AttentionMask, Backend, GradFn, HostFuture, LayerNorm, Map};
use crate::ops::{AdamStep, AdamUpdate};
use crate::{Device, DeviceStats, Tensor};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wgrad_core::ops::ReduceOp;
use wgrad_core::params::{Conv2dDims, Pool2d, Pooling};
use wgrad_core::{DType, Error, Layout, Result, Shape};
use wgrad_cpu::CpuStorage;
use wgrad_gpu::kernels::attention::{MaskKind, MAX_HEAD_DIM};
use wgrad_gpu::kernels::elementwise::{self as ew, binary_expr, cmp_expr, scalar_bits, unary_expr, where_expr};
use wgrad_gpu::kernels::pool::{self as gpu_pool, Planes};
use wgrad_gpu::kernels::{self, Operand};
use wgrad_gpu::{GpuDevice, PooledBuffer};

/// A GPU tensor's buffer.
#[track_caller]
fn buffer(t: &Tensor) -> &PooledBuffer {
    t.storage().gpu()
}

/// A GPU tensor as a kernel operand (buffer, layout, dtype).
#[track_caller]
fn operand(t: &Tensor) -> Operand<'_> {
    Operand { buffer: buffer(t), layout: t.layout(), dtype: t.dtype() }
}

/// A contiguous GPU tensor as (buffer, element offset), for kernels that take views.
#[track_caller]
fn view(t: &Tensor) -> (&PooledBuffer, usize) {
    (buffer(t), t.layout().offset())
}

/// Bytes of storage a view touches.
fn touched_bytes(t: &Tensor) -> usize {
    (t.layout().storage_extent() - t.layout().offset()) * t.dtype().size_in_bytes()
}

/// An attention mask as a kernel operand.
fn mask_operand(mask: &Option<(Tensor, MaskKind)>) -> Option<(Operand<'_>, MaskKind)> {
    mask.as_ref().map(|(m, kind)| (operand(m), *kind))
}

/// A new tensor over a kernel's output buffer.
fn tensor(buffer: PooledBuffer, shape: impl Into<Shape>, dtype: DType, device: &Device) -> Tensor {
    Tensor::from_gpu(buffer, shape, dtype, device)
}

/// Bytes read back from a device buffer, as host storage of `dtype`.
fn host_storage(dtype: DType, bytes: &[u8]) -> CpuStorage {
    match dtype {
        DType::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(bytes)),
        DType::F16 => CpuStorage::F16(bytemuck::pod_collect_to_vec(bytes)),
        DType::U32 => CpuStorage::U32(bytemuck::pod_collect_to_vec(bytes)),
        DType::I32 => CpuStorage::I32(bytemuck::pod_collect_to_vec(bytes)),
    }
}

/// The WGSL expression of an elementwise op over inputs of `dtype`, and its scalar
/// (dtype and bits).
fn map_expr(op: Map, dtype: DType, out_dtype: DType) -> (String, (DType, u32)) {
    let f32_bits = |s: f64| (DType::F32, (s as f32).to_bits());
    match op {
        Map::Unary(op, s) => (unary_expr(op, dtype), f32_bits(s)),
        Map::UnaryGrad(op, s) => (ew::unary_grad_expr(op).to_string(), f32_bits(s)),
        Map::Binary(op) => (binary_expr(op, dtype, "b"), (dtype, 0)),
        Map::BinaryScalar(op, s) => (binary_expr(op, dtype, "s"), (dtype, scalar_bits(s, dtype))),
        Map::Compare(op) => (cmp_expr(op, dtype), (dtype, 0)),
        Map::Where => (where_expr(dtype), (out_dtype, 0)),
        Map::Cast => ("a".to_string(), (out_dtype, 0)),
    }
}

/// `x`'s elements in row-major order (itself, or a copy that records no gradient) and
/// their byte range in its buffer: what a readback copies.
fn dense(gpu: &Arc<GpuDevice>, x: &Tensor) -> (Tensor, std::ops::Range<u64>) {
    let t = if x.is_contiguous() { x.clone() } else { Backend::copy(gpu, x) };
    let size = t.dtype().size_in_bytes() as u64;
    let start = t.layout().offset() as u64 * size;
    let end = start + t.numel() as u64 * size;
    (t, start..end)
}

/// A tensor whose contents are written by kernels recorded afterwards.
fn empty(gpu: &GpuDevice, device: &Device, shape: Shape, dtype: DType) -> Tensor {
    let buffer = gpu.output_buffer((shape.numel() * dtype.size_in_bytes()) as u64);
    tensor(buffer, shape, dtype, device)
}

/// Records a copy of `src` into `dst`'s storage at `view` (same shape).
fn copy_into(gpu: &GpuDevice, src: &Tensor, dst: &Tensor, view: &Layout) {
    let m = ew::Map { expr: "a", inputs: &[operand(src)], scalar_dtype: src.dtype(), scalar: 0 };
    ew::map_into(gpu, &m, buffer(dst), view, src.dtype());
}

/// `[batch, m, k] @ [batch, k, n]`, splitting the batch, then the rows, then the
/// columns into pieces until every operand fits one kernel binding.
fn matmul_in_parts(gpu: &GpuDevice, a: &Tensor, b: &Tensor, limit: usize) -> Tensor {
    let (batch, m, n) = (a.dims()[0], a.dims()[1], b.dims()[2]);
    let out_bytes = batch * m * n * a.dtype().size_in_bytes();
    let too_big = [touched_bytes(a), touched_bytes(b), out_bytes].into_iter().max().unwrap_or(0) > limit;
    let split = |dim: usize, size: usize, of_b: bool| {
        let half = size.div_ceil(2);
        let parts: Vec<Tensor> = [(0, half), (half, size - half)]
            .into_iter()
            .map(|(s, len)| {
                if of_b {
                    matmul_in_parts(gpu, a, &b.narrow(dim, s, len), limit)
                } else {
                    matmul_in_parts(gpu, &a.narrow(dim, s, len), b, limit)
                }
            })
            .collect();
        Tensor::cat(&parts.iter().collect::<Vec<_>>(), dim)
    };
    if too_big && batch > 1 {
        let half = batch.div_ceil(2);
        let parts = [(0, half), (half, batch - half)]
            .map(|(s, len)| matmul_in_parts(gpu, &a.narrow(0, s, len), &b.narrow(0, s, len), limit));
        return Tensor::cat(&[&parts[0], &parts[1]], 0);
    }
    if too_big && m > 1 && (touched_bytes(a) > limit || touched_bytes(b) <= limit) {
        return split(1, m, false);
    }
    if too_big && n > 1 {
        return split(2, n, true);
    }
    tensor(kernels::matmul::matmul(gpu, operand(a), operand(b)), [batch, m, n], a.dtype(), a.device())
}

/// True when an operand or the output (f32) is larger than one binding.
fn too_large(gpu: &GpuDevice, tensors: &[&Tensor], out_elems: usize) -> bool {
    let limit = gpu.max_binding_bytes() as usize;
    tensors.iter().any(|t| touched_bytes(t) > limit) || out_elems * 4 > limit
}

/// Runs `launch(first plane, planes)` over parts of as many planes as one binding
/// holds (`plane_elems`: elements per plane of input and output), all at once when
/// they fit, and joins each output's parts into one tensor of its shape.
fn pool_in_parts(
    gpu: &GpuDevice,
    device: &Device,
    planes: Planes,
    shapes: &[(&[usize], DType)],
    launch: impl Fn(usize, Planes) -> Vec<PooledBuffer>,
) -> Vec<Tensor> {
    let [plane_in, plane_out] = planes.sizes();
    let per = gpu_pool::planes_per_launch(gpu, plane_in.max(plane_out));
    let mut parts: Vec<Vec<Tensor>> = vec![Vec::new(); shapes.len()];
    for first in (0..planes.count.max(1)).step_by(per) {
        let n = per.min(planes.count - first);
        for (k, b) in launch(first, planes.take(n)).into_iter().enumerate() {
            let (shape, dtype) = shapes[k];
            let numel: usize = shape.iter().product();
            parts[k].push(tensor(b, [n, numel.checked_div(planes.count.max(1)).unwrap_or(0)], dtype, device));
        }
    }
    parts
        .into_iter()
        .zip(shapes)
        .map(|(p, (shape, _))| match p.len() {
            1 => p[0].reshape(shape.to_vec()),
            _ => Tensor::cat(&p.iter().collect::<Vec<_>>(), 0).reshape(shape.to_vec()),
        })
        .collect()
}

impl Backend for Arc<GpuDevice> {
    fn upload(&self, device: &Device, host: CpuStorage, shape: Shape) -> Tensor {
        let dtype = host.dtype();
        let bytes: &[u8] = wgrad_cpu::with_storage!(&host, v => bytemuck::cast_slice(v));
        let buffer = GpuDevice::upload(self, bytes).unwrap_or_else(|e| {
            GpuDevice::record_error(self, e);
            self.output_buffer(0)
        });
        tensor(buffer, shape, dtype, device)
    }

    fn read(&self, x: &Tensor) -> Result<CpuStorage> {
        let (t, range) = dense(self, x);
        Ok(host_storage(x.dtype(), &GpuDevice::read(self, buffer(&t), range.start, range.end - range.start)?))
    }

    fn read_async(&self, x: &Tensor) -> HostFuture {
        let (t, range) = dense(self, x);
        let bytes = GpuDevice::read_async(self, buffer(&t), range.start, range.end - range.start);
        let dtype = x.dtype();
        Box::pin(async move { Ok(host_storage(dtype, &bytes.await?)) })
    }

    /// A fill kernel: nothing is uploaded, however small.
    fn full(&self, device: &Device, shape: Shape, value: f64, dtype: DType) -> Tensor {
        let filled = kernels::generated(self, shape.numel(), dtype, "s", scalar_bits(value, dtype));
        tensor(filled, shape, dtype, device)
    }

    /// Drawn on the device (`random_bits` in shaders/elementwise.wgsl): nothing uploaded.
    fn keep_mask(&self, device: &Device, shape: Shape, seed: u32, (threshold, scale): (u32, f32)) -> Tensor {
        // `i` counts from the launch's first element; params.base places it.
        let expr = format!(
            "select(0.0, bitcast<f32>({}u), (random_bits(s, params.base + i) >> 8u) >= {threshold}u)",
            scale.to_bits()
        );
        let m = ew::Map { expr: &expr, inputs: &[], scalar_dtype: DType::U32, scalar: seed };
        tensor(ew::map(self, &m, &shape, DType::F32), shape, DType::F32, device)
    }

    fn copy(&self, x: &Tensor) -> Tensor {
        let out = empty(self, x.device(), x.shape().clone(), x.dtype());
        copy_into(self, x, &out, out.layout());
        out
    }

    fn cat(&self, parts: &[&Tensor], dim: usize, shape: Shape) -> Tensor {
        let out_layout = Layout::contiguous(shape.clone());
        let out = empty(self, parts[0].device(), shape, parts[0].dtype());
        let mut start = 0;
        for t in parts {
            copy_into(self, t, &out, &out_layout.narrow(dim, start, t.dims()[dim]));
            start += t.dims()[dim];
        }
        out
    }

    fn sync(&self) -> Result<()> {
        GpuDevice::sync(self)
    }

    fn sync_async(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(GpuDevice::sync_async(self))
    }

    fn record_error(&self, e: Error) {
        GpuDevice::record_error(self, e);
    }

    fn stats(&self) -> DeviceStats {
        GpuDevice::stats(self)
    }

    fn supports_f16(&self) -> bool {
        self.ctx.has_f16
    }

    fn map(&self, op: Map, inputs: &[&Tensor], shape: &Shape, out_dtype: DType) -> Tensor {
        let (expr, (scalar_dtype, scalar)) = map_expr(op, inputs[0].dtype(), out_dtype);
        let operands: Vec<Operand> = inputs.iter().map(|t| operand(t)).collect();
        let m = ew::Map { expr: &expr, inputs: &operands, scalar_dtype, scalar };
        tensor(ew::map(self, &m, shape, out_dtype), shape.clone(), out_dtype, inputs[0].device())
    }

    fn reduce(&self, x: &Tensor, op: ReduceOp, dims: &[usize], shape: Shape) -> Tensor {
        let size = x.dtype().size_in_bytes();
        if touched_bytes(x) as u64 > self.max_binding_bytes() {
            let keepdim = shape.rank() == x.rank();
            return x.reduce_in_parts(op, dims, keepdim, self.max_binding_bytes() as usize / 2 / size);
        }
        let out_dtype = kernels::reduce::output_dtype(op, x.dtype());
        tensor(kernels::reduce::reduce(self, op, operand(x), dims), shape, out_dtype, x.device())
    }

    fn matmul(&self, a: &Tensor, b: &Tensor) -> Tensor {
        matmul_in_parts(self, a, b, self.max_binding_bytes() as usize)
    }

    fn softmax(&self, x: &Tensor, dim: usize, log: bool) -> Tensor {
        let buffer = kernels::softmax::softmax(self, operand(x), dim, log);
        tensor(buffer, x.shape().clone(), x.dtype(), x.device())
    }

    /// One kernel where `y` is contiguous from offset 0 and fits one binding.
    fn softmax_backward(&self, y: &Tensor, g: &Tensor, dim: usize, log: bool) -> Option<Tensor> {
        let fits = (y.numel() * y.dtype().size_in_bytes()) as u64 <= self.max_binding_bytes();
        if !(fits && y.layout().is_contiguous() && y.layout().offset() == 0) {
            return None;
        }
        let g = g.contiguous();
        if g.layout().offset() != 0 {
            return None;
        }
        let dx = kernels::softmax::softmax_backward(self, buffer(y), buffer(&g), y.dims(), y.dtype(), dim, log);
        Some(tensor(dx, y.shape().clone(), y.dtype(), y.device()))
    }

    fn gather(&self, x: &Tensor, dim: usize, ids: &Tensor, op: &'static str) -> Tensor {
        let b = kernels::gather::gather(self, operand(x), dim, operand(ids), op);
        tensor(b, ids.shape().clone(), x.dtype(), x.device())
    }

    fn gather_backward(&self, g: &Tensor, dim: usize, ids: &Tensor, x_shape: &[usize]) -> Tensor {
        let b = kernels::gather::gather_backward(self, operand(g), dim, operand(ids), x_shape);
        tensor(b, x_shape.to_vec(), g.dtype(), g.device())
    }

    fn index_add_rows(&self, src: &Tensor, ids: &Tensor, rows: usize) -> Tensor {
        let b = kernels::index_add::index_add_rows(self, operand(src), operand(ids), rows);
        tensor(b, [rows, src.dims()[1]], src.dtype(), src.device())
    }

    /// f16 sorts as f32 (the same order).
    fn argsort_rows(&self, x: &Tensor, descending: bool) -> Tensor {
        let x = if x.dtype() == DType::F16 { x.cast(DType::F32) } else { x.clone() };
        let n = x.dims()[x.rank() - 1];
        let rows = x.numel().checked_div(n).unwrap_or(0);
        let (ids, p) = kernels::sort::argsort_rows(self, view(&x), x.dtype(), rows, n, descending);
        let padded = tensor(ids, [rows, p], DType::U32, x.device());
        padded.narrow(1, 0, n).contiguous().reshape(x.shape().clone())
    }

    /// f16 accumulates in f32 (the result is f32).
    fn cumsum_rows(&self, x: &Tensor, reverse: bool) -> Tensor {
        let x = if x.dtype() == DType::F16 { x.cast(DType::F32) } else { x.clone() };
        let n = x.dims()[x.rank() - 1];
        let rows = x.numel().checked_div(n).unwrap_or(0);
        let out = kernels::scan::cumsum_rows(self, view(&x), x.dtype(), rows, n, reverse);
        tensor(out, x.shape().clone(), x.dtype(), x.device())
    }

    /// One launch per few tensors (a multi-tensor apply), the new values of each launch's
    /// tensors sharing one buffer.
    fn adam_step(&self, items: &[[Tensor; 3]], h: &AdamStep) -> Vec<AdamUpdate> {
        let rows = if h.amsgrad { 3 } else { 2 };
        let mut updates = Vec::with_capacity(items.len());
        for chunk in items.chunks(kernels::optim::max_tensors(self)) {
            let tensors: Vec<_> = chunk
                .iter()
                .map(|[p, g, s]| kernels::optim::AdamTensor { n: p.numel(), p: view(p), g: view(g), state: view(s) })
                .collect();
            let (buffer, offsets) = kernels::optim::adam_step(self, &tensors, h);
            let total: usize = tensors.iter().map(|t| (rows + 1) * t.n).sum();
            let all = tensor(buffer, [total], DType::F32, chunk[0][0].device());
            for ([p, ..], offset) in chunk.iter().zip(offsets) {
                let n = p.numel();
                updates.push(AdamUpdate::split(&all.narrow(0, offset, (rows + 1) * n).reshape([rows + 1, n]), p, rows));
            }
        }
        updates
    }

    fn lstm_cell(&self, gates: &Tensor, c_prev: &Tensor) -> Tensor {
        let (batch, hidden) = (c_prev.dims()[0], c_prev.dims()[1]);
        let b = kernels::rnn::lstm_cell(self, DType::F32, view(gates), view(c_prev), batch, hidden);
        tensor(b, [2, batch, hidden], DType::F32, gates.device())
    }

    fn lstm_cell_backward(&self, gates: &Tensor, c_prev: &Tensor, dhc: &Tensor) -> (Tensor, Tensor) {
        let (batch, hidden) = (c_prev.dims()[0], c_prev.dims()[1]);
        let (dg, dc) =
            kernels::rnn::lstm_cell_backward(self, DType::F32, view(gates), view(c_prev), view(dhc), batch, hidden);
        let dev = gates.device();
        (tensor(dg, [batch, 4 * hidden], DType::F32, dev), tensor(dc, [batch, hidden], DType::F32, dev))
    }

    /// None: the layer runs step by step, one fused cell kernel per step.
    fn lstm_sequence(&self, _xw: &Tensor, _h0: &Tensor, _c0: &Tensor, _w_hh_t: &Tensor) -> Option<(Tensor, Tensor)> {
        None
    }

    fn gru_cell(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor) -> Tensor {
        let (batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1]);
        let b = kernels::rnn::gru_cell(self, DType::F32, view(xw), view(hw), view(h_prev), batch, hidden);
        tensor(b, [batch, hidden], DType::F32, xw.device())
    }

    fn gru_cell_backward(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor, dh: &Tensor) -> (Tensor, Tensor, Tensor) {
        let (batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1]);
        let (a, b, c) = kernels::rnn::gru_cell_backward(
            self,
            DType::F32,
            view(xw),
            view(hw),
            view(h_prev),
            view(dh),
            batch,
            hidden,
        );
        let t = |buf, shape: [usize; 2]| tensor(buf, shape, DType::F32, xw.device());
        (t(a, [batch, 3 * hidden]), t(b, [batch, 3 * hidden]), t(c, [batch, hidden]))
    }

    /// Halves the batch until every operand fits one binding.
    fn conv2d(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>, d: &Conv2dDims) -> Tensor {
        let shape = d.output_shape();
        if d.n > 1 && too_large(self, &[x, w], shape.iter().product()) {
            let half = d.n / 2;
            let parts: Vec<Tensor> = [(0, half), (half, d.n - half)]
                .into_iter()
                .map(|(s, len)| self.conv2d(&x.narrow(0, s, len), w, b, &Conv2dDims { n: len, ..*d }))
                .collect();
            return Tensor::cat(&[&parts[0], &parts[1]], 0);
        }
        let b = b.map(Tensor::contiguous);
        let buffer = kernels::conv::conv2d(self, operand(x), operand(w), b.as_ref().map(operand), d);
        tensor(buffer, shape, DType::F32, x.device())
    }

    fn conv2d_grad_input(&self, g: &Tensor, w: &Tensor, d: &Conv2dDims) -> Tensor {
        let shape = d.input_shape();
        if d.n > 1 && too_large(self, &[g, w], shape.iter().product()) {
            let half = d.n / 2;
            let parts: Vec<Tensor> = [(0, half), (half, d.n - half)]
                .into_iter()
                .map(|(s, len)| self.conv2d_grad_input(&g.narrow(0, s, len), w, &Conv2dDims { n: len, ..*d }))
                .collect();
            return Tensor::cat(&[&parts[0], &parts[1]], 0);
        }
        let buffer = kernels::conv::conv2d_grad_input(self, operand(g), operand(w), d);
        tensor(buffer, shape, DType::F32, g.device())
    }

    fn conv2d_grad_weight(&self, g: &Tensor, x: &Tensor, d: &Conv2dDims) -> Tensor {
        if d.n > 1 && too_large(self, &[g, x], 0) {
            let half = d.n / 2;
            let part = |s: usize, len: usize| {
                self.conv2d_grad_weight(&g.narrow(0, s, len), &x.narrow(0, s, len), &Conv2dDims { n: len, ..*d })
            };
            return part(0, half).add(&part(half, d.n - half));
        }
        let buffer = kernels::conv_grad_weight::conv2d_grad_weight(self, operand(g), operand(x), d);
        tensor(buffer, d.weight_shape(), DType::F32, g.device())
    }

    fn max_pool2d(&self, x: &Tensor, p: Pool2d, shape: Vec<usize>) -> (Tensor, Tensor) {
        let planes = Planes::of(x.dims(), &shape);
        let (buf, off) = view(x);
        let shapes = [(&shape[..], DType::F32), (&shape[..], DType::U32)];
        let mut out = pool_in_parts(self, x.device(), planes, &shapes, |first, part| {
            let (v, i) = gpu_pool::pool2d(self, (buf, off + first * planes.sizes()[0]), part, Pooling::Max(p));
            vec![v, i.expect("max pooling returns indices")]
        });
        let indices = out.pop().expect("indices");
        (out.pop().expect("values"), indices)
    }

    fn max_pool2d_backward(&self, g: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
        let planes = Planes::of(input_shape, g.dims());
        let plane_out = planes.sizes()[1];
        let ((gb, go), (ib, io)) = (view(g), view(indices));
        let shapes = [(input_shape, DType::F32)];
        let mut out = pool_in_parts(self, g.device(), planes, &shapes, |first, part| {
            let (gv, iv) = ((gb, go + first * plane_out), (ib, io + first * plane_out));
            vec![gpu_pool::max_pool2d_backward(self, gv, iv, part)]
        });
        out.pop().expect("dx")
    }

    fn avg_pool2d(&self, x: &Tensor, pooling: Pooling, shape: Vec<usize>) -> Tensor {
        let planes = Planes::of(x.dims(), &shape);
        let (buf, off) = view(x);
        let shapes = [(&shape[..], DType::F32)];
        let mut out = pool_in_parts(self, x.device(), planes, &shapes, |first, part| {
            vec![gpu_pool::pool2d(self, (buf, off + first * planes.sizes()[0]), part, pooling).0]
        });
        out.pop().expect("values")
    }

    fn avg_pool2d_backward(&self, g: &Tensor, pooling: Pooling, input_shape: &[usize]) -> Tensor {
        let planes = Planes::of(input_shape, g.dims());
        let (buf, off) = view(g);
        let shapes = [(input_shape, DType::F32)];
        let mut out = pool_in_parts(self, g.device(), planes, &shapes, |first, part| {
            vec![gpu_pool::avg_pool2d_backward(self, (buf, off + first * planes.sizes()[1]), part, pooling)]
        });
        out.pop().expect("dx")
    }

    /// FlashAttention-style kernels for f32 with a head dim up to `MAX_HEAD_DIM`: the
    /// forward saves each row's logsumexp, the backward is two kernels (dQ per query row;
    /// dK and dV per key row), and no [Lq, Lk] matrix is formed on either pass. The kernels
    /// bind every operand whole, so each must fit one binding.
    fn attention(&self, call: &Attention) -> Option<(Tensor, GradFn)> {
        let Attention { q, k, v, mask, causal, scale } = *call;
        let [b, h, lq, e] = [0, 1, 2, 3].map(|d| q.dims()[d]);
        let lk = k.dims()[2];
        let fits = |t: &Tensor| (t.numel() * 4) as u64 <= self.max_binding_bytes();
        let mask_fits = match mask {
            AttentionMask::Keep(m) | AttentionMask::Additive(m) => fits(m),
            AttentionMask::None => true,
        };
        if e > MAX_HEAD_DIM || q.dtype() != DType::F32 || lk == 0 || !fits(q) || !fits(k) || !mask_fits {
            return None;
        }
        let mask = match mask {
            AttentionMask::Keep(m) => Some((m.cast(DType::U32), MaskKind::Keep)),
            AttentionMask::Additive(m) => Some((m.detach().cast(DType::F32), MaskKind::Additive)),
            AttentionMask::None => None,
        };
        let mask = mask.map(|(m, kind)| (m.broadcast_to([b, h, lq, lk]), kind));
        let (q, k, v) = (q.contiguous(), k.contiguous(), v.contiguous());
        let scale = scale as f32;
        let (out, stats) = kernels::attention::attention(
            self,
            operand(&q),
            operand(&k),
            operand(&v),
            mask_operand(&mask),
            causal,
            scale,
        );
        let out = tensor(out, [b, h, lq, e], DType::F32, q.device());
        let stats = tensor(stats, [b, h, lq, 2], DType::F32, q.device());
        let (q, k, v, saved_out, gpu) = (q.detach(), k.detach(), v.detach(), out.detach(), self.clone());
        let backward: GradFn = Box::new(move |d_out| {
            let d_out = d_out.contiguous();
            let saved = kernels::attention_backward::AttentionSaved {
                q: operand(&q),
                k: operand(&k),
                v: operand(&v),
                out: buffer(&saved_out),
                stats: buffer(&stats),
                mask: mask_operand(&mask),
                causal,
                scale,
            };
            let [dq, dk, dv] = kernels::attention_backward::attention_backward(&gpu, &saved, operand(&d_out));
            let dev = d_out.device();
            vec![
                Some(tensor(dq, [b, h, lq, e], DType::F32, dev)),
                Some(tensor(dk, [b, h, lk, e], DType::F32, dev)),
                Some(tensor(dv, [b, h, lk, e], DType::F32, dev)),
            ]
        });
        Some((out, backward))
    }

    /// One kernel forward (rows up to `MAX_ROW` elements, one invocation per row, mean and
    /// 1/std saved), one for the input gradient plus two column sums backward.
    fn layer_norm(&self, call: &LayerNorm) -> Option<(Tensor, Option<GradFn>)> {
        let LayerNorm { x, d, weight: w, bias: b, eps, .. } = *call;
        use kernels::layer_norm as kernel;
        let f32s = [Some(x), w, b].iter().flatten().all(|t| t.dtype() == DType::F32);
        if d == 0 || d > kernel::MAX_ROW || !f32s || (x.numel() * 4) as u64 > self.max_binding_bytes() {
            return None;
        }
        let (rows, dev) = (x.numel() / d, x.device());
        let xc = x.contiguous();
        let wc = w.map_or_else(|| Tensor::ones([d], DType::F32, dev), Tensor::contiguous);
        let bc = b.map_or_else(|| Tensor::zeros([d], DType::F32, dev), Tensor::contiguous);
        let (y, stats) = kernel::layer_norm(self, rows, d, view(&xc), view(&wc), view(&bc), eps as f32);
        let y = tensor(y, x.shape().clone(), DType::F32, dev);
        let stats = tensor(stats, [rows, 2], DType::F32, dev);
        let (has_w, has_b) = (w.is_some(), b.is_some());
        let (xc, wc, gpu) = (xc.detach(), wc.detach(), self.clone());
        let backward: GradFn = Box::new(move |dy| {
            let dy = dy.contiguous();
            let dx = kernel::layer_norm_backward(&gpu, rows, d, view(&xc), view(&wc), view(&dy), buffer(&stats));
            let dx = tensor(dx, xc.shape().clone(), DType::F32, dy.device());
            let dy2 = dy.reshape([rows, d]);
            let mut grads = vec![Some(dx)];
            if has_w {
                let xhat = xc.reshape([rows, d]).sub(&stats.narrow(1, 0, 1)).mul(&stats.narrow(1, 1, 1));
                grads.push(Some(dy2.mul(&xhat).sum(0, false)));
            }
            if has_b {
                grads.push(Some(dy2.sum(0, false)));
            }
            grads
        });
        Some((y, Some(backward)))
    }
}
