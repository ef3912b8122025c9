//! Recurrent layers: [`Lstm`], [`Gru`], [`Rnn`] (nn.LSTM, nn.GRU, nn.RNN with tanh),
//! over `F::lstm` / `F::gru` / `F::rnn_tanh`. Time-major `[T, B, I]` input unless
//! `batch_first`; state-dict names as PyTorch's (`weight_ih_l0`, `bias_hh_l1`,
//! `weight_ih_l0_reverse` for the backward direction of a bidirectional layer, ...).

use super::{init, Dropout, Module, Parameter};
use crate::functional as F;
use crate::{Device, Tensor};
use std::sync::Arc;

/// One layer's weights as parameters: `w_ih` `[G*H, I]`, `w_hh` `[G*H, H]`, biases
/// `[G*H]` (G gates: LSTM 4 in order i, f, g, o; GRU 3 in order r, z, n; RNN 1).
pub type RnnLayer = F::RnnWeights<Parameter>;

/// `F::gru` or `F::rnn_tanh`: (input, h0, layers) -> (output, h_n).
type SingleStateRnn = fn(&Tensor, Option<&Tensor>, &[F::RnnWeights]) -> (Tensor, Tensor);

/// The layers of a recurrent module and its options.
#[derive(Debug, Clone)]
struct Stack {
    layers: Vec<RnnLayer>,
    /// The backward direction's layers of a bidirectional module (else empty).
    reverse: Vec<RnnLayer>,
    batch_first: bool,
    /// Applied to each layer's output but the last's, in training (PyTorch's `dropout`);
    /// shared by clones, as the parameters are.
    dropout: Arc<Dropout>,
}

impl Stack {
    /// Every weight and bias uniform in `±1/√hidden`, as PyTorch, drawn layer by layer
    /// (the backward direction right after the forward one, when `bidirectional`).
    fn new(
        input: usize,
        hidden: usize,
        num_layers: usize,
        gates: usize,
        bidirectional: bool,
        device: &Device,
    ) -> Stack {
        assert!(num_layers > 0 && hidden > 0, "recurrent layer: hidden size and layer count must be positive");
        let bound = 1.0 / (hidden as f64).sqrt();
        let directions = if bidirectional { 2 } else { 1 };
        let layer = |l: usize| {
            let rows = gates * hidden;
            let cols = if l == 0 { input } else { hidden * directions };
            let p = |shape: &[usize]| Parameter::new(init::uniform(shape, bound, device));
            RnnLayer {
                w_ih: p(&[rows, cols]),
                w_hh: p(&[rows, hidden]),
                b_ih: Some(p(&[rows])),
                b_hh: Some(p(&[rows])),
            }
        };
        let (mut layers, mut reverse) = (Vec::new(), Vec::new());
        for l in 0..num_layers {
            layers.push(layer(l));
            if bidirectional {
                reverse.push(layer(l));
            }
        }
        Stack { layers, reverse, batch_first: false, dropout: Arc::new(Dropout::new(0.0)) }
    }

    fn weights_of(layers: &[RnnLayer]) -> Vec<F::RnnWeights> {
        layers.iter().map(|l| l.map(Parameter::tensor)).collect()
    }

    fn weights(&self) -> Vec<F::RnnWeights> {
        Stack::weights_of(&self.layers)
    }

    fn named(&self) -> Vec<(String, Parameter)> {
        let mut out = Vec::new();
        let mut push = |l: &RnnLayer, suffix: String| {
            out.push((format!("weight_ih_l{suffix}"), l.w_ih.clone()));
            out.push((format!("weight_hh_l{suffix}"), l.w_hh.clone()));
            out.extend(l.b_ih.iter().map(|b| (format!("bias_ih_l{suffix}"), b.clone())));
            out.extend(l.b_hh.iter().map(|b| (format!("bias_hh_l{suffix}"), b.clone())));
        };
        for (k, l) in self.layers.iter().enumerate() {
            push(l, format!("{k}"));
            if let Some(r) = self.reverse.get(k) {
                push(r, format!("{k}_reverse"));
            }
        }
        out
    }

    /// True when layers must run one at a time: for dropout between them, or for the two
    /// directions of a bidirectional module.
    fn layer_by_layer(&self) -> bool {
        !self.reverse.is_empty() || (self.layers.len() > 1 && self.dropout.p > 0.0 && self.dropout.is_training())
    }

    /// Runs the layers one at a time, with dropout between them and, when bidirectional,
    /// each layer also over the time-reversed input (`reverse`) with the reverse weights
    /// (its output reversed back and concatenated after the forward one's, along features).
    /// `cell(input, weights, k)` runs one direction of one layer from initial-state row
    /// `k` (layer * directions + direction, PyTorch's order) and returns its output and
    /// final states; returns the last output and, per state, the final rows in that order.
    fn run_layers(
        &self,
        x: &Tensor,
        reverse: &dyn Fn(&Tensor) -> Tensor,
        cell: impl Fn(&Tensor, &F::RnnWeights, usize) -> (Tensor, Vec<Tensor>),
    ) -> (Tensor, Vec<Tensor>) {
        let (forward, backward) = (self.weights(), Stack::weights_of(&self.reverse));
        let directions = if backward.is_empty() { 1 } else { 2 };
        let (mut input, mut finals): (Tensor, Vec<Vec<Tensor>>) = (x.clone(), Vec::new());
        for l in 0..forward.len() {
            let (mut out, states) = cell(&input, &forward[l], l * directions);
            let mut rows = vec![states];
            if let Some(w) = backward.get(l) {
                let (out_rev, states) = cell(&reverse(&input), w, l * directions + 1);
                out = Tensor::cat(&[&out, &reverse(&out_rev)], 2);
                rows.push(states);
            }
            for states in rows {
                finals.resize(states.len(), Vec::new());
                for (all, s) in finals.iter_mut().zip(states) {
                    all.push(s);
                }
            }
            input = if l + 1 < forward.len() { self.dropout.forward(&out) } else { out };
        }
        (input, finals.iter().map(|rows| Tensor::cat(&rows.iter().collect::<Vec<_>>(), 0)).collect())
    }

    /// [`Stack::run_layers`] for a cell with one state `h` (F::gru, F::rnn_tanh).
    fn layerwise(&self, x: &Tensor, h0: Option<&Tensor>, cell: SingleStateRnn) -> (Tensor, Tensor) {
        let (out, mut states) = self.run_layers(x, &reverse_time, |input, w, k| {
            let h = h0.map(|h| h.narrow(0, k, 1));
            let (out, h) = cell(input, h.as_ref(), std::slice::from_ref(w));
            (out, vec![h])
        });
        (out, states.remove(0))
    }

    /// [`Stack::run_layers`] over padded sequences of `lengths` (time-major `x`), for a
    /// cell with `n_states` states: step by step, each state frozen and each output zero
    /// past its sequence's length, the backward direction reversed within each length.
    /// `step(x_t, weights, states)` runs one time step from `states` ([1, B, H] each).
    fn run_packed(
        &self,
        x: &Tensor,
        lengths: &[usize],
        initial: impl Fn(usize) -> Option<Vec<Tensor>>,
        n_states: usize,
        step: impl Fn(&Tensor, &F::RnnWeights, &[Tensor]) -> (Tensor, Vec<Tensor>),
    ) -> (Tensor, Vec<Tensor>) {
        let packing = Packing::new(x, lengths);
        self.run_layers(x, &|t| packing.reverse(t), |input, w, k| {
            let hidden = w.w_hh.dims()[1];
            let zeros = || Tensor::zeros([1, input.dims()[1], hidden], input.dtype(), input.device());
            let mut states = initial(k).unwrap_or_else(|| (0..n_states).map(|_| zeros()).collect());
            let mut outs = Vec::with_capacity(input.dims()[0]);
            for t in 0..input.dims()[0] {
                let (out, new) = step(&input.narrow(0, t, 1), w, &states);
                let (keep, stay) = (&packing.mask[t], &packing.unmask[t]);
                states = new.iter().zip(&states).map(|(n, s)| n.mul(keep).add(&s.mul(stay))).collect();
                outs.push(out.mul(keep));
            }
            (Tensor::cat(&outs.iter().collect::<Vec<_>>(), 0), states)
        })
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

/// Padded sequences of known lengths (what PyTorch's pack_padded_sequence carries): per
/// time step, the `[1, B, 1]` masks of the sequences still running and of those that ended.
struct Packing {
    lengths: Vec<usize>,
    mask: Vec<Tensor>,
    unmask: Vec<Tensor>,
}

impl Packing {
    #[track_caller]
    fn new(x: &Tensor, lengths: &[usize]) -> Packing {
        let (steps, batch) = (x.dims()[0], x.dims()[1]);
        assert_eq!(lengths.len(), batch, "forward_packed: {} lengths for a batch of {batch}", lengths.len());
        assert!(
            lengths.iter().all(|&l| (1..=steps).contains(&l)),
            "forward_packed: every length must be in 1..={steps} (the padded length), got {lengths:?}"
        );
        let row = |t: usize, running: bool| {
            let v: Vec<f32> = lengths.iter().map(|&l| if (t < l) == running { 1.0 } else { 0.0 }).collect();
            Tensor::from_vec(v, [1, batch, 1], x.device()).cast(x.dtype())
        };
        Packing {
            lengths: lengths.to_vec(),
            mask: (0..steps).map(|t| row(t, true)).collect(),
            unmask: (0..steps).map(|t| row(t, false)).collect(),
        }
    }

    /// `x` `[T, B, F]` with each sequence's first `length` steps reversed (the padding
    /// stays in place): its own inverse, and differentiable (a gather).
    fn reverse(&self, x: &Tensor) -> Tensor {
        let [steps, batch, features] = [x.dims()[0], x.dims()[1], x.dims()[2]];
        let mut ids = Vec::with_capacity(steps * batch * features);
        for t in 0..steps {
            for &l in &self.lengths {
                let from = if t < l { l - 1 - t } else { t } as u32;
                ids.extend(std::iter::repeat_n(from, features));
            }
        }
        x.gather(0, &Tensor::from_vec(ids, [steps, batch, features], x.device()))
    }
}

/// `x` `[T, ...]` with time reversed (differentiable: an index_select).
fn reverse_time(x: &Tensor) -> Tensor {
    let t = x.dims()[0];
    let ids: Vec<u32> = (0..t as u32).rev().collect();
    x.index_select(0, &Tensor::from_vec(ids, [t], x.device()))
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
                $name(Stack::new(input, hidden, num_layers, $gates, false, device))
            }

            /// A bidirectional module (PyTorch's `bidirectional=True`): every layer also
            /// runs over the time-reversed sequence with its own weights (`*_reverse`),
            /// the two outputs concatenated along features (`2 * hidden`), final states
            /// `[layers * 2, B, H]` in PyTorch's order. Sequences are taken whole: pad
            /// nothing that the backward direction should not see first.
            pub fn new_bidirectional(input: usize, hidden: usize, num_layers: usize, device: &Device) -> $name {
                $name(Stack::new(input, hidden, num_layers, $gates, true, device))
            }

            /// The same layer without biases.
            pub fn no_bias(mut self) -> $name {
                for l in self.0.layers.iter_mut().chain(&mut self.0.reverse) {
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

            /// The layers' weights (the forward direction's).
            pub fn layers(&self) -> &[RnnLayer] {
                &self.0.layers
            }

            /// The backward direction's layers of a bidirectional module (else empty).
            pub fn reverse_layers(&self) -> &[RnnLayer] {
                &self.0.reverse
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
        if !self.0.layer_by_layer() {
            return self.0.time_major(x, |x| F::lstm(x, state, &self.0.weights()));
        }
        self.0.time_major(x, |x| {
            let (out, mut states) = self.0.run_layers(x, &reverse_time, |input, w, k| {
                let s = state.map(|(h, c)| (h.narrow(0, k, 1), c.narrow(0, k, 1)));
                let (out, (h, c)) = F::lstm(input, s.as_ref().map(|(h, c)| (h, c)), std::slice::from_ref(w));
                (out, vec![h, c])
            });
            let c = states.pop().expect("h and c");
            (out, (states.pop().expect("h and c"), c))
        })
    }
}

impl Lstm {
    /// A batch of padded sequences with their `lengths` (PyTorch's pack_padded_sequence,
    /// the module, then pad_packed_sequence): the output is zero past each length, and
    /// `(h_n, c_n)` are each sequence's states at its last real step (for the backward
    /// direction of a bidirectional module, after reading its sequence from the end of
    /// its length back to the start). Runs step by step, so padding never enters the
    /// recurrence; lengths must be in `1..=T`.
    pub fn forward_packed(
        &self,
        x: &Tensor,
        lengths: &[usize],
        state: Option<(&Tensor, &Tensor)>,
    ) -> (Tensor, (Tensor, Tensor)) {
        self.0.time_major(x, |x| {
            let initial = |k: usize| state.map(|(h, c)| vec![h.narrow(0, k, 1), c.narrow(0, k, 1)]);
            let (out, mut states) = self.0.run_packed(x, lengths, initial, 2, |x_t, w, s| {
                let (out, (h, c)) = F::lstm(x_t, Some((&s[0], &s[1])), std::slice::from_ref(w));
                (out, vec![h, c])
            });
            let c = states.pop().expect("h and c");
            (out, (states.pop().expect("h and c"), c))
        })
    }
}

macro_rules! packed_single_state {
    ($($name:ident => $cell:path),*) => {$(
        impl $name {
            /// A batch of padded sequences with their `lengths`, as [`Lstm::forward_packed`]:
            /// output zero past each length, `h_n` at each sequence's last real step.
            pub fn forward_packed(&self, x: &Tensor, lengths: &[usize], h0: Option<&Tensor>) -> (Tensor, Tensor) {
                self.0.time_major(x, |x| {
                    let initial = |k: usize| h0.map(|h| vec![h.narrow(0, k, 1)]);
                    let (out, mut states) = self.0.run_packed(x, lengths, initial, 1, |x_t, w, s| {
                        let (out, h) = $cell(x_t, Some(&s[0]), std::slice::from_ref(w));
                        (out, vec![h])
                    });
                    (out, states.remove(0))
                })
            }
        }
    )*};
}

packed_single_state!(Gru => F::gru, Rnn => F::rnn_tanh);

impl Gru {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        match self.0.layer_by_layer() {
            true => self.0.time_major(x, |x| self.0.layerwise(x, h0, F::gru)),
            false => self.0.time_major(x, |x| F::gru(x, h0, &self.0.weights())),
        }
    }
}

impl Rnn {
    /// Output and final `h_n`, from the initial state `h0` (zeros if None).
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        match self.0.layer_by_layer() {
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
