//! The CPU reference backend: every op runs a kernel of `wgrad_cpu` on host storage.

use super::{Attention, AttentionMask, Backend, GradFn, HostFuture, LayerNorm, Map};
use crate::device::{record_cpu_error, take_cpu_error};
use crate::ops::{AdamStep, AdamUpdate};
use crate::{Device, DeviceStats, Tensor};
use std::future::Future;
use std::pin::Pin;
use wgrad_core::ops::ReduceOp;
use wgrad_core::params::{Conv2dDims, Planes, Pool2d, Pooling};
use wgrad_core::{DType, Error, Layout, Result, Shape};
use wgrad_cpu::{CpuStorage, MatmulDims};

/// The CPU backend (stateless: tensors own their host storage).
pub(crate) struct Cpu;

/// A CPU tensor's storage.
#[track_caller]
fn host(t: &Tensor) -> &CpuStorage {
    t.storage().cpu()
}

/// The f32 elements of a contiguous CPU tensor, from its offset.
#[track_caller]
fn f32s(t: &Tensor) -> &[f32] {
    let s = host(t).as_slice::<f32>().expect("f32 storage");
    &s[t.layout().offset()..t.layout().offset() + t.numel()]
}

/// The kernels' view of an attention mask [B, H, Lq, Lk] (f32, any strides).
fn score_bias(bias: &Option<Tensor>) -> Option<wgrad_cpu::attention::ScoreBias<'_>> {
    bias.as_ref().map(|b| wgrad_cpu::attention::ScoreBias {
        data: host(b).as_slice::<f32>().expect("f32 mask"),
        layout: b.layout(),
    })
}

/// A new f32 tensor from host values.
fn f32_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> Tensor {
    Tensor::from_cpu(CpuStorage::F32(values), shape)
}

impl Backend for Cpu {
    fn upload(&self, _device: &Device, host: CpuStorage, shape: Shape) -> Tensor {
        Tensor::from_cpu(host, shape)
    }

    fn read(&self, x: &Tensor) -> Result<CpuStorage> {
        take_cpu_error()?;
        Ok(host(x).gather_layout(x.layout()))
    }

    fn read_async(&self, x: &Tensor) -> HostFuture {
        Box::pin(std::future::ready(self.read(x)))
    }

    fn full(&self, _device: &Device, shape: Shape, value: f64, dtype: DType) -> Tensor {
        Tensor::from_cpu(CpuStorage::full(value, shape.numel(), dtype), shape)
    }

    fn keep_mask(&self, _device: &Device, shape: Shape, seed: u32, (threshold, scale): (u32, f32)) -> Tensor {
        f32_tensor(wgrad_cpu::random::keep_mask(seed, shape.numel(), threshold, scale), shape)
    }

    fn copy(&self, x: &Tensor) -> Tensor {
        Tensor::from_cpu(host(x).gather_layout(x.layout()), x.shape().clone())
    }

    fn cat(&self, parts: &[&Tensor], dim: usize, shape: Shape) -> Tensor {
        let out_layout = Layout::contiguous(shape.clone());
        let mut out = CpuStorage::full(0.0, shape.numel(), parts[0].dtype());
        let mut start = 0;
        for t in parts {
            let view = out_layout.narrow(dim, start, t.dims()[dim]);
            wgrad_cpu::copy_into(host(t), t.layout(), &mut out, &view);
            start += t.dims()[dim];
        }
        Tensor::from_cpu(out, shape)
    }

    fn sync(&self) -> Result<()> {
        take_cpu_error()
    }

    fn sync_async(&self) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> {
        Box::pin(std::future::ready(take_cpu_error()))
    }

    fn record_error(&self, e: Error) {
        record_cpu_error(e);
    }

    fn stats(&self) -> DeviceStats {
        DeviceStats::default()
    }

    fn supports_f16(&self) -> bool {
        true
    }

    fn map(&self, op: Map, inputs: &[&Tensor], shape: &Shape, out_dtype: DType) -> Tensor {
        let arg = |i: usize| (host(inputs[i]), inputs[i].layout());
        let ((a, la), b) = (arg(0), || arg(1));
        let out = match op {
            Map::Unary(op, scalar) => wgrad_cpu::unary(op, scalar, a, la),
            Map::UnaryGrad(op, scalar) => {
                let (g, lg) = b();
                wgrad_cpu::unary_grad(op, scalar, a, la, g, lg)
            }
            Map::Binary(op) => {
                let (b, lb) = b();
                wgrad_cpu::binary(op, a, la, b, lb)
            }
            Map::BinaryScalar(op, scalar) => wgrad_cpu::binary_scalar(op, a, la, scalar),
            Map::Compare(op) => {
                let (b, lb) = b();
                wgrad_cpu::cmp(op, a, la, b, lb)
            }
            Map::Where => {
                let ((t, lt), (f, lf)) = (b(), arg(2));
                wgrad_cpu::where_cond(a, la, t, lt, f, lf)
            }
            Map::Cast => wgrad_cpu::cast(a, la, out_dtype),
        };
        Tensor::from_cpu(out, shape.clone())
    }

    fn reduce(&self, x: &Tensor, op: ReduceOp, dims: &[usize], shape: Shape) -> Tensor {
        Tensor::from_cpu(wgrad_cpu::reduce(op, host(x), x.layout(), dims), shape)
    }

    fn matmul(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let (batch, m, k, n) = (a.dims()[0], a.dims()[1], a.dims()[2], b.dims()[2]);
        let s = wgrad_cpu::matmul(host(a), a.layout(), host(b), b.layout(), MatmulDims { batch, m, k, n });
        Tensor::from_cpu(s, [batch, m, n])
    }

    fn softmax(&self, x: &Tensor, dim: usize, log: bool) -> Tensor {
        Tensor::from_cpu(wgrad_cpu::softmax(host(x), x.layout(), dim, log), x.shape().clone())
    }

    fn softmax_backward(&self, _y: &Tensor, _g: &Tensor, _dim: usize, _log: bool) -> Option<Tensor> {
        None // composed from tensor ops: the reference
    }

    fn gather(&self, x: &Tensor, dim: usize, ids: &Tensor, op: &'static str) -> Tensor {
        let shape = ids.shape().clone();
        let out = wgrad_cpu::gather(host(x), x.layout(), dim, host(ids), ids.layout(), op).unwrap_or_else(|e| {
            record_cpu_error(e);
            CpuStorage::full(0.0, shape.numel(), x.dtype())
        });
        Tensor::from_cpu(out, shape)
    }

    fn gather_backward(&self, g: &Tensor, dim: usize, ids: &Tensor, x_shape: &[usize]) -> Tensor {
        let s = wgrad_cpu::gather_backward(host(g), g.layout(), dim, host(ids), ids.layout(), x_shape);
        Tensor::from_cpu(s, x_shape.to_vec())
    }

    fn index_add_rows(&self, src: &Tensor, ids: &Tensor, rows: usize) -> Tensor {
        let shape = [rows, src.dims()[1]];
        let spread = ids.with_layout(Layout::index_select_ids(&shape, 0, ids.layout()));
        self.gather_backward(src, 0, &spread, &shape)
    }

    fn argsort_rows(&self, x: &Tensor, descending: bool) -> Tensor {
        let n = x.dims()[x.rank() - 1];
        let rows = x.numel().checked_div(n).unwrap_or(0);
        let ids = wgrad_cpu::sort::argsort_rows(&host(x).gather_layout(x.layout()), rows, n, descending);
        Tensor::from_cpu(CpuStorage::U32(ids), x.shape().clone())
    }

    fn cumsum_rows(&self, x: &Tensor, reverse: bool) -> Tensor {
        let n = x.dims()[x.rank() - 1];
        let rows = x.numel().checked_div(n).unwrap_or(0);
        let dense = host(x).gather_layout(x.layout());
        Tensor::from_cpu(wgrad_cpu::sort::cumsum_rows(&dense, rows, n, reverse), x.shape().clone())
    }

    fn adam_step(&self, items: &[[Tensor; 3]], h: &AdamStep) -> Vec<AdamUpdate> {
        let t = h.step.max(1) as i32;
        items
            .iter()
            .map(|[p, g, s]| {
                let v = wgrad_cpu::optim::adam_step(
                    f32s(p),
                    f32s(g),
                    f32s(s),
                    h.lr,
                    (h.beta1, h.beta2),
                    h.eps,
                    (h.weight_decay, h.decoupled_weight_decay),
                    (1.0 - h.beta1.powi(t), 1.0 - h.beta2.powi(t)),
                    h.amsgrad,
                );
                let rows = s.dims()[0];
                AdamUpdate::split(&f32_tensor(v, [rows + 1, p.numel()]), p, rows)
            })
            .collect()
    }

    fn lstm_cell(&self, gates: &Tensor, c_prev: &Tensor) -> Tensor {
        let (batch, hidden) = (c_prev.dims()[0], c_prev.dims()[1]);
        f32_tensor(wgrad_cpu::rnn::lstm_cell(f32s(gates), f32s(c_prev), batch, hidden), [2, batch, hidden])
    }

    fn lstm_cell_backward(&self, gates: &Tensor, c_prev: &Tensor, dhc: &Tensor) -> (Tensor, Tensor) {
        let (batch, hidden) = (c_prev.dims()[0], c_prev.dims()[1]);
        let (dg, dc) = wgrad_cpu::rnn::lstm_cell_backward(f32s(gates), f32s(c_prev), f32s(dhc), batch, hidden);
        (f32_tensor(dg, [batch, 4 * hidden]), f32_tensor(dc, [batch, hidden]))
    }

    fn lstm_sequence(&self, xw: &Tensor, h0: &Tensor, c0: &Tensor, w_hh_t: &Tensor) -> Option<(Tensor, Tensor)> {
        let (steps, batch, four_h) = (xw.dims()[0], xw.dims()[1], xw.dims()[2]);
        let hidden = four_h / 4;
        let [xw, h0, c0, w] = [xw, h0, c0, w_hh_t].map(|t| t.contiguous());
        let (hc, gates) =
            wgrad_cpu::rnn::lstm_sequence(f32s(&xw), f32s(&h0), f32s(&c0), f32s(&w), steps, batch, hidden);
        Some((f32_tensor(hc, [steps, 2, batch, hidden]), f32_tensor(gates, [steps, batch, four_h])))
    }

    fn gru_cell(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor) -> Tensor {
        let (batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1]);
        f32_tensor(wgrad_cpu::rnn::gru_cell(f32s(xw), f32s(hw), f32s(h_prev), batch, hidden), [batch, hidden])
    }

    fn gru_cell_backward(&self, xw: &Tensor, hw: &Tensor, h_prev: &Tensor, dh: &Tensor) -> (Tensor, Tensor, Tensor) {
        let (batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1]);
        let (a, b, c) = wgrad_cpu::rnn::gru_cell_backward(f32s(xw), f32s(hw), f32s(h_prev), f32s(dh), batch, hidden);
        (f32_tensor(a, [batch, 3 * hidden]), f32_tensor(b, [batch, 3 * hidden]), f32_tensor(c, [batch, hidden]))
    }

    fn conv2d(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>, d: &Conv2dDims) -> Tensor {
        let (x, w, b) = (x.contiguous(), w.contiguous(), b.map(Tensor::contiguous));
        f32_tensor(wgrad_cpu::conv::conv2d(f32s(&x), f32s(&w), b.as_ref().map(f32s), d), d.output_shape())
    }

    fn conv2d_grad_input(&self, g: &Tensor, w: &Tensor, d: &Conv2dDims) -> Tensor {
        let (g, w) = (g.contiguous(), w.contiguous());
        f32_tensor(wgrad_cpu::conv::conv2d_grad_input(f32s(&g), f32s(&w), d), d.input_shape())
    }

    fn conv2d_grad_weight(&self, g: &Tensor, x: &Tensor, d: &Conv2dDims) -> Tensor {
        let (g, x) = (g.contiguous(), x.contiguous());
        f32_tensor(wgrad_cpu::conv::conv2d_grad_weight(f32s(&g), f32s(&x), d), d.weight_shape())
    }

    fn max_pool2d(&self, x: &Tensor, p: Pool2d, shape: Vec<usize>) -> (Tensor, Tensor) {
        let planes = Planes::of(x.dims(), &shape);
        let (v, i) = wgrad_cpu::pool::max_pool2d(f32s(x), planes.count, planes.hw, &p);
        (f32_tensor(v, shape.clone()), Tensor::from_cpu(CpuStorage::U32(i), shape))
    }

    fn max_pool2d_backward(&self, g: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
        let planes = Planes::of(input_shape, g.dims());
        let ids = host(indices).as_slice::<u32>().expect("u32 indices");
        let ids = &ids[indices.layout().offset()..indices.layout().offset() + indices.numel()];
        f32_tensor(wgrad_cpu::pool::max_pool2d_backward(f32s(g), ids, planes.count, planes.hw), input_shape.to_vec())
    }

    fn avg_pool2d(&self, x: &Tensor, pooling: Pooling, shape: Vec<usize>) -> Tensor {
        let Planes { count, hw, out_hw } = Planes::of(x.dims(), &shape);
        let v = match pooling {
            Pooling::Avg(p, cip) => wgrad_cpu::pool::avg_pool2d(f32s(x), count, hw, &p, cip),
            Pooling::Adaptive => wgrad_cpu::pool::adaptive_avg_pool2d(f32s(x), count, hw, out_hw),
            Pooling::Max(_) => unreachable!("max pooling has its own method"),
        };
        f32_tensor(v, shape)
    }

    fn avg_pool2d_backward(&self, g: &Tensor, pooling: Pooling, input_shape: &[usize]) -> Tensor {
        let Planes { count, hw, out_hw } = Planes::of(input_shape, g.dims());
        let v = match pooling {
            Pooling::Avg(p, cip) => wgrad_cpu::pool::avg_pool2d_backward(f32s(g), count, hw, &p, cip),
            Pooling::Adaptive => wgrad_cpu::pool::adaptive_avg_pool2d_backward(f32s(g), count, hw, out_hw),
            Pooling::Max(_) => unreachable!("max pooling has its own method"),
        };
        f32_tensor(v, input_shape.to_vec())
    }

    /// The fused forward and backward of wgrad_cpu (a block of query rows at a time, no
    /// [B, H, Lq, Lk] tensor); a keep mask becomes an additive 0 / -inf bias.
    fn attention(&self, call: &Attention) -> Option<(Tensor, GradFn)> {
        let Attention { q, k, v, mask, causal, scale } = *call;
        if q.dtype() != DType::F32 {
            return None;
        }
        let [batch, heads, lq, e] = [0, 1, 2, 3].map(|d| q.dims()[d]);
        let lk = k.dims()[2];
        let (q, k, v) = (q.contiguous(), k.contiguous(), v.contiguous());
        let bias = match mask {
            AttentionMask::Keep(keep) => {
                let zero = Tensor::zeros([], DType::F32, q.device());
                let neg_inf = Tensor::full([], f64::NEG_INFINITY, DType::F32, q.device());
                Some(keep.where_cond(&zero, &neg_inf))
            }
            AttentionMask::Additive(add) => Some(add.detach().cast(DType::F32)),
            AttentionMask::None => None,
        }
        .map(|b| b.broadcast_to([batch, heads, lq, lk]));
        let dims = wgrad_cpu::attention::AttentionDims { batch, heads, lq, lk, e };
        let scale = scale as f32;
        let out = wgrad_cpu::attention::attention(f32s(&q), f32s(&k), f32s(&v), dims, score_bias(&bias), causal, scale);
        let backward: GradFn = Box::new(move |d_out| {
            let d_out = d_out.contiguous();
            let grads = wgrad_cpu::attention::attention_backward(
                f32s(&q),
                f32s(&k),
                f32s(&v),
                f32s(&d_out),
                dims,
                score_bias(&bias),
                causal,
                scale,
            );
            let [dq, dk, dv] = grads;
            vec![
                Some(f32_tensor(dq, [batch, heads, lq, e])),
                Some(f32_tensor(dk, [batch, heads, lk, e])),
                Some(f32_tensor(dv, [batch, heads, lk, e])),
            ]
        });
        Some((f32_tensor(out, [batch, heads, lq, e]), backward))
    }

    /// One pass per row (wgrad_cpu::norm), bit for bit the composed version, where
    /// nothing needs a gradient (inference, evaluation); composed otherwise.
    fn layer_norm(&self, call: &LayerNorm) -> Option<(Tensor, Option<GradFn>)> {
        let LayerNorm { x, d, weight: w, bias: b, eps, needs_grad } = *call;
        if needs_grad {
            return None;
        }
        let (xc, w, b) = (x.contiguous(), w.map(Tensor::contiguous), b.map(Tensor::contiguous));
        let y = wgrad_cpu::norm::layer_norm(f32s(&xc), d, w.as_ref().map(f32s), b.as_ref().map(f32s), eps as f32);
        Some((f32_tensor(y, x.shape().clone()), None))
    }
}
