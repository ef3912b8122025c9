//! Recurrent layers: the fused LSTM cell against the plain composition of tensor ops
//! (the reference, tinygrad-style), GRU/RNN against hand computation, GPU against CPU.

mod common;
use common::assert_close;
use wgrad::functional::{self as F, RnnWeights};
use wgrad::{Device, Tensor};

fn weights(gates: usize, input: usize, hidden: usize, seed: u64, dev: &Device) -> RnnWeights {
    let k = 1.0 / (hidden as f64).sqrt();
    let u = |shape: Vec<usize>, s: u64| Tensor::rand_uniform(shape, -k, k, seed * 10 + s, dev);
    RnnWeights {
        w_ih: u(vec![gates * hidden, input], 1),
        w_hh: u(vec![gates * hidden, hidden], 2),
        b_ih: Some(u(vec![gates * hidden], 3)),
        b_hh: Some(u(vec![gates * hidden], 4)),
    }
}

/// The gradients of x, h0 and every weight of `w` agree between a run and its reference.
fn assert_same_grads(g: &wgrad::Gradients, reference: &wgrad::Gradients, x: &Tensor, h0: &Tensor, w: &RnnWeights) {
    let cpu = Device::cpu();
    let (b_ih, b_hh) = (w.b_ih.as_ref().unwrap(), w.b_hh.as_ref().unwrap());
    let tensors = [("x", x), ("h0", h0), ("w_ih", &w.w_ih), ("w_hh", &w.w_hh), ("b_ih", b_ih), ("b_hh", b_hh)];
    for (name, t) in tensors {
        let [a, b] = [g, reference].map(|g| g.get(t).unwrap().to_device(&cpu).contiguous());
        assert_close(&a, &b, 1e-5, 1e-4, name);
    }
}

/// The same weights as leaves that require gradients.
fn tracked(w: RnnWeights) -> RnnWeights {
    w.map(|t| t.requires_grad())
}

/// The LSTM as plain tensor ops, one step at a time.
fn lstm_reference(x: &Tensor, h0: &Tensor, c0: &Tensor, w: &RnnWeights) -> (Tensor, Tensor, Tensor) {
    let hidden = w.w_hh.dims()[1];
    let (mut h, mut c) = (h0.clone(), c0.clone());
    let mut outs = Vec::new();
    for t in 0..x.dims()[0] {
        let xt = x.narrow(0, t, 1).squeeze(0);
        let g = xt.matmul(&w.w_ih.t()) + w.b_ih.as_ref().unwrap() + h.matmul(&w.w_hh.t()) + w.b_hh.as_ref().unwrap();
        let part = |k: usize| g.narrow(1, k * hidden, hidden);
        let (i, f, gg, o) = (part(0).sigmoid(), part(1).sigmoid(), part(2).tanh(), part(3).sigmoid());
        c = &f * &c + &i * &gg;
        h = &o * &c.tanh();
        outs.push(h.clone());
    }
    (Tensor::stack(&outs.iter().collect::<Vec<_>>(), 0), h, c)
}

#[test]
fn fused_lstm_matches_the_composed_reference_forward_and_backward() {
    let cpu = Device::cpu();
    for dev in common::devices() {
        let (t, b, i, h) = (5, 3, 4, 6);
        let x = Tensor::randn([t, b, i], 1, &dev).requires_grad();
        let h0 = Tensor::randn([1, b, h], 2, &dev).requires_grad();
        let c0 = Tensor::randn([1, b, h], 3, &dev).requires_grad();
        let w = tracked(weights(4, i, h, 4, &dev));
        let (out, (h_n, c_n)) = F::lstm(&x, Some((&h0, &c0)), std::slice::from_ref(&w));
        let (r_out, r_h, r_c) = lstm_reference(&x, &h0.squeeze(0), &c0.squeeze(0), &w);
        // The same f32 arithmetic in another order: 1e-5.
        assert_close(&out.to_device(&cpu), &r_out.to_device(&cpu), 1e-5, 1e-5, "out");
        assert_close(&h_n.squeeze(0).to_device(&cpu), &r_h.to_device(&cpu), 1e-5, 1e-5, "h_n");
        assert_close(&c_n.squeeze(0).to_device(&cpu), &r_c.to_device(&cpu), 1e-5, 1e-5, "c_n");
        let loss = |o: &Tensor, h: &Tensor, c: &Tensor| {
            o.mul(&Tensor::randn(o.shape().clone(), 9, o.device())).sum_all()
                + c.sum_all()
                + h.mul_scalar(0.5).sum_all()
        };
        let g = loss(&out, &h_n, &c_n).backward().unwrap();
        let rg = loss(&r_out, &r_h.unsqueeze(0), &r_c.unsqueeze(0)).backward().unwrap();
        let (b_ih, b_hh) = (w.b_ih.as_ref().unwrap(), w.b_hh.as_ref().unwrap());
        let params =
            [("x", &x), ("h0", &h0), ("c0", &c0), ("w_ih", &w.w_ih), ("w_hh", &w.w_hh), ("b_ih", b_ih), ("b_hh", b_hh)];
        for (name, p) in params {
            let (a, e) = (g.get(p).unwrap(), rg.get(p).unwrap());
            assert_close(&a.to_device(&cpu).contiguous(), &e.to_device(&cpu).contiguous(), 1e-5, 1e-4, name);
        }
    }
}

#[test]
fn multi_layer_lstm_gru_rnn_gpu_match_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let cpu = Device::cpu();
    let x = Tensor::randn([7, 2, 5], 11, &cpu);
    for (gates, name) in [(4usize, "lstm"), (3, "gru"), (1, "rnn")] {
        let layers: Vec<RnnWeights> =
            (0..2).map(|l| weights(gates, if l == 0 { 5 } else { 8 }, 8, 20 + l as u64, &cpu)).collect();
        let run = |dev: &Device| {
            let ls: Vec<RnnWeights> = layers
                .iter()
                .map(|w| RnnWeights {
                    w_ih: w.w_ih.to_device(dev),
                    w_hh: w.w_hh.to_device(dev),
                    b_ih: w.b_ih.as_ref().map(|b| b.to_device(dev)),
                    b_hh: w.b_hh.as_ref().map(|b| b.to_device(dev)),
                })
                .collect();
            let x = x.to_device(dev);
            let (out, h) = match gates {
                4 => {
                    let (o, (h, _)) = F::lstm(&x, None, &ls);
                    (o, h)
                }
                3 => F::gru(&x, None, &ls),
                _ => F::rnn_tanh(&x, None, &ls),
            };
            assert_eq!(out.dims(), &[7, 2, 8], "{name}");
            assert_eq!(h.dims(), &[2, 2, 8], "{name}");
            (out.to_device(&cpu), h.to_device(&cpu))
        };
        let (a, b) = (run(&gpu), run(&cpu));
        assert_close(&a.0, &b.0, 1e-5, 1e-4, name);
        assert_close(&a.1, &b.1, 1e-5, 1e-4, name);
    }
}

#[test]
fn gru_and_rnn_hand_computed() {
    let cpu = Device::cpu();
    // Zero weights: GRU r = z = sigmoid(0) = 0.5, n = tanh(b_in + 0.5 * b_hn), h' = 0.5 n + 0.5 h.
    let zeros = |r: usize, c: usize| Tensor::zeros([r, c], wgrad::DType::F32, &cpu);
    let b_ih = Tensor::from_vec(vec![0.0f32, 0.0, 0.3], [3], &cpu);
    let b_hh = Tensor::from_vec(vec![0.0f32, 0.0, 0.4], [3], &cpu);
    let w = RnnWeights { w_ih: zeros(3, 1), w_hh: zeros(3, 1), b_ih: Some(b_ih), b_hh: Some(b_hh) };
    let h0 = Tensor::from_vec(vec![0.6f32], [1, 1, 1], &cpu);
    let (_, h) = F::gru(&zeros(1, 1).reshape([1, 1, 1]), Some(&h0), &[w]);
    let n = (0.3f32 + 0.5 * 0.4).tanh();
    assert!((h.to_vec::<f32>().unwrap()[0] - (0.5 * n + 0.3)).abs() < 1e-6);
    let w = RnnWeights {
        w_ih: Tensor::ones([1, 1], wgrad::DType::F32, &cpu),
        w_hh: zeros(1, 1).add_scalar(2.0),
        b_ih: None,
        b_hh: None,
    };
    let (out, _) = F::rnn_tanh(&Tensor::from_vec(vec![0.5f32, -0.25], [2, 1, 1], &cpu), None, &[w]);
    let h1 = 0.5f32.tanh();
    let h2 = (-0.25 + 2.0 * h1).tanh();
    let v = out.to_vec::<f32>().unwrap();
    assert!((v[0] - h1).abs() < 1e-6 && (v[1] - h2).abs() < 1e-6, "{v:?}");
}

/// The GRU as plain tensor ops (PyTorch's equations).
fn gru_reference(x: &Tensor, h0: &Tensor, w: &RnnWeights) -> Tensor {
    let hidden = w.w_hh.dims()[1];
    let mut h = h0.clone();
    let mut outs = Vec::new();
    for t in 0..x.dims()[0] {
        let xw = x.narrow(0, t, 1).squeeze(0).matmul(&w.w_ih.t()) + w.b_ih.as_ref().unwrap();
        let hw = h.matmul(&w.w_hh.t()) + w.b_hh.as_ref().unwrap();
        let part = |m: &Tensor, k: usize| m.narrow(1, k * hidden, hidden);
        let r = (part(&xw, 0) + part(&hw, 0)).sigmoid();
        let z = (part(&xw, 1) + part(&hw, 1)).sigmoid();
        let n = (part(&xw, 2) + &r * &part(&hw, 2)).tanh();
        h = &n + &(&z * &(&h - &n));
        outs.push(h.clone());
    }
    Tensor::stack(&outs.iter().collect::<Vec<_>>(), 0)
}

/// The tanh RNN as plain tensor ops.
fn tanh_reference(x: &Tensor, h0: &Tensor, w: &RnnWeights) -> Tensor {
    let (b_ih, b_hh) = (w.b_ih.as_ref().unwrap(), w.b_hh.as_ref().unwrap());
    let mut h = h0.clone();
    let mut outs = Vec::new();
    for t in 0..x.dims()[0] {
        let xt = x.narrow(0, t, 1).squeeze(0);
        h = (xt.matmul(&w.w_ih.t()) + b_ih + h.matmul(&w.w_hh.t()) + b_hh).tanh();
        outs.push(h.clone());
    }
    Tensor::stack(&outs.iter().collect::<Vec<_>>(), 0)
}

/// `F::gru` or `F::rnn_tanh`: (input, h0, layers) -> (output, h_n).
type OneStateRnn = fn(&Tensor, Option<&Tensor>, &[RnnWeights]) -> (Tensor, Tensor);

/// A one-state RNN (`run`, with `gates` gates) against its composed `reference` on every
/// device, over input `[t, b, i]` and hidden size `h`: outputs, and the gradients of
/// sum(out * proj) + sum(h_n) for x, h0 and every weight.
fn check_one_state_rnn(
    gates: usize,
    [t, b, i, h]: [usize; 4],
    run: OneStateRnn,
    reference: fn(&Tensor, &Tensor, &RnnWeights) -> Tensor,
) {
    let cpu = Device::cpu();
    for dev in common::devices() {
        let x = Tensor::randn([t, b, i], 31, &dev).requires_grad();
        let h0 = Tensor::randn([1, b, h], 32, &dev).requires_grad();
        let w = tracked(weights(gates, i, h, 33, &dev));
        let (out, h_n) = run(&x, Some(&h0), std::slice::from_ref(&w));
        let want = reference(&x, &h0.squeeze(0), &w);
        assert_close(&out.to_device(&cpu), &want.to_device(&cpu), 1e-5, 1e-5, &format!("{gates} gates: out"));
        let proj = Tensor::randn([t, b, h], 34, &dev);
        let g = (out.mul(&proj).sum_all() + h_n.sum_all()).backward().unwrap();
        let last = want.narrow(0, t - 1, 1);
        let rg = (want.mul(&proj).sum_all() + last.sum_all()).backward().unwrap();
        assert_same_grads(&g, &rg, &x, &h0, &w);
    }
}

#[test]
fn fused_gru_matches_the_composed_reference_forward_and_backward() {
    check_one_state_rnn(3, [4, 3, 5, 6], F::gru, gru_reference);
}

#[test]
fn tanh_rnn_matches_the_composed_reference_forward_and_backward() {
    check_one_state_rnn(1, [6, 2, 3, 5], F::rnn_tanh, tanh_reference);
}

#[test]
fn sequence_backward_matches_finite_differences_for_every_cell() {
    // f64-free check on the CPU: central differences of a random projection of the
    // outputs, h_n included, with respect to the recurrent weights and the initial state.
    let cpu = Device::cpu();
    for gates in [4usize, 3, 1] {
        let x = Tensor::randn([4, 2, 3], 51, &cpu);
        let h0 = Tensor::randn([1, 2, 3], 52, &cpu).mul_scalar(0.5);
        let w = weights(gates, 3, 3, 53, &cpu);
        let proj = Tensor::randn([4, 2, 3], 54, &cpu);
        let loss = |w_hh: &Tensor, h0: &Tensor| {
            let w = RnnWeights { w_hh: w_hh.clone(), ..w.clone() };
            let (out, h_n) = match gates {
                4 => {
                    let c0 = h0.mul_scalar(-1.0);
                    let (o, (h, c)) = F::lstm(&x, Some((h0, &c0)), std::slice::from_ref(&w));
                    (o, h.add(&c))
                }
                3 => F::gru(&x, Some(h0), std::slice::from_ref(&w)),
                _ => F::rnn_tanh(&x, Some(h0), std::slice::from_ref(&w)),
            };
            out.mul(&proj).sum_all() + h_n.sum_all()
        };
        let (w_hh, h0t) = (w.w_hh.requires_grad(), h0.requires_grad());
        let g = loss(&w_hh, &h0t).backward().unwrap();
        for (name, p, other_is_w) in [("w_hh", &w.w_hh, false), ("h0", &h0, true)] {
            let analytic = g.get(if other_is_w { &h0t } else { &w_hh }).unwrap().contiguous().to_vec::<f32>().unwrap();
            let base = p.to_vec::<f32>().unwrap();
            for k in 0..base.len() {
                let eps = 1e-2f32;
                let at = |d: f32| {
                    let mut v = base.clone();
                    v[k] += d;
                    let t = Tensor::from_vec(v, p.shape().clone(), &cpu);
                    let l = if other_is_w { loss(&w.w_hh, &t) } else { loss(&t, &h0) };
                    l.to_scalar().unwrap()
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                let err = (numeric - analytic[k] as f64).abs();
                assert!(err < 2e-3 * (1.0 + numeric.abs()), "gates {gates} {name}[{k}]: {numeric} vs {}", analytic[k]);
            }
        }
    }
}

/// The size of a fixture's recurrent module (its input size is 3).
#[derive(Clone, Copy)]
struct Spec {
    hidden: usize,
    layers: usize,
    bidirectional: bool,
}

/// One recurrent module of a PyTorch fixture.
enum Net {
    Lstm(wgrad::nn::Lstm),
    Gru(wgrad::nn::Gru),
    Rnn(wgrad::nn::Rnn),
}

impl Net {
    /// The fixture's module `kind` ("lstm", "gru" or "rnn") of size `spec`.
    fn new(kind: &str, spec: Spec, dev: &Device) -> Net {
        use wgrad::nn::{Gru, Lstm, Rnn};
        let Spec { hidden: h, layers: l, bidirectional } = spec;
        match (kind, bidirectional) {
            ("lstm", false) => Net::Lstm(Lstm::new(3, h, l, dev)),
            ("lstm", true) => Net::Lstm(Lstm::new_bidirectional(3, h, l, dev)),
            ("gru", false) => Net::Gru(Gru::new(3, h, l, dev)),
            ("gru", true) => Net::Gru(Gru::new_bidirectional(3, h, l, dev)),
            (_, false) => Net::Rnn(Rnn::new(3, h, l, dev)),
            (_, true) => Net::Rnn(Rnn::new_bidirectional(3, h, l, dev)),
        }
    }

    fn module(&self) -> &dyn wgrad::nn::Module {
        match self {
            Net::Lstm(m) => m,
            Net::Gru(m) => m,
            Net::Rnn(m) => m,
        }
    }

    /// (output, h_n, c_n for an LSTM) from the fixture's initial states, over padded
    /// sequences of `lengths` when given.
    fn run(
        &self,
        x: &Tensor,
        lengths: Option<&[usize]>,
        get: &dyn Fn(&str) -> Tensor,
    ) -> (Tensor, Tensor, Option<Tensor>) {
        let h0 = get("h0");
        match self {
            Net::Lstm(m) => {
                let s = Some((&h0, &get("c0")));
                let (out, (h, c)) = match lengths {
                    Some(l) => m.forward_packed(x, l, s),
                    None => m.forward_with_state(x, s),
                };
                (out, h, Some(c))
            }
            Net::Gru(m) => {
                let (out, h) = match lengths {
                    Some(l) => m.forward_packed(x, l, Some(&h0)),
                    None => m.forward_with_state(x, Some(&h0)),
                };
                (out, h, None)
            }
            Net::Rnn(m) => {
                let (out, h) = match lengths {
                    Some(l) => m.forward_packed(x, l, Some(&h0)),
                    None => m.forward_with_state(x, Some(&h0)),
                };
                (out, h, None)
            }
        }
    }
}

/// Checks an LSTM, a GRU and an RNN of sizes `specs` against a fixture of
/// tests/fixtures (made by make_rnn_fixtures.py): state-dict names, output, final
/// states, and the gradients of sum(out * probe) + sum(h_n) for the input and every
/// parameter, on every device.
fn check_rnn_fixture(file: &str, specs: [Spec; 3], lengths: Option<&[usize]>) {
    use std::collections::HashMap;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(file);
    for dev in common::devices() {
        let f = wgrad::io::load_safetensors(&path, &dev).unwrap();
        for (m, spec) in ["lstm", "gru", "rnn"].into_iter().zip(specs) {
            let what = format!("{file} {m} on {}", dev.name());
            let get = |k: &str| f[&format!("{m}.{k}")].clone();
            let state: HashMap<String, Tensor> = f
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&format!("{m}.")).map(|k| (k.to_string(), v.clone())))
                .filter(|(k, _)| k.starts_with("weight_") || k.starts_with("bias_"))
                .collect();
            let net = Net::new(m, spec, &dev);
            let module = net.module();
            let mut names: Vec<String> = module.named_parameters().into_iter().map(|(n, _)| n).collect();
            let mut want: Vec<String> = state.keys().cloned().collect();
            names.sort();
            want.sort();
            assert_eq!(names, want, "{what}: state-dict names");
            module.load_state_dict(&state).unwrap();
            let x = get("x").requires_grad();
            let (out, h_n, c_n) = net.run(&x, lengths, &get);
            assert_close(&out, &get("out"), 1e-5, 1e-4, &format!("{what}: output"));
            assert_close(&h_n, &get("h_n"), 1e-5, 1e-4, &format!("{what}: h_n"));
            if let Some(c_n) = c_n {
                assert_close(&c_n, &get("c_n"), 1e-5, 1e-4, &format!("{what}: c_n"));
            }
            let grads = out.mul(&get("probe")).sum_all().add(&h_n.sum_all()).backward().unwrap();
            assert_close(&grads.get(&x).unwrap(), &get("grad.x"), 1e-4, 1e-4, &format!("{what}: d/dx"));
            for (name, p) in module.named_parameters() {
                let g = grads.get(&p.tensor()).unwrap_or_else(|| panic!("{what}: no gradient for {name}"));
                assert_close(&g, &get(&format!("grad.{name}")), 1e-4, 1e-4, &format!("{what}: d/d{name}"));
            }
        }
    }
}

/// Bidirectional LSTM (2 layers), GRU (2 layers) and RNN (1 layer) against PyTorch
/// (tests/fixtures/make_rnn_fixtures.py).
#[test]
fn bidirectional_layers_match_pytorch() {
    let bi = |hidden, layers| Spec { hidden, layers, bidirectional: true };
    check_rnn_fixture("rnn_bidirectional.safetensors", [bi(5, 2), bi(4, 2), bi(4, 1)], None);
}

/// Padded batches with lengths [5, 2, 3] against PyTorch's pack_padded_sequence ->
/// module -> pad_packed_sequence (tests/fixtures/make_rnn_fixtures.py): a 2-layer
/// bidirectional LSTM, a GRU and a bidirectional RNN; the padding holds large values,
/// which must change nothing.
#[test]
fn packed_sequences_match_pytorch() {
    let (lstm, gru, rnn) = ((4, 2, true), (4, 1, false), (4, 1, true));
    let spec = |(hidden, layers, bidirectional)| Spec { hidden, layers, bidirectional };
    check_rnn_fixture("rnn_packed.safetensors", [spec(lstm), spec(gru), spec(rnn)], Some(&[5, 2, 3]));
}
