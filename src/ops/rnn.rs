//! Fused recurrent cells as tensor ops (forward and backward kernels on both devices).

use super::same_device;
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
        let hc = self.backend().lstm_cell(&gates, &c_prev);
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
        let h = self.backend().gru_cell(&xw, &hw, &hp);
        let (sx, sh, sp) = (xw.detach(), hw.detach(), hp.detach());
        h.record("gru_cell", &[&xw, &hw, &hp], move |dh| {
            let (dxw, dhw, dhp) = gru_cell_backward(&sx, &sh, &sp, dh);
            vec![Some(dxw), Some(dhw), Some(dhp)]
        })
    }
}

/// The fused LSTM cell's backward: from the step's gates [B, 4H], `c_prev` [B, H] and the
/// gradient of its output `dhc` [2, B, H] (h then c), the gradients of the gates and of
/// `c_prev`. One kernel on either device.
#[track_caller]
pub(crate) fn lstm_cell_backward(gates: &Tensor, c_prev: &Tensor, dhc: &Tensor) -> (Tensor, Tensor) {
    let (gates, c_prev, dhc) = (gates.contiguous(), c_prev.contiguous(), dhc.contiguous());
    gates.backend().lstm_cell_backward(&gates, &c_prev, &dhc)
}

/// The fused GRU cell's backward: from the step's `xw` and `hw` [B, 3H], `h_prev` [B, H]
/// and the output's gradient `dh` [B, H], the gradients of `xw`, `hw` and `h_prev`.
#[track_caller]
pub(crate) fn gru_cell_backward(xw: &Tensor, hw: &Tensor, h_prev: &Tensor, dh: &Tensor) -> (Tensor, Tensor, Tensor) {
    let (xw, hw, h_prev, dh) = (xw.contiguous(), hw.contiguous(), h_prev.contiguous(), dh.contiguous());
    xw.backend().gru_cell_backward(&xw, &hw, &h_prev, &dh)
}
