//! Recurrent layers: [`Lstm`], [`Gru`], [`Rnn`] (nn.LSTM, nn.GRU, nn.RNN with tanh),
//! over `F::lstm` / `F::gru` / `F::rnn_tanh`. Time-major `[T, B, I]` input unless
//! `batch_first`; state-dict names as PyTorch's (`weight_ih_l0`, `bias_hh_l1`, ...).

use super::{init, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};

/// One layer's weights: `w_ih` `[G*H, I]`, `w_hh` `[G*H, H]`, biases `[G*H]`
/// (G gates: LSTM 4 in order i, f, g, o; GRU 3 in order r, z, n; RNN 1).
#[derive(Debug, Clone)]
pub struct RnnLayer {
    /// Input-to-hidden weights.
    pub w_ih: Parameter,
    /// Hidden-to-hidden weights.
    pub w_hh: Parameter,
    /// Input-to-hidden bias, if any.
    pub b_ih: Option<Parameter>,
    /// Hidden-to-hidden bias, if any.
    pub b_hh: Option<Parameter>,
}

/// The layers of a recurrent module and its options.
#[derive(Debug, Clone)]
struct Stack {
    layers: Vec<RnnLayer>,
    batch_first: bool,
}

impl Stack {
    /// Every weight and bias uniform in `±1/√hidden`, as PyTorch.
    fn new(input: usize, hidden: usize, num_layers: usize, gates: usize, device: &Device) -> Stack {
        assert!(num_layers > 0 && hidden > 0, "recurrent layer: hidden size and layer count must be positive");
        let bound = 1.0 / (hidden as f64).sqrt();
        let layers = (0..num_layers)
            .map(|l| {
                let rows = gates * hidden;
                let cols = if l == 0 { input } else { hidden };
                let p = |shape: &[usize]| Parameter::new(init::uniform(shape, bound, device));
                RnnLayer {
                    w_ih: p(&[rows, cols]),
                    w_hh: p(&[rows, hidden]),
                    b_ih: Some(p(&[rows])),
                    b_hh: Some(p(&[rows])),
                }
            })
            .collect();
        Stack { layers, batch_first: false }
    }

    fn weights(&self) -> Vec<F::RnnWeights> {
        self.layers
            .iter()
            .map(|l| F::RnnWeights {
                w_ih: l.w_ih.tensor(),
                w_hh: l.w_hh.tensor(),
                b_ih: l.b_ih.as_ref().map(Parameter::tensor),
                b_hh: l.b_hh.as_ref().map(Parameter::tensor),
            })
            .collect()
    }

    fn named(&self) -> Vec<(String, Parameter)> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            out.push((format!("weight_ih_l{k}"), l.w_ih.clone()));
            out.push((format!("weight_hh_l{k}"), l.w_hh.clone()));
            out.extend(l.b_ih.iter().map(|b| (format!("bias_ih_l{k}"), b.clone())));
            out.extend(l.b_hh.iter().map(|b| (format!("bias_hh_l{k}"), b.clone())));
        }
        out
    }

    /// Runs `f` on time-major input and returns its output in the caller's layout.
    fn time_major<S>(&self, x: &Tensor, f: impl FnOnce(&Tensor) -> (Tensor, S)) -> (Tensor, S) {
        if !self.batch_first {
            return f(x);
        }
        let (out, state) = f(&x.transpose(0, 1));
        (out.transpose(0, 1), state)
    }
}

macro_rules! recurrent {
    ($(#[$doc:meta])* $name:ident, $gates:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(Stack);

        impl $name {
            /// `num_layers` stacked layers from `input` features to `hidden` features,
            /// with biases, initialised as PyTorch (uniform in `±1/√hidden`).
            pub fn new(input: usize, hidden: usize, num_layers: usize, device: &Device) -> $name {
                $name(Stack::new(input, hidden, num_layers, $gates, device))
            }

            /// The same layer without biases.
            pub fn no_bias(mut self) -> $name {
                for l in &mut self.0.layers {
                    (l.b_ih, l.b_hh) = (None, None);
                }
                self
            }

            /// The same layer taking and returning batch-major `[B, T, *]` sequences.
            pub fn batch_first(mut self, on: bool) -> $name {
                self.0.batch_first = on;
                self
            }

            /// The layers' weights.
            pub fn layers(&self) -> &[RnnLayer] {
                &self.0.layers
            }
        }
    };
}

recurrent!(
    /// nn.LSTM: forward returns the last layer's output `[T, B, H]`;
    /// [`Lstm::forward_with_state`] also takes and returns `(h, c)` `[layers, B, H]`.
    Lstm,
    4
);
recurrent!(
    /// nn.GRU: forward returns the last layer's output `[T, B, H]`;
    /// [`Gru::forward_with_state`] also takes and returns `h` `[layers, B, H]`.
    Gru,
    3
);
recurrent!(
    /// nn.RNN (tanh): forward returns the last layer's output `[T, B, H]`;
    /// [`Rnn::forward_with_state`] also takes and returns `h` `[layers, B, H]`.
    Rnn,
    1
);

impl Lstm {
    /// Output and final `(h_n, c_n)`, from the initial state `(h0, c0)` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, state: Option<(&Tensor, &Tensor)>) -> (Tensor, (Tensor, Tensor)) {
        self.0.time_major(x, |x| F::lstm(x, state, &self.0.weights()))
    }
}

impl Gru {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        self.0.time_major(x, |x| F::gru(x, h0, &self.0.weights()))
    }
}

impl Rnn {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        self.0.time_major(x, |x| F::rnn_tanh(x, h0, &self.0.weights()))
    }
}

macro_rules! recurrent_module {
    ($($name:ident),*) => {$(
        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Tensor {
                self.forward_with_state(x, None).0
            }
            fn own_parameters(&self) -> Vec<(String, Parameter)> {
                self.0.named()
            }
        }
    )*};
}

recurrent_module!(Lstm, Gru, Rnn);
