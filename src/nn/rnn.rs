//! Recurrent layers: [`Lstm`], [`Gru`], [`Rnn`] (nn.LSTM, nn.GRU, nn.RNN with tanh),
//! over `F::lstm` / `F::gru` / `F::rnn_tanh`. Time-major `[T, B, I]` input unless
//! `batch_first`; state-dict names as PyTorch's (`weight_ih_l0`, `bias_hh_l1`, ...).

use super::{init, Dropout, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};
use std::sync::Arc;

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

/// `F::gru` or `F::rnn_tanh`: (input, h0, layers) -> (output, h_n).
type SingleStateRnn = fn(&Tensor, Option<&Tensor>, &[F::RnnWeights]) -> (Tensor, Tensor);

/// The layers of a recurrent module and its options.
#[derive(Debug, Clone)]
struct Stack {
    layers: Vec<RnnLayer>,
    batch_first: bool,
    /// Applied to each layer's output but the last's, in training (PyTorch's `dropout`);
    /// shared by clones, as the parameters are.
    dropout: Arc<Dropout>,
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
        Stack { layers, batch_first: false, dropout: Arc::new(Dropout::new(0.0)) }
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

    /// True when layers must run one at a time, for dropout between them.
    fn drops_between_layers(&self) -> bool {
        self.layers.len() > 1 && self.dropout.p > 0.0 && self.dropout.is_training()
    }

    /// Runs `cell` (F::gru or F::rnn_tanh) layer by layer with dropout between layers;
    /// returns the last output and h_n [layers, B, H].
    fn layerwise(&self, x: &Tensor, h0: Option<&Tensor>, cell: SingleStateRnn) -> (Tensor, Tensor) {
        let weights = self.weights();
        let mut input = x.clone();
        let mut h_n = Vec::new();
        for l in 0..weights.len() {
            let h = h0.map(|h| h.narrow(0, l, 1));
            let (out, h) = cell(&input, h.as_ref(), &weights[l..l + 1]);
            input = if l + 1 < weights.len() { self.dropout.forward(&out) } else { out };
            h_n.push(h);
        }
        (input, Tensor::cat(&h_n.iter().collect::<Vec<_>>(), 0))
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

            /// The same layer with dropout of probability `p` on the outputs of every
            /// layer but the last, in training (PyTorch's `dropout` argument).
            pub fn dropout(mut self, p: f64) -> $name {
                self.0.dropout = Arc::new(Dropout::new(p));
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
        if !self.0.drops_between_layers() {
            return self.0.time_major(x, |x| F::lstm(x, state, &self.0.weights()));
        }
        self.0.time_major(x, |x| {
            let weights = self.0.weights();
            let (mut input, mut h_n, mut c_n) = (x.clone(), Vec::new(), Vec::new());
            for l in 0..weights.len() {
                let s = state.map(|(h, c)| (h.narrow(0, l, 1), c.narrow(0, l, 1)));
                let (out, (h, c)) = F::lstm(&input, s.as_ref().map(|(h, c)| (h, c)), &weights[l..l + 1]);
                input = if l + 1 < weights.len() { self.0.dropout.forward(&out) } else { out };
                h_n.push(h);
                c_n.push(c);
            }
            let cat = |v: &Vec<Tensor>| Tensor::cat(&v.iter().collect::<Vec<_>>(), 0);
            (input, (cat(&h_n), cat(&c_n)))
        })
    }
}

impl Gru {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        match self.0.drops_between_layers() {
            true => self.0.time_major(x, |x| self.0.layerwise(x, h0, F::gru)),
            false => self.0.time_major(x, |x| F::gru(x, h0, &self.0.weights())),
        }
    }
}

impl Rnn {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        match self.0.drops_between_layers() {
            true => self.0.time_major(x, |x| self.0.layerwise(x, h0, F::rnn_tanh)),
            false => self.0.time_major(x, |x| F::rnn_tanh(x, h0, &self.0.weights())),
        }
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
            fn children(&self) -> Vec<(String, &dyn Module)> {
                vec![("dropout".to_string(), &*self.0.dropout as &dyn Module)]
            }
        }
    )*};
}

recurrent_module!(Lstm, Gru, Rnn);
