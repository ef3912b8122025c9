//! One recurrent layer over a whole sequence as ONE autograd node.
//!
//! The forward pass runs the steps without recording them; the node's backward runs
//! back through time itself: per step one fused cell-backward kernel, one matmul for the
//! gradient reaching the previous hidden state, and an add; after the loop the recurrent
//! weights' gradient is a single [G*H, T*B] x [T*B, H] matmul. (Recording each step as its
//! own ops would instead give every step a full-size [T, B, G*H] gradient of its slice of
//! the input projection to accumulate, O(T^2) work, and a weight-gradient matmul per step.)
//!
//! Inputs: `xw` [T, B, G*H] (the input projection of every step, biases folded in where
//! the cell adds them to the same sum), the initial state [B, H], `w_hh` [G*H, H].

use crate::ops::{gru_cell_backward, lstm_cell_backward};
use crate::{no_grad, Tensor};

/// Step `t` of a time-major tensor.
#[track_caller]
fn at(x: &Tensor, t: usize) -> Tensor {
    x.narrow(0, t, 1).squeeze(0)
}

/// The state entering each step, [T, B, H]: `h0`, then the outputs of steps 0..T-1.
#[track_caller]
fn previous_states(h0: &Tensor, outputs: &Tensor) -> Tensor {
    let steps = outputs.dims()[0];
    if steps == 1 {
        return h0.unsqueeze(0);
    }
    Tensor::cat(&[&h0.unsqueeze(0), &outputs.narrow(0, 0, steps - 1)], 0)
}

/// Gradient of `w_hh` from the gate gradients of every step [T, B, G*H] and the states
/// that entered them [T, B, H]: sum over t of dgates_t^T h_{t-1}, one matmul.
#[track_caller]
fn recurrent_weight_grad(dgates: &Tensor, h_prev: &Tensor) -> Tensor {
    let (t, b, g) = (dgates.dims()[0], dgates.dims()[1], dgates.dims()[2]);
    let h = h_prev.dims()[2];
    dgates.reshape([t * b, g]).t().matmul(&h_prev.reshape([t * b, h]))
}

/// `w_hh^T` [H, G*H] laid out row-major once per sequence: each step's `h @ w_hh^T` then
/// reads a contiguous right operand (the CPU GEMM runs a [32, 256] @ [256, 1024] step
/// 4x faster from it than from the transposed view).
#[track_caller]
fn step_weight(w_hh: &Tensor) -> Tensor {
    w_hh.t().contiguous()
}

/// Stacks the per-step gradients, which the backward loop produced last step first.
#[track_caller]
fn stack_steps(reversed: Vec<Tensor>) -> Tensor {
    Tensor::stack(&reversed.iter().rev().collect::<Vec<_>>(), 0)
}

/// LSTM layer (gates i, f, g, o). Returns `hc` [T, 2, B, H]: h_t and c_t of every step.
pub(super) fn lstm_layer(xw: &Tensor, h0: &Tensor, c0: &Tensor, w_hh: &Tensor) -> Tensor {
    let steps = xw.dims()[0];
    let (hc, gates) = no_grad(|| {
        let w_hh_t = step_weight(w_hh);
        if let Some((hc, gates)) = xw.backend().lstm_sequence(xw, h0, c0, &w_hh_t) {
            return (hc, (0..steps).map(|t| at(&gates, t)).collect());
        }
        let (mut h, mut c) = (h0.clone(), c0.clone());
        let (mut hcs, mut gates) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for t in 0..steps {
            let g = at(xw, t).add(&h.matmul(&w_hh_t));
            let step = g.lstm_cell(&c);
            (h, c) = (at(&step, 0), at(&step, 1));
            hcs.push(step);
            gates.push(g);
        }
        (Tensor::stack(&hcs.iter().collect::<Vec<_>>(), 0), gates)
    });
    let (saved, h0s, c0s, w) = (hc.detach(), h0.detach(), c0.detach(), w_hh.detach());
    hc.record("lstm", &[xw, h0, c0, w_hh], move |dhc| {
        no_grad(|| {
            let cell = |t: usize| if t == 0 { c0s.clone() } else { at(&at(&saved, t - 1), 1) };
            // The gradient reaching step t's outputs [2, B, H] from step t + 1.
            let mut carry: Option<Tensor> = None;
            let mut dgates = Vec::with_capacity(steps);
            let (mut dh0, mut dc0) = (None, None);
            for t in (0..steps).rev() {
                let upstream = at(dhc, t);
                let dstep = carry.as_ref().map_or(upstream.clone(), |c| upstream.add(c));
                let (dg, dc_prev) = lstm_cell_backward(&gates[t], &cell(t), &dstep);
                let dh_prev = dg.matmul(&w);
                if t == 0 {
                    (dh0, dc0) = (Some(dh_prev), Some(dc_prev));
                } else {
                    carry = Some(Tensor::stack(&[&dh_prev, &dc_prev], 0));
                }
                dgates.push(dg);
            }
            let dxw = stack_steps(dgates);
            let hs = saved.narrow(1, 0, 1).squeeze(1);
            let dw = recurrent_weight_grad(&dxw, &previous_states(&h0s, &hs));
            vec![Some(dxw), dh0, dc0, Some(dw)]
        })
    })
}

/// GRU layer (gates r, z, n; `b_hh` stays inside the cell since r scales `W_hn h + b_hn`).
/// Returns the hidden states [T, B, H].
pub(super) fn gru_layer(xw: &Tensor, h0: &Tensor, w_hh: &Tensor, b_hh: Option<&Tensor>) -> Tensor {
    let steps = xw.dims()[0];
    let (hs, hws) = no_grad(|| {
        let w_hh_t = step_weight(w_hh);
        let mut h = h0.clone();
        let (mut hs, mut hws) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for t in 0..steps {
            let mut hw = h.matmul(&w_hh_t);
            if let Some(b) = b_hh {
                hw = hw.add(b);
            }
            h = at(xw, t).gru_cell(&hw, &h);
            hs.push(h.clone());
            hws.push(hw);
        }
        (Tensor::stack(&hs.iter().collect::<Vec<_>>(), 0), hws)
    });
    let (saved, xws, h0s, w) = (hs.detach(), xw.detach(), h0.detach(), w_hh.detach());
    let mut inputs = vec![xw, h0, w_hh];
    inputs.extend(b_hh);
    let has_bias = b_hh.is_some();
    hs.record("gru", &inputs, move |dhs| {
        no_grad(|| {
            let prev = |t: usize| if t == 0 { h0s.clone() } else { at(&saved, t - 1) };
            let mut carry: Option<Tensor> = None;
            let (mut dxws, mut dhws) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
            for t in (0..steps).rev() {
                let upstream = at(dhs, t);
                let dh = carry.as_ref().map_or(upstream.clone(), |c| upstream.add(c));
                let (dxw, dhw, dh_direct) = gru_cell_backward(&at(&xws, t), &hws[t], &prev(t), &dh);
                carry = Some(dh_direct.add(&dhw.matmul(&w)));
                dxws.push(dxw);
                dhws.push(dhw);
            }
            let dhw = stack_steps(dhws);
            let dw = recurrent_weight_grad(&dhw, &previous_states(&h0s, &saved));
            let (t, b, g) = (dhw.dims()[0], dhw.dims()[1], dhw.dims()[2]);
            let mut grads = vec![Some(stack_steps(dxws)), carry, Some(dw)];
            if has_bias {
                grads.push(Some(dhw.reshape([t * b, g]).sum(0, false)));
            }
            grads
        })
    })
}

/// Elman RNN layer with tanh. Returns the hidden states [T, B, H].
pub(super) fn tanh_layer(xw: &Tensor, h0: &Tensor, w_hh: &Tensor) -> Tensor {
    let steps = xw.dims()[0];
    let hs = no_grad(|| {
        let w_hh_t = step_weight(w_hh);
        let mut h = h0.clone();
        let mut hs = Vec::with_capacity(steps);
        for t in 0..steps {
            h = at(xw, t).add(&h.matmul(&w_hh_t)).tanh();
            hs.push(h.clone());
        }
        Tensor::stack(&hs.iter().collect::<Vec<_>>(), 0)
    });
    let (saved, h0s, w) = (hs.detach(), h0.detach(), w_hh.detach());
    hs.record("rnn_tanh", &[xw, h0, w_hh], move |dhs| {
        no_grad(|| {
            let mut carry: Option<Tensor> = None;
            let mut dpres = Vec::with_capacity(steps);
            for t in (0..steps).rev() {
                let upstream = at(dhs, t);
                let dh = carry.as_ref().map_or(upstream.clone(), |c| upstream.add(c));
                // d tanh(u) = 1 - tanh(u)^2, with tanh(u) the step's output.
                let h = at(&saved, t);
                let dpre = dh.sub(&dh.mul(&h).mul(&h));
                carry = Some(dpre.matmul(&w));
                dpres.push(dpre);
            }
            let dxw = stack_steps(dpres);
            let dw = recurrent_weight_grad(&dxw, &previous_states(&h0s, &saved));
            vec![Some(dxw), carry, Some(dw)]
        })
    })
}
