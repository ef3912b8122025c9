//! Recurrent layers over whole sequences (torch's `_VF.lstm` / `gru` / `rnn_tanh`),
//! time-major: x [T, B, I], states [layers, B, H].
//!
//! Every layer projects the inputs of all T steps with one matmul up front; each step
//! then costs one recurrent matmul plus the cell. The LSTM and GRU cells are one fused
//! kernel each (forward and backward); the tanh RNN's cell is a single add + tanh.
//! A layer's whole sequence is one autograd node (rnn_sequence.rs) whose backward runs
//! through time with one fused cell-backward kernel per step and computes the recurrent
//! weights' gradients as one matmul after the loop. Nothing reads back to the host, so a
//! whole sequence, forward or backward, is recorded as one batch of dispatches.

#[path = "rnn_sequence.rs"]
mod sequence;

use crate::{DType, Tensor};

/// One layer's weights, PyTorch layout: `w_ih` [G*H, I], `w_hh` [G*H, H], biases
/// `[G*H]`, with G gates (LSTM 4: i, f, g, o; GRU 3: r, z, n; RNN 1). Tensors here;
/// `nn::RnnLayer` is the same with parameters.
#[derive(Clone, Debug)]
pub struct RnnWeights<T = Tensor> {
    /// Input-to-hidden weights.
    pub w_ih: T,
    /// Hidden-to-hidden weights.
    pub w_hh: T,
    /// Input-to-hidden bias, if any.
    pub b_ih: Option<T>,
    /// Hidden-to-hidden bias, if any.
    pub b_hh: Option<T>,
}

impl<T> RnnWeights<T> {
    /// `f` of each weight and bias.
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> RnnWeights<U> {
        RnnWeights {
            w_ih: f(&self.w_ih),
            w_hh: f(&self.w_hh),
            b_ih: self.b_ih.as_ref().map(&f),
            b_hh: self.b_hh.as_ref().map(&f),
        }
    }
}

impl RnnWeights {
    /// The same weights on `device` (tensors already there are shared, not copied).
    #[track_caller]
    pub fn to(&self, device: &crate::Device) -> RnnWeights {
        self.map(|t| if t.device() == device { t.clone() } else { t.to_device(device) })
    }

    #[track_caller]
    fn hidden(&self, gates: usize, name: &str) -> usize {
        let rows = self.w_ih.dims()[0];
        assert!(
            rows.is_multiple_of(gates) && self.w_hh.dims() == [rows, rows / gates],
            "{name}: weights w_ih {} and w_hh {} do not fit {gates} gates",
            self.w_ih.shape(),
            self.w_hh.shape()
        );
        rows / gates
    }

    /// Input projection of every step at once: [T, B, G*H] = x W_ih^T + b_ih (+ b_hh when
    /// `fold_hh_bias`, for cells that add it to the same sum).
    #[track_caller]
    fn project_inputs(&self, x: &Tensor, fold_hh_bias: bool) -> Tensor {
        let (t, b, i) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let mut xw = x.reshape([t * b, i]).matmul(&self.w_ih.t());
        if let Some(bias) = &self.b_ih {
            xw = xw.add(bias);
        }
        if let (true, Some(bias)) = (fold_hh_bias, &self.b_hh) {
            xw = xw.add(bias);
        }
        xw.reshape([t, b, self.w_ih.dims()[0]])
    }
}

#[track_caller]
fn check_input(x: &Tensor, layers: &[RnnWeights], name: &str) {
    assert!(x.rank() == 3, "{name}: expected time-major input [T, B, I], got {}", x.shape());
    assert!(x.dims()[0] > 0, "{name}: expected at least one time step, got {}", x.shape());
    assert!(!layers.is_empty(), "{name}: expected at least one layer");
    assert_eq!(layers[0].w_ih.dims()[1], x.dims()[2], "{name}: input size differs from w_ih's columns");
}

/// The initial state of layer `l` ([B, H]): from `state` [layers, B, H] or zeros.
#[track_caller]
fn initial(state: Option<&Tensor>, l: usize, batch: usize, hidden: usize, x: &Tensor) -> Tensor {
    match state {
        Some(s) => s.narrow(0, l, 1).squeeze(0),
        None => Tensor::zeros([batch, hidden], DType::F32, x.device()),
    }
}

/// Multi-layer LSTM. Returns (out [T, B, H] of the last layer, (h_n, c_n) [layers, B, H]).
#[track_caller]
pub fn lstm(x: &Tensor, state: Option<(&Tensor, &Tensor)>, layers: &[RnnWeights]) -> (Tensor, (Tensor, Tensor)) {
    check_input(x, layers, "lstm");
    let (steps, batch) = (x.dims()[0], x.dims()[1]);
    let (mut input, mut h_n, mut c_n) = (x.clone(), Vec::new(), Vec::new());
    for (l, w) in layers.iter().enumerate() {
        let hidden = w.hidden(4, "lstm");
        let h0 = initial(state.map(|s| s.0), l, batch, hidden, x);
        let c0 = initial(state.map(|s| s.1), l, batch, hidden, x);
        let hc = sequence::lstm_layer(&w.project_inputs(&input, true), &h0, &c0, &w.w_hh);
        let last = hc.narrow(0, steps - 1, 1).squeeze(0);
        input = hc.narrow(1, 0, 1).squeeze(1);
        h_n.push(last.narrow(0, 0, 1).squeeze(0));
        c_n.push(last.narrow(0, 1, 1).squeeze(0));
    }
    let stack = |v: &Vec<Tensor>| Tensor::stack(&v.iter().collect::<Vec<_>>(), 0);
    (input, (stack(&h_n), stack(&c_n)))
}

/// Multi-layer GRU (PyTorch's formulation: r applies to `W_hn h + b_hn`).
/// Returns (out [T, B, H], h_n [layers, B, H]).
#[track_caller]
pub fn gru(x: &Tensor, h0: Option<&Tensor>, layers: &[RnnWeights]) -> (Tensor, Tensor) {
    stacked(x, h0, layers, ("gru", 3), |input, h, w| {
        sequence::gru_layer(&w.project_inputs(input, false), h, &w.w_hh, w.b_hh.as_ref())
    })
}

/// Multi-layer Elman RNN with tanh. Returns (out [T, B, H], h_n [layers, B, H]).
#[track_caller]
pub fn rnn_tanh(x: &Tensor, h0: Option<&Tensor>, layers: &[RnnWeights]) -> (Tensor, Tensor) {
    stacked(x, h0, layers, ("rnn_tanh", 1), |input, h, w| {
        sequence::tanh_layer(&w.project_inputs(input, true), h, &w.w_hh)
    })
}

/// The layers of a one-state RNN (`op` with `gates` gates): each runs `layer` (input
/// sequence, initial state, weights) over the previous one's outputs. Returns the last
/// layer's outputs and every layer's final state.
#[track_caller]
fn stacked(
    x: &Tensor,
    h0: Option<&Tensor>,
    layers: &[RnnWeights],
    (op, gates): (&'static str, usize),
    layer: impl Fn(&Tensor, &Tensor, &RnnWeights) -> Tensor,
) -> (Tensor, Tensor) {
    check_input(x, layers, op);
    let (steps, batch) = (x.dims()[0], x.dims()[1]);
    let (mut input, mut h_n) = (x.clone(), Vec::new());
    for (l, w) in layers.iter().enumerate() {
        let h = initial(h0, l, batch, w.hidden(gates, op), x);
        input = layer(&input, &h, w);
        h_n.push(input.narrow(0, steps - 1, 1).squeeze(0));
    }
    (input, Tensor::stack(&h_n.iter().collect::<Vec<_>>(), 0))
}
