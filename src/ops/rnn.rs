//! Fused recurrent cells as tensor ops (forward and backward kernels on both devices).

use super::same_device;
use crate::storage::Storage;
use crate::Tensor;
use wgrad_core::DType;

impl Tensor {
    /// One fused LSTM step. `self` holds the pre-activation gates [B, 4H] (order i, f, g,
    /// o: `x_t W_ih^T + b_ih + h W_hh^T + b_hh`), `c_prev` is [B, H]. Returns `hc` [2, B, H]:
    /// h_t then c_t (take them with `narrow(0, ..)`), one kernel for all gates and both states.
    #[track_caller]
    pub fn lstm_cell(&self, c_prev: &Tensor) -> Tensor {
        same_device("lstm_cell", &[self, c_prev]);
        let (batch, four_h) = (self.dims()[0], self.dims()[1]);
        let hidden = four_h / 4;
        assert!(
            self.rank() == 2 && four_h == 4 * hidden && c_prev.dims() == [batch, hidden],
            "lstm_cell: expected gates [B, 4H] and c_prev [B, H], got {} and {}",
            self.shape(),
            c_prev.shape()
        );
        assert!(self.dtype() == DType::F32 && c_prev.dtype() == DType::F32, "lstm_cell: f32 tensors expected");
        let (gates, c_prev) = (self.contiguous(), c_prev.contiguous());
        let hc = match (gates.storage(), c_prev.storage()) {
            (Storage::Cpu(_), Storage::Cpu(_)) => {
                let v = wgrad_cpu::rnn::lstm_cell(gates.host_f32(), c_prev.host_f32(), batch, hidden);
                Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(v), [2, batch, hidden])
            }
            (Storage::Gpu(g), Storage::Gpu(c)) => {
                let gpu = self.device().gpu_runtime().expect("gpu device");
                let b = wgrad_gpu::kernels::rnn::lstm_cell(
                    gpu,
                    DType::F32,
                    (g, gates.offset()),
                    (c, c_prev.offset()),
                    batch,
                    hidden,
                );
                Tensor::from_gpu(b, [2, batch, hidden], DType::F32, self.device())
            }
            _ => unreachable!("checked by same_device"),
        };
        let (saved_gates, saved_c) = (gates.detach(), c_prev.detach());
        hc.record("lstm_cell", &[&gates, &c_prev], move |dhc| {
            let (dg, dc) = lstm_cell_backward(&saved_gates, &saved_c, dhc);
            vec![Some(dg), Some(dc)]
        })
    }

    /// One fused GRU step (gate order r, z, n). `self` is the input projection `xw`
    /// [B, 3H] (`x_t W_ih^T + b_ih`), `hw` the hidden projection `h W_hh^T + b_hh`, `h_prev`
    /// [B, H]. Returns h_t [B, H].
    #[track_caller]
    pub fn gru_cell(&self, hw: &Tensor, h_prev: &Tensor) -> Tensor {
        same_device("gru_cell", &[self, hw, h_prev]);
        let (batch, three_h) = (self.dims()[0], self.dims()[1]);
        let hidden = three_h / 3;
        assert!(
            self.rank() == 2 && three_h == 3 * hidden && hw.dims() == self.dims() && h_prev.dims() == [batch, hidden],
            "gru_cell: expected xw and hw [B, 3H] and h_prev [B, H], got {}, {} and {}",
            self.shape(),
            hw.shape(),
            h_prev.shape()
        );
        let (xw, hw, hp) = (self.contiguous(), hw.contiguous(), h_prev.contiguous());
        let dev = self.device().clone();
        let h = match dev.gpu_runtime() {
            None => {
                let v = wgrad_cpu::rnn::gru_cell(xw.host_f32(), hw.host_f32(), hp.host_f32(), batch, hidden);
                Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(v), [batch, hidden])
            }
            Some(gpu) => {
                let b =
                    wgrad_gpu::kernels::rnn::gru_cell(gpu, DType::F32, xw.view(), hw.view(), hp.view(), batch, hidden);
                Tensor::from_gpu(b, [batch, hidden], DType::F32, &dev)
            }
        };
        let (sx, sh, sp) = (xw.detach(), hw.detach(), hp.detach());
        h.record("gru_cell", &[&xw, &hw, &hp], move |dh| {
            let (dxw, dhw, dhp) = gru_cell_backward(&sx, &sh, &sp, dh);
            vec![Some(dxw), Some(dhw), Some(dhp)]
        })
    }

    /// A contiguous GPU tensor as (buffer, element offset) for kernels taking views.
    #[track_caller]
    fn view(&self) -> (&wgrad_gpu::PooledBuffer, usize) {
        match self.storage() {
            Storage::Gpu(b) => (b, self.offset()),
            Storage::Cpu(_) => unreachable!("view() of a CPU tensor"),
        }
    }

    /// Element offset of this view in its storage.
    #[track_caller]
    pub(crate) fn offset(&self) -> usize {
        self.layout().offset()
    }

    /// The f32 elements of a contiguous CPU tensor, from its offset.
    #[track_caller]
    pub(crate) fn host_f32(&self) -> &[f32] {
        let s = self.cpu_storage().as_slice::<f32>().expect("f32 storage");
        &s[self.layout().offset()..self.layout().offset() + self.numel()]
    }
}

/// A whole LSTM layer's forward on the CPU (wgrad_cpu::rnn::lstm_sequence), not recorded:
/// from `xw` [T, B, 4H], `h0`, `c0` [B, H] and `w_hh_t` [H, 4H], returns (`hc` [T, 2, B, H],
/// `gates` [T, B, 4H]).
#[track_caller]
pub(crate) fn lstm_sequence_cpu(xw: &Tensor, h0: &Tensor, c0: &Tensor, w_hh_t: &Tensor) -> (Tensor, Tensor) {
    let (steps, batch, four_h) = (xw.dims()[0], xw.dims()[1], xw.dims()[2]);
    let hidden = four_h / 4;
    let [xw, h0, c0, w] = [xw, h0, c0, w_hh_t].map(|t| t.contiguous());
    let (hc, gates) =
        wgrad_cpu::rnn::lstm_sequence(xw.host_f32(), h0.host_f32(), c0.host_f32(), w.host_f32(), steps, batch, hidden);
    (
        Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(hc), [steps, 2, batch, hidden]),
        Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(gates), [steps, batch, four_h]),
    )
}

/// The fused LSTM cell's backward: from the step's gates [B, 4H], `c_prev` [B, H] and the
/// gradient of its output `dhc` [2, B, H] (h then c), the gradients of the gates and of
/// `c_prev`. One kernel on either device.
#[track_caller]
pub(crate) fn lstm_cell_backward(gates: &Tensor, c_prev: &Tensor, dhc: &Tensor) -> (Tensor, Tensor) {
    let (batch, hidden) = (c_prev.dims()[0], c_prev.dims()[1]);
    let (gates, c_prev, dhc) = (gates.contiguous(), c_prev.contiguous(), dhc.contiguous());
    match (gates.storage(), c_prev.storage(), dhc.storage()) {
        (Storage::Cpu(_), Storage::Cpu(_), Storage::Cpu(_)) => {
            let (dg, dc) =
                wgrad_cpu::rnn::lstm_cell_backward(gates.host_f32(), c_prev.host_f32(), dhc.host_f32(), batch, hidden);
            (
                Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(dg), [batch, 4 * hidden]),
                Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(dc), [batch, hidden]),
            )
        }
        (Storage::Gpu(g), Storage::Gpu(c), Storage::Gpu(d)) => {
            let dev = gates.device();
            let gpu = dev.gpu_runtime().expect("gpu device");
            let (dg, dc) = wgrad_gpu::kernels::rnn::lstm_cell_backward(
                gpu,
                DType::F32,
                (g, gates.offset()),
                (c, c_prev.offset()),
                (d, dhc.offset()),
                batch,
                hidden,
            );
            (
                Tensor::from_gpu(dg, [batch, 4 * hidden], DType::F32, dev),
                Tensor::from_gpu(dc, [batch, hidden], DType::F32, dev),
            )
        }
        _ => panic!("lstm_cell_backward: tensors on different devices"),
    }
}

/// The fused GRU cell's backward: from the step's `xw` and `hw` [B, 3H], `h_prev` [B, H]
/// and the output's gradient `dh` [B, H], the gradients of `xw`, `hw` and `h_prev`.
#[track_caller]
pub(crate) fn gru_cell_backward(xw: &Tensor, hw: &Tensor, h_prev: &Tensor, dh: &Tensor) -> (Tensor, Tensor, Tensor) {
    let (batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1]);
    let (xw, hw, h_prev, dh) = (xw.contiguous(), hw.contiguous(), h_prev.contiguous(), dh.contiguous());
    let dev = xw.device().clone();
    let shape3 = [batch, 3 * hidden];
    match dev.gpu_runtime() {
        None => {
            let (a, b, c) = wgrad_cpu::rnn::gru_cell_backward(
                xw.host_f32(),
                hw.host_f32(),
                h_prev.host_f32(),
                dh.host_f32(),
                batch,
                hidden,
            );
            let t = |v: Vec<f32>, shape: &[usize]| Tensor::from_cpu(wgrad_cpu::CpuStorage::F32(v), shape.to_vec());
            (t(a, &shape3), t(b, &shape3), t(c, &[batch, hidden]))
        }
        Some(gpu) => {
            let (a, b, c) = wgrad_gpu::kernels::rnn::gru_cell_backward(
                gpu,
                DType::F32,
                xw.view(),
                hw.view(),
                h_prev.view(),
                dh.view(),
                batch,
                hidden,
            );
            let t = |buf, shape: &[usize]| Tensor::from_gpu(buf, shape.to_vec(), DType::F32, &dev);
            (t(a, &shape3), t(b, &shape3), t(c, &[batch, hidden]))
        }
    }
}
